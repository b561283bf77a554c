package io.basalt.node.mirror;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.function.BooleanSupplier;
import java.util.random.RandomGenerator;

import io.basalt.node.config.EmbeddedConfigs;
import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.store.Vdisk;
import io.basalt.vdisk.store.VdiskStore;

/**
 * Two sites in one JVM, each an embedded store with its config records and a mirror service
 * on a loopback port, peered with each other: what {@code basalt serve --mirror-port} runs on
 * each site, without the processes.
 */
public final class TwoSites implements AutoCloseable {
    /** No space reserve: tests share a disk with other builds. */
    private static final VdiskStore.Options OPTIONS = new VdiskStore.Options(64L << 20, 2, 0);

    final Site a;
    final Site b;

    /** One site: its store, records and (while {@link #started}) mirror service. */
    static final class Site implements AutoCloseable {
        final String name;
        final Path dir;
        final VdiskStore store;
        final EmbeddedConfigs configs;
        final MirrorConfig config;
        MirrorService service;

        Site(String name, Path dir) {
            this.name = name;
            this.dir = dir;
            this.store = VdiskStore.open(dir.resolve("store"), OPTIONS);
            this.configs = EmbeddedConfigs.open(store);
            this.config = new MirrorConfig(configs);
            config.initSite(name);
        }

        void start() {
            service = MirrorService.start(store, configs, new InetSocketAddress("127.0.0.1", 0), dir.resolve("staging"));
        }

        /** The site's link goes away (its serving process stopped); the store stays open. */
        void stop() {
            service.close();
            service = null;
        }

        MirrorStatus.Row status(String vdisk) {
            return service.status(java.util.Optional.of(vdisk)).getFirst();
        }

        @Override
        public void close() {
            try {
                if (service != null) {
                    service.close();
                }
            } finally {
                store.close();
            }
        }
    }

    TwoSites(Path dir, byte[] secretA, byte[] secretB) {
        this.a = new Site("site-a", dir.resolve("a"));
        this.b = new Site("site-b", dir.resolve("b"));
        a.start();
        b.start();
        peer(a, b, secretA);
        peer(b, a, secretB);
    }

    /** {@code basalt site peer add}: {@code at} knows {@code other} by its link's address. */
    static void peer(Site at, Site other, byte[] secret) {
        at.config.putPeer(new MirrorConfig.Peer(other.name, "127.0.0.1:" + other.service.address().getPort(),
                Base64.getEncoder().encodeToString(secret), 0));
    }

    static final int WRITE_BYTES = 64 << 10;

    /** Writes {@link #WRITE_BYTES} of random data at a random multiple of it in {@code vdisk}. */
    static void writeRandom(VdiskStore store, String vdisk, RandomGenerator random) {
        try (Vdisk v = store.open(vdisk)) {
            long lba = random.nextLong(v.sizeBytes() / WRITE_BYTES) * (WRITE_BYTES / v.logicalBlockSizeBytes());
            byte[] data = new byte[WRITE_BYTES];
            random.nextBytes(data);
            v.write(lba, ByteBuffer.wrap(data), false).join();
        }
    }

    /** Asserts {@code specX} on {@code x} and {@code specY} on {@code y} read the same, byte for byte. */
    static void assertSameBytes(VdiskStore x, String specX, VdiskStore y, String specY) {
        try (Vdisk vx = x.open(specX); Vdisk vy = y.open(specY)) {
            assertSameBytes(vx, specX, vy, specY);
        }
    }

    /** Asserts devices {@code x} (named {@code nameX} in the message) and {@code y} read the same, byte for byte, 1 MiB at a time. */
    public static void assertSameBytes(BlockDevice x, String nameX, BlockDevice y, String nameY) {
        assertEquals(x.sizeBytes(), y.sizeBytes(), nameX + " vs " + nameY + ": size");
        int chunkBlocks = (1 << 20) / x.logicalBlockSizeBytes();
        for (long lba = 0; lba < x.blockCount(); lba += chunkBlocks) {
            int n = (int) Math.min(chunkBlocks, x.blockCount() - lba);
            ByteBuffer bx = x.read(lba, n).join();
            ByteBuffer by = y.read(lba, n).join();
            if (!bx.equals(by)) {
                throw new AssertionError(nameX + " and " + nameY + " differ at byte " + (lba * x.logicalBlockSizeBytes() + bx.mismatch(by)));
            }
        }
    }

    static void await(String what, Duration max, BooleanSupplier done) throws InterruptedException {
        long deadline = System.nanoTime() + max.toNanos();
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("waited " + max + " for " + what);
            }
            Thread.sleep(50);
        }
    }

    @Override
    public void close() {
        try {
            a.close();
        } finally {
            b.close();
        }
    }
}
