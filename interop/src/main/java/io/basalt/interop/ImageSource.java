package io.basalt.interop;

import java.nio.file.Path;

/**
 * A disk image opened for reading: its virtual size and its bytes. Holes, zero clusters and
 * ranges past a shorter backing file read as zeros; the importer skips zeros, so they stay holes.
 * Implementations read the file on demand, with memory bounded by a few clusters.
 */
public sealed interface ImageSource extends AutoCloseable permits RawSource, Qcow2Source, VmdkSource {

    /** The backing chain is cut after this many files: a loop (a.qcow2 backed by itself) ends here. */
    int BACKING_DEPTH_MAX = 16;

    /** The disk's size as a guest sees it, in bytes. */
    long sizeBytes();

    /** Fills {@code dst[dstOffset, dstOffset + length)} with the disk's bytes at {@code offsetBytes}. */
    void read(long offsetBytes, byte[] dst, int dstOffset, int length);

    /** For messages and the CLI: {@code "qcow2 v3, 64 KiB clusters, backing base.raw (raw)"}. */
    String description();

    @Override
    void close();

    /** Opens {@code file} as {@code format}; {@code null} detects it by magic. */
    static ImageSource open(Path file, ImageFormat format) {
        return open(file, format, 0);
    }

    static ImageSource open(Path file, ImageFormat format, int depth) {
        if (depth >= BACKING_DEPTH_MAX) {
            throw new InteropException(file + ": backing chain depth: " + depth + " (expected: < " + BACKING_DEPTH_MAX + "; a loop?)");
        }
        ImageFormat f = format == null ? ImageFormat.detect(file) : format;
        return switch (f) {
            case RAW -> RawSource.open(file);
            case QCOW2 -> Qcow2Source.open(file, depth);
            case VMDK -> VmdkSource.open(file);
        };
    }
}
