package io.basalt.iscsi.session;

import java.time.Duration;

/**
 * What this target offers in negotiation and the limits it holds every connection to. All
 * limits live here, with units in their names.
 *
 * @param maxRecvDataSegmentLength our declared MaxRecvDataSegmentLength: the decoder's bound
 * @param maxBurstLength our MaxBurstLength offer (the result is the minimum)
 * @param firstBurstLength our FirstBurstLength offer
 * @param initialR2t our InitialR2T offer (No lets initiators send unsolicited data)
 * @param maxOutstandingR2t our MaxOutstandingR2T offer
 * @param commandWindowCountMax commands in flight per session: MaxCmdSN - ExpCmdSN + 1 at rest
 * @param nopInInterval a NOP-In ping is sent after this much silence from the initiator (zero: never)
 * @param nopInTimeout the connection is closed when a ping is not answered within this
 * @param loginTimeout a connection that has not completed login by then is closed
 */
public record TargetSettings(int maxRecvDataSegmentLength, int maxBurstLength, int firstBurstLength, boolean initialR2t,
                             int maxOutstandingR2t, int commandWindowCountMax, Duration nopInInterval,
                             Duration nopInTimeout, Duration loginTimeout) {

    public static final int BURST_BYTES_MIN = 512;
    public static final int BURST_BYTES_MAX = (1 << 24) - 1;

    public TargetSettings {
        check("maxRecvDataSegmentLength", maxRecvDataSegmentLength, BURST_BYTES_MIN, BURST_BYTES_MAX);
        check("maxBurstLength", maxBurstLength, BURST_BYTES_MIN, BURST_BYTES_MAX);
        check("firstBurstLength", firstBurstLength, BURST_BYTES_MIN, maxBurstLength);
        check("maxOutstandingR2t", maxOutstandingR2t, 1, 64);
        check("commandWindowCountMax", commandWindowCountMax, 1, 1024);
    }

    public static TargetSettings defaults() {
        return new TargetSettings(262144, 1 << 20, 262144, false, 8, 64, Duration.ofSeconds(30),
                Duration.ofSeconds(30), Duration.ofSeconds(30));
    }

    private static void check(String name, long value, long min, long max) {
        if (value < min || value > max) {
            throw new IllegalArgumentException(name + ": " + value + " (expected: " + min + ".." + max + ")");
        }
    }
}
