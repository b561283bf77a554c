package io.basalt.node.cli;

import io.basalt.node.datastore.Datastore;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import io.basalt.lock.LockService;
import io.basalt.lock.Session;
import io.basalt.lock.VdiskLock;
import io.basalt.node.host.Inventory;
import io.basalt.node.host.VmControl;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code basalt host}: hypervisor hosts. {@code run} is the host agent (docs/architecture.md, "Hosts
 * and guests"); {@code ls} shows the hosts' sessions of the lock table; {@code maintenance}
 * evacuates a host by live migration.
 */
@Command(name = "host", description = "Hypervisor hosts: run the host agent, list sessions and locks, maintenance.", mixinStandardHelpOptions = true,
        subcommands = {HostCommand.Ls.class, HostRun.class, HostCommand.Maintenance.class})
public final class HostCommand {

    /** One session as shown: lease age is how long ago it was last renewed (by the proposer's wall clock). */
    record HostRow(long session, String host, long leaseMs, long leaseAgeMs, List<String> locks) {}

    @Command(name = "ls", description = "List the hosts' sessions: session id, host, lease, time since the last renewal, locks held.")
    static final class Ls implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Mixin OutputFormat format;
        @Spec CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            try (Datastore ds = store.open()) {
                List<HostRow> rows = rows(ds.locks(), System.currentTimeMillis());
                PrintWriter out = spec.commandLine().getOut();
                if (format.json()) {
                    out.println(OutputFormat.toJson(rows));
                } else {
                    out.printf("%-8s %-36s %7s %9s  %s%n", "SESSION", "HOST", "LEASE", "LEASE AGE", "LOCKS");
                    for (HostRow r : rows) {
                        out.printf("%-8d %-36s %6.1fs %8.1fs  %s%n", r.session(), r.host(), r.leaseMs() / 1e3, r.leaseAgeMs() / 1e3,
                                r.locks().isEmpty() ? "-" : String.join(", ", r.locks()));
                    }
                }
                out.flush();
            }
            return 0;
        }
    }

    @Command(name = "maintenance", description = {"Put a host in maintenance: it takes no new VMs and every VM it runs is migrated live",
            "to the other hosts. --exit ends it. Exit status 1 when VMs are left on it (no room elsewhere, or a migration failed)."})
    static final class Maintenance implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Spec CommandSpec spec;
        @picocli.CommandLine.Parameters(paramLabel = "HOST") String host;
        @Option(names = "--exit", description = "End the maintenance: the host takes VMs again.") boolean exit;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            try (Datastore ds = store.open()) {
                VmControl vms = new VmControl(new Inventory(ds.configs()), ds.locks());
                if (exit) {
                    vms.exitMaintenance(host);
                    out.println("host " + host + ": out of maintenance (takes VMs again)");
                    out.flush();
                    return 0;
                }
                return vms.enterMaintenance(host, out) == 0 ? 0 : 1;
            }
        }
    }

    static List<HostRow> rows(LockService locks, long nowMs) {
        List<VdiskLock> all = List.copyOf(locks.locks());
        List<HostRow> rows = new ArrayList<>();
        for (Session s : locks.sessions()) {
            List<String> held = new ArrayList<>();
            for (VdiskLock l : all) {
                l.holding(s.id()).ifPresent(h -> held.add(l.vdisk() + " (" + h.mode().cliName() + ", token " + h.token() + ")"));
            }
            rows.add(new HostRow(s.id(), s.host(), s.leaseMs(), Math.max(0, nowMs - s.renewedAtMs()), held));
        }
        return rows;
    }
}
