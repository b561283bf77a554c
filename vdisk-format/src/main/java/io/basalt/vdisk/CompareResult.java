package io.basalt.vdisk;

/**
 * The outcome of {@link BlockDevice#compareAndWrite}: either the data matched and was written,
 * or it did not and nothing was written; {@code miscompareOffsetBytes} is the offset of the first
 * differing byte within the compared range (SCSI reports it in the sense INFORMATION field).
 */
public record CompareResult(boolean matched, long miscompareOffsetBytes) {

    public static final CompareResult MATCHED = new CompareResult(true, -1);

    public CompareResult {
        if (matched && miscompareOffsetBytes != -1) {
            throw new IllegalArgumentException("miscompareOffsetBytes: " + miscompareOffsetBytes + " (expected: -1 when matched)");
        }
        if (!matched && miscompareOffsetBytes < 0) {
            throw new IllegalArgumentException("miscompareOffsetBytes: " + miscompareOffsetBytes + " (expected: >= 0 on a miscompare)");
        }
    }

    public static CompareResult miscompareAt(long offsetBytes) {
        return new CompareResult(false, offsetBytes);
    }
}
