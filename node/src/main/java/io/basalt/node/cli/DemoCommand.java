package io.basalt.node.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicReference;

import io.basalt.lock.LockCommand;
import io.basalt.node.locks.EmbeddedLocks;
import io.basalt.node.locks.LockedStore;
import io.basalt.node.serve.Exporter;
import io.basalt.node.serve.TargetsFile;
import io.basalt.vdisk.Sizes;
import io.basalt.vdisk.store.Extent;
import io.basalt.vdisk.store.SnapshotInfo;
import io.basalt.vdisk.store.Usage;
import io.basalt.vdisk.store.Vdisk;
import io.basalt.vdisk.store.VdiskInfo;
import io.basalt.vdisk.store.VdiskStore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code basalt demo}: Basalt's main job on the embedded single-node default. Creates a store
 * under {@code ./data}, a thin vdisk, writes to it, snapshots it, clones the snapshot, writes
 * to both, and shows what changed and the space used. Re-running it starts the demo over.
 */
@Command(name = "demo", description = "Run the main job on an embedded single-node store (under ./data); 'demo dr': two sites, failover and failback.",
        subcommands = DemoDrCommand.class)
public final class DemoCommand implements Callable<Integer> {
    static final String DISK = "demo-disk";
    static final String CLONE = "demo-clone";
    static final int INFLIGHT = 32;
    static final long WRITE_MIN_BYTES = 8L << 20;
    static final String TARGET_IQN = "iqn.2026-11.io.basalt:demo";

    @Mixin StoreOptions store;
    @Spec CommandSpec spec;
    @Option(names = "--size", defaultValue = "1G", converter = SizeConverter.class, description = "Vdisk size (default ${DEFAULT-VALUE}).")
    long size;
    @Option(names = "--write", defaultValue = "64M", converter = SizeConverter.class, description = "Bytes to write first (default ${DEFAULT-VALUE}).")
    long writeBytes;
    @Option(names = "--portal", defaultValue = "127.0.0.1:3260", description = "Where to serve the demo vdisks over iSCSI (default ${DEFAULT-VALUE}).")
    String portal;
    @Option(names = "--serve-seconds", defaultValue = "-1", description = "Serve this long, 0 not at all (default: until Ctrl-C).")
    long serveSeconds;
    @Option(names = "--guest", defaultValue = "auto", paramLabel = "auto|on|off", description = {
            "The guest part: boot a tiny Linux guest from a vdisk on host agent host-a and migrate it live to host-b and back.",
            "auto (default): when QEMU, busybox and a kernel in /boot are here, else say what is missing; on: fail without them."})
    String guest;
    @Option(names = "--accel", defaultValue = "auto", paramLabel = "auto|kvm|tcg", description = {
            "The guest's accelerator. auto (default): KVM when /dev/kvm answers a probe, else TCG; a guest silent for 20 s under KVM",
            "is started again under TCG."})
    String accel;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        // Step 6 reads the parent's data past the clone's first 4 MiB: the demo needs more written than that.
        if (writeBytes < WRITE_MIN_BYTES || writeBytes > size || writeBytes % 4096 != 0) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--write: " + writeBytes + " bytes (expected: a multiple of 4 KiB from "
                    + Sizes.format(WRITE_MIN_BYTES) + " to the vdisk size " + Sizes.format(size) + ")");
        }
        if (!List.of("auto", "on", "off").contains(guest)) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--guest: " + guest + " (expected: auto, on or off)");
        }
        if (!List.of("auto", "kvm", "tcg").contains(accel)) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--accel: " + accel + " (expected: auto, kvm or tcg)");
        }
        String qemu = DemoVm.qemuOnPath();
        java.util.Optional<String> guestMissing = guest.equals("off") ? java.util.Optional.of("--guest off") : DemoVm.missing(qemu);
        if (guest.equals("on") && guestMissing.isPresent()) {
            throw new IllegalStateException("--guest on: " + guestMissing.get());
        }
        try (VdiskStore s = store.open(); EmbeddedLocks locks = EmbeddedLocks.open(s)) {
            out.printf("datastore: %s (embedded single node, RocksDB)%n", s.directory().toAbsolutePath().normalize());
            cleanUp(s, locks, out);
            DemoVm.cleanUp(s, locks);

            VdiskInfo info = s.create(DISK, size, 512, VdiskStore.GRAIN_SIZE_DEFAULT_BYTES);
            out.printf("1. created thin vdisk %s: %s, used %s%n", DISK, Sizes.format(info.sizeBytes()), Sizes.format(s.usage(DISK).usedBytes()));

            try (Vdisk disk = s.open(DISK)) {
                long start = System.nanoTime();
                fill(disk, 0, writeBytes, 1, "write " + DISK);
                double secs = (System.nanoTime() - start) / 1e9;
                out.printf("2. wrote %s at offset 0 with %d I/Os in flight: %.0f MiB/s; used %s%n", Sizes.format(writeBytes), INFLIGHT,
                        writeBytes / secs / (1 << 20), Sizes.format(s.usage(DISK).usedBytes()));

                long t0 = System.nanoTime();
                SnapshotInfo snap = s.createSnapshot(DISK, "base");
                out.printf("3. snapshot %s@%s (epoch %d) in %.2f ms: nothing copied%n", DISK, snap.name(), snap.epoch(), (System.nanoTime() - t0) / 1e6);

                fill(disk, writeBytes / 2, Math.min(8L << 20, writeBytes / 2), 2, "overwrite " + DISK);
                out.printf("4. overwrote %s of %s after the snapshot%n", Sizes.format(Math.min(8L << 20, writeBytes / 2)), DISK);
            }

            long t1 = System.nanoTime();
            VdiskInfo clone = s.clone(DISK, "base", CLONE);
            out.printf("5. linked clone %s of %s@base in %.2f ms (chain depth %d)%n", CLONE, DISK, (System.nanoTime() - t1) / 1e6, clone.chainDepth());
            try (Vdisk c = s.open(CLONE)) {
                fill(c, 0, 4L << 20, 3, "write " + CLONE);
                ByteBuffer head = c.read(writeBytes / 512 - 8, 8).join();
                out.printf("6. wrote 4 MiB to %s; its grains past that still come from the parent (first byte at %s: 0x%02x)%n",
                        CLONE, Sizes.format(writeBytes - 4096), head.get(0));
            }

            List<Extent> diff = s.diff(DISK, "base", null);
            long changed = diff.stream().mapToLong(Extent::lengthBytes).sum();
            out.printf("7. diff %s@base..%s: %d extents, %s changed (read from the change index, not the whole disk)%n",
                    DISK, DISK, diff.size(), Sizes.format(changed));

            out.println();
            out.printf("%-12s %12s %12s %12s%n", "VDISK", "PROVISIONED", "USED", "STORED");
            for (String name : List.of(DISK, CLONE)) {
                Usage u = s.usage(name);
                out.printf("%-12s %12s %12s %12s%n", name, Sizes.format(u.provisionedBytes()), Sizes.format(u.usedBytes()), Sizes.format(u.storedBytes()));
            }
            out.println();
            out.printf("Try: ./basalt vdisk ls -l --data %s ; ./basalt snap ls %s ; ./basalt vdisk diff %s@base %s%n",
                    store.data, DISK, DISK, DISK);
            out.flush();
            locks.startLeaseMonitor();
            if (serveSeconds != 0) {
                serve(s, locks, qemu, guestMissing, out);
            } else if (guestMissing.isEmpty()) {
                DemoVm.run(s, locks, qemu, accel, hostsDir(), out).close();
            } else {
                out.println("9. guest part skipped: " + guestMissing.get());
            }
        }
        return 0;
    }

    /**
     * Serves both demo vdisks as LUNs 0 and 1 of one target, and runs the guest part unless
     * {@code guestMissing} says why not, until Ctrl-C (or --serve-seconds).
     */
    private void serve(VdiskStore s, EmbeddedLocks locks, String qemu, java.util.Optional<String> guestMissing, PrintWriter out)
            throws InterruptedException, java.io.IOException {
        ServeCommand.HostPort hp = ServeCommand.HostPort.parse(portal);
        TargetsFile.Config config = new TargetsFile.Config(List.of(new TargetsFile.Target(TARGET_IQN,
                new java.util.TreeMap<>(java.util.Map.of(0, DISK, 1, CLONE)), List.of(), null)));
        try (Exporter exporter = Exporter.start(LockedStore.embedded(s, locks), config, hp.host(), hp.port())) {
            java.net.InetSocketAddress at = exporter.address();
            String url = "iscsi://" + at.getAddress().getHostAddress() + ":" + at.getPort();
            out.println();
            out.printf("8. serving over iSCSI on %s:%n", url.substring("iscsi://".length()));
            ServeCommand.printUrls(out, config, at);
            out.printf("   qemu-img info %s/%s/0%n", url, TARGET_IQN);
            out.printf("   iscsi-ls -s %s%n", url);
            out.println("   An initiator's name (IQN) is its host: the first to write a vdisk holds its lock; another host's");
            out.println("   writes are refused (DATA PROTECT) until it lets go. See: ./basalt host ls ; ./basalt lock ls (after Ctrl-C).");
            out.flush();
            DemoVm vm = null;
            if (guestMissing.isEmpty()) {
                vm = DemoVm.run(s, locks, qemu, accel, hostsDir(), out);
            } else {
                out.println("9. guest part skipped: " + guestMissing.get());
            }
            out.println(serveSeconds < 0 ? "Ctrl-C to stop." : "stopping in " + serveSeconds + " s.");
            out.flush();
            CountDownLatch stop = new CountDownLatch(1);
            CountDownLatch cleanedUp = new CountDownLatch(1);
            // Ctrl-C: the hook lets this thread stop the guest and the agents before the JVM exits
            // (a QEMU left behind would keep running with nothing serving its disk).
            Thread hook = Thread.ofPlatform().unstarted(() -> {
                stop.countDown();
                try {
                    cleanedUp.await(30, java.util.concurrent.TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            Runtime.getRuntime().addShutdownHook(hook);
            try (DemoVm running = vm) {
                if (serveSeconds < 0) {
                    stop.await();
                } else {
                    stop.await(serveSeconds, java.util.concurrent.TimeUnit.SECONDS);
                }
            } finally {
                cleanedUp.countDown();
                if (stop.getCount() > 0) {
                    Runtime.getRuntime().removeShutdownHook(hook);
                }
            }
        }
    }

    /** The guest part's agents' run directories (a QMP socket, console and QEMU log per VM): next to the store, {@code DATA-hosts}. */
    private Path hostsDir() {
        Path data = store.data.toAbsolutePath().normalize();
        return data.resolveSibling(data.getFileName() + "-hosts");
    }

    private static void cleanUp(VdiskStore s, EmbeddedLocks locks, PrintWriter out) {
        boolean any = false;
        for (String name : List.of(CLONE, DISK)) {
            // A previous demo's hosts' locks: no process serves them now (this one holds the store).
            locks.lock(name).filter(l -> !l.holders().isEmpty()).ifPresent(l -> locks.submit(new LockCommand.Break(name)));
            locks.submit(new LockCommand.Forget(name));
            if (s.exists(name)) {
                s.purgeSnapshots(name);
                s.remove(name);
                any = true;
            }
        }
        if (any) {
            out.println("   (removed the previous demo's vdisks)");
        }
    }

    /** Writes {@code length} bytes of half-compressible data at {@code offset}, 1 MiB per I/O, 32 in flight. */
    private static void fill(Vdisk disk, long offset, long length, long seed, String task) throws InterruptedException {
        int chunk = 1 << 20;
        Semaphore slots = new Semaphore(INFLIGHT);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Random rnd = new Random(seed);
        try (Progress bar = Progress.start(task, length >> 20, "MiB")) {
            for (long pos = offset; pos < offset + length && failure.get() == null; pos += chunk) {
                byte[] data = new byte[(int) Math.min(chunk, offset + length - pos)];
                rnd.nextBytes(data);
                for (int i = 0; i < data.length; i += 8192) {
                    java.util.Arrays.fill(data, i, Math.min(data.length, i + 4096), (byte) 'b'); // compressible half
                }
                slots.acquire();
                CompletableFuture<Void> f = disk.write(pos / 512, ByteBuffer.wrap(data), false);
                f.whenComplete((ok, err) -> {
                    if (err != null) {
                        failure.compareAndSet(null, err);
                    }
                    bar.step();
                    slots.release();
                });
            }
            slots.acquire(INFLIGHT);
        }
        if (failure.get() != null) {
            throw new IllegalStateException("demo write failed: " + failure.get().getMessage(), failure.get());
        }
        disk.flush().join();
    }
}
