package io.basalt.iscsi.scsi;

/**
 * An I_T nexus: the SCSI initiator port ({@code iqn,i,0xISID}) and target port
 * ({@code iqn,t,0xTPGT}). Reservations and unit attentions are kept per nexus.
 */
public record Nexus(String initiatorPort, String targetPort) {

    public static Nexus of(String initiatorName, long isid, String targetName, int portalGroupTag) {
        return new Nexus(initiatorName + ",i,0x" + String.format("%012x", isid), targetName + ",t,0x" + String.format("%04x", portalGroupTag));
    }

    /** The target port's portal group tag (the {@code 0xTPGT} suffix): each gateway of a LUN is its own target port. */
    public int portalGroupTag() {
        int i = targetPort.lastIndexOf(",t,0x");
        return i < 0 ? 1 : Integer.parseInt(targetPort.substring(i + 5), 16);
    }

    /** The initiator name without the ISID suffix. */
    public String initiatorName() {
        int i = initiatorPort.indexOf(",i,");
        return i < 0 ? initiatorPort : initiatorPort.substring(0, i);
    }
}
