package io.basalt.node.cli;

import io.basalt.node.datastore.Datastore;
import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

import io.basalt.node.host.AgentClient;
import io.basalt.node.host.HostRecord;
import io.basalt.node.host.Inventory;
import io.basalt.node.host.VmControl;
import io.basalt.node.host.VmRecord;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code basalt vm}: virtual machines whose disks are vdisks, run by host agents ({@code basalt
 * host run}). Their specs live with the datastore (a cluster's meta group, or the embedded store),
 * so any host can start any of them. Commands that act on a running VM ask its host's agent.
 */
@Command(name = "vm", description = "Virtual machines on Basalt vdisks, run by host agents (basalt host run).", mixinStandardHelpOptions = true,
        subcommands = {VmCommand.Create.class, VmCommand.Ls.class, VmCommand.Info.class, VmCommand.Start.class, VmCommand.Stop.class,
                VmCommand.Kill.class, VmCommand.Rm.class, VmCommand.Console.class, VmCommand.Migrate.class, VmCommand.Snapshot.class, VmCommand.SetSize.class,
                VmCommand.Disk.class})
public final class VmCommand {
    private static final long MIB = 1L << 20;

    /** A command on VMs: the datastore and what to print to. */
    abstract static class VmCall implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Spec CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            try (Datastore ds = store.open()) {
                run(ds, new VmControl(new Inventory(ds.configs()), ds.locks()), out);
            }
            out.flush();
            return 0;
        }

        abstract void run(Datastore ds, VmControl vms, PrintWriter out) throws Exception;
    }

    @Command(name = "create", description = "Define a VM (stopped): its vCPUs, memory and vdisks, and optionally a kernel to boot directly.")
    static final class Create extends VmCall {
        @Parameters(paramLabel = "NAME") String name;
        @Option(names = "--vcpus", defaultValue = "1", paramLabel = "N", description = "Virtual CPUs (default: 1).") int vcpus;
        @Option(names = "--memory", defaultValue = "512M", converter = SizeConverter.class, paramLabel = "SIZE",
                description = "Memory, a whole number of MiB (default: 512M).") long memoryBytes;
        @Option(names = "--disk", required = true, paramLabel = "VDISK", description = "A vdisk, the first is the boot disk (repeat for more).")
        List<String> disks;
        @Option(names = "--kernel", paramLabel = "FILE", description = "Boot this kernel directly (a path on every host) instead of the disk.") String kernel;
        @Option(names = "--initrd", paramLabel = "FILE", description = "Its initrd (with --kernel).") String initrd;
        @Option(names = "--append", paramLabel = "ARGS", description = "Its command line (with --kernel).") String append;

        @Override
        void run(Datastore ds, VmControl vms, PrintWriter out) {
            if (memoryBytes <= 0 || memoryBytes % MIB != 0) {
                throw new IllegalArgumentException("--memory " + memoryBytes + " bytes (expected: a positive whole number of MiB, e.g. 512M)");
            }
            if (Set.copyOf(disks).size() != disks.size()) {
                throw new IllegalArgumentException("--disk " + disks + ": a vdisk given twice (expected: each vdisk once)");
            }
            for (String disk : disks) {
                ds.info(disk);    // refused naming it when there is no such vdisk
            }
            if (append != null && kernel == null) {
                throw new IllegalArgumentException("--append " + append + " without --kernel (expected: --kernel FILE too)");
            }
            VmRecord vm = VmRecord.create(name, vcpus, memoryBytes / MIB, disks, kernel, initrd, append);
            vms.inventory().createVm(vm);
            out.printf("created vm %s: %d vCPUs, %d MiB, disks %s, mac %s%n", name, vcpus, vm.memoryMiB(), String.join(", ", disks), vm.mac());
        }
    }

    /** One VM as listed: its host is marked down when that host's agent is gone. */
    record VmRow(String name, String state, String desired, String host, boolean hostLive, int vcpus, long memoryMiB, List<String> disks,
                 String message) {
        static VmRow of(VmRecord r, Set<String> liveHosts) {
            return new VmRow(r.name(), r.state().name().toLowerCase(Locale.ROOT), r.desired().name().toLowerCase(Locale.ROOT), r.host(),
                    liveHosts.contains(r.host()), r.vcpus(), r.memoryMiB(), r.disks(), r.message());
        }
    }

    @Command(name = "ls", description = "List the VMs: name, state, host, vCPUs, memory, disks.")
    static final class Ls extends VmCall {
        @Mixin OutputFormat format;

        @Override
        void run(Datastore ds, VmControl vms, PrintWriter out) {
            Set<String> live = vms.liveHosts().stream().map(HostRecord::name).collect(Collectors.toSet());
            List<VmRow> rows = vms.inventory().vms().stream().map(r -> VmRow.of(r, live)).toList();
            if (format.json()) {
                out.println(OutputFormat.toJson(rows));
                return;
            }
            out.printf("%-20s %-9s %-20s %5s %8s  %s%n", "NAME", "STATE", "HOST", "VCPUS", "MEMORY", "DISKS");
            for (VmRow r : rows) {
                String host = r.host().isEmpty() ? "-" : r.host() + (r.hostLive() ? "" : " (down)");
                out.printf("%-20s %-9s %-20s %5d %7dM  %s%n", r.name(), r.state(), host, r.vcpus(), r.memoryMiB(), String.join(",", r.disks()));
            }
        }
    }

    @Command(name = "info", description = "Show a VM's spec, what is wanted of it, and what its host last reported.")
    static final class Info extends VmCall {
        @Parameters(paramLabel = "NAME") String name;
        @Mixin OutputFormat format;

        @Override
        void run(Datastore ds, VmControl vms, PrintWriter out) {
            VmRecord r = vms.inventory().existingVm(name);
            if (format.json()) {
                out.println(OutputFormat.toJson(r));
                return;
            }
            boolean live = !r.host().isEmpty() && vms.isLive(r.host());
            out.printf("vm %s%n", r.name());
            out.printf("  state:    %s%s (wanted: %s)%n", r.state().name().toLowerCase(Locale.ROOT), r.message().isEmpty() ? "" : ": " + r.message(),
                    r.desired().name().toLowerCase(Locale.ROOT));
            out.printf("  host:     %s%n", r.host().isEmpty() ? "-" : r.host() + (live ? "" : " (down: its agent's session ended)"));
            out.printf("  since:    %s%n", java.time.Instant.ofEpochMilli(r.sinceMs()));
            out.printf("  vcpus:    %d%n  memory:   %d MiB%n  disks:    %s%n  mac:      %s%n", r.vcpus(), r.memoryMiB(), String.join(", ", r.disks()), r.mac());
            if (!r.kernel().isEmpty()) {
                out.printf("  kernel:   %s%n  initrd:   %s%n  append:   %s%n", r.kernel(), r.initrd().isEmpty() ? "-" : r.initrd(), r.append());
            }
        }
    }

    @Command(name = "start", description = "Start a VM on the live host with the most free memory that fits it, or on --on HOST.")
    static final class Start extends VmCall {
        @Parameters(paramLabel = "NAME") String name;
        @Option(names = "--on", paramLabel = "HOST", description = "Start it on this host.") String on;

        @Override
        void run(Datastore ds, VmControl vms, PrintWriter out) throws Exception {
            out.println(vms.start(name, Optional.ofNullable(on)));
        }
    }

    @Command(name = "stop", description = "Stop a VM: ACPI power-down, then quit after the host's timeout.")
    static final class Stop extends VmCall {
        @Parameters(paramLabel = "NAME") String name;

        @Override
        void run(Datastore ds, VmControl vms, PrintWriter out) throws Exception {
            out.println(vms.stop(name, false));
        }
    }

    @Command(name = "kill", description = "Stop a VM at once (its QEMU killed): like pulling the power cord.")
    static final class Kill extends VmCall {
        @Parameters(paramLabel = "NAME") String name;

        @Override
        void run(Datastore ds, VmControl vms, PrintWriter out) throws Exception {
            out.println(vms.stop(name, true));
        }
    }

    @Command(name = "rm", description = "Forget a stopped VM (its vdisks stay).")
    static final class Rm extends VmCall {
        @Parameters(paramLabel = "NAME") String name;

        @Override
        void run(Datastore ds, VmControl vms, PrintWriter out) {
            vms.remove(name);
            out.println("removed vm " + name);
        }
    }

    @Command(name = "migrate", description = "Move a running VM live to another host (its disks' lock handed over at the switch-over).")
    static final class Migrate extends VmCall {
        @Parameters(paramLabel = "NAME") String name;
        @Option(names = "--to", required = true, paramLabel = "HOST", description = "The destination host.") String to;

        @Override
        void run(Datastore ds, VmControl vms, PrintWriter out) throws Exception {
            out.println(vms.migrate(name, to));
        }
    }

    @Command(name = "snapshot", description = {"Snapshot every disk of a VM at one instant (crash-consistent): a running guest is paused",
            "for it by its host; a stopped VM's disks are snapshotted as they are."})
    static final class Snapshot extends VmCall {
        @Parameters(index = "0", paramLabel = "NAME") String name;
        @Parameters(index = "1", paramLabel = "SNAP") String snap;

        @Override
        void run(Datastore ds, VmControl vms, PrintWriter out) throws Exception {
            VmRecord vm = vms.inventory().existingVm(name);
            if (vm.desired() == VmRecord.Desired.RUNNING && vms.isLive(vm.host())) {
                out.println(vms.agentOf(name).snapshot(name, snap));
                return;
            }
            for (String disk : vm.disks()) {
                ds.createSnapshot(disk, snap);
            }
            out.println("snapshot " + snap + " of vm " + name + " (stopped): " + String.join(", ", vm.disks().stream().map(d -> d + "@" + snap).toList()));
        }
    }

    @Command(name = "set", description = {"Change a VM's vCPUs or memory: a running VM grows live (vCPUs and memory hot-plugged; memory in",
            "whole 128 MiB, up to 16 vCPUs); a stopped one takes the new size at its next start (shrinking too)."})
    static final class SetSize extends VmCall {
        @Parameters(paramLabel = "NAME") String name;
        @Option(names = "--vcpus", paramLabel = "N", description = "vCPUs.") Integer vcpus;
        @Option(names = "--memory", converter = SizeConverter.class, paramLabel = "SIZE", description = "Memory, a whole number of MiB.") Long memoryBytes;

        @Override
        void run(Datastore ds, VmControl vms, PrintWriter out) throws Exception {
            if (vcpus == null && memoryBytes == null) {
                throw new IllegalArgumentException("vm set " + name + ": nothing to change (expected: --vcpus N, --memory SIZE or both)");
            }
            if (memoryBytes != null && (memoryBytes <= 0 || memoryBytes % MIB != 0)) {
                throw new IllegalArgumentException("--memory " + memoryBytes + " bytes (expected: a positive whole number of MiB, e.g. 512M)");
            }
            VmRecord vm = vms.inventory().existingVm(name);
            int n = vcpus != null ? vcpus : vm.vcpus();
            long mib = memoryBytes != null ? memoryBytes / MIB : vm.memoryMiB();
            if (vm.desired() == VmRecord.Desired.RUNNING && vms.isLive(vm.host())) {
                out.println(vms.agentOf(name).set(name, n, mib));
                return;
            }
            vms.inventory().updateVm(name, r -> r.withSize(n, mib));
            out.printf("vm %s: %d vCPUs, %d MiB from its next start%n", name, n, mib);
        }
    }

    @Command(name = "disk", description = "Attach a vdisk to a VM or detach one: hot-plugged into a running guest, or from a stopped VM's next start.",
            mixinStandardHelpOptions = true, subcommands = {DiskAttachCommand.class, DiskDetachCommand.class})
    static final class Disk {
    }

    @Command(name = "attach", description = {"Attach a vdisk to a VM as its last disk. A running guest gets it at once (a new virtio disk,",
            "e.g. vdb; its host locks the vdisk for it); a stopped VM has it from its next start. Refused when any VM has it already."})
    static final class DiskAttachCommand extends VmCall {
        @Parameters(index = "0", paramLabel = "NAME") String name;
        @Parameters(index = "1", paramLabel = "VDISK") String vdisk;

        @Override
        void run(Datastore ds, VmControl vms, PrintWriter out) throws Exception {
            try {
                ds.info(vdisk);
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("vdisk " + vdisk + ": no such vdisk (expected: an existing vdisk; see basalt vdisk ls)", e);
            }
            out.println(vms.attachDisk(name, vdisk));
        }
    }

    @Command(name = "detach", description = {"Detach a vdisk from a VM (not its first, boot disk). A running guest is asked to let go of it",
            "(unmount it first) and its host releases the vdisk's lock; a guest that does not let go within --timeout keeps it."})
    static final class DiskDetachCommand extends VmCall {
        @Parameters(index = "0", paramLabel = "NAME") String name;
        @Parameters(index = "1", paramLabel = "VDISK") String vdisk;
        @Option(names = "--timeout", defaultValue = "30", paramLabel = "SECONDS",
                description = "How long a running guest has to let go of the disk (default: 30).") int timeoutSeconds;

        @Override
        void run(Datastore ds, VmControl vms, PrintWriter out) throws Exception {
            if (timeoutSeconds < 1) {
                throw new IllegalArgumentException("--timeout " + timeoutSeconds + " (expected: at least 1 second)");
            }
            out.println(vms.detachDisk(name, vdisk, java.time.Duration.ofSeconds(timeoutSeconds)));
        }
    }

    @Command(name = "console", description = "Show a VM's serial console log and follow it (Ctrl-C to stop), across migrations.")
    static final class Console extends VmCall {
        @Parameters(paramLabel = "NAME") String name;
        @Option(names = "--no-follow", description = "Print the log as it is and exit.") boolean noFollow;

        @Override
        void run(Datastore ds, VmControl vms, PrintWriter out) throws Exception {
            String host = "";
            long offset = 0;
            while (true) {
                String now = vms.inventory().vm(name).map(VmRecord::host).orElse("");
                if (!now.equals(host)) {
                    host = now;
                    offset = 0;    // another host's log: from its start (what the guest printed there)
                }
                AgentClient agent = vms.agentOf(name);
                byte[] chunk = agent.console(name, offset);
                offset += chunk.length;
                out.print(new String(chunk, java.nio.charset.StandardCharsets.UTF_8));
                out.flush();
                if (chunk.length == 0) {
                    if (noFollow) {
                        return;
                    }
                    Thread.sleep(200);
                }
            }
        }
    }
}
