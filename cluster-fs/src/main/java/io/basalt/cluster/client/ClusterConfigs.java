package io.basalt.cluster.client;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Optional;

import io.basalt.cluster.meta.ConfigRecord;
import io.basalt.cluster.meta.MetaCodec;
import io.basalt.cluster.meta.MetaCommand;
import io.basalt.cluster.meta.MetaQuery;
import io.basalt.cluster.meta.MetaResult;

/**
 * The cluster's config records in the meta group (VM specs, host agents, later mirrors and peer
 * sites): versioned registers under slash-separated keys, read linearizably at the meta leader
 * and changed by compare-and-set. Calls block (a Raft round trip); a transport failure or timeout
 * throws.
 */
public final class ClusterConfigs {
    private final ClusterClient client;

    ClusterConfigs(ClusterClient client) {
        this.client = client;
    }

    /** Record {@code key}; empty when absent (version 0). */
    public Optional<ConfigRecord> read(String key) {
        ConfigRecord.checkKey(key);
        return list(key).stream().filter(r -> r.key().equals(key)).findFirst();
    }

    /** The records at {@code prefix} and under {@code prefix + "/"} (every one for ""), by key. */
    public List<ConfigRecord> list(String prefix) {
        return MetaQuery.decodeConfigs(client.metaRead(new MetaQuery.ConfigsUnder(prefix)));
    }

    /**
     * Sets {@code key} to {@code value} (empty: removes it) if it is at {@code expectedVersion};
     * false when it is not (another writer came first). Any other refusal (a value too large, too
     * many records) throws, naming it.
     */
    public boolean compareAndSet(String key, long expectedVersion, Optional<ByteBuffer> value) {
        MetaResult r = MetaCodec.decodeResult(client.metaWrite(new MetaCommand.PutConfig(key, expectedVersion, value)));
        return switch (r) {
            case MetaResult.Done d -> true;
            case MetaResult.Rejected rej -> {
                long now = read(key).map(ConfigRecord::version).orElse(0L);
                if (now != expectedVersion) {
                    yield false;
                }
                throw new IllegalArgumentException(rej.message());
            }
            default -> throw new IllegalStateException("meta answered " + r + " to config " + key + " (expected: done or rejected)");
        };
    }
}
