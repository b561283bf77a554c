package io.basalt.node.mirror;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Base64;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.CompletionException;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.cluster.ClusterConfig;
import io.basalt.cluster.TestCluster;
import io.basalt.cluster.client.ClusterClient;
import io.basalt.node.config.Configs;
import io.basalt.node.config.EmbeddedConfigs;
import io.basalt.node.locks.LockedStore;
import io.basalt.replication.MirrorRoles;
import io.basalt.replication.MirrorSnapshots;
import io.basalt.replication.MirrorStore;
import io.basalt.replication.ReplicaRecord;
import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.BlockDeviceException;
import io.basalt.vdisk.store.VdiskStore;

/**
 * Mirroring where one site is a cluster (three in-JVM nodes, three placement groups, three
 * replicas each) and the other the embedded store: the cluster ships rounds as a primary and
 * applies them as a replica; a planned failover leaves both copies equal byte for byte; an
 * unplanned one promotes the cluster's replica at its last complete snapshot; a failback with
 * --discard-local ships only what changed. Writes to the cluster go through a gateway's
 * {@link LockedStore}, which serves a replica read-only.
 */
class ClusterMirrorTest {
    private static final String VDISK = "vm1";
    private static final long SIZE_BYTES = 16L << 20;
    private static final long INTERVAL_MS = 500;
    private static final int WRITE_BYTES = 64 << 10;
    private static final Duration WAIT = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    /** A site: its storage as mirroring sees it, how a guest writes it, its records and mirror service. */
    private static final class Site implements AutoCloseable {
        final String name;
        final Path dir;
        final MirrorStore store;
        final Configs configs;
        final MirrorConfig config;
        /** How a guest's gateway opens a vdisk (the cluster: read-only while it is a replica). */
        final java.util.function.Function<String, BlockDevice> guest;
        final AutoCloseable owned;
        MirrorService service;

        Site(String name, Path dir, MirrorStore store, Configs configs, java.util.function.Function<String, BlockDevice> guest, AutoCloseable owned) {
            this.name = name;
            this.dir = dir;
            this.store = store;
            this.configs = configs;
            this.config = new MirrorConfig(configs);
            this.guest = guest;
            this.owned = owned;
            config.initSite(name);
        }

        void start() {
            service = MirrorService.start(store, configs, new InetSocketAddress("127.0.0.1", 0), dir.resolve("staging"));
        }

        void stop() {
            service.close();
            service = null;
        }

        MirrorStatus.Row status() {
            return service.status(Optional.of(VDISK)).getFirst();
        }

        Optional<String> lastComplete() {
            return store.exists(VDISK) ? MirrorRoles.replicaOf(store, VDISK).flatMap(ReplicaRecord::lastSnapshot) : Optional.empty();
        }

        void write(SplittableRandom random) {
            try (BlockDevice v = guest.apply(VDISK)) {
                long lba = random.nextLong(v.sizeBytes() / WRITE_BYTES) * (WRITE_BYTES / v.logicalBlockSizeBytes());
                byte[] data = new byte[WRITE_BYTES];
                random.nextBytes(data);
                try {
                    v.write(lba, ByteBuffer.wrap(data), false).join();
                } catch (CompletionException e) {
                    throw e.getCause() instanceof RuntimeException r ? r : e;
                }
            }
        }

        @Override
        public void close() throws Exception {
            try (owned) {
                if (service != null) {
                    service.close();
                }
            }
        }
    }

    @Test
    void aClusterMirrorsToTheEmbeddedStoreFailsOverBothWaysAndFailsBackWithOnlyTheDifference() throws Exception {
        byte[] secret = new byte[32];
        Arrays.fill(secret, (byte) 9);
        long seed = System.nanoTime();
        SplittableRandom random = new SplittableRandom(seed);
        System.out.println("cluster mirror seed " + seed);
        ClusterConfig config = TestCluster.config("site-a", 3, 3, 3, TestCluster.fastTuning());
        try (TestCluster cluster = TestCluster.start(config, dir.resolve("nodes"), 0)) {
            cluster.waitForAllLeaders(Duration.ofSeconds(30));
            ClusterClient client = ClusterClient.open(config, cluster.node(1));
            LockedStore gateway = LockedStore.cluster(client);
            VdiskStore embedded = VdiskStore.open(dir.resolve("b/store"), new VdiskStore.Options(64L << 20, 2, 0));
            try (Site a = new Site("site-a", dir.resolve("a"), io.basalt.node.host.ConsistentSnapshots.mirrorSite(new io.basalt.node.datastore.Datastore.Cluster(client)), Configs.of(client.configs()), gateway::open, client);
                 Site b = new Site("site-b", dir.resolve("b"), MirrorStore.of(embedded), EmbeddedConfigs.open(embedded), embedded::open, embedded)) {
                a.start();
                b.start();
                peer(a, b, secret);
                peer(b, a, secret);
                run(a, b, random, secret);
            }
        }
    }

    private void run(Site a, Site b, SplittableRandom random, byte[] secret) throws Exception {
        client(a).createVdisk(VDISK, SIZE_BYTES, 512, 4096);
        a.config.putMirror(new MirrorConfig.Mirror(VDISK, b.name, INTERVAL_MS, false));

        // Rounds cross from the cluster while a guest writes there.
        TwoSites.await("the first full sync", WAIT, () -> b.lastComplete().isPresent());
        long roundsBefore = a.status().rounds();
        for (int i = 0; i < 30; i++) {
            a.write(random);
            Thread.sleep(20);
        }
        TwoSites.await("rounds while writing and one after", WAIT, () -> a.status().rounds() >= roundsBefore + 2 && a.status().lagBytes() == 0);
        assertTrue(a.store.snapshots(VDISK).size() <= 2, "the cluster primary prunes: " + a.store.snapshots(VDISK));
        // With a's round lock held no round is in flight: b's replica reads as its last complete snapshot, which a still holds.
        java.util.concurrent.locks.ReentrantLock rounds = a.service.lockOf(VDISK);
        rounds.lock();
        try {
            assertSame(a, VDISK + "@" + b.lastComplete().orElseThrow(), b, VDISK);
        } finally {
            rounds.unlock();
        }

        // Planned failover to b: the cluster's copy becomes a replica, which its gateways serve read-only.
        a.write(random);
        Dr.Outcome planned = b.service.failover(VDISK, true);
        planned.lines().forEach(l -> System.out.println("planned failover: " + l));
        assertSame(a, VDISK, b, VDISK);
        BlockDeviceException readOnly = assertThrows(BlockDeviceException.class, () -> a.write(random), "the cluster's replica refuses a guest's writes");
        assertEquals(BlockDeviceException.Kind.READ_ONLY, readOnly.kind(), readOnly.getMessage());
        assertEquals("replica", a.status().role());
        assertEquals("primary", b.status().role());

        // b mirrors back into the cluster's replica; then b's site is lost: unplanned failover to the cluster.
        for (int i = 0; i < 20; i++) {
            b.write(random);
        }
        TwoSites.await("b's writes applied on the cluster", WAIT,
                () -> b.status().lagBytes() == 0 && !b.status().lastSnapshot().equals(planned.snapshot()));
        // A crash between a cluster replica's snapshot and its record leaves a snapshot the record does not count:
        // the next round removes it before it applies. With b's round lock held no round is in flight.
        java.util.concurrent.locks.ReentrantLock bRounds = b.service.lockOf(VDISK);
        long stray;
        bRounds.lock();
        try {
            stray = MirrorSnapshots.sequenceOf(a.lastComplete().orElseThrow()).getAsLong() + 1;
            client(a).createSnapshot(VDISK, MirrorSnapshots.name(stray));
        } finally {
            bRounds.unlock();
        }
        b.write(random);
        TwoSites.await("a round past the stray snapshot", WAIT,
                () -> MirrorSnapshots.sequenceOf(a.lastComplete().orElseThrow()).getAsLong() > stray && b.status().lagBytes() == 0);
        bRounds.lock();
        try {
            String last = a.lastComplete().orElseThrow();
            assertSame(b, VDISK + "@" + last, a, VDISK + "@" + last);
            assertSame(b, VDISK + "@" + last, a, VDISK);
        } finally {
            bRounds.unlock();
        }
        for (int i = 0; i < 5; i++) {
            b.write(random); // not shipped: lost with b's site
        }
        b.stop();
        String lastOnA = a.lastComplete().orElseThrow();
        Dr.Outcome unplanned = a.service.failover(VDISK, false);
        unplanned.lines().forEach(l -> System.out.println("unplanned failover: " + l));
        assertSame(b, VDISK + "@" + lastOnA, a, VDISK);
        assertEquals("HELD", a.status().state());
        a.write(random); // the promoted copy takes a guest's writes again

        // b comes back still primary: split brain; the operator keeps the cluster's copy, b fails back discarding its own.
        b.start();
        peer(a, b, secret);
        peer(b, a, secret);
        TwoSites.await("split brain on both sites", WAIT, () -> a.status().state().equals("SPLIT_BRAIN") && b.status().state().equals("SPLIT_BRAIN"));
        long changes = SIZE_BYTES / 100 / WRITE_BYTES + 1;
        for (long i = 0; i < changes; i++) {
            a.write(random);
        }
        Dr.Outcome failback = b.service.failback(VDISK, true);
        failback.lines().forEach(l -> System.out.println("failback: " + l));
        System.out.printf("failback to the cluster's copy shipped %d bytes of a %d-byte vdisk after %d writes of 64 KiB%n",
                failback.resyncBytes(), SIZE_BYTES, changes + 1);
        assertTrue(failback.resyncBytes() <= (changes + 6) * WRITE_BYTES + (1 << 20), "failback ships about the changed grains: " + failback.resyncBytes());
        assertSame(a, VDISK, b, VDISK);
        assertEquals("primary", b.status().role());
        assertEquals("replica", a.status().role());
        assertFalse(MirrorRoles.replicaOf(b.store, VDISK).isPresent());
        assertThrows(BlockDeviceException.class, () -> a.write(random), "the cluster's copy is a replica again");
    }

    private static ClusterClient client(Site s) {
        return (ClusterClient) s.owned;
    }

    private static void peer(Site at, Site other, byte[] secret) {
        at.config.putPeer(new MirrorConfig.Peer(other.name, "127.0.0.1:" + other.service.address().getPort(),
                Base64.getEncoder().encodeToString(secret), 0));
    }

    /** {@code specX} at site {@code x} and {@code specY} at site {@code y} read the same, byte for byte. */
    private static void assertSame(Site x, String specX, Site y, String specY) {
        try (BlockDevice vx = open(x, specX); BlockDevice vy = open(y, specY)) {
            TwoSites.assertSameBytes(vx, x.name + " " + specX, vy, y.name + " " + specY);
        }
    }

    private static BlockDevice open(Site s, String spec) {
        int at = spec.indexOf('@');
        return at < 0 ? s.guest.apply(spec) : s.store.openSnapshot(spec.substring(0, at), spec.substring(at + 1));
    }
}
