package io.basalt.cluster.client;

/** Write entries completed: how many, the ops they carried, and their summed time in flight (sent to answered). */
public record EntryStats(long entries, long ops, long nanos) {
    public EntryStats plus(EntryStats o) {
        return new EntryStats(entries + o.entries, ops + o.ops, nanos + o.nanos);
    }

    public EntryStats minus(EntryStats o) {
        return new EntryStats(entries - o.entries, ops - o.ops, nanos - o.nanos);
    }

    @Override
    public String toString() {
        return String.format("%d write entries, %.2f ops/entry, %.2f ms in flight each", entries,
                entries == 0 ? 0.0 : (double) ops / entries, entries == 0 ? 0.0 : nanos / 1e6 / entries);
    }
}
