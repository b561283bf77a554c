package io.basalt.node.config;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;

import io.basalt.cluster.meta.ConfigRecord;
import io.basalt.cluster.meta.MetaCodec;
import io.basalt.vdisk.store.EntryBatch;
import io.basalt.vdisk.store.VdiskStore;

/**
 * The config records of the embedded single-node store: the same records a cluster's meta group
 * keeps, persisted in the store as the records of a log named {@value #LOG}, each change written
 * with the log's next index and synced before it is answered. Held in memory too, so reads cost
 * no I/O. Thread-safe: changes are applied one at a time.
 */
public final class EmbeddedConfigs implements Configs {
    /** The name of the config log in the store. */
    public static final String LOG = "configs";

    private final VdiskStore store;
    private final TreeMap<String, ConfigRecord> records = new TreeMap<>();
    private long applied;

    private EmbeddedConfigs(VdiskStore store) {
        this.store = store;
    }

    /** The records persisted in {@code store}. */
    public static EmbeddedConfigs open(VdiskStore store) {
        EmbeddedConfigs configs = new EmbeddedConfigs(store);
        store.forEachLogRecord(LOG, (key, value) -> {
            ConfigRecord r = MetaCodec.decodeConfig(ByteBuffer.wrap(value));
            if (!r.key().equals(new String(key, StandardCharsets.UTF_8))) {
                throw new IllegalStateException("config log record " + new String(key, StandardCharsets.UTF_8) + " holds key "
                        + r.key() + " in " + store.directory());
            }
            configs.records.put(r.key(), r);
        });
        configs.applied = Math.max(0, store.appliedIndex(LOG));
        return configs;
    }

    @Override
    public synchronized Optional<ConfigRecord> read(String key) {
        ConfigRecord.checkKey(key);
        return Optional.ofNullable(records.get(key));
    }

    @Override
    public synchronized List<ConfigRecord> list(String prefix) {
        if (prefix.isEmpty()) {
            return List.copyOf(records.values());
        }
        List<ConfigRecord> out = new ArrayList<>();
        Optional.ofNullable(records.get(prefix)).ifPresent(out::add);
        out.addAll(records.subMap(prefix + "/", prefix + "0").values());    // '/' + 1 is '0'
        return out;
    }

    @Override
    public synchronized boolean compareAndSet(String key, long expectedVersion, Optional<ByteBuffer> value) {
        ConfigRecord.checkKey(key);
        long current = Optional.ofNullable(records.get(key)).map(ConfigRecord::version).orElse(0L);
        if (current != expectedVersion) {
            return false;
        }
        if (value.isPresent() && value.get().remaining() > ConfigRecord.VALUE_BYTES_MAX) {
            throw new IllegalArgumentException("config " + key + ": " + value.get().remaining() + " bytes (expected: <= "
                    + ConfigRecord.VALUE_BYTES_MAX + ")");
        }
        if (value.isEmpty() && current == 0) {
            return true;
        }
        byte[] dbKey = key.getBytes(StandardCharsets.UTF_8);
        Optional<ConfigRecord> next = value.map(v -> new ConfigRecord(key, current + 1,
                ByteBuffer.allocate(v.remaining()).put(v.duplicate()).flip()));
        try (EntryBatch batch = store.entryBatch(LOG)) {
            next.ifPresentOrElse(r -> batch.putLogRecord(dbKey, MetaCodec.encode(r)), () -> batch.deleteLogRecord(dbKey));
            batch.commit(applied + 1);
        }
        // EntryBatch writes without fsync (kill -9 safe, not power-loss safe); a placement must survive both.
        store.flush();
        applied++;
        next.ifPresentOrElse(r -> records.put(key, r), () -> records.remove(key));
        return true;
    }
}
