package io.basalt.iscsi.pdu;

/** Gives tests in other packages the encoded sample PDUs. */
public final class SamplePduAccess {

    private SamplePduAccess() {
    }

    public static int count() {
        var all = SamplePdus.initiatorPdus();
        all.forEach(Pdu::release);
        return all.size();
    }

    public static byte[] encoded(int which, boolean digests) {
        return PduFuzzProperties.encoded(which, digests);
    }
}
