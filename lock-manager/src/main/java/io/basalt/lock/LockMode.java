package io.basalt.lock;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * How a host session holds a vdisk. Compatibility is symmetric:
 *
 * <pre>
 *                 exclusive  shared-read  multi-writer
 *   exclusive        no         yes          no
 *   shared-read      yes        yes          yes
 *   multi-writer     no         yes          yes
 * </pre>
 *
 * Shared-read coexists with an exclusive writer so that a backup reader, or a live migration's
 * destination before the hand-off, can open the disk while its owner keeps writing.
 */
public enum LockMode {
    /** One writer; readers may share. */
    EXCLUSIVE("exclusive"),
    /** Reads only; never carries a write, so the fence ignores it. */
    SHARED_READ("shared-read"),
    /** Several writers that coordinate among themselves (clustered guests). */
    MULTI_WRITER("multi-writer");

    private final String cliName;

    LockMode(String cliName) {
        this.cliName = cliName;
    }

    /** The name operators type and see ({@code exclusive}, {@code shared-read}, {@code multi-writer}). */
    public String cliName() {
        return cliName;
    }

    /** Whether a holder in this mode writes, so that its leaving must raise the fence. */
    public boolean writes() {
        return this != SHARED_READ;
    }

    /** Whether a holder in this mode and one in {@code other} (another session) may hold the same vdisk. */
    public boolean coexistsWith(LockMode other) {
        if (this == SHARED_READ || other == SHARED_READ) {
            return true;
        }
        return this == MULTI_WRITER && other == MULTI_WRITER;
    }

    /** Parses an operator's spelling; the error names the bad value and the accepted ones. */
    public static LockMode parse(String text) {
        for (LockMode m : values()) {
            if (m.cliName.equals(text)) {
                return m;
            }
        }
        throw new IllegalArgumentException("lock mode: '" + text + "' (expected: one of "
                + Arrays.stream(values()).map(LockMode::cliName).collect(Collectors.joining(", ")) + ")");
    }
}
