package io.basalt.node.cli;

import io.basalt.node.datastore.Datastore;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.Callable;

import io.basalt.lock.Holding;
import io.basalt.lock.LockCommand;
import io.basalt.lock.LockResult;
import io.basalt.lock.LockService;
import io.basalt.lock.Session;
import io.basalt.lock.VdiskLock;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code basalt lock}: vdisks' locks (holder, mode, token, fence) and the operator's break. */
@Command(name = "lock", description = "Vdisks' locks: who holds them, with which token, and the fence; break one (operators).",
        mixinStandardHelpOptions = true, subcommands = {LockCli.Ls.class, LockCli.Break.class})
public final class LockCli {

    /** One holder of one vdisk (a vdisk nobody holds has one row, with no session). */
    record LockRow(String vdisk, Long session, String host, String mode, Long token, long fence, long lastToken) {}

    @Command(name = "ls", description = "List locks: vdisk, holder (session and host), mode, the holder's token, the vdisk's fence.")
    static final class Ls implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Mixin OutputFormat format;
        @Spec CommandSpec spec;
        @Parameters(paramLabel = "VDISK", arity = "0..1", description = "Only this vdisk.") String vdisk;

        @Override
        public Integer call() throws Exception {
            try (Datastore ds = store.open()) {
                if (vdisk != null) {
                    ds.info(vdisk); // an unknown name is an error, not an empty list
                }
                List<LockRow> rows = rows(ds.locks(), vdisk);
                PrintWriter out = spec.commandLine().getOut();
                if (format.json()) {
                    out.println(OutputFormat.toJson(rows));
                } else {
                    out.printf("%-24s %-8s %-36s %-12s %8s %8s%n", "VDISK", "SESSION", "HOST", "MODE", "TOKEN", "FENCE");
                    for (LockRow r : rows) {
                        out.printf("%-24s %-8s %-36s %-12s %8s %8d%n", r.vdisk(), r.session() == null ? "-" : r.session(),
                                r.host() == null ? "-" : r.host(), r.mode() == null ? "(free)" : r.mode(),
                                r.token() == null ? "-" : r.token(), r.fence());
                    }
                }
                out.flush();
            }
            return 0;
        }
    }

    @Command(name = "break", description = {"Take a vdisk's lock from every holder and raise its fence above their tokens:",
            "their writes are refused from then on. For a holder that is gone but whose lease has not run out. Needs --yes."})
    static final class Break implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Spec CommandSpec spec;
        @Parameters(paramLabel = "VDISK") String vdisk;
        @Option(names = "--yes", description = "Break it (without: say what would be broken, and refuse).") boolean yes;

        @Override
        public Integer call() throws Exception {
            try (Datastore ds = store.open()) {
                ds.info(vdisk);
                LockService locks = ds.locks();
                Optional<VdiskLock> lock = locks.lock(vdisk);
                if (lock.isEmpty() || lock.get().holders().isEmpty()) {
                    throw new IllegalArgumentException("vdisk: " + vdisk + " is not locked (expected: a locked vdisk; see basalt lock ls)");
                }
                Map<Long, String> hosts = hosts(locks);
                if (!yes) {
                    PrintWriter err = spec.commandLine().getErr();
                    err.printf("would break the lock of %s: %s, fence %d would rise above their tokens, so their writes would be"
                            + " refused from then on. Run again with --yes to break it.%n", vdisk, holders(lock.get().holders(), hosts),
                            lock.get().fence());
                    err.flush();
                    return 2;
                }
                LockResult r = locks.submit(new LockCommand.Break(vdisk));
                if (r instanceof LockResult.Refused f) {
                    throw new IllegalArgumentException("vdisk: " + vdisk + ": " + f.message());
                }
                LockResult.Broken b = (LockResult.Broken) r;
                PrintWriter out = spec.commandLine().getOut();
                out.printf("broke lock of %s: %s, fence %d → %d%n", vdisk, holders(lock.get().holders(), hosts), lock.get().fence(), b.after().fence());
                out.flush();
            }
            return 0;
        }
    }

    static List<LockRow> rows(LockService locks, String only) {
        Map<Long, String> hosts = hosts(locks);
        List<LockRow> rows = new ArrayList<>();
        for (VdiskLock l : locks.locks()) {
            if (only != null && !only.equals(l.vdisk())) {
                continue;
            }
            if (l.holders().isEmpty()) {
                rows.add(new LockRow(l.vdisk(), null, null, null, null, l.fence(), l.lastToken()));
            }
            for (Holding h : l.holders()) {
                rows.add(new LockRow(l.vdisk(), h.sessionId(), hosts.getOrDefault(h.sessionId(), "?"), h.mode().cliName(), h.token(),
                        l.fence(), l.lastToken()));
            }
        }
        return rows;
    }

    private static Map<Long, String> hosts(LockService locks) {
        Map<Long, String> hosts = new TreeMap<>();
        for (Session s : locks.sessions()) {
            hosts.put(s.id(), s.host());
        }
        return hosts;
    }

    /** "session id 12 (host a)" or "session ids 12 (host a), 14 (host b)". */
    private static String holders(List<Holding> holders, Map<Long, String> hosts) {
        List<String> each = holders.stream().map(h -> h.sessionId() + " (host " + hosts.getOrDefault(h.sessionId(), "?") + ")").toList();
        return (each.size() == 1 ? "session id " : "session ids ") + String.join(", ", each);
    }
}
