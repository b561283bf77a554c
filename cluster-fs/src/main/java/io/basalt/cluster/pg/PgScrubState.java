package io.basalt.cluster.pg;

/**
 * One replica's scrub (docs/decisions/scrub-and-repair.md): its counters since the node started,
 * and the pass asked for (the node's worker polls for it; by an operator's {@code basalt scrub}, or by a read that met a checksum
 * mismatch). Owned by the replica's state machine, so it outlives a store replaced by a snapshot;
 * filled by the node's scrub worker, read by the scrub's status query. Thread-safe.
 */
public final class PgScrubState {
    /** No pass asked for ({@link #takeRequest}). */
    public static final long NO_REQUEST = -2;
    /** A pass of every vdisk. */
    public static final long ALL_VDISKS = -1;

    private final int pg;
    private long passCount;
    private long lastPassEndMillis;
    private long grainsChecked;
    private long bytesChecked;
    private long badFound;
    private long repaired;
    private long unrepairable;
    private boolean running;
    private long requested = NO_REQUEST;

    /**
     * The counters of one replica. {@code lastPassEndMillis} is wall-clock ms since the epoch of the
     * last pass's end, 0 before the first; the others are totals since the node started.
     */
    public record Stats(int pg, long passCount, long lastPassEndMillis, long grainsChecked, long bytesChecked,
                        long badFound, long repaired, long unrepairable, boolean running) {}

    public PgScrubState(int pg) {
        this.pg = pg;
    }

    /** Asks for a pass of cluster vdisk {@code vdiskId} ({@link #ALL_VDISKS}: all); a pending ask for all stays all. */
    public synchronized void request(long vdiskId) {
        requested = requested == ALL_VDISKS || (requested != NO_REQUEST && requested != vdiskId) ? ALL_VDISKS : vdiskId;
    }

    /** The pass asked for, taken (the vdisk id, or {@link #ALL_VDISKS}); {@link #NO_REQUEST} when none is. */
    public synchronized long takeRequest() {
        long r = requested;
        requested = NO_REQUEST;
        return r;
    }

    public synchronized void passStarted() {
        running = true;
    }

    public synchronized void checked(long grains, long bytes, long bad) {
        grainsChecked += grains;
        bytesChecked += bytes;
        badFound += bad;
    }

    public synchronized void repairedOne() {
        repaired++;
    }

    public synchronized void unrepairableOne() {
        unrepairable++;
    }

    public synchronized void passEnded(long wallMillis) {
        running = false;
        passCount++;
        lastPassEndMillis = wallMillis;
    }

    public synchronized Stats stats() {
        return new Stats(pg, passCount, lastPassEndMillis, grainsChecked, bytesChecked, badFound, repaired, unrepairable,
                running || requested != NO_REQUEST);
    }
}
