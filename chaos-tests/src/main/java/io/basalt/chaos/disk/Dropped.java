package io.basalt.chaos.disk;

/** What a power cut dropped: bytes written or truncated away since their file's last sync, and how many files had any. */
public record Dropped(long bytes, int fileCount) {
    public Dropped {
        // A file can lose only its size (a truncate that grew it), so files may be counted with no bytes.
        if (bytes < 0 || fileCount < 0 || (fileCount == 0 && bytes != 0)) {
            throw new IllegalArgumentException("dropped " + bytes + " bytes in " + fileCount + " files (expected: >= 0, and no bytes without a file)");
        }
    }
}
