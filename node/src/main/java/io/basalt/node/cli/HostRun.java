package io.basalt.node.cli;

import io.basalt.node.datastore.Datastore;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

import io.basalt.host.Accelerator;
import io.basalt.host.AcceleratorProbe;
import io.basalt.host.GuestProcess;
import io.basalt.host.Taps;
import io.basalt.lock.HostSessionClient;
import io.basalt.node.host.HostAgent;
import io.basalt.node.host.Inventory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code basalt host run}: the host agent until Ctrl-C. It joins the datastore with a session of
 * the lock table, registers its capacity, and runs the VMs placed on it as QEMU children (KVM when
 * {@code /dev/kvm} answers a probe in time, TCG otherwise, said on start-up). Stopping it kills
 * its guests and ends its session, so the other hosts restart them (as after a crash of this
 * host); {@code basalt host maintenance} first to keep them running.
 */
@Command(name = "run", description = {"Run the host agent until Ctrl-C: joins the datastore, runs the VMs placed on this host under QEMU.",
        "Stopping it ends its session: the other hosts restart its VMs (evacuate first: basalt host maintenance)."})
final class HostRun implements Callable<Integer> {
    @Mixin DatastoreOptions store;
    @Spec CommandSpec spec;
    @Option(names = "--name", required = true, paramLabel = "NAME", description = "This host's name, unique in the datastore.") String name;
    @Option(names = "--vcpus", paramLabel = "N", description = "vCPUs offered to guests (default: this machine's processors).") Integer vcpus;
    @Option(names = "--memory", converter = SizeConverter.class, paramLabel = "SIZE",
            description = "Memory offered to guests (default: 3/4 of this machine's).") Long memoryBytes;
    @Option(names = "--accel", defaultValue = "auto", paramLabel = "auto|kvm|tcg",
            description = "auto: KVM when /dev/kvm answers a probe within a second, TCG otherwise (default).") String accel;
    @Option(names = "--qemu", defaultValue = "qemu-system-x86_64", paramLabel = "FILE", description = "The QEMU binary (default: ${DEFAULT-VALUE}).")
    String qemu;
    @Option(names = "--run-dir", paramLabel = "DIR", description = "Where each VM's QMP socket, console and QEMU logs go (default: ./host-NAME).")
    Path runDir;
    @Option(names = "--bridge", paramLabel = "BRIDGE", description = {"Put each VM's NIC on this existing Linux bridge through a tap",
            "(root and /dev/net/tun). Without it, or without a tun device, guests get user-mode networking (NAT out, nothing in)."})
    String bridge;
    @Option(names = "--lease", defaultValue = "" + HostSessionClient.LEASE_MS_DEFAULT, paramLabel = "MS",
            description = "The session's lease: after this long without renewal the other hosts restart this host's VMs (default: ${DEFAULT-VALUE}).")
    long leaseMs;
    @Option(names = "--listen", paramLabel = "HOST:PORT", description = {"Where the agent's control API listens: an address the other hosts",
            "reach this one at, for migrations (default: 127.0.0.1, any free port; every call needs the datastore's agent token)."})
    String listen;

    @Override
    public Integer call() throws Exception {
        if (leaseMs < 1000) {
            throw new IllegalArgumentException("--lease " + leaseMs + " ms (expected: at least 1000)");
        }
        int cpus = vcpus != null ? vcpus : Runtime.getRuntime().availableProcessors();
        long memoryMiB = (memoryBytes != null ? memoryBytes : physicalMemoryBytes() / 4 * 3) >> 20;
        PrintWriter out = spec.commandLine().getOut();
        AcceleratorProbe.Choice choice = accelerator();
        out.println("accelerator: " + choice.reason());
        out.flush();
        Optional<String> taps = network(out);
        HostAgent.Options options = new HostAgent.Options(qemu, choice.accelerator(), runDir != null ? runDir : Path.of("host-" + name),
                cpus, memoryMiB, leaseMs, Duration.ofMillis(500), GuestProcess.POWERDOWN_TIMEOUT_DEFAULT, Duration.ofSeconds(10), taps);
        if (listen != null) {
            ServeCommand.HostPort hp;
            try {
                hp = ServeCommand.HostPort.parse(listen);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--listen: '" + listen + "' (expected: HOST:PORT, e.g. 10.0.0.5:7400)", e);
            }
            options = options.withApiListen(new java.net.InetSocketAddress(hp.host(), hp.port()));
        }
        Datastore ds = store.open();
        HostAgent agent;
        try {
            agent = HostAgent.start(name, ds.serving(), new Inventory(ds.configs()), options, out);
        } catch (RuntimeException e) {
            ds.close();
            throw e;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().unstarted(() -> {
            agent.close();
            ds.close();
            stopped.countDown();
        }));
        out.println("host " + name + " running; Ctrl-C to stop");
        out.flush();
        stopped.await();
        return 0;
    }

    /** The bridge the VMs' taps go on, or empty for user-mode networking; says which, and why. */
    private Optional<String> network(PrintWriter out) {
        if (bridge == null) {
            out.println("network: user-mode (no --bridge): guests reach out through NAT; nothing reaches them");
            return Optional.empty();
        }
        if (!Taps.isBridge(bridge)) {
            throw new IllegalArgumentException("--bridge " + bridge + ": no such Linux bridge (expected: an existing bridge, e.g. ip link add "
                    + bridge + " type bridge)");
        }
        Optional<String> why = Taps.unavailable();
        if (why.isPresent()) {
            out.println("network: user-mode, not bridge " + bridge + ": " + why.get() + " (taps need both /dev/net/tun and root)");
            return Optional.empty();
        }
        out.println("network: each VM on bridge " + bridge + " through a tap");
        return Optional.of(bridge);
    }

    private AcceleratorProbe.Choice accelerator() throws Exception {
        return switch (accel) {
            case "auto" -> {
                try {
                    yield AcceleratorProbe.probe(qemu, Path.of("/dev/kvm"), AcceleratorProbe.PROBE_TIMEOUT_DEFAULT);
                } catch (java.io.IOException e) {
                    // No QEMU to probe with: VMs will fail to start, each saying so; the agent still joins and reports.
                    yield new AcceleratorProbe.Choice(Accelerator.TCG, "TCG: the KVM probe could not run " + qemu + ": " + e.getMessage());
                }
            }
            case "kvm" -> new AcceleratorProbe.Choice(Accelerator.KVM, "KVM (--accel kvm)");
            case "tcg" -> new AcceleratorProbe.Choice(Accelerator.TCG, "TCG (--accel tcg)");
            default -> throw new IllegalArgumentException("--accel " + accel + " (expected: auto, kvm or tcg)");
        };
    }

    private static long physicalMemoryBytes() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getTotalMemorySize();
    }
}
