package io.basalt.vdisk.store;

import io.basalt.vdisk.frame.BlockFrame;

/**
 * Decides, grain by grain within one write, whether to attempt LZ4. Every grain is tried until
 * one does not compress (random data, already-compressed files, encrypted guests); after that
 * only every {@link #PROBE_INTERVAL_GRAINS}-th grain is tried, and a probe that compresses
 * resumes trying every grain. So a 1 MiB write of incompressible data in 4 KiB grains pays LZ4
 * on 1 grain in 8 instead of on all 256 (measured: docs/decisions/engine-big-writes.md), while
 * data that compresses loses at most the grains between two probes. One instance per write and
 * thread: not thread-safe. The frame is valid either way; only its size depends on the choice.
 */
final class Lz4Probe {
    static final int PROBE_INTERVAL_GRAINS = 8;

    private boolean skipping;
    private int sinceProbeGrains;

    /** The frame for one whole grain of {@code data}, LZ4 attempted as the policy above says. */
    byte[] encode(byte[] data, int offset, int grainSizeBytes) {
        boolean tryLz4 = !skipping || ++sinceProbeGrains >= PROBE_INTERVAL_GRAINS;
        byte[] frame = BlockFrame.encode(data, offset, grainSizeBytes, tryLz4);
        if (tryLz4) {
            // A zero grain says nothing about compressibility: keep the current policy.
            BlockFrame.Kind kind = BlockFrame.kind(frame);
            if (kind != BlockFrame.Kind.ZEROS) {
                skipping = kind == BlockFrame.Kind.RAW;
            }
            sinceProbeGrains = 0;
        }
        return frame;
    }
}
