package io.basalt.node.config;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Optional;

import io.basalt.cluster.client.ClusterConfigs;
import io.basalt.cluster.meta.ConfigRecord;

/**
 * A datastore's config records: versioned registers under slash-separated keys ({@code vm/NAME},
 * {@code host/NAME}, ...) that the features above the storage keep where every host sees them: a
 * cluster's meta group, or the embedded store itself (docs/architecture.md, "Hosts and guests").
 * Writers read, change and {@link #compareAndSet} at the version read, and read again when another
 * writer came first.
 */
public interface Configs {

    /** Record {@code key}; empty when absent. */
    Optional<ConfigRecord> read(String key);

    /** The records at {@code prefix} and under {@code prefix + "/"} (every one for ""), by key. */
    List<ConfigRecord> list(String prefix);

    /**
     * Sets {@code key} to {@code value} (empty: removes it) if it is at {@code expectedVersion} (0:
     * absent); false when it is not. Other refusals (a value too large) throw, naming them.
     */
    boolean compareAndSet(String key, long expectedVersion, Optional<ByteBuffer> value);

    /**
     * The certificate of the cluster's CA this process holds, when the records are a TLS
     * cluster's: host agents then speak HTTPS with it (io.basalt.node.host.AgentTls).
     */
    default Optional<io.basalt.cluster.tls.TlsIdentity> tls() {
        return Optional.empty();
    }

    /** A cluster's records, in its meta group. */
    static Configs of(ClusterConfigs cluster) {
        return of(cluster, Optional.empty());
    }

    /** As {@link #of(ClusterConfigs)}, for a process holding {@code tls} (a TLS cluster's certificate). */
    static Configs of(ClusterConfigs cluster, Optional<io.basalt.cluster.tls.TlsIdentity> tls) {
        return new Configs() {
            @Override public Optional<io.basalt.cluster.tls.TlsIdentity> tls() { return tls; }
            @Override public Optional<ConfigRecord> read(String key) { return cluster.read(key); }
            @Override public List<ConfigRecord> list(String prefix) { return cluster.list(prefix); }
            @Override public boolean compareAndSet(String key, long expectedVersion, Optional<ByteBuffer> value) {
                return cluster.compareAndSet(key, expectedVersion, value);
            }
        };
    }
}
