package io.basalt.interop;

import java.nio.file.Path;
import java.util.Arrays;

/** A raw image: the file is the disk. As a backing file it may be shorter than the image it backs: reads past its end are zeros. */
public final class RawSource implements ImageSource {
    private final FileReads file;

    private RawSource(FileReads file) {
        this.file = file;
    }

    static RawSource open(Path path) {
        return new RawSource(FileReads.open(path));
    }

    @Override
    public long sizeBytes() {
        return file.sizeBytes;
    }

    @Override
    public void read(long offsetBytes, byte[] dst, int dstOffset, int length) {
        int n = offsetBytes >= file.sizeBytes ? 0 : file.readUpTo(offsetBytes, dst, dstOffset, length);
        Arrays.fill(dst, dstOffset + n, dstOffset + length, (byte) 0);
    }

    @Override
    public String description() {
        return "raw";
    }

    @Override
    public void close() {
        file.close();
    }
}
