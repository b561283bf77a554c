package io.basalt.node.mirror;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.cluster.ClusterConfig;
import io.basalt.cluster.TestCluster;
import io.basalt.cluster.client.ClusterClient;
import io.basalt.cluster.client.ClusterVdisk;
import io.basalt.lock.HostSessionClient;
import io.basalt.lock.LockMode;
import io.basalt.node.config.Configs;
import io.basalt.node.datastore.Datastore;
import io.basalt.node.host.ConsistentSnapshots;
import io.basalt.replication.MirrorRoles;
import io.basalt.replication.MirrorSnapshots;
import io.basalt.replication.MirrorStore;
import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.store.Vdisk;

/**
 * A consistency group of two vdisks (a database's log and data disks) on a cluster (three in-JVM
 * nodes, three placement groups of three replicas) mirrored to an embedded site, and back.
 *
 * <p>On the cluster a writer takes both vdisks' locks, puts counter k on the log and then on the
 * data disk, and lets the locks go; group rounds take their snapshots by the store when no one
 * holds the locks, read the locks again after and undo all of them when a writer came in. So every
 * group round the embedded site holds has the same counter on both disks: a round taken one
 * placement group after the other while the writer wrote would catch the log a pair ahead. Then a
 * planned group failover leaves both copies equal byte for byte; the embedded site mirrors the
 * group into the cluster's replicas; the cluster's data replica is held a round behind the log, the
 * embedded site is lost, and an unplanned group failover promotes both at the round they share (a
 * snapshot above the data replica's record, as a crash leaves, does not count); the embedded site
 * fails the group back.
 */
class ClusterMirrorGroupTest {
    private static final String GROUP = "db";
    private static final String LOG = "db-log";
    private static final String DATA = "db-data";
    private static final List<String> MEMBERS = List.of(LOG, DATA);
    private static final long SIZE_BYTES = 4L << 20;
    private static final long INTERVAL_MS = 300;
    private static final Duration WAIT = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    /** The cluster's site: what its mirroring gateway runs. */
    private static final class ClusterSite implements AutoCloseable {
        final String name = "site-a";
        final ClusterClient client;
        final MirrorStore store;
        final Configs configs;
        final MirrorConfig config;
        final Path staging;
        MirrorService service;

        ClusterSite(ClusterClient client, Path staging) {
            this.client = client;
            this.store = ConsistentSnapshots.mirrorSite(new Datastore.Cluster(client));
            this.configs = Configs.of(client.configs());
            this.config = new MirrorConfig(configs);
            this.staging = staging;
            config.initSite(name);
            service = MirrorService.start(store, configs, new InetSocketAddress("127.0.0.1", 0), staging);
        }

        @Override
        public void close() {
            service.close();
        }
    }

    @Test
    void aGroupOnAClusterIsMirroredAtOneInstantFailsOverBothWaysAndFailsBack() throws Exception {
        long startNs = System.nanoTime();
        byte[] secret = new byte[32];
        Arrays.fill(secret, (byte) 7);
        ClusterConfig config = TestCluster.config("site-a", 3, 3, 3, TestCluster.fastTuning());
        try (TestCluster cluster = TestCluster.start(config, dir.resolve("nodes"), 0)) {
            cluster.waitForAllLeaders(Duration.ofSeconds(30));
            try (ClusterClient client = ClusterClient.open(config, cluster.node(1));
                 TwoSites.Site b = new TwoSites.Site("site-b", dir.resolve("b"));
                 ClusterSite a = new ClusterSite(client, dir.resolve("a/staging"))) {
                b.start();
                peer(a, b, secret);
                peer(b, a, secret);
                for (String v : MEMBERS) {
                    client.createVdisk(v, SIZE_BYTES, 512, 4096);
                }
                MirrorGroups.create(a.store, a.config, new MirrorConfig.Group(GROUP, b.name, INTERVAL_MS, MEMBERS));

                // 1. Group rounds from the cluster while a writer there takes the locks for each pair of writes.
                long pairs = writeOnCluster(client, () -> {
                    long seen = 0;
                    for (int check = 0; check < 3; check++) {
                        long after = seen;
                        TwoSites.await("a group round past " + after + " on site b", WAIT,
                                () -> b.config.replicaGroup(GROUP).isPresent() && consistent(b.store) > after && logAtConsistent(b) > 0);
                        seen = holdingRounds(b.service, () -> {
                            long round = consistent(b.store);
                            String snap = MirrorSnapshots.name(round);
                            long log = read(b.store, LOG + "@" + snap);
                            long data = read(b.store, DATA + "@" + snap);
                            System.out.printf("group round %s on site b: log %d, data %d%n", snap, log, data);
                            assertEquals(log, data, "a group round taken at one instant on the cluster holds the same pair on both disks (" + snap + ")");
                            return round;
                        });
                    }
                });
                System.out.printf("cluster writer: %d pairs; site a's log mirror: %s%n", pairs, a.service.status(Optional.of(LOG)).getFirst());

                // 2. Planned group failover to site b: the cluster's copies become replicas, equal byte for byte.
                List<Dr.Outcome> planned = b.service.failoverGroup(GROUP, true);
                planned.forEach(o -> o.lines().forEach(l -> System.out.println("planned group failover: " + l)));
                for (String v : MEMBERS) {
                    assertSameBytes(a, v, b, v);
                    assertTrue(MirrorRoles.replicaOf(a.store, v).isPresent(), v + " is a replica on the cluster");
                    assertTrue(MirrorRoles.replicaOf(b.store, v).isEmpty(), v + " is primary on site b");
                }
                assertEquals(pairs, read(b.store, LOG), "no write lost");
                assertTrue(a.config.group(GROUP).isEmpty(), "the cluster's group went with its last member");

                // 3. Site b mirrors the group into the cluster's replicas while a dependent writer writes there.
                long afterPlanned = consistent(a.store);
                AtomicBoolean stop = new AtomicBoolean();
                AtomicReference<Throwable> failed = new AtomicReference<>();
                Thread writer = Thread.ofPlatform().name("site-b-writer").start(() -> {
                    try (Vdisk log = b.store.open(LOG); Vdisk data = b.store.open(DATA)) {
                        for (long k = pairs + 1; !stop.get(); k++) {
                            log.write(0, counter(k), false).join();
                            data.write(0, counter(k), false).join();
                            Thread.sleep(1);
                        }
                    } catch (Throwable t) {
                        failed.set(t);
                    }
                });
                long logAhead;
                String at;
                try {
                    TwoSites.await("three group rounds applied on the cluster, the last with site b's writes", WAIT,
                            () -> a.config.replicaGroup(GROUP).isPresent() && consistent(a.store) >= afterPlanned + 3
                                    && holdingRounds(a.service, () -> readCluster(client, DATA, MirrorSnapshots.name(consistent(a.store)))) > pairs);
                    holdingRounds(a.service, () -> {
                        String snap = MirrorSnapshots.name(consistent(a.store));
                        long log = readCluster(client, LOG, snap);
                        long data = readCluster(client, DATA, snap);
                        assertTrue(log == data || log == data + 1, "the cluster's replicas at " + snap + ": log " + log + ", data " + data);
                        return null;
                    });

                    // 4. The cluster holds back the data disk's rounds until the log is a round ahead; site b is lost.
                    logAhead = a.service.withoutRounds(DATA, () -> {
                        long was = lastRound(a.store, LOG);
                        try {
                            TwoSites.await("the log a round ahead of the data disk on the cluster", WAIT, () -> lastRound(a.store, LOG) > was);
                        } catch (InterruptedException e) {
                            throw new IllegalStateException(e);
                        }
                        b.stop();
                        long ahead = lastRound(a.store, LOG);
                        // A crash between a cluster replica's snapshot and its record leaves such a snapshot: not a complete round.
                        client.createSnapshot(DATA, MirrorSnapshots.name(ahead), client.locks().lock(DATA).map(l -> l.lastToken()).orElse(0L));
                        return ahead;
                    });
                } finally {
                    stop.set(true);
                    writer.join();
                }
                assertEquals(null, failed.get());
                at = MirrorSnapshots.name(logAhead - 1);
                assertEquals(OptionalLong.of(logAhead - 1), MirrorGroups.consistentRound(a.store, MEMBERS),
                        "the data replica's snapshot above its record is not part of the group's round");
                List<Dr.Outcome> unplanned = a.service.failoverGroup(GROUP, false);
                unplanned.forEach(o -> o.lines().forEach(l -> System.out.println("unplanned group failover: " + l)));
                assertEquals(List.of(at, at), unplanned.stream().map(Dr.Outcome::snapshot).toList(), "both members at the same group round");
                assertTrue(unplanned.getFirst().lines().getFirst().contains("reverted from " + MirrorSnapshots.name(logAhead)),
                        unplanned.getFirst().lines().toString());
                assertFalse(MirrorService.mirrorSnapshots(a.store, DATA).contains(MirrorSnapshots.name(logAhead)), "the promotion removed the uncommitted snapshot");
                long log = readCluster(client, LOG, null);
                long data = readCluster(client, DATA, null);
                System.out.printf("unplanned group failover at %s: log holds %d, data holds %d%n", at, log, data);
                assertTrue(data > pairs, "site b's writes reached the cluster");
                assertTrue(log == data || log == data + 1, "the data disk is never ahead of the log: log " + log + ", data " + data);
                for (String v : MEMBERS) {
                    try (BlockDevice there = b.store.open(v + "@" + at); BlockDevice here = client.open(v)) {
                        TwoSites.assertSameBytes(there, "site-b " + v + "@" + at, here, "site-a " + v);
                    }
                    assertTrue(MirrorRoles.replicaOf(a.store, v).isEmpty(), v + " is primary on the cluster");
                }

                // 5. Site b comes back and fails the group back, discarding what it wrote after the round the cluster holds.
                b.start();
                peer(a, b, secret);
                peer(b, a, secret);
                List<Dr.Outcome> back = b.service.failbackGroup(GROUP, true);
                back.forEach(o -> o.lines().forEach(l -> System.out.println("group failback: " + l)));
                for (String v : MEMBERS) {
                    assertSameBytes(a, v, b, v);
                    assertTrue(MirrorRoles.replicaOf(a.store, v).isPresent(), v + " is a replica on the cluster again");
                    assertTrue(MirrorRoles.replicaOf(b.store, v).isEmpty(), v + " is primary on site b again");
                }
                assertTrue(a.config.group(GROUP).isEmpty(), "the cluster's group went with its last member: " + a.config.groups());
                TwoSites.await("group rounds from site b again", WAIT, () -> a.config.replicaGroup(GROUP).isPresent() && consistent(a.store) > logAhead);
            }
        }
        System.out.printf("cluster group mirror test: %d ms%n", (System.nanoTime() - startNs) / 1_000_000);
    }

    /** Body that waits for rounds while a writer on the cluster writes pairs, each under both vdisks' locks; returns the pairs written. */
    private static long writeOnCluster(ClusterClient client, Checks checks) throws Exception {
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong written = new AtomicLong();
        AtomicReference<Throwable> failed = new AtomicReference<>();
        Thread writer = Thread.ofPlatform().name("cluster-writer").start(() -> {
            try (HostSessionClient session = HostSessionClient.open(client.locks(), "test-writer")) {
                for (long k = 1; !stop.get(); k++) {
                    for (String v : MEMBERS) {
                        client.locks().acquireAndFence(session, v, LockMode.EXCLUSIVE);
                    }
                    try (ClusterVdisk log = client.open(LOG, session); ClusterVdisk data = client.open(DATA, session)) {
                        log.write(0, counter(k), false).join();
                        data.write(0, counter(k), false).join();
                    } finally {
                        for (String v : MEMBERS) {
                            session.release(v);
                        }
                    }
                    written.set(k);
                    Thread.sleep(40);
                }
            } catch (Throwable t) {
                failed.set(t);
            }
        });
        try {
            checks.run();
        } finally {
            stop.set(true);
            writer.join();
        }
        assertEquals(null, failed.get());
        return written.get();
    }

    @FunctionalInterface
    private interface Checks {
        void run() throws Exception;
    }

    /** Runs {@code action} with no round applied to either member at {@code service}'s site meanwhile. */
    private static <T> T holdingRounds(MirrorService service, java.util.function.Supplier<T> action) {
        return service.withoutRounds(LOG, () -> service.withoutRounds(DATA, action));
    }

    private static long consistent(MirrorStore store) {
        return MirrorGroups.consistentRound(store, MEMBERS).orElse(0);
    }

    private static long consistent(io.basalt.vdisk.store.VdiskStore store) {
        return consistent(MirrorStore.of(store));
    }

    /** The log's counter at the group's consistent round on site {@code b}; 0 before there is one. */
    private static long logAtConsistent(TwoSites.Site b) {
        return holdingRounds(b.service, () -> {
            long round = consistent(b.store);
            return round == 0 ? 0 : read(b.store, LOG + "@" + MirrorSnapshots.name(round));
        });
    }

    private static long lastRound(MirrorStore store, String replica) {
        return MirrorRoles.replicaOf(store, replica).flatMap(r -> r.lastSnapshot()).map(MirrorSnapshots::sequenceOf)
                .map(OptionalLong::getAsLong).orElse(0L);
    }

    private static void peer(ClusterSite a, TwoSites.Site b, byte[] secret) {
        a.config.putPeer(new MirrorConfig.Peer(b.name, "127.0.0.1:" + b.service.address().getPort(), java.util.Base64.getEncoder().encodeToString(secret), 0));
    }

    private static void peer(TwoSites.Site b, ClusterSite a, byte[] secret) {
        b.config.putPeer(new MirrorConfig.Peer(a.name, "127.0.0.1:" + a.service.address().getPort(), java.util.Base64.getEncoder().encodeToString(secret), 0));
    }

    private static void assertSameBytes(ClusterSite a, String va, TwoSites.Site b, String vb) {
        try (BlockDevice x = a.client.open(va); BlockDevice y = b.store.open(vb)) {
            TwoSites.assertSameBytes(x, "site-a " + va, y, "site-b " + vb);
        }
    }

    private static ByteBuffer counter(long k) {
        ByteBuffer b = ByteBuffer.allocate(512);
        b.putLong(0, k);
        return b;
    }

    private static long read(io.basalt.vdisk.store.VdiskStore store, String spec) {
        try (Vdisk v = store.open(spec)) {
            return v.read(0, 1).join().getLong(0);
        }
    }

    /** The counter in {@code vdisk}'s head (snap null) or {@code vdisk@snap} on the cluster. */
    private static long readCluster(ClusterClient client, String vdisk, String snap) {
        try (BlockDevice v = snap == null ? client.open(vdisk) : client.openSnapshot(vdisk, snap)) {
            return v.read(0, 1).join().getLong(0);
        }
    }
}
