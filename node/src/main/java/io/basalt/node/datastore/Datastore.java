package io.basalt.node.datastore;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.LongConsumer;

import io.basalt.cluster.client.ClusterClient;
import io.basalt.cluster.meta.VdiskRecord;
import io.basalt.node.cluster.ClusterFile;
import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.store.Extent;
import io.basalt.vdisk.store.SnapshotInfo;
import io.basalt.vdisk.store.Usage;
import io.basalt.vdisk.store.VdiskInfo;
import io.basalt.vdisk.store.VdiskStore;

/**
 * What {@code basalt vdisk} and {@code basalt snap} work on: the embedded single-node store
 * ({@code --data DIR}) or a cluster ({@code --cluster FILE|DIR}), with the same commands and the
 * same output. Epochs are an engine notion: a cluster reports snapshot epochs as -1 (shown as -).
 */
public interface Datastore extends AutoCloseable {

    /**
     * A vdisk as the commands show it. {@code headEpoch} is empty on a cluster (epochs are per
     * placement group there); {@code parent} is {@code NAME@SNAP}; {@code rollingBackTo} is the
     * snapshot of an unfinished rollback (a cluster rolls back one placement group at a time).
     */
    record VdiskView(long id, String name, long sizeBytes, int blockSizeBytes, int grainSizeBytes, java.util.OptionalLong headEpoch,
                     Optional<String> parent, int chainDepth, long createdEpochMs, Optional<String> rollingBackTo) {
        public static VdiskView of(VdiskInfo v) {
            return new VdiskView(v.id(), v.name(), v.sizeBytes(), v.blockSizeBytes(), v.grainSizeBytes(), java.util.OptionalLong.of(v.headEpoch()),
                    v.parent().map(VdiskInfo.ParentLink::description), v.chainDepth(), v.createdEpochMs(), Optional.empty());
        }

        public long grainCount() {
            return (sizeBytes + grainSizeBytes - 1) / grainSizeBytes;
        }
    }

    VdiskView create(String name, long sizeBytes, int blockSizeBytes, int grainSizeBytes);

    List<VdiskView> list();

    VdiskView info(String name);

    Usage usage(String name);

    List<SnapshotInfo> snapshots(String name);

    void resize(String name, long sizeBytes);

    void remove(String name);

    VdiskView clone(String parent, String snap, String child);

    void flatten(String name, LongConsumer progress);

    List<Extent> diff(String name, String fromSnap, String toSnap);

    SnapshotInfo createSnapshot(String vdisk, String snap);

    void removeSnapshot(String vdisk, String snap);

    /**
     * Snapshot {@code snap} of every one of {@code vdisks}. The embedded store takes them at one
     * instant ({@code VdiskStore.createSnapshots}); a cluster one after the other, each by the
     * namespace and then every placement group, so only writes that no snapshot races are
     * consistent across them (a running VM's are: its host pauses it for {@code vm snapshot}).
     */
    default List<SnapshotInfo> createSnapshots(List<String> vdisks, String snap) {
        return vdisks.stream().map(v -> createSnapshot(v, snap)).toList();
    }

    void rollback(String vdisk, String snap);

    /**
     * How many removed snapshots of {@code vdisk} still have their space being collected (a
     * removal only drops the snapshot from the catalog; its versions go in the background), or
     * empty where this process cannot tell: on a cluster or through an API, each node collects
     * its own in the background, and {@code basalt vdisk du} shows the space falling.
     */
    default java.util.OptionalInt pendingSnapshotGc(String vdisk) {
        return java.util.OptionalInt.empty();
    }

    /** Waits until no removed snapshot of {@code vdisk} is left to collect; refused where {@link #pendingSnapshotGc} cannot tell. */
    default void awaitSnapshotGc(String vdisk, java.time.Duration timeout) {
        throw new UnsupportedOperationException("waiting for the space of removed snapshots works on the embedded store (--data) only:"
                + " on a cluster or through an API each node collects it in the background (basalt vdisk du " + vdisk + " shows it falling)");
    }

    /** Removes every snapshot, newest first; returns how many. */
    default int purgeSnapshots(String vdisk) {
        List<SnapshotInfo> snaps = new ArrayList<>(snapshots(vdisk));
        java.util.Collections.reverse(snaps);
        for (SnapshotInfo s : snaps) {
            removeSnapshot(vdisk, s.name());
        }
        return snaps.size();
    }

    /** {@code NAME} (the head) or {@code NAME@SNAP} (read-only) as a block device. */
    BlockDevice open(String spec);

    /** The lock table: hosts' sessions and vdisks' locks (embedded: persisted in the store). */
    io.basalt.lock.LockService locks();

    /** What a target serving these vdisks binds its initiators' hosts through (embedded: starts the lease monitor). */
    io.basalt.node.locks.LockedStore serving();

    /** The config records (VM specs, host agents): a cluster's meta group, or the embedded store. */
    io.basalt.node.config.Configs configs();

    @Override
    void close();

    /** gRPC's start-up notice ("Epoll available ...") is not for a command's output; held so the level sticks. */
    java.util.logging.Logger QUIET_GRPC = java.util.logging.Logger.getLogger("org.apache.ratis.thirdparty.io.grpc.netty");

    /** The embedded store in {@code dir}, keeping {@code reserveBytes} free on its filesystem (see {@code SpaceReserve}). */
    static Datastore local(Path dir, long reserveBytes) {
        return new Local(VdiskStore.open(dir, VdiskStore.Options.defaults().withReserveBytes(reserveBytes)));
    }

    /** The cluster of {@code fileOrDir}: a cluster file, or a {@code cluster up} directory holding {@code cluster.json}. */
    static Datastore cluster(Path fileOrDir) {
        return cluster(fileOrDir, java.util.function.UnaryOperator.identity());
    }

    /** As {@link #cluster(Path)}, the client opened with the file's config changed by {@code tune} (client-side tuning only). */
    static Datastore cluster(Path fileOrDir, java.util.function.UnaryOperator<io.basalt.cluster.ClusterConfig> tune) {
        Path file = clusterFile(fileOrDir);
        QUIET_GRPC.setLevel(java.util.logging.Level.WARNING);
        try {
            return new Cluster(ClusterClient.open(tune.apply(ClusterFile.read(file).clientConfig(file))));
        } catch (IOException e) {
            throw new UncheckedIOException("read cluster file " + file + ": " + e.getMessage(), e);
        }
    }

    /** The cluster file {@code --cluster} names: the file itself, or cluster.json in a {@code cluster up} directory. */
    static Path clusterFile(Path fileOrDir) {
        Path file = Files.isDirectory(fileOrDir) ? fileOrDir.resolve("cluster.json") : fileOrDir;
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("--cluster: " + fileOrDir + " (expected: a cluster file, or a `basalt cluster up` directory holding cluster.json)");
        }
        return file;
    }

    /** The embedded single-node store and its lock table. */
    record Local(VdiskStore store, io.basalt.node.locks.EmbeddedLocks locks, io.basalt.node.config.EmbeddedConfigs configs) implements Datastore {
        public Local(VdiskStore store) {
            this(store, io.basalt.node.locks.EmbeddedLocks.open(store), io.basalt.node.config.EmbeddedConfigs.open(store));
        }

        @Override
        public io.basalt.node.locks.LockedStore serving() {
            return io.basalt.node.locks.LockedStore.embedded(store, locks.startLeaseMonitor());
        }

        @Override public VdiskView create(String name, long size, int bs, int grain) { return VdiskView.of(store.create(name, size, bs, grain)); }
        @Override public List<VdiskView> list() { return store.list().stream().map(VdiskView::of).toList(); }
        @Override public VdiskView info(String name) { return VdiskView.of(store.info(name)); }
        @Override public Usage usage(String name) { return store.usage(name); }
        @Override public List<SnapshotInfo> snapshots(String name) { return store.snapshots(name); }
        @Override public void resize(String name, long size) { store.resize(name, size); }
        @Override
        public void remove(String name) {
            locks.lock(name).filter(l -> !l.holders().isEmpty()).ifPresent(l -> {
                throw new IllegalArgumentException("vdisk: " + name + " is locked by session(s) " + l.holders().stream()
                        .map(h -> String.valueOf(h.sessionId())).toList() + " (expected: unlocked; see basalt lock ls " + name + ")");
            });
            store.remove(name);
            locks.submit(new io.basalt.lock.LockCommand.Forget(name));
        }
        @Override public VdiskView clone(String parent, String snap, String child) { return VdiskView.of(store.clone(parent, snap, child)); }
        @Override public void flatten(String name, LongConsumer progress) { store.flatten(name, progress); }
        @Override public List<Extent> diff(String name, String from, String to) { return store.diff(name, from, to); }
        @Override public SnapshotInfo createSnapshot(String vdisk, String snap) { return store.createSnapshot(vdisk, snap); }
        @Override public void removeSnapshot(String vdisk, String snap) { store.removeSnapshot(vdisk, snap); }
        @Override public List<SnapshotInfo> createSnapshots(List<String> vdisks, String snap) { return store.createSnapshots(vdisks, snap); }
        @Override public void rollback(String vdisk, String snap) { store.rollback(vdisk, snap); }
        @Override public int purgeSnapshots(String vdisk) { return store.purgeSnapshots(vdisk); }
        @Override public java.util.OptionalInt pendingSnapshotGc(String vdisk) { return java.util.OptionalInt.of(store.pendingGcCount(vdisk)); }
        @Override public void awaitSnapshotGc(String vdisk, java.time.Duration timeout) { store.awaitGc(vdisk, timeout); }
        @Override public BlockDevice open(String spec) { return store.open(spec); }
        @Override
        public void close() {
            try (store; locks) {
                // the lease monitor stops first, then the store closes
            }
        }
    }

    /** A cluster, through its meta group and placement groups. */
    record Cluster(ClusterClient client) implements Datastore {
        @Override
        public VdiskView create(String name, long size, int bs, int grain) {
            return info(client.createVdisk(name, size, bs, grain));
        }

        @Override
        public List<VdiskView> list() {
            List<VdiskRecord> all = client.vdisks();
            Map<Long, VdiskRecord> byId = new HashMap<>();
            all.forEach(v -> byId.put(v.id(), v));
            return all.stream().map(v -> info(v, byId)).toList();
        }

        @Override
        public VdiskView info(String name) {
            return info(record(name));
        }

        @Override
        public Usage usage(String name) {
            return client.usage(name);
        }

        @Override
        public List<SnapshotInfo> snapshots(String name) {
            VdiskRecord v = record(name);
            return v.snapshots().stream().map(s -> snapshotInfo(v, s)).toList();
        }

        @Override
        public void resize(String name, long size) {
            try (var d = client.open(name)) {
                d.resize(size).join();
            }
        }

        @Override
        public void remove(String name) {
            client.removeVdisk(name);
        }

        @Override
        public VdiskView clone(String parent, String snap, String child) {
            return info(client.cloneVdisk(parent, snap, child));
        }

        @Override
        public void flatten(String name, LongConsumer progress) {
            VdiskView v = info(name);
            int pgs = client.config().pgCount();
            // Progress in grains, as the engine reports it: each placement group done is a share.
            client.flatten(name, done -> progress.accept(v.grainCount() * done / pgs));
        }

        @Override
        public List<Extent> diff(String name, String from, String to) {
            return client.diff(name, from, to);
        }

        @Override
        public SnapshotInfo createSnapshot(String vdisk, String snap) {
            VdiskRecord v = client.createSnapshot(vdisk, snap);
            return snapshotInfo(v, v.snapshot(snap).orElseThrow());
        }

        /** A snapshot as the engine describes one; its epoch is per PG on a cluster, so -1. */
        private static SnapshotInfo snapshotInfo(VdiskRecord v, VdiskRecord.SnapshotRecord s) {
            return new SnapshotInfo(v.id(), s.name(), -1, s.sizeBytes(), s.createdMs());
        }

        @Override
        public void removeSnapshot(String vdisk, String snap) {
            client.removeSnapshot(vdisk, snap);
        }

        @Override
        public void rollback(String vdisk, String snap) {
            client.rollback(vdisk, snap);
        }

        @Override
        public BlockDevice open(String spec) {
            return client.open(spec);
        }

        @Override
        public io.basalt.lock.LockService locks() {
            return client.locks();
        }

        @Override
        public io.basalt.node.locks.LockedStore serving() {
            return io.basalt.node.locks.LockedStore.cluster(client);
        }

        @Override
        public io.basalt.node.config.Configs configs() {
            return io.basalt.node.config.Configs.of(client.configs(), client.config().tls());
        }

        @Override
        public void close() {
            client.close();
        }

        private VdiskRecord record(String name) {
            return client.vdisk(name).orElseThrow(() -> new IllegalArgumentException("vdisk: " + name + " (expected: an existing vdisk)"));
        }

        private VdiskView info(VdiskRecord v) {
            Map<Long, VdiskRecord> byId = new HashMap<>();
            client.vdisks().forEach(x -> byId.put(x.id(), x));
            return info(v, byId);
        }

        /** A namespace record as shown: parent as NAME@SNAP, chain depth by walking the parents. */
        private static VdiskView info(VdiskRecord v, Map<Long, VdiskRecord> byId) {
            Optional<String> parent = v.parent().map(p ->
                    Optional.ofNullable(byId.get(p.vdiskId())).map(VdiskRecord::name).orElse("#" + p.vdiskId()) + "@" + p.snapName());
            int depth = 0;
            for (VdiskRecord at = v; at.parent().isPresent() && depth <= byId.size(); depth++) {
                at = byId.get(at.parent().get().vdiskId());
                if (at == null) {
                    depth++;
                    break;
                }
            }
            return new VdiskView(v.id(), v.name(), v.sizeBytes(), v.blockSizeBytes(), v.grainSizeBytes(), java.util.OptionalLong.empty(),
                    parent, depth, v.createdMs(), v.rollingBackTo());
        }
    }
}
