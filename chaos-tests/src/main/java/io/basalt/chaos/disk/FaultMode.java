package io.basalt.chaos.disk;

import java.util.regex.Pattern;

/**
 * What the fault file system does to the calls it serves. A power cut is not a mode but an event
 * ({@link FaultMount#powerCut}); every mode here lasts until the next {@link FaultMount#mode} call.
 */
public sealed interface FaultMode {
    /** Every call passes through (writes still wait in memory for their fsync). */
    record Normal() implements FaultMode {}

    /** fsync and fdatasync of files and directories fail with EIO; the unsynced data stays unsynced. */
    record FsyncFails() implements FaultMode {}

    /** Reads of files whose path (from the mount's root, e.g. {@code /000012.sst}) matches fail with EIO. */
    record ReadEio(Pattern pathPattern) implements FaultMode {
        public ReadEio {
            java.util.Objects.requireNonNull(pathPattern, "pathPattern");
        }

        public static ReadEio everyFile() {
            return new ReadEio(Pattern.compile(".*"));
        }
    }

    /** The disk is full: writes, creates, mkdirs, allocations and growing truncates fail with ENOSPC. */
    record Full() implements FaultMode {}

    FaultMode NORMAL = new Normal();
}
