package io.basalt.node.host;

import java.io.IOException;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

import io.basalt.lock.LockService;
import io.basalt.lock.Session;

/**
 * What {@code basalt vm} and {@code basalt host maintenance} do: change the records (the operator's
 * wish: run here, stop) and ask the owning agent to act on them now, then report what it did.
 * Agents act on the records by themselves too (at their next poll), so a call that finds an agent
 * unreachable has still recorded the wish.
 */
public final class VmControl {
    private final Inventory inventory;
    private final LockService locks;

    public VmControl(Inventory inventory, LockService locks) {
        this.inventory = inventory;
        this.locks = locks;
    }

    public Inventory inventory() {
        return inventory;
    }

    /** The hosts whose agents are alive: their sessions of the lock table still exist. */
    public List<HostRecord> liveHosts() {
        Set<Long> live = locks.sessions().stream().map(Session::id).collect(Collectors.toSet());
        return inventory.hosts().stream().filter(h -> live.contains(h.session())).toList();
    }

    /** Whether host {@code name}'s agent is alive. */
    public boolean isLive(String name) {
        return liveHosts().stream().anyMatch(h -> h.name().equals(name));
    }

    /**
     * Starts {@code name} on {@code on} (or the live host with the most free memory that fits it)
     * and waits for the agent's report. Returns the line to print; a refusal or a failed start throws naming why.
     */
    public String start(String name, Optional<String> on) throws IOException, InterruptedException {
        VmRecord vm = vm(name);
        if (vm.desired() == VmRecord.Desired.RUNNING && isLive(vm.host())) {
            throw new VmStateException("vm " + name + ": already running on " + vm.host() + " (expected: a stopped VM; "
                    + "basalt vm migrate moves it)");
        }
        List<HostRecord> live = liveHosts();
        List<VmRecord> all = inventory.vms();
        HostRecord host;
        if (on.isPresent()) {
            host = live.stream().filter(h -> h.name().equals(on.get())).findFirst().orElseThrow(() -> new IllegalArgumentException(
                    "--on " + on.get() + ": no live host of that name (live: " + names(live) + ")"));
            if (host.maintenance()) {
                throw new IllegalArgumentException("--on " + host.name() + ": the host is in maintenance (expected: another host, or"
                        + " basalt host maintenance " + host.name() + " --exit)");
            }
            Placement.Free free = Placement.free(host, all, name);
            if (!Placement.fits(vm, free)) {
                throw new IllegalArgumentException("--on " + host.name() + ": " + free.vcpus() + " vCPUs and " + free.memoryMiB()
                        + " MiB free (vm " + name + " needs " + vm.vcpus() + " vCPUs, " + vm.memoryMiB() + " MiB)");
            }
        } else {
            host = Placement.choose(vm, live, all).orElseThrow(() -> new VmStateException("vm " + name + ": no live host has room for "
                    + vm.vcpus() + " vCPUs and " + vm.memoryMiB() + " MiB (" + capacities(live, all) + ")"));
        }
        String target = host.name();
        inventory.updateVm(name, r -> r.onHost(target).withDesired(VmRecord.Desired.RUNNING).reported(VmRecord.State.STARTING, ""));
        inventory.agentClient(host.api()).reconcile();
        VmRecord now = vm(name);
        if (now.state() != VmRecord.State.RUNNING) {
            throw new VmStateException("vm " + name + " on " + target + ": " + now.state().name().toLowerCase(java.util.Locale.ROOT)
                    + (now.message().isEmpty() ? "" : ": " + now.message()));
        }
        return "started vm " + name + " on " + target;
    }

    /** Stops {@code name} (ACPI power-down, then quit, then kill; at once when {@code kill}); returns the line to print. */
    public String stop(String name, boolean kill) throws IOException, InterruptedException {
        VmRecord vm = vm(name);
        if (!vm.host().isEmpty() && isLive(vm.host())) {
            HostRecord host = inventory.host(vm.host()).orElseThrow();
            if (kill) {
                inventory.agentClient(host.api()).kill(name);
            } else {
                inventory.updateVm(name, r -> r.withDesired(VmRecord.Desired.STOPPED));
                inventory.agentClient(host.api()).reconcile();
            }
            VmRecord now = vm(name);
            return (kill ? "killed" : "stopped") + " vm " + name + " on " + vm.host() + " (" + now.state().name().toLowerCase(java.util.Locale.ROOT) + ")";
        }
        // No live agent owns it: nothing runs it (a dead host's guest is fenced); the record is the whole truth.
        inventory.updateVm(name, r -> r.withDesired(VmRecord.Desired.STOPPED).onHost("").reported(VmRecord.State.STOPPED, ""));
        return "stopped vm " + name + " (no live host ran it)";
    }

    /**
     * {@code basalt vm disk attach}: a running VM's agent hot-plugs {@code vdisk} (see {@link DiskAttach});
     * a stopped VM gets it as its last disk from its next start. The caller has checked that the vdisk exists.
     */
    public String attachDisk(String name, String vdisk) throws IOException, InterruptedException {
        VmRecord vm = vm(name);
        if (vm.desired() == VmRecord.Desired.RUNNING && isLive(vm.host())) {
            return agentOf(name).attach(name, vdisk);
        }
        DiskAttach.checkAttach(vm, vdisk, inventory.vms());
        VmRecord now = inventory.updateVm(name, r -> {
            DiskAttach.checkAttach(r, vdisk, inventory.vms().stream().filter(o -> !o.name().equals(name)).toList());
            return r.withDisk(vdisk, r.freeDiskSlot()).withCompactSlots();
        });
        return "attached vdisk " + vdisk + " to vm " + name + " (stopped): disks " + String.join(", ", now.disks()) + " from its next start";
    }

    /** {@code basalt vm disk detach}: a running VM's agent hot-unplugs {@code vdisk}, the guest given {@code timeout} to let go; a stopped VM's record loses it. */
    public String detachDisk(String name, String vdisk, Duration timeout) throws IOException, InterruptedException {
        VmRecord vm = vm(name);
        if (vm.desired() == VmRecord.Desired.RUNNING && isLive(vm.host())) {
            return agentOf(name).detach(name, vdisk, timeout);
        }
        VmRecord now = inventory.updateVm(name, r -> {
            DiskAttach.checkDetach(r, vdisk);
            return r.withoutDisk(vdisk).withCompactSlots();
        });
        return "detached vdisk " + vdisk + " from vm " + name + " (stopped): disks " + String.join(", ", now.disks());
    }

    /** Forgets a stopped VM (its vdisks stay). */
    public void remove(String name) {
        inventory.removeVm(name, r -> {
            if (r.desired() == VmRecord.Desired.RUNNING || (r.state() != VmRecord.State.STOPPED && r.state() != VmRecord.State.FAILED)) {
                throw new VmStateException("vm " + name + ": " + r.state().name().toLowerCase(java.util.Locale.ROOT)
                        + (r.host().isEmpty() ? "" : " on " + r.host()) + " (expected: a stopped VM; basalt vm stop " + name + " first)");
            }
        });
    }

    /** Migrates {@code name} live to host {@code to}; returns the source agent's line. */
    public String migrate(String name, String to) throws IOException, InterruptedException {
        VmRecord vm = vm(name);
        if (vm.desired() != VmRecord.Desired.RUNNING || vm.state() != VmRecord.State.RUNNING || !isLive(vm.host())) {
            throw new VmStateException("vm " + name + ": " + vm.state().name().toLowerCase(java.util.Locale.ROOT)
                    + (vm.host().isEmpty() ? "" : " on " + vm.host()) + " (expected: a running VM)");
        }
        return inventory.agentClient(inventory.host(vm.host()).orElseThrow().api()).migrate(name, to);
    }

    /** The agent of the host {@code name} runs or last ran on: its console, its snapshots. */
    public AgentClient agentOf(String name) {
        VmRecord vm = vm(name);
        if (vm.host().isEmpty()) {
            throw new VmStateException("vm " + name + ": on no host (expected: a VM that was started; its console is on its host)");
        }
        HostRecord host = inventory.host(vm.host()).orElseThrow(() -> new VmStateException("vm " + name + ": host " + vm.host() + " unknown"));
        return inventory.agentClient(host.api());
    }

    /**
     * {@code basalt host maintenance HOST}: no new placements on it, and every VM it runs migrated live
     * to the other hosts (placement as for a start); each migration's line is printed. Returns how
     * many VMs are left on it (a migration failed, or no other host has room): those stay running there.
     */
    public int enterMaintenance(String hostName, PrintWriter out) throws InterruptedException {
        return enterMaintenance(hostName, line -> {
            out.println(line);
            out.flush();
        });
    }

    /** As {@link #enterMaintenance(String, PrintWriter)}, each line given to {@code lines} as it happens. */
    public int enterMaintenance(String hostName, java.util.function.Consumer<String> lines) throws InterruptedException {
        HostRecord host = inventory.updateHost(hostName, h -> h.inMaintenance(true));
        lines.accept("host " + hostName + ": in maintenance (no new placements)");
        int left = 0;
        for (VmRecord vm : inventory.vms()) {
            if (!vm.host().equals(hostName) || vm.desired() != VmRecord.Desired.RUNNING) {
                continue;
            }
            List<HostRecord> others = liveHosts().stream().filter(h -> !h.name().equals(hostName)).toList();
            Optional<HostRecord> to = Placement.choose(vm, others, inventory.vms());
            if (to.isEmpty()) {
                lines.accept("vm " + vm.name() + ": stays on " + hostName + ": no other live host has room (" + capacities(others, inventory.vms()) + ")");
                left++;
                continue;
            }
            try {
                lines.accept(inventory.agentClient(host.api()).migrate(vm.name(), to.get().name()));
            } catch (IOException | RuntimeException e) {
                lines.accept("vm " + vm.name() + ": stays on " + hostName + ": migration to " + to.get().name() + " failed: " + e.getMessage());
                left++;
            }
        }
        lines.accept("host " + hostName + ": " + (left == 0 ? "evacuated" : left + " VMs left running on it"));
        return left;
    }

    /** {@code --exit}: the host takes placements again. */
    public void exitMaintenance(String hostName) {
        inventory.updateHost(hostName, h -> h.inMaintenance(false));
    }

    private VmRecord vm(String name) {
        return inventory.existingVm(name);
    }

    private static String names(List<HostRecord> hosts) {
        return hosts.isEmpty() ? "none: start one with basalt host run" : hosts.stream().map(HostRecord::name).collect(Collectors.joining(", "));
    }

    private static String capacities(List<HostRecord> hosts, List<VmRecord> vms) {
        if (hosts.isEmpty()) {
            return "no live hosts: start one with basalt host run";
        }
        List<String> parts = new ArrayList<>();
        for (HostRecord h : hosts) {
            Placement.Free f = Placement.free(h, vms, "");
            parts.add(h.name() + ": " + f.vcpus() + " vCPUs, " + f.memoryMiB() + " MiB free" + (h.maintenance() ? ", in maintenance" : ""));
        }
        return String.join("; ", parts);
    }
}
