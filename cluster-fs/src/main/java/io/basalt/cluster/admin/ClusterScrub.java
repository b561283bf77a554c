package io.basalt.cluster.admin;

import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;

import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;

import io.basalt.cluster.ClusterConfig;
import io.basalt.cluster.pg.PgScrubState;
import io.basalt.cluster.pg.ScrubCodec;
import io.basalt.cluster.probe.NodeProbe;
import io.basalt.cluster.probe.ScrubCalls;
import io.basalt.cluster.raft.RaftSetup;

/**
 * The operator's side of the scrub (docs/decisions/scrub-and-repair.md): every replica of every
 * placement group asked, on the node that holds it, for its scrub counters, and optionally to
 * start a pass; {@link #run} starts a pass everywhere and waits for every replica to finish it.
 */
public final class ClusterScrub {
    /** How often {@link #run} asks the replicas how far they are. */
    static final Duration POLL_EVERY = Duration.ofSeconds(1);

    private ClusterScrub() {}

    /** One replica's counters, or why it did not answer ({@code stats} null). */
    public record ReplicaScrub(int nodeId, int pg, PgScrubState.Stats stats, String error) {}

    /**
     * A node's replicas together: the oldest of their last passes' ends (0: some replica was never
     * scrubbed since the node started), and the sums of their counters.
     */
    public record NodeScrub(int nodeId, int replicas, long lastPassEndMillis, long grainsChecked, long bytesChecked,
                            long badFound, long repaired, long unrepairable, boolean running, int unanswered) {}

    /** What a {@link #run} found: the counters' growth over the pass, summed over every replica. */
    public record Summary(long grainsChecked, long bytesChecked, long badFound, long repaired, long unrepairable, Duration took) {}

    /** Asks every replica the nodes report (and, with {@code start}, to start a pass of vdisk {@code onlyVdiskId}, -1: all). */
    public static List<ReplicaScrub> ask(ClusterConfig config, boolean start, long onlyVdiskId, Duration timeout) {
        return ask(config, NodeProbe.probeAll(config, timeout), start, onlyVdiskId, timeout);
    }

    /** As above, asking the replicas of nodes already probed ({@code cluster status} probes once for both tables). */
    public static List<ReplicaScrub> ask(ClusterConfig config, Map<Integer, NodeProbe.NodeView> views, boolean start, long onlyVdiskId, Duration timeout) {
        Map<RaftGroupId, Integer> pgs = new HashMap<>();
        for (int pg = 0; pg < config.pgCount(); pg++) {
            pgs.put(RaftSetup.pgGroupId(config, pg), pg);
        }
        List<ReplicaScrub> out = new ArrayList<>();
        for (NodeProbe.NodeView node : views.values()) {
            RaftPeer peer = RaftPeer.newBuilder().setId(RaftSetup.peerId(node.nodeId())).setAddress(node.address()).build();
            for (NodeProbe.GroupView g : node.groups()) {
                Integer pg = pgs.get(g.groupId());
                if (pg == null) {
                    continue;
                }
                try {
                    out.add(new ReplicaScrub(node.nodeId(), pg,
                            ScrubCalls.control(config, g.groupId(), peer, new ScrubCodec.Control(start, onlyVdiskId), timeout), null));
                } catch (IOException | RuntimeException e) {
                    out.add(new ReplicaScrub(node.nodeId(), pg, null, NodeProbe.reason(e)));
                }
            }
        }
        return out;
    }

    /** The replicas' counters summed per node, in node order. */
    public static List<NodeScrub> byNode(List<ReplicaScrub> replicas) {
        Map<Integer, List<ReplicaScrub>> nodes = new TreeMap<>();
        replicas.forEach(r -> nodes.computeIfAbsent(r.nodeId(), k -> new ArrayList<>()).add(r));
        List<NodeScrub> out = new ArrayList<>();
        nodes.forEach((id, rs) -> {
            List<PgScrubState.Stats> s = rs.stream().filter(r -> r.stats() != null).map(ReplicaScrub::stats).toList();
            long lastEnd = s.stream().mapToLong(PgScrubState.Stats::lastPassEndMillis).min().orElse(0);
            out.add(new NodeScrub(id, rs.size(), lastEnd, sum(s, PgScrubState.Stats::grainsChecked), sum(s, PgScrubState.Stats::bytesChecked),
                    sum(s, PgScrubState.Stats::badFound), sum(s, PgScrubState.Stats::repaired), sum(s, PgScrubState.Stats::unrepairable),
                    s.stream().anyMatch(PgScrubState.Stats::running), rs.size() - s.size()));
        });
        return out;
    }

    /** The per-node table {@code cluster status} prints under its groups. */
    public static String render(List<NodeScrub> nodes) {
        StringBuilder sb = new StringBuilder(String.format("%n%-6s %-22s %-12s %-10s %-9s %-13s %s%n", "NODE", "LAST SCRUB (UTC)", "GRAINS",
                "BAD FOUND", "REPAIRED", "UNREPAIRABLE", "NOW"));
        for (NodeScrub n : nodes) {
            String last = n.lastPassEndMillis() == 0 ? "never" : Instant.ofEpochMilli(n.lastPassEndMillis()).toString().replaceFirst("\\.\\d+Z$", "Z");
            String now = (n.running() ? "scrubbing" : "idle") + (n.unanswered() > 0 ? ", " + n.unanswered() + " replicas did not answer" : "");
            sb.append(String.format("%-6d %-22s %-12d %-10d %-9d %-13d %s%n", n.nodeId(), last, n.grainsChecked(), n.badFound(), n.repaired(),
                    n.unrepairable(), now));
        }
        return sb.toString();
    }

    /**
     * Starts a pass of vdisk {@code onlyVdiskId} (-1: all) on every replica and waits until each
     * one has finished it, {@code max} at most; {@code progress} gets a line per poll.
     *
     * @throws IOException when a replica does not answer, or the pass does not end within {@code max}
     */
    public static Summary run(ClusterConfig config, long onlyVdiskId, Duration timeout, Duration max, Consumer<String> progress)
            throws IOException, InterruptedException {
        long startNanos = System.nanoTime();
        Map<String, PgScrubState.Stats> before = index(ask(config, false, -1, timeout));
        ask(config, true, onlyVdiskId, timeout);
        while (true) {
            Map<String, PgScrubState.Stats> now = index(ask(config, false, -1, timeout));
            long done = now.entrySet().stream().filter(e -> finished(before.get(e.getKey()), e.getValue())).count();
            long grains = 0;
            for (var e : now.entrySet()) {
                grains += e.getValue().grainsChecked() - before.getOrDefault(e.getKey(), zero(e.getValue().pg())).grainsChecked();
            }
            progress.accept(String.format("scrub: %d of %d replicas done, %d grain versions checked", done, before.size(), grains));
            if (done == before.size()) {
                return summary(before, now, Duration.ofNanos(System.nanoTime() - startNanos));
            }
            if (System.nanoTime() - startNanos > max.toNanos()) {
                throw new IOException("scrub did not finish within " + max + ": " + done + " of " + before.size() + " replicas done");
            }
            Thread.sleep(POLL_EVERY);
        }
    }

    private static boolean finished(PgScrubState.Stats before, PgScrubState.Stats now) {
        return before != null && now.passCount() > before.passCount() && !now.running();
    }

    private static Summary summary(Map<String, PgScrubState.Stats> before, Map<String, PgScrubState.Stats> now, Duration took) {
        long[] d = new long[5];
        now.forEach((k, s) -> {
            PgScrubState.Stats b = before.getOrDefault(k, zero(s.pg()));
            d[0] += s.grainsChecked() - b.grainsChecked();
            d[1] += s.bytesChecked() - b.bytesChecked();
            d[2] += s.badFound() - b.badFound();
            d[3] += s.repaired() - b.repaired();
            d[4] += s.unrepairable() - b.unrepairable();
        });
        return new Summary(d[0], d[1], d[2], d[3], d[4], took);
    }

    /** By "node/pg"; a replica that did not answer fails the run (its pass cannot be followed). */
    private static Map<String, PgScrubState.Stats> index(List<ReplicaScrub> replicas) throws IOException {
        Map<String, PgScrubState.Stats> m = new TreeMap<>();
        for (ReplicaScrub r : replicas) {
            if (r.stats() == null) {
                throw new IOException("node " + r.nodeId() + " pg-" + r.pg() + " did not answer: " + r.error());
            }
            m.put(r.nodeId() + "/" + r.pg(), r.stats());
        }
        return m;
    }

    private static PgScrubState.Stats zero(int pg) {
        return new PgScrubState.Stats(pg, 0, 0, 0, 0, 0, 0, 0, false);
    }

    private static long sum(List<PgScrubState.Stats> s, java.util.function.ToLongFunction<PgScrubState.Stats> f) {
        return s.stream().mapToLong(f).sum();
    }
}
