package io.basalt.backup;

/**
 * A repository that cannot be read or written as asked (a corrupted chunk, a bad manifest, an I/O
 * failure), or a backup that cannot be made as asked (its vdisk's lock refused). The message names what.
 */
public final class BackupException extends RuntimeException {
    public BackupException(String message) {
        super(message);
    }

    public BackupException(String message, Throwable cause) {
        super(message, cause);
    }
}
