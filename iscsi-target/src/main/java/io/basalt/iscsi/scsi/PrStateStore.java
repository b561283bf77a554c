package io.basalt.iscsi.scsi;

import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;

/**
 * Where a LUN's persistent-reservation state lives: a versioned register holding the state as
 * bytes ({@link Reservations} encodes, decodes and runs SPC-5's rules; a store only keeps the
 * bytes). The default keeps it in memory, for one target process; a cluster keeps it where every
 * gateway of the LUN reads it, so all of them see the same registrations and reservation.
 *
 * <p>Versions start at 0 (never written: no registrations, no reservation) and grow by one at each
 * successful {@link #compareAndSet}. Futures may complete on any thread; a store that cannot be
 * reached completes them exceptionally (the command is answered BUSY and re-issued).
 */
public interface PrStateStore {

    /** The state at {@code version}; {@code state} is read-only and empty at version 0. */
    record Versioned(long version, ByteBuffer state) {
        public Versioned {
            if (version < 0) {
                throw new IllegalArgumentException("version: " + version + " (expected: >= 0)");
            }
            state = state.asReadOnlyBuffer();
        }

        static final Versioned NONE = new Versioned(0, ByteBuffer.allocate(0));
    }

    /** The current state. */
    CompletableFuture<Versioned> read();

    /** Sets {@code state} at version {@code expectedVersion + 1} if the current version is {@code expectedVersion}; false otherwise. */
    CompletableFuture<Boolean> compareAndSet(long expectedVersion, ByteBuffer state);

    /**
     * Whether other processes change this state too: the LU then reads it again before commands
     * a reservation may refuse (see {@link LogicalUnit}); a store only this LU writes is always
     * known.
     */
    default boolean shared() {
        return false;
    }

    /** A register in this process's memory: the state of a LUN served by one target process. */
    static PrStateStore inMemory() {
        return new InMemory();
    }

    /** Guarded by {@code this}. */
    final class InMemory implements PrStateStore {
        private Versioned current = Versioned.NONE;

        private InMemory() {}

        @Override
        public synchronized CompletableFuture<Versioned> read() {
            return CompletableFuture.completedFuture(current);
        }

        @Override
        public synchronized CompletableFuture<Boolean> compareAndSet(long expectedVersion, ByteBuffer state) {
            if (current.version() != expectedVersion) {
                return CompletableFuture.completedFuture(false);
            }
            ByteBuffer copy = ByteBuffer.allocate(state.remaining()).put(state.duplicate()).flip();
            current = new Versioned(expectedVersion + 1, copy);
            return CompletableFuture.completedFuture(true);
        }
    }
}
