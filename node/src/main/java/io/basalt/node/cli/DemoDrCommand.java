package io.basalt.node.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Base64;
import java.util.Comparator;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

import io.basalt.node.config.EmbeddedConfigs;
import io.basalt.node.mirror.Dr;
import io.basalt.node.mirror.MirrorConfig;
import io.basalt.node.mirror.MirrorService;
import io.basalt.node.mirror.MirrorStatus;
import io.basalt.replication.MirrorRoles;
import io.basalt.replication.ReplicaRecord;
import io.basalt.vdisk.Sizes;
import io.basalt.vdisk.store.Vdisk;
import io.basalt.vdisk.store.VdiskStore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code basalt demo dr}: two embedded sites in one process, mirroring the demo vdisk from A to
 * B every second; site A is then lost, B takes over at its last complete snapshot (shown equal to
 * A's, bit for bit), both sites end up primary when A returns, and A fails back, receiving only
 * what changed on B. Re-running it starts over (its two stores under {@code --dir} are replaced).
 */
@Command(name = "dr", description = "Two sites in one process: mirror, lose site A, fail over to B, fail back to A with only the difference.")
final class DemoDrCommand implements Callable<Integer> {
    static final String DISK = "demo-disk";
    static final Duration WAIT = Duration.ofSeconds(60);

    @Spec CommandSpec spec;
    @Option(names = "--dir", defaultValue = "./data-dr", description = "Where the two sites' stores go (default ${DEFAULT-VALUE}; replaced).")
    Path dir;
    @Option(names = "--size", defaultValue = "256M", converter = SizeConverter.class, description = "Vdisk size (default ${DEFAULT-VALUE}).")
    long size;

    /** One site of the demo: its store, records and (while up) its mirror service. */
    private record Site(String name, Path dir, VdiskStore store, EmbeddedConfigs configs, MirrorConfig config) {
        static Site open(String name, Path dir) {
            VdiskStore store = VdiskStore.open(dir, VdiskStore.Options.defaults().withReserveBytes(0));
            EmbeddedConfigs configs = EmbeddedConfigs.open(store);
            MirrorConfig config = new MirrorConfig(configs);
            config.initSite(name);
            return new Site(name, dir, store, configs, config);
        }

        MirrorService start() {
            return MirrorService.start(store, configs, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), dir.resolve("mirror-staging"));
        }
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        replace(dir.resolve("site-a"));
        replace(dir.resolve("site-b"));
        String secret = Base64.getEncoder().encodeToString(new SecureRandom().generateSeed(32));
        Random random = new Random(1);
        Site a = Site.open("site-a", dir.resolve("site-a"));
        Site b = Site.open("site-b", dir.resolve("site-b"));
        MirrorService ma = a.start();
        MirrorService mb = b.start();
        try {
            peer(a, b, mb, secret);
            peer(b, a, ma, secret);
            a.store().create(DISK, size);
            write(a.store(), random, mib(size / 4));
            out.printf("1. sites site-a and site-b in %s, peered over TLS 1.3 (shared secret); %s written on site-a's %s%n",
                    dir.toAbsolutePath().normalize(), Sizes.format(mib(size / 4)), DISK);
            a.config().putMirror(new MirrorConfig.Mirror(DISK, "site-b", 1000, false));
            await(() -> lastOn(b).isPresent());
            out.printf("2. mirror %s site-a -> site-b every 1s: full sync done; %s%n", DISK, row(ma));
            write(a.store(), random, mib(size / 50));
            MirrorService first = ma;
            await(() -> first.status(Optional.of(DISK)).getFirst().lagBytes() == 0);
            out.printf("3. %s more written on site-a, mirrored: %s%n", Sizes.format(mib(size / 50)), row(ma));
            write(a.store(), random, mib(size / 100));
            ma.close();
            ma = null;
            String last = lastOn(b).orElseThrow();
            out.printf("4. site-a lost, with %s written after its last mirror snapshot %s%n", Sizes.format(mib(size / 100)), last);
            Dr.Outcome failover = mb.failover(DISK, false);
            failover.lines().forEach(l -> out.println("   dr failover: " + l));
            out.printf("   site-b's %s equals site-a's %s@%s bit for bit: %s%n", DISK, DISK, last, same(a.store(), DISK + "@" + last, b.store(), DISK));
            write(b.store(), random, mib(size / 100));
            out.printf("5. %s written on site-b, the primary now%n", Sizes.format(mib(size / 100)));
            ma = a.start();
            peer(b, a, ma, secret); // site-a's link listens on a new port
            MirrorService restarted = ma;
            await(() -> row(restarted).contains("SPLIT_BRAIN") && row(mb).contains("SPLIT_BRAIN"));
            out.printf("6. site-a back, still primary: split brain, nothing resynced%n   site-a: %s%n   site-b: %s%n", row(ma), row(mb));
            Dr.Outcome failback = ma.failback(DISK, true);
            failback.lines().forEach(l -> out.println("   dr failback --discard-local: " + l));
            out.printf("7. failback shipped %s of a %s vdisk (%.2f %%); site-a's and site-b's %s equal: %s%n", Sizes.format(failback.resyncBytes()),
                    Sizes.format(size), 100.0 * failback.resyncBytes() / size, DISK, same(a.store(), DISK, b.store(), DISK));
            return 0;
        } finally {
            if (ma != null) {
                ma.close();
            }
            mb.close();
            a.store().close();
            b.store().close();
        }
    }

    /** {@code bytes} in whole MiB (the demo writes 1 MiB at a time), at least one. */
    private static long mib(long bytes) {
        return Math.max(1 << 20, bytes & -(1L << 20));
    }

    private static void peer(Site at, Site other, MirrorService otherService, String secret) {
        at.config().putPeer(new MirrorConfig.Peer(other.name(), "127.0.0.1:" + otherService.address().getPort(), secret, 0));
    }

    private static String row(MirrorService s) {
        MirrorStatus.Row r = s.status(Optional.of(DISK)).getFirst();
        return String.format("%s %s, last complete %s, lag %s", r.role(), r.state(), r.lastSnapshot(),
                r.lagSeconds() < 0 ? "unknown" : String.format("%.1f s", r.lagSeconds()));
    }

    private static Optional<String> lastOn(Site s) {
        return s.store().exists(DISK) ? MirrorRoles.replicaOf(s.store(), DISK).flatMap(ReplicaRecord::lastSnapshot) : Optional.empty();
    }

    /** Random data, 1 MiB at a time, at random MiB offsets. */
    private static void write(VdiskStore store, Random random, long bytes) {
        try (Vdisk v = store.open(DISK)) {
            byte[] data = new byte[1 << 20];
            long slots = v.sizeBytes() >> 20;
            for (long done = 0; done < bytes; done += data.length) {
                random.nextBytes(data);
                v.write(random.nextLong(slots) * (data.length / v.logicalBlockSizeBytes()), ByteBuffer.wrap(data), false).join();
            }
        }
    }

    private static boolean same(VdiskStore x, String specX, VdiskStore y, String specY) {
        try (Vdisk vx = x.open(specX); Vdisk vy = y.open(specY)) {
            int chunk = (1 << 20) / vx.logicalBlockSizeBytes();
            for (long lba = 0; lba < vx.blockCount(); lba += chunk) {
                int n = (int) Math.min(chunk, vx.blockCount() - lba);
                if (!vx.read(lba, n).join().equals(vy.read(lba, n).join())) {
                    return false;
                }
            }
            return vx.sizeBytes() == vy.sizeBytes();
        }
    }

    private static void await(java.util.function.BooleanSupplier done) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("demo dr: nothing happened for " + WAIT + " (see the log above)");
            }
            Thread.sleep(50);
        }
    }

    /** Removes a site store the demo made before (only under --dir). */
    private static void replace(Path site) throws IOException {
        if (!Files.exists(site)) {
            return;
        }
        try (Stream<Path> files = Files.walk(site)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
