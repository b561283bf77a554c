package io.basalt.iscsi.scsi;

import java.net.SocketAddress;

/**
 * One iSCSI session of an initiator, as a {@link LunSource} and a session listener see it: who
 * the initiator says it is and where it connects from. Two sessions of one initiator (two
 * ports, or one session reinstating another) are two {@code Initiator}s with the same
 * {@link #name()}.
 *
 * @param name the initiator's iSCSI name (its IQN): the host, for Basalt's locks
 * @param isid the initiator session ID, naming the initiator port ({@code name,i,0xISID})
 * @param tsih the target session identifying handle this target gave the session (never 0)
 * @param remoteAddress the initiator's address of the session's connection
 */
public record Initiator(String name, long isid, int tsih, SocketAddress remoteAddress) {

    public Initiator {
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("initiator name: '" + name + "' (expected: not empty)");
        }
        if (tsih <= 0 || tsih > 0xffff) {
            throw new IllegalArgumentException("tsih: " + tsih + " (expected: 1..65535) initiator=" + name);
        }
    }
}
