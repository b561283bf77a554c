package io.basalt.iscsi.session;

/**
 * The operational parameters of a session as negotiated at login (RFC 7143 §13), starting from
 * the RFC defaults. {@code initiatorMaxRecvDataSegmentLength} bounds every data segment we send.
 */
public record SessionParams(boolean headerDigest, boolean dataDigest, int initiatorMaxRecvDataSegmentLength,
                            int maxBurstLength, int firstBurstLength, boolean initialR2t, boolean immediateData,
                            int maxOutstandingR2t, int defaultTime2Wait, int defaultTime2Retain, int errorRecoveryLevel) {

    public static SessionParams rfcDefaults() {
        return new SessionParams(false, false, 8192, 262144, 65536, true, true, 1, 2, 20, 0);
    }
}
