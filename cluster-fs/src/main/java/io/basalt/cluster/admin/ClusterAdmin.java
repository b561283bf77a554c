package io.basalt.cluster.admin;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import org.apache.ratis.client.RaftClient;
import org.apache.ratis.client.RaftClientConfigKeys;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.SetConfigurationRequest;
import org.apache.ratis.retry.RetryPolicies;
import org.apache.ratis.util.TimeDuration;

import io.basalt.cluster.ClusterConfig;
import io.basalt.cluster.client.ClusterClient;
import io.basalt.cluster.probe.GroupDirectory;
import io.basalt.cluster.probe.NodeProbe;
import io.basalt.cluster.raft.RaftSetup;

/**
 * Membership changes of a running cluster (docs/decisions/cluster-membership.md), carried out over Ratis:
 * this class reads the groups' current configurations, asks {@link MembershipPlanner} what
 * moves where, and executes the plan. Every change is a sequence of single-replica moves, and a
 * move of group G from node A to node B is
 * <ol>
 *   <li>B gets an empty division of G ({@code GroupManagementApi.add} with no peers: it waits,
 *       without voting or campaigning, for a leader to contact it);</li>
 *   <li>G's leader is asked to {@code setConfiguration(peers - A + B)}; Ratis first catches B up
 *       as a non-voting staging peer (log entries, or a snapshot install when the log was
 *       purged), then commits the joint and the new configuration;</li>
 *   <li>the admin waits until B has committed what the leader had (Ratis counts B "caught up"
 *       for the configuration change while it is still up to 1,000 entries behind);</li>
 *   <li>A's division of G is removed with its directory (when A is reachable).</li>
 * </ol>
 * The group keeps its replica count through a move, writes continue (a majority of the old and
 * the new configuration stays available throughout), and each step is idempotent, so a change
 * that stopped half-way is finished by running it again. Only one admin should run at a time;
 * Ratis refuses a second reconfiguration of a group while one is in progress.
 *
 * <p>{@code config} is the address book: every node a change names must be in it.
 */
public final class ClusterAdmin {
    /** One group's move, start to end, including a staging catch-up that may install a snapshot. */
    public static final Duration MOVE_TIMEOUT = Duration.ofMinutes(5);
    /** One setConfiguration attempt; Ratis answers when the new configuration is committed. */
    static final Duration SET_CONF_ATTEMPT_TIMEOUT = Duration.ofSeconds(30);
    static final Duration POLL_INTERVAL = Duration.ofMillis(200);
    /** A catch-up is polled less often: each poll asks every node about every group. */
    static final Duration CATCH_UP_POLL_INTERVAL = Duration.ofMillis(500);
    static final Duration CATCH_UP_REPORT_EVERY = Duration.ofSeconds(5);
    /**
     * Consecutive catch-up polls that must find the leader without an appender for the new replica
     * before it is asked to step down ({@link #stepDownForLostAppender}): one poll could meet a
     * leader that is still starting its appenders.
     */
    static final int APPENDER_MISSING_POLLS = 2;
    /** At most one step-down per group this often: the next leader needs an election first. */
    static final Duration STEP_DOWN_INTERVAL = Duration.ofSeconds(10);
    /**
     * Adding or removing a division: removing one closes its state machine and deletes its
     * directory, which took over 3 s under load (CI, 2026-11-26), so a probe's timeout is too short.
     */
    static final Duration DIVISION_CHANGE_TIMEOUT = Duration.ofSeconds(60);

    private final ClusterConfig config;
    private final Consumer<String> progress;
    private final Duration probeTimeout;

    /**
     * A planned move carried out: {@code caughtUp} is false when the new replica had not caught
     * up within {@link #MOVE_TIMEOUT} (the change went on; the replica catches up later).
     */
    public record Move(MembershipPlanner.Move planned, boolean caughtUp, Duration took) {
        public String group() {
            return planned.group();
        }

        public int from() {
            return planned.from();
        }

        public int to() {
            return planned.to();
        }

        public List<Integer> before() {
            return planned.before();
        }

        public List<Integer> after() {
            return planned.after();
        }
    }

    public ClusterAdmin(ClusterConfig config, Consumer<String> progress) {
        this.config = config;
        this.progress = progress;
        this.probeTimeout = ClusterStatus.PROBE_TIMEOUT_DEFAULT;
    }

    /** One group's current configuration as its leader holds it. */
    record GroupConf(RaftGroupId id, String name, List<RaftPeer> peers) {
        List<Integer> nodeIds() {
            List<Integer> out = new ArrayList<>();
            peers.forEach(p -> RaftSetup.nodeIdOf(p.getId()).ifPresent(out::add));
            return out;
        }

        boolean has(int nodeId) {
            return nodeIds().contains(nodeId);
        }

        /** The members, as the planner sees them. */
        MembershipPlanner.Group members() {
            return new MembershipPlanner.Group(name, nodeIds());
        }

        /** Node id to its peer's priority: equal for two configurations with the same members and priorities. */
        Map<Integer, Integer> priorities() {
            Map<Integer, Integer> out = new TreeMap<>();
            peers.forEach(p -> RaftSetup.nodeIdOf(p.getId()).ifPresent(n -> out.put(n, p.getPriority())));
            return out;
        }
    }

    // ---- the three operations ----

    /**
     * Gives the running, empty node {@code id} (started with {@code join}) its share of PG
     * replicas ({@link MembershipPlanner#addNode}), then grows the meta group when the cluster
     * has grown past its size ({@link MembershipPlanner#metaGrowth}); its existing voters stay.
     */
    public List<Move> addNode(int id) throws IOException {
        requireUp(id);
        register(id);
        Map<RaftGroupId, GroupConf> confs = currentConfs();
        MembershipPlanner.AddPlan plan = MembershipPlanner.addNode(id, members(confs.values()), upNodes());
        progress.accept("add node " + id + ": " + plan.moves().size() + " PG replicas move to it (target " + plan.target() + " of " + plan.total() + ")");
        List<Move> done = execute(plan.moves(), confs);
        growMeta(id, confs);
        return done;
    }

    /**
     * Adds the meta voters {@link MembershipPlanner#metaGrowth} asks for, one per configuration
     * change (the count passes an even number only on the way).
     */
    private void growMeta(int newNode, Map<RaftGroupId, GroupConf> confs) throws IOException {
        GroupConf before = confs.values().stream().filter(c -> c.name().equals(MembershipPlanner.META)).findFirst()
                .orElseThrow(() -> new IllegalStateException("no meta group among " + confs.keySet()));
        long deadline = System.nanoTime() + MOVE_TIMEOUT.toNanos();
        GroupConf meta = leaderConf(before.id(), MembershipPlanner.META, deadline);
        List<Integer> up = upNodes();
        if (meta.peers().size() >= MembershipPlanner.metaVotersFor(up.size())) {
            return;
        }
        MembershipPlanner.MetaGrowth growth = MembershipPlanner.metaGrowth(newNode, meta.members(), members(currentConfs().values()), up);
        int priority = meta.peers().stream().mapToInt(RaftPeer::getPriority).min().orElse(0);
        long t0 = System.nanoTime();
        // One voter at a time: adding a majority of new members in one change is refused by
        // Ratis (RATIS-1912); 1 -> 2 is its allowed special case, and 2 -> 3 adds a minority.
        GroupConf at = meta;
        for (int n : growth.joining()) {
            addEmptyDivision(n, meta.id(), MembershipPlanner.META);
            List<RaftPeer> next = new ArrayList<>(at.peers());
            next.add(peer(n, priority));
            setConfiguration(at, next, deadline);
            at = new GroupConf(meta.id(), MembershipPlanner.META, next);
        }
        progress.accept(String.format("meta: voters %s -> %s (%d ms)", meta.nodeIds(), at.nodeIds().stream().sorted().toList(),
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)));
    }

    /**
     * Moves every replica node {@code id} holds (meta included) to other up nodes
     * ({@link MembershipPlanner#removeNode}); then node {@code id} holds nothing and can be
     * stopped. Refused before anything moves when some group has no other node to go to.
     */
    public List<Move> removeNode(int id) throws IOException {
        Map<RaftGroupId, GroupConf> confs = currentConfs();
        List<MembershipPlanner.Move> plan = MembershipPlanner.removeNode(id, members(confs.values()), upNodes());
        progress.accept("remove node " + id + ": " + plan.size() + " replicas move off it");
        List<Move> done = execute(plan, confs);
        unregister(id);
        return done;
    }

    /**
     * Puts node {@code replacement} (running, started with {@code join}) in place of node
     * {@code dead} in every group that has {@code dead} (meta included), keeping the peer's
     * priority, so {@code replacement} also takes over the preferred leaderships. {@code dead}
     * may be down; its data, if it ever comes back, must be wiped before reuse.
     */
    public List<Move> replaceNode(int dead, int replacement) throws IOException {
        if (dead == replacement) {
            throw new IllegalArgumentException("replace node " + dead + " by itself (expected: two different nodes)");
        }
        requireUp(replacement);
        Map<RaftGroupId, GroupConf> confs = currentConfs();
        List<MembershipPlanner.Move> plan = MembershipPlanner.replaceNode(dead, replacement, members(confs.values()));
        progress.accept("replace node " + dead + " by node " + replacement + ": " + plan.size() + " groups");
        register(replacement);
        List<Move> done = execute(plan, confs);
        unregister(dead);
        return done;
    }

    private static List<MembershipPlanner.Group> members(Collection<GroupConf> confs) {
        return confs.stream().map(GroupConf::members).toList();
    }

    // ---- the node registry (meta group) ----

    /**
     * Records node {@code id}'s address in the meta group before any group moves to it, so a
     * client whose cluster file predates the node still finds the groups it will hold.
     */
    private void register(int id) {
        ClusterConfig.NodeAddress a = config.node(id);
        try (ClusterClient c = ClusterClient.open(config)) {
            c.registerNode(id, a.host(), a.port());
        }
        progress.accept("node " + id + " registered at " + a.host() + ":" + a.port());
    }

    private void unregister(int id) {
        try (ClusterClient c = ClusterClient.open(config)) {
            c.unregisterNode(id);
        }
    }

    // ---- moves ----

    private List<Move> execute(List<MembershipPlanner.Move> plan, Map<RaftGroupId, GroupConf> confs) throws IOException {
        Map<String, RaftGroupId> byName = new HashMap<>();
        confs.values().forEach(c -> byName.put(c.name(), c.id()));
        List<Move> done = new ArrayList<>();
        for (MembershipPlanner.Move m : plan) {
            long t0 = System.nanoTime();
            RaftGroupId id = byName.get(m.group());
            reconfigure(id, m.group(), m.from(), m.to());
            boolean caughtUp = awaitCaughtUp(id, m.group(), m.to());
            removeDivision(m.from(), id, m.group());
            Duration took = Duration.ofNanos(System.nanoTime() - t0);
            progress.accept(String.format("[%d/%d] %s: %s -> %s (%d ms)", done.size() + 1, plan.size(), m.group(), m.before(), m.after(),
                    took.toMillis()));
            done.add(new Move(m, caughtUp, took));
        }
        return done;
    }

    /** Steps 1 and 2 of a move: {@code to} takes {@code from}'s place in the configuration; idempotent. */
    private void reconfigure(RaftGroupId id, String name, int from, int to) throws IOException {
        long deadline = System.nanoTime() + MOVE_TIMEOUT.toNanos();
        GroupConf cur = leaderConf(id, name, deadline);
        if (!cur.has(from) && cur.has(to)) {
            return; // done by an earlier run
        }
        if (cur.has(from) && cur.has(to) && cur.peers().size() == 2 && !name.equals(MembershipPlanner.META) && config.replicaCount() == 1) {
            // An earlier run of a sole replica's move stopped between its two steps: finish it.
            RaftPeer kept = cur.peers().stream().filter(p -> RaftSetup.nodeIdOf(p.getId()).orElse(-1) == to).findFirst().orElseThrow();
            setConfiguration(cur, List.of(kept), deadline);
            return;
        }
        if (!cur.has(from) || cur.has(to)) {
            throw new IllegalStateException(name + " is on " + cur.nodeIds() + " (expected: with node " + from + ", without node " + to + ")");
        }
        addEmptyDivision(to, id, name);
        List<RaftPeer> next;
        if (cur.peers().size() == 1) {
            // [A] -> [B] replaces the whole majority, which Ratis refuses (RATIS-1912: the new
            // member could campaign without the log); [A] -> [A, B] -> [B] is two safe steps.
            RaftPeer only = cur.peers().get(0);
            next = List.of(peer(to, only.getPriority()));
            List<RaftPeer> both = List.of(only, next.get(0));
            setConfiguration(cur, both, deadline);
            cur = new GroupConf(cur.id(), cur.name(), both);
            // B leads before A leaves: A would otherwise step down with the last change and
            // writes would wait for B's election (seen: a write timing out after the move).
            transferLeadership(cur, to, deadline);
        } else {
            if (leaderOf(id).filter(n -> n == from).isPresent()) {
                cur = moveLeadershipOff(cur, from, deadline);
            }
            next = new ArrayList<>();
            for (RaftPeer p : cur.peers()) {
                boolean moved = RaftSetup.nodeIdOf(p.getId()).orElse(-1) == from;
                next.add(moved ? peer(to, p.getPriority()) : p);
            }
        }
        setConfiguration(cur, next, deadline);
    }

    /**
     * Leadership leaves {@code from} before {@code from} leaves the group. Ratis (3.3.0) closes a
     * leader that the committed configuration leaves out from the leader's own event thread, and
     * that close waits for the leader state to stop, that is for itself: the division hung until
     * the removal of its copy timed out a minute later (MembershipTest, once the admin waited for
     * catch-ups and so no longer raced that close by removing the copy at once). Ratis moves
     * leadership only to the peer of highest priority, so the successor first takes
     * {@code from}'s priority (a configuration change of priorities only), then the lead.
     * Returns the group's configuration after that change.
     */
    private GroupConf moveLeadershipOff(GroupConf cur, int from, long deadline) throws IOException {
        int successor = MembershipPlanner.successor(cur.members(), from, upNodes())
                .orElseThrow(() -> new IOException(cur.name() + ": no other replica of " + cur.nodeIds() + " is up to take the lead from node " + from));
        int top = cur.peers().stream().mapToInt(RaftPeer::getPriority).max().orElse(0);
        List<RaftPeer> reprioritized = new ArrayList<>();
        for (RaftPeer p : cur.peers()) {
            int node = RaftSetup.nodeIdOf(p.getId()).orElse(-1);
            reprioritized.add(node == successor ? peer(node, Math.max(top, 1)) : node == from ? peer(node, 0) : p);
        }
        progress.accept(cur.name() + ": leadership moves from node " + from + " to node " + successor + " first");
        setConfiguration(cur, reprioritized, deadline);
        GroupConf now = new GroupConf(cur.id(), cur.name(), reprioritized);
        transferLeadership(now, successor, deadline);
        return now;
    }

    /**
     * Step 2b: waits until node {@code to}'s new replica has committed what the leader had
     * committed when the wait began, so a move is reported done when the group has its copies
     * again, not when the configuration names them (Ratis lets a new peer into the configuration
     * once it is within 1,000 entries). Prints progress every {@link #CATCH_UP_REPORT_EVERY}. A
     * snapshot install shows no progress until it ends, so there is no stall verdict: after
     * {@link #MOVE_TIMEOUT} it says where the replica stands and goes on with the next move.
     * Returns whether it caught up.
     */
    private boolean awaitCaughtUp(RaftGroupId id, String name, int to) throws IOException {
        long start = System.nanoTime();
        long lastReport = start;
        long target = -1;
        long at = -1;
        int appenderMissingPolls = 0;
        long lastStepDown = start - STEP_DOWN_INTERVAL.toNanos();
        String seen;
        while (true) {
            Optional<NodeProbe.GroupView> leader = GroupDirectory.reported(id, NodeProbe.probeAll(config, probeTimeout).values())
                    .filter(NodeProbe.GroupView::isLeader);
            // What the leader knows of the group, for the progress lines: a node it has not heard
            // from has no commit index there.
            seen = leader.map(l -> "leader node " + l.leaderId().orElse(-1) + " term " + l.term() + ", conf "
                    + l.peers().stream().map(p -> RaftSetup.nodeIdOf(p.getId()).orElse(-1)).sorted().toList()
                    + ", commit indexes of nodes " + new java.util.TreeSet<>(l.commitIndex().keySet())).orElse("no leader reported");
            appenderMissingPolls = leader.isPresent() && hasNoAppenderFor(leader.get(), to) ? appenderMissingPolls + 1 : 0;
            if (appenderMissingPolls >= APPENDER_MISSING_POLLS && System.nanoTime() - lastStepDown > STEP_DOWN_INTERVAL.toNanos()) {
                stepDownForLostAppender(id, name, to, leader.get());
                lastStepDown = System.nanoTime();
                appenderMissingPolls = 0;
            }
            if (leader.isPresent() && !leader.get().commitIndex().isEmpty()) {
                if (target < 0) {
                    target = java.util.Collections.max(leader.get().commitIndex().values());
                }
                at = leader.get().commitIndex().getOrDefault(to, -1L);
                if (at >= target) {
                    return true;
                }
            }
            long now = System.nanoTime();
            if (now - start > MOVE_TIMEOUT.toNanos()) {
                progress.accept(name + ": node " + to + " has not caught up within " + MOVE_TIMEOUT + " (at entry " + at + " of " + target
                        + "; " + seen + "); going on; watch 'basalt cluster status'");
                return false;
            }
            if (now - lastReport > CATCH_UP_REPORT_EVERY.toNanos()) {
                lastReport = now;
                progress.accept(name + ": node " + to + " catching up: entry " + at + " of " + target + " (" + seen + ")");
            }
            sleep(CATCH_UP_POLL_INTERVAL);
        }
    }

    /**
     * True when {@code leader}'s configuration has node {@code to} but the leader runs no log
     * appender for it (its follower list, one entry per appender, lacks the node): nothing will
     * ever be sent to that replica by this leader.
     */
    static boolean hasNoAppenderFor(NodeProbe.GroupView leader, int to) {
        return leader.isLeader() && leader.peerNodeIds().contains(to) && leader.leaderId().orElse(-1) != to
                && !leader.rpcElapsedMs().containsKey(to);
    }

    /**
     * Works around Ratis 3.3.0 dropping the log appender of a peer it is adding: a leader restarts an
     * appender that failed ({@code LogAppenderDaemon} → {@code LeaderStateImpl.restart}) only for a
     * peer of its current configuration, and a staging peer is not in it yet. So when the appender to
     * the new replica fails during its catch-up (e.g. {@code RaftLogIOException: Log entry not found}
     * when a snapshot purges the log entries it is reading), no appender replaces it; the staging
     * check then finds no lagging peer and commits the new configuration, and the new replica never
     * hears from this leader again (docs/decisions/cluster-membership.md, "A stuck new replica"). A new leader
     * starts an appender for every peer of its configuration, so the leader steps down.
     */
    private void stepDownForLostAppender(RaftGroupId id, String name, int to, NodeProbe.GroupView leader) {
        int leaderNode = leader.leaderId().orElseThrow();
        progress.accept(name + ": leader node " + leaderNode + " sends nothing to node " + to
                + " (Ratis dropped its log appender); the leader steps down so that the next one starts it");
        try (RaftClient c = adminClient(RaftGroup.valueOf(id, leader.peers()))) {
            failure(c.admin().transferLeadership(null, RaftSetup.peerId(leaderNode), SET_CONF_ATTEMPT_TIMEOUT.toMillis()))
                    .ifPresent(why -> progress.accept(name + ": leader node " + leaderNode + " did not step down (" + why + "); asking again later"));
        } catch (IOException e) {
            progress.accept(name + ": leader node " + leaderNode + " did not step down (" + NodeProbe.reason(e) + "); asking again later");
        }
    }

    /**
     * Step 1: an empty division on {@code nodeId}, waiting to be caught up by the leader. A
     * removal of an older copy of the group on that node may still be deleting its directory
     * (Ratis then refuses to format a new one): retried until {@link #DIVISION_CHANGE_TIMEOUT}.
     */
    private void addEmptyDivision(int nodeId, RaftGroupId id, String name) throws IOException {
        long deadline = System.nanoTime() + DIVISION_CHANGE_TIMEOUT.toNanos();
        try (RaftClient c = NodeProbe.clientFor(config, nodeId, config.node(nodeId).address(), DIVISION_CHANGE_TIMEOUT)) {
            var api = c.getGroupManagementApi(RaftSetup.peerId(nodeId));
            retry("adding an empty " + name + " on node " + nodeId + " failed", deadline, Duration.ofSeconds(1),
                    () -> api.list().getGroupIds().contains(id),
                    () -> failure(api.add(RaftGroup.valueOf(id), true)),
                    why -> progress.accept(name + ": node " + nodeId + " cannot take a new copy yet (" + why + "); retrying"));
        }
    }

    /** Step 2: the new configuration, retried until the leader reports it or the deadline passes. */
    private void setConfiguration(GroupConf cur, List<RaftPeer> next, long deadline) throws IOException {
        List<RaftPeer> all = new ArrayList<>(cur.peers());
        next.stream().filter(p -> cur.peers().stream().noneMatch(q -> q.getId().equals(p.getId()))).forEach(all::add);
        Map<Integer, Integer> wanted = new GroupConf(cur.id(), cur.name(), next).priorities();
        try (RaftClient c = adminClient(RaftGroup.valueOf(cur.id(), all))) {
            // Also done when the leader holds the new configuration though no reply said so (a
            // retry found it in progress, a leader changed, an attempt timed out during a catch-up).
            retry(cur.name() + ": configuration " + wanted.keySet() + " not reached within " + MOVE_TIMEOUT, deadline, POLL_INTERVAL,
                    () -> tryLeaderConf(cur.id(), cur.name()).filter(now -> now.priorities().equals(wanted)).isPresent(),
                    () -> failure(c.admin().setConfiguration(SetConfigurationRequest.Arguments.newBuilder()
                            .setServersInNewConf(next).setMode(SetConfigurationRequest.Mode.SET_UNCONDITIONALLY).build())),
                    why -> { });
        }
    }

    /** A client for admin requests to {@code group}: one attempt may take {@link #SET_CONF_ATTEMPT_TIMEOUT}, a few retries. */
    private RaftClient adminClient(RaftGroup group) {
        RaftProperties props = new RaftProperties();
        RaftClientConfigKeys.Rpc.setRequestTimeout(props, TimeDuration.valueOf(SET_CONF_ATTEMPT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS));
        return RaftClient.newBuilder().setProperties(props).setParameters(RaftSetup.parameters(config)).setRaftGroup(group)
                .setRetryPolicy(RetryPolicies.retryUpToMaximumCountWithFixedSleep(10,
                        TimeDuration.valueOf(POLL_INTERVAL.toMillis(), TimeUnit.MILLISECONDS)))
                .build();
    }

    /** Makes node {@code to} the leader of {@code g} (one of its peers), retried until the deadline. */
    private void transferLeadership(GroupConf g, int to, long deadline) throws IOException {
        try (RaftClient c = adminClient(RaftGroup.valueOf(g.id(), g.peers()))) {
            retry(g.name() + ": leadership not moved to node " + to + " within " + MOVE_TIMEOUT, deadline, POLL_INTERVAL,
                    () -> leaderOf(g.id()).filter(n -> n == to).isPresent(),
                    () -> failure(c.admin().transferLeadership(RaftSetup.peerId(to), SET_CONF_ATTEMPT_TIMEOUT.toMillis())),
                    why -> { });
        }
    }

    /** What an admin request does, or tells about a state it brings about; may fail with an {@link IOException}. */
    @FunctionalInterface
    private interface AdminCall<T> {
        T call() throws IOException;
    }

    /** Why {@code r} failed, or empty when it succeeded. */
    private static Optional<String> failure(RaftClientReply r) {
        return r.isSuccess() ? Optional.empty() : Optional.of(String.valueOf(r.getException()));
    }

    /**
     * Sends {@code request} until it succeeds or {@code reached} (asked before every attempt)
     * finds its effect in place, {@code interval} apart; {@code onRetry} hears why an attempt
     * failed. Past {@code deadline}: an {@link IOException} of {@code failure} and the last reason.
     */
    private static void retry(String failure, long deadline, Duration interval, AdminCall<Boolean> reached,
                              AdminCall<Optional<String>> request, Consumer<String> onRetry) throws IOException {
        while (!reached.call()) {
            String why;
            try {
                Optional<String> refused = request.call();
                if (refused.isEmpty()) {
                    return;
                }
                why = refused.get();
            } catch (IOException e) {
                why = NodeProbe.reason(e);
            }
            if (System.nanoTime() > deadline) {
                throw new IOException(failure + ": " + why);
            }
            onRetry.accept(why);
            sleep(interval);
        }
    }

    /** The node that reports leading {@code id}, if one does. */
    private Optional<Integer> leaderOf(RaftGroupId id) {
        for (NodeProbe.NodeView v : NodeProbe.probeAll(config, probeTimeout).values()) {
            for (NodeProbe.GroupView gv : v.groups()) {
                if (gv.groupId().equals(id) && gv.isLeader()) {
                    return Optional.of(v.nodeId());
                }
            }
        }
        return Optional.empty();
    }

    /** Step 3: the old replica's division and its directory go, if its node answers. */
    private void removeDivision(int nodeId, RaftGroupId id, String name) {
        if (!config.hasNode(nodeId)) {
            progress.accept(name + ": node " + nodeId + " is not in the address book; its copy (if any) stays on its disk");
            return;
        }
        try (RaftClient c = NodeProbe.clientFor(config, nodeId, config.node(nodeId).address(), DIVISION_CHANGE_TIMEOUT)) {
            var api = c.getGroupManagementApi(RaftSetup.peerId(nodeId));
            if (api.list().getGroupIds().contains(id)) {
                RaftClientReply r = api.remove(id, true, false);
                if (!r.isSuccess()) {
                    progress.accept(name + ": removing the old copy on node " + nodeId + " failed: " + r.getException());
                }
            }
        } catch (IOException | RuntimeException e) {
            progress.accept(name + ": node " + nodeId + " unreachable (" + NodeProbe.reason(e) + "); it deletes its old copy itself when it starts again");
        }
    }

    // ---- reading the current state ----

    private RaftPeer peer(int nodeId, int priority) {
        return RaftPeer.newBuilder().setId(RaftSetup.peerId(nodeId)).setAddress(config.node(nodeId).address()).setPriority(priority).build();
    }

    /** Every group of the cluster with its leader's configuration (waits for leaders). */
    Map<RaftGroupId, GroupConf> currentConfs() throws IOException {
        long deadline = System.nanoTime() + MOVE_TIMEOUT.toNanos();
        ClusterStatus.GroupNames names = new ClusterStatus.GroupNames(config);
        Map<RaftGroupId, GroupConf> out = new LinkedHashMap<>();
        for (RaftGroupId id : names.allGroups(List.of())) {
            out.put(id, leaderConf(id, names.name(id), deadline));
        }
        return out;
    }

    private GroupConf leaderConf(RaftGroupId id, String name, long deadline) throws IOException {
        while (true) {
            Optional<GroupConf> c = tryLeaderConf(id, name);
            if (c.isPresent()) {
                return c.get();
            }
            if (System.nanoTime() > deadline) {
                throw new IOException(name + ": no leader reachable within " + MOVE_TIMEOUT);
            }
            sleep(POLL_INTERVAL);
        }
    }

    /** The configuration of {@code id} as a reachable leader reports it, when its conf is stable. */
    private Optional<GroupConf> tryLeaderConf(RaftGroupId id, String name) {
        Collection<NodeProbe.NodeView> views = NodeProbe.probeAll(config, probeTimeout).values();
        return GroupDirectory.reported(id, views).filter(NodeProbe.GroupView::isLeader)
                .map(g -> new GroupConf(id, name, g.peers()));
    }

    private List<Integer> upNodes() {
        return NodeProbe.probeAll(config, probeTimeout).values().stream().filter(NodeProbe.NodeView::up)
                .map(NodeProbe.NodeView::nodeId).filter(config::hasNode).toList();
    }

    private void requireUp(int id) {
        NodeProbe.NodeView v = NodeProbe.probe(config, id, config.node(id).address(), probeTimeout);
        if (!v.up()) {
            throw new IllegalArgumentException("node " + id + " at " + config.node(id).address() + " is not reachable: " + v.error()
                    + " (expected: running, started with --join)");
        }
    }

    private static void sleep(Duration d) throws IOException {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }
}
