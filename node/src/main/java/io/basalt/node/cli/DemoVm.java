package io.basalt.node.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

import io.basalt.host.Accelerator;
import io.basalt.host.AcceleratorProbe;
import io.basalt.host.GuestImage;
import io.basalt.host.GuestProcess;
import io.basalt.lock.LockCommand;
import io.basalt.node.config.EmbeddedConfigs;
import io.basalt.node.host.AgentClient;
import io.basalt.node.host.HostAgent;
import io.basalt.node.host.Inventory;
import io.basalt.node.host.SequenceGuest;
import io.basalt.node.host.VmRecord;
import io.basalt.node.locks.EmbeddedLocks;
import io.basalt.node.locks.LockedStore;
import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.store.VdiskStore;

/**
 * The guest part of {@code basalt demo}: two host agents, host-a and host-b, inside the demo's
 * process (one machine is storage and hypervisor, like one ESXi host on local VMFS), a tiny Linux
 * guest whose disk is a vdisk, booted on host-a, migrated live to host-b and back, its console
 * still counting and its disk holding every number it synced, in order. Runs until closed: the
 * demo keeps it running while it serves.
 */
final class DemoVm implements AutoCloseable {
    static final String VM = "demo-vm";
    static final String VM_DISK = "demo-vm-disk";
    static final long VM_DISK_BYTES = 64L << 20;
    static final long VM_MEMORY_MIB = 128;
    private static final Duration STEP = Duration.ofSeconds(180);
    /** A kernel prints within a second under KVM; under TCG, a few. */
    private static final Duration KVM_SILENCE = Duration.ofSeconds(20);
    private static final Pattern MIGRATED = Pattern.compile("migrated " + VM + " from (host-[ab]) to (host-[ab]): downtime (\\d+) ms, total (\\d+) ms");

    private final VdiskStore store;
    private final Inventory inventory;
    private final HostAgent a;
    private final HostAgent b;
    private final Path runRoot;
    private long startedNanos;

    private DemoVm(VdiskStore store, Inventory inventory, HostAgent a, HostAgent b, Path runRoot) {
        this.store = store;
        this.inventory = inventory;
        this.a = a;
        this.b = b;
        this.runRoot = runRoot;
    }

    /** Why this machine cannot run the guest part, or empty when it can. */
    static Optional<String> missing(String qemu) throws IOException {
        if (qemu == null) {
            return Optional.of("qemu-system-x86_64 is not installed (Debian: apt-get install qemu-system-x86 qemu-block-extra busybox-static)");
        }
        if (!Files.isExecutable(GuestImage.BUSYBOX)) {
            return Optional.of(GuestImage.BUSYBOX + " is missing (Debian: apt-get install busybox-static)");
        }
        GuestImage.Kernel kernel = GuestImage.Kernel.find(Path.of("/boot"), Path.of("/lib/modules"));
        if (kernel == null) {
            return Optional.of("no kernel image in /boot with its modules to boot the guest with (Debian: apt-get install linux-image-amd64)");
        }
        if (!Files.isReadable(kernel.image())) {
            return Optional.of(kernel.image() + " is readable by root only (run the demo as root, or give this user read access to it)");
        }
        return Optional.empty();
    }

    /** The first {@code qemu-system-x86_64} on the PATH, or null. */
    static String qemuOnPath() {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
            Path p = Path.of(dir.isEmpty() ? "." : dir, "qemu-system-x86_64");
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        return null;
    }

    /** Removes a previous demo's VM record and its disk (no agent runs it: this process holds the store). */
    static void cleanUp(VdiskStore s, EmbeddedLocks locks) throws IOException {
        Inventory inventory = new Inventory(EmbeddedConfigs.open(s));
        if (inventory.vm(VM).isPresent()) {
            inventory.removeVm(VM, r -> { });
        }
        locks.lock(VM_DISK).filter(l -> !l.holders().isEmpty()).ifPresent(l -> locks.submit(new LockCommand.Break(VM_DISK)));
        locks.submit(new LockCommand.Forget(VM_DISK));
        if (s.exists(VM_DISK)) {
            s.purgeSnapshots(VM_DISK);
            s.remove(VM_DISK);
        }
    }

    /**
     * Steps 9 and 10 of the demo: builds the guest, starts the agents, boots the guest on host-a
     * and migrates it to host-b and back, printing each migration's line.
     */
    static DemoVm run(VdiskStore s, EmbeddedLocks locks, String qemu, String accelName, Path runRoot, PrintWriter out)
            throws IOException, InterruptedException {
        Files.createDirectories(runRoot);
        SequenceGuest guest = SequenceGuest.build(runRoot);
        s.create(VM_DISK, VM_DISK_BYTES, 512, VdiskStore.GRAIN_SIZE_DEFAULT_BYTES);
        Inventory inventory = new Inventory(EmbeddedConfigs.open(s));
        inventory.createVm(guest.record(VM, VM_MEMORY_MIB, VM_DISK));
        AcceleratorProbe.Choice accel = switch (accelName) {
            case "kvm" -> new AcceleratorProbe.Choice(Accelerator.KVM, "KVM (--accel kvm)");
            case "tcg" -> new AcceleratorProbe.Choice(Accelerator.TCG, "TCG (--accel tcg)");
            default -> AcceleratorProbe.probe(qemu, Path.of("/dev/kvm"), AcceleratorProbe.PROBE_TIMEOUT_DEFAULT);
        };
        out.printf("9. guest %s: kernel %s from /boot with a busybox initramfs, its disk the vdisk %s (%s);%n", VM,
                guest.kernel().getFileName(), VM_DISK, io.basalt.vdisk.Sizes.format(VM_DISK_BYTES));
        out.printf("   host agents host-a and host-b in this process; accelerator: %s%n", accel.reason());
        out.flush();
        DemoVm vm = start(s, inventory, locks, qemu, accel, runRoot, out);
        try {
            if (accelName.equals("auto") && accel.accelerator() == Accelerator.KVM && !vm.consoleSpeaksWithin(KVM_SILENCE)) {
                // Seen on machines whose /dev/kvm runs the probe's few instructions but not a kernel.
                out.printf("   the guest printed nothing in %d s under KVM: starting it again under TCG%n", KVM_SILENCE.toSeconds());
                out.flush();
                vm.close();
                vm = start(s, inventory, locks, qemu, new AcceleratorProbe.Choice(Accelerator.TCG, "TCG"), runRoot, out);
            }
            vm.bootAndMigrate(out);
        } catch (IOException | InterruptedException | RuntimeException e) {
            vm.close();
            throw e;
        }
        return vm;
    }

    /** Both agents, with the guest placed on host-a (whose reconcile loop starts it). */
    private static DemoVm start(VdiskStore s, Inventory inventory, EmbeddedLocks locks, String qemu, AcceleratorProbe.Choice accel, Path runRoot,
                                PrintWriter out) throws IOException {
        deleteConsoles(runRoot);
        LockedStore locked = LockedStore.embedded(s, locks);
        PrintWriter agentsOut = indented(out);
        HostAgent a = HostAgent.start("host-a", locked, inventory, options(qemu, accel, runRoot.resolve("host-a")), agentsOut);
        HostAgent b;
        try {
            b = HostAgent.start("host-b", locked, inventory, options(qemu, accel, runRoot.resolve("host-b")), agentsOut);
        } catch (IOException | RuntimeException e) {
            a.close();
            throw e;
        }
        DemoVm vm = new DemoVm(s, inventory, a, b, runRoot);
        vm.startedNanos = System.nanoTime();
        inventory.updateVm(VM, r -> r.onHost("host-a").withDesired(VmRecord.Desired.RUNNING));
        return vm;
    }

    /** The agents' own lines (sessions, starts, migrations), indented under the demo's steps. */
    private static PrintWriter indented(PrintWriter out) {
        return new PrintWriter(new java.io.Writer() {
            private boolean lineStart = true;

            @Override
            public void write(char[] buf, int off, int len) {
                synchronized (out) {
                    for (int i = off; i < off + len; i++) {
                        if (lineStart) {
                            out.write("   | ");
                        }
                        out.write(buf[i]);
                        lineStart = buf[i] == '\n';
                    }
                }
            }

            @Override
            public void flush() {
                out.flush();
            }

            @Override
            public void close() {
                out.flush();
            }
        }, true);
    }

    private static void deleteConsoles(Path runRoot) throws IOException {
        for (String host : List.of("host-a", "host-b")) {
            Files.deleteIfExists(runRoot.resolve(host).resolve(VM).resolve("console.log"));
        }
    }

    /** True once the guest's console on host-a has anything in it; false after {@code within} of silence. */
    private boolean consoleSpeaksWithin(Duration within) throws InterruptedException, IOException {
        Path console = consoles().get(0);
        long deadline = startedNanos + within.toNanos();
        while (System.nanoTime() < deadline) {
            if (Files.exists(console) && Files.size(console) > 0) {
                return true;
            }
            Thread.sleep(200);
        }
        return false;
    }

    private static HostAgent.Options options(String qemu, AcceleratorProbe.Choice accel, Path runDir) {
        return new HostAgent.Options(qemu, accel.accelerator(), runDir, 2, 1024, 5000, Duration.ofMillis(500),
                GuestProcess.POWERDOWN_TIMEOUT_DEFAULT, Duration.ofSeconds(10), Optional.empty());
    }

    private List<Path> consoles() {
        return List.of(runRoot.resolve("host-a").resolve(VM).resolve("console.log"), runRoot.resolve("host-b").resolve(VM).resolve("console.log"));
    }

    private void bootAndMigrate(PrintWriter out) throws IOException, InterruptedException {
        awaitSeq(10, "boot on host-a");
        out.printf("   booted %s on host-a in %.1f s; console: %s%n", VM, (System.nanoTime() - startedNanos) / 1e9, lastLine());
        out.flush();
        out.println("10. live migration of " + VM + " to host-b and back (the disk's exclusive lock goes with it):");
        out.flush();
        for (String to : List.of("host-b", "host-a")) {
            HostAgent from = to.equals("host-b") ? a : b;
            long before = lastSeq();
            String line = from.apiClient().migrate(VM, to);    // the agent prints it
            if (!MIGRATED.matcher(line).matches()) {
                throw new IllegalStateException("migration of " + VM + " to " + to + ": " + line);
            }
            awaitSeq(before + 5, "the guest counting on " + to);
        }
        long last = lastSeq();
        java.util.Set<String> bootIds = new java.util.TreeSet<>(SequenceGuest.boots(consoles()));
        if (bootIds.size() != 1) {
            throw new IllegalStateException(VM + " restarted during the migrations (boot ids " + bootIds + ")");
        }
        out.printf("    still the same boot (%s), uptime and counter went on: %s%n", bootIds.iterator().next(), lastLine());
        try (BlockDevice disk = store.open(VM_DISK)) {
            SequenceGuest.checkSequenceOnDisk(disk, last);
        }
        out.printf("    its disk holds SEQ 1..%d in order, each once: every synced write landed across both moves%n", last);
        out.printf("    console: tail -f %s%n", consoles().get(0));
        out.flush();
    }

    private void awaitSeq(long atLeast, String what) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + STEP.toNanos();
        while (lastSeq() < atLeast) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(what + ": the guest printed no BASALT-SEQ " + atLeast + " within " + STEP.toSeconds()
                        + " s (consoles: " + consoles() + ")");
            }
            Thread.sleep(100);
        }
    }

    /** The newest tick of either console (a console starts afresh on each host the guest comes to). */
    private double[] latest() throws IOException {
        return SequenceGuest.ticks(consoles()).stream().max(java.util.Comparator.comparingDouble(t -> t[0])).orElse(new double[] {0, 0});
    }

    private long lastSeq() throws IOException {
        return (long) latest()[0];
    }

    private String lastLine() throws IOException {
        double[] t = latest();
        return String.format(java.util.Locale.ROOT, "BASALT-SEQ %d up=%.2f", (long) t[0], t[1]);
    }

    /** Stops both agents, which kill the guest (its writes are synced); the VM record then says stopped. */
    @Override
    public void close() {
        try (b; a) {
            // agents kill their guests as they close
        } finally {
            try {
                inventory.updateVm(VM, r -> r.withDesired(VmRecord.Desired.STOPPED).onHost("")
                        .reported(VmRecord.State.STOPPED, "killed as the demo ended"));
            } catch (RuntimeException e) {
                // the record stays as it was; the next demo removes it
            }
        }
    }
}
