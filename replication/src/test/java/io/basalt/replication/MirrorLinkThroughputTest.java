package io.basalt.replication;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Optional;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.replication.link.LinkSecret;
import io.basalt.replication.link.MirrorClient;
import io.basalt.replication.link.MirrorClient.ShipResult;
import io.basalt.replication.link.MirrorServer;
import io.basalt.vdisk.store.Vdisk;
import io.netty.util.ResourceLeakDetector;

/**
 * Rounds in which every byte of the vdisk changed (random data: LZ4 saves nothing), shipped over
 * the loopback link with TLS, first without a bandwidth limit and then with one: the replica
 * equals the source after each, the limited round takes at least its bytes' time at the limit,
 * and both rounds' figures are printed. 16 MiB by default;
 * {@code -Dbasalt.mirror.link.sizeMiB=256 -Dbasalt.mirror.link.limitMiBPerSecond=32
 * -Dio.netty.leakDetection.level=simple} for the figures in docs/performance.md (the build runs
 * tests with Netty's PARANOID leak detection, which records every buffer access and costs the
 * link a good part of its speed; a site runs with Netty's default, SIMPLE).
 */
class MirrorLinkThroughputTest {
    private static final String VDISK = "vm1";
    private static final String SITE_B = "site-b";
    private static final long SIZE_BYTES = Long.getLong("basalt.mirror.link.sizeMiB", 16) << 20;
    private static final long LIMIT_BYTES_PER_SECOND = Long.getLong("basalt.mirror.link.limitMiBPerSecond", 32) << 20;
    private static final LinkSecret SECRET = LinkSecret.of(new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16});

    @TempDir
    Path dir;

    @Test
    void aWhollyChangedVdiskShipsWholeWithoutALimitAndNoFasterThanTheLimitWithOne() {
        long seed = System.nanoTime();
        SplittableRandom random = new SplittableRandom(seed);
        try (Sites sites = new Sites(dir);
             MirrorServer server = MirrorServer.start(new MirrorServer.Config(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
                     SITE_B, sites.b, dir.resolve("staging"), site -> site.equals(Sites.SITE_A) ? Optional.of(SECRET) : Optional.empty()));
             MirrorClient unlimited = client(sites, server, 0);
             MirrorClient limited = client(sites, server, LIMIT_BYTES_PER_SECOND)) {
            sites.a.create(VDISK, SIZE_BYTES);

            ShipResult full = round(sites, unlimited, random, 1);
            print(seed, full, "no limit");
            ShipResult paced = round(sites, limited, random, 2);
            print(seed, paced, "limit " + (LIMIT_BYTES_PER_SECOND >> 20) + " MiB/s");

            long burstBytes = Math.max(64 << 10, LIMIT_BYTES_PER_SECOND / 10); // MirrorClient's bucket
            double floorSeconds = (paced.streamBytes() - burstBytes) / (double) LIMIT_BYTES_PER_SECOND;
            double seconds = (paced.duration().toNanos() - paced.applyWait().toNanos()) / 1e9;
            assertTrue(seconds >= floorSeconds, "sent " + paced.streamBytes() + " bytes in " + seconds + " s (expected: >= " + floorSeconds
                    + " s at " + LIMIT_BYTES_PER_SECOND + " bytes/s), seed " + seed);
        }
    }

    private static MirrorClient client(Sites sites, MirrorServer server, long bandwidthBytesPerSecond) {
        return new MirrorClient(Sites.SITE_A, sites.a, new MirrorClient.Peer(SITE_B, server.localAddress(), SECRET, bandwidthBytesPerSecond));
    }

    /** Writes random data over the whole vdisk, takes mirror snapshot {@code n}, ships it, and checks the replica there. */
    private static ShipResult round(Sites sites, MirrorClient client, SplittableRandom random, long n) {
        fillAll(sites, random);
        String to = MirrorSnapshots.name(n);
        sites.a.createSnapshot(VDISK, to);
        String from = n == 1 ? null : MirrorSnapshots.name(n - 1);
        // What the sender does before its first data frame, timed apart (a second diff finds warmer caches: a lower bound).
        long diffStarted = System.nanoTime();
        int extents = sites.a.diff(VDISK, from, to).size();
        System.out.printf("mirror link round %d: the diff alone (%d extents) %.2f s%n", n, extents, (System.nanoTime() - diffStarted) / 1e9);
        ShipResult r = client.shipRound(VDISK, from, to, n);
        assertEquals(ShipResult.Outcome.APPLIED, r.outcome());
        assertEquals(SIZE_BYTES, r.dataBytes(), "every byte changed, every byte shipped");
        sites.assertSameBytes(VDISK + "@" + to, VDISK + "@" + to);
        return r;
    }

    private static void fillAll(Sites sites, SplittableRandom random) {
        try (Vdisk v = sites.a.open(VDISK)) {
            int blocks = (1 << 20) / v.logicalBlockSizeBytes();
            byte[] data = new byte[1 << 20];
            for (long run = 0; run < SIZE_BYTES >> 20; run++) {
                random.nextBytes(data);
                v.write(run * blocks, ByteBuffer.wrap(data), false).join();
            }
        }
    }

    private static void print(long seed, ShipResult r, String limit) {
        double seconds = r.duration().toNanos() / 1e9;
        double transferSeconds = (r.duration().toNanos() - r.applyWait().toNanos()) / 1e9;
        System.out.printf("mirror link seed %d: round %d of a %d MiB vdisk wholly changed, %s: %d stream bytes in %.2f s = %.1f MiB/s"
                        + " (sending %.2f s = %.1f MiB/s, then %.2f s to the peer's applied; Netty leak detection %s)%n", seed, r.round(), SIZE_BYTES >> 20, limit,
                r.streamBytes(), seconds, r.streamBytes() / seconds / (1 << 20), transferSeconds, r.streamBytes() / transferSeconds / (1 << 20),
                r.applyWait().toNanos() / 1e9, ResourceLeakDetector.getLevel());
    }
}
