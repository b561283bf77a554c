package io.basalt.interop;

/**
 * An image that cannot be read or written: a malformed or unsupported field, a truncated file,
 * an I/O error. The message is one line that names the file, the field and its value, and what
 * was expected, e.g. {@code "disk.qcow2: cluster_bits: 30 (expected: 9..21)"}.
 */
public final class InteropException extends RuntimeException {
    public InteropException(String message) {
        super(message);
    }

    public InteropException(String message, Throwable cause) {
        super(message, cause);
    }
}
