package io.basalt.node.mirror;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.replication.MirrorRoles;
import io.basalt.vdisk.BlockDeviceException;
import io.basalt.vdisk.store.VdiskStore;

/**
 * The acceptance run of cross-site mirroring, two sites in one JVM: a writer at a steady rate on
 * a mirrored vdisk while the recovery point (the age of the newest snapshot the secondary holds
 * complete) is sampled; a planned failover (no write lost, the old primary refuses writes); an
 * unplanned one (the secondary equals the primary's last mirror snapshot); split brain shown on
 * both sites and not resynced by itself; a failback with --discard-local that ships only what
 * changed. {@code -Dbasalt.mirror.intervalMs=2000} for the default interval, {@code
 * -Dbasalt.mirror.writeSeconds=600} for a long run.
 */
class MirrorDrTest {
    private static final String VDISK = "vm1";
    private static final long SIZE_BYTES = 64L << 20;
    private static final long INTERVAL_MS = Long.getLong("basalt.mirror.intervalMs", 1000);
    private static final long WRITE_SECONDS = Long.getLong("basalt.mirror.writeSeconds", 10);
    /** The writer's steady rate: 64 KiB per 10 ms, 6.4 MB/s. */
    private static final long WRITE_PERIOD_MS = 10;
    private static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    @Test
    void mirrorsWithinSecondsFailsOverBothWaysAndFailsBackWithOnlyTheDifference() throws Exception {
        byte[] secret = new byte[32];
        Arrays.fill(secret, (byte) 7);
        long seed = System.nanoTime();
        SplittableRandom random = new SplittableRandom(seed);
        System.out.println("mirror dr seed " + seed);
        try (TwoSites sites = new TwoSites(dir, secret, secret)) {
            TwoSites.Site a = sites.a;
            TwoSites.Site b = sites.b;
            a.store.create(VDISK, SIZE_BYTES);
            a.config.putMirror(new MirrorConfig.Mirror(VDISK, b.name, INTERVAL_MS, false));

            measureRpo(a, b, random.split());
            TwoSites.await("a round after the writer stopped", WAIT, () -> lastOnB(b).isPresent() && a.status(VDISK).lagBytes() == 0);
            // Old mirror snapshots are pruned on both sides: each keeps the last one both hold (and the primary one being shipped).
            assertTrue(a.store.snapshots(VDISK).size() <= 2, "primary's snapshots after " + a.status(VDISK).rounds() + " rounds: " + a.store.snapshots(VDISK));
            assertTrue(b.store.snapshots(VDISK).size() <= 2, "replica's snapshots after " + a.status(VDISK).rounds() + " rounds: " + b.store.snapshots(VDISK));
            BlockDeviceException readOnly = assertThrows(BlockDeviceException.class, () -> write(b.store, random));
            System.out.println("a write to the replica: " + readOnly.getMessage());
            assertTrue(readOnly.getMessage().contains("replica"), readOnly.getMessage());

            // Planned failover to b: a's last writes are shipped, then a refuses writes.
            write(a.store, random);
            Dr.Outcome planned = b.service.failover(VDISK, true);
            planned.lines().forEach(l -> System.out.println("planned failover: " + l));
            TwoSites.assertSameBytes(a.store, VDISK, b.store, VDISK);
            assertThrows(BlockDeviceException.class, () -> write(a.store, random), "a demoted primary refuses writes");
            assertEquals("replica", a.status(VDISK).role());
            assertEquals("primary", b.status(VDISK).role());

            // b is primary and mirrors back to a; then b's site is lost: unplanned failover to a.
            for (int i = 0; i < 20; i++) {
                write(b.store, random);
            }
            TwoSites.await("b's writes mirrored to a", WAIT, () -> b.status(VDISK).lagBytes() == 0 && !b.status(VDISK).lastSnapshot().equals(planned.snapshot()));
            b.stop();
            String lastOnA = MirrorRoles.replicaOf(a.store, VDISK).orElseThrow().lastSnapshot().orElseThrow();
            Dr.Outcome unplanned = a.service.failover(VDISK, false);
            unplanned.lines().forEach(l -> System.out.println("unplanned failover: " + l));
            TwoSites.assertSameBytes(b.store, VDISK + "@" + lastOnA, a.store, VDISK);
            assertEquals("HELD", a.status(VDISK).state());

            // b comes back still primary: both sites show split brain, and nothing is resynced by itself.
            b.start();
            TwoSites.peer(a, b, secret); // b's link listens on a new port
            TwoSites.peer(b, a, secret);
            TwoSites.await("split brain on both sites", WAIT,
                    () -> a.status(VDISK).state().equals("SPLIT_BRAIN") && b.status(VDISK).state().equals("SPLIT_BRAIN"));
            System.out.println("split brain: a " + a.status(VDISK) + "\nsplit brain: b " + b.status(VDISK));
            assertFalse(MirrorRoles.replicaOf(b.store, VDISK).isPresent(), "b stays primary until the operator picks a side");

            // The operator keeps a's copy: 1 % of the vdisk changes on a, then b fails back discarding its own.
            long grains = SIZE_BYTES / 100 / TwoSites.WRITE_BYTES;
            for (long i = 0; i < grains; i++) {
                write(a.store, random);
            }
            IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () -> b.service.failback(VDISK, false));
            assertTrue(refused.getMessage().contains("--discard-local"), refused.getMessage());
            Dr.Outcome failback = b.service.failback(VDISK, true);
            failback.lines().forEach(l -> System.out.println("failback: " + l));
            System.out.printf("failback shipped %d bytes for a %d-byte vdisk after %d writes of 64 KiB (1 %%): %.2f %%%n",
                    failback.resyncBytes(), SIZE_BYTES, grains, 100.0 * failback.resyncBytes() / SIZE_BYTES);
            assertTrue(failback.resyncBytes() < SIZE_BYTES / 20, "failback ships about the changed grains: " + failback.resyncBytes());
            TwoSites.assertSameBytes(a.store, VDISK, b.store, VDISK);
            assertEquals("primary", b.status(VDISK).role());
            assertEquals("replica", a.status(VDISK).role());
            assertThrows(BlockDeviceException.class, () -> write(a.store, random));
        }
    }

    /**
     * Writes at a steady rate for {@link #WRITE_SECONDS} while sampling, every 100 ms, the age of
     * the newest snapshot b holds complete (its creation time on a, where it was taken).
     */
    private static void measureRpo(TwoSites.Site a, TwoSites.Site b, SplittableRandom random) throws InterruptedException {
        TwoSites.await("the first full sync", WAIT, () -> lastOnB(b).isPresent());
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong writes = new AtomicLong();
        Thread writer = Thread.ofPlatform().name("steady-writer").start(() -> {
            long next = System.nanoTime();
            while (!stop.get()) {
                write(a.store, random);
                writes.incrementAndGet();
                next += WRITE_PERIOD_MS * 1_000_000;
                long sleep = next - System.nanoTime();
                if (sleep > 0) {
                    try {
                        Thread.sleep(Duration.ofNanos(sleep));
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }
        });
        List<Double> rpo = new ArrayList<>();
        long end = System.nanoTime() + Duration.ofSeconds(WRITE_SECONDS).toNanos();
        try {
            while (System.nanoTime() < end) {
                Thread.sleep(100);
                String snap = lastOnB(b).orElseThrow();
                rpo.add((System.currentTimeMillis() - a.store.snapshot(VDISK, snap).createdEpochMs()) / 1000.0);
            }
        } finally {
            stop.set(true);
            writer.join();
        }
        Collections.sort(rpo);
        MirrorStatus.Row status = a.status(VDISK);
        System.out.printf("mirror RPO over %d s, interval %d ms, %d writes of 64 KiB (%.1f MB/s): p50 %.2f s, p99 %.2f s, max %.2f s"
                        + " (%d samples); last round %d bytes, %d rounds%n", WRITE_SECONDS, INTERVAL_MS, writes.get(),
                writes.get() * TwoSites.WRITE_BYTES / 1e6 / WRITE_SECONDS, rpo.get(rpo.size() / 2),
                rpo.get((int) (rpo.size() * 0.99)), rpo.getLast(), rpo.size(), status.lastRoundBytes(), status.rounds());
        assertTrue(status.rounds() >= 2, "rounds while writing: " + status);
    }

    /** The newest snapshot b's replica holds complete. */
    private static java.util.Optional<String> lastOnB(TwoSites.Site b) {
        return b.store.exists(VDISK) ? MirrorRoles.replicaOf(b.store, VDISK).flatMap(r -> r.lastSnapshot()) : java.util.Optional.empty();
    }

    private static void write(VdiskStore store, SplittableRandom random) {
        try {
            TwoSites.writeRandom(store, VDISK, random);
        } catch (java.util.concurrent.CompletionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : e;
        }
    }
}
