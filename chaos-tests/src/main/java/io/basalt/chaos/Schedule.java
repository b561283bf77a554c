package io.basalt.chaos;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.Set;

/**
 * The fault schedule of a run, drawn up front from one seed: which fault, on which nodes, after
 * how much quiet time and for how long. The same seed, nemeses, run time and node count give the
 * same schedule, so a run that found something can be replayed fault for fault (the cluster's own
 * timing still varies). The quiet time ({@code gapMs}) counts from the moment the previous
 * fault's victims answer again ({@link Nemesis}), so each fault strikes a recovered cluster and
 * recovery is measured for each alone; {@code atMs} is where the fault falls if every recovery
 * were instant. Kinds come in shuffled rounds, so every enabled kind strikes in a run long enough
 * for one round.
 */
public record Schedule(long seed, List<Fault> faults) {
    /**
     * A family of faults, as named on the command line ({@code --nemesis kill,pause,partition,disk}).
     * {@code flap} (a partition cut and healed many times) is a family of its own rather than a
     * fifth {@code partition} kind so that the plans of existing seeds with {@code partition} stay
     * what they were; {@code bitrot} rots grains on one replica; {@code replace} puts a new node in
     * place of a wiped one.
     */
    public enum Nemesis {
        kill, pause, partition, disk, bitrot, flap, replace;

        /** Whether this family cuts links between nodes (needs a {@link Partitioner}). */
        public boolean cuts() {
            return this == partition || this == flap;
        }

        public static Set<Nemesis> parse(String list) {
            Set<Nemesis> out = EnumSet.noneOf(Nemesis.class);
            for (String name : list.split(",")) {
                try {
                    out.add(valueOf(name.trim().toLowerCase(Locale.ROOT)));
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("--nemesis: " + name + " (expected: a comma-separated list of kill, pause, partition, disk, bitrot, flap, replace)", e);
                }
            }
            return out;
        }
    }

    /** What a fault does to its victims. */
    public enum Kind {
        /** SIGKILL of one node, restarted after the hold. */
        KILL_ONE(Nemesis.kill),
        /** SIGKILL of a majority at once (no quorum anywhere), restarted after the hold. */
        KILL_MAJORITY(Nemesis.kill),
        /** SIGKILL of every node at once, restarted after the hold. */
        KILL_ALL(Nemesis.kill),
        /** SIGSTOP of one node for longer than an election timeout and a lease, then SIGCONT. */
        PAUSE_ONE(Nemesis.pause),
        /** SIGSTOP of a majority (no quorum) for longer than an election timeout, then SIGCONT. */
        PAUSE_MAJORITY(Nemesis.pause),
        /**
         * The node leading the most groups when the fault strikes (the planned victim when none
         * leads) cut off from every other node, both ways; clients still reach it.
         */
        PARTITION_LEADER(Nemesis.partition, 2),
        /** The nodes split into a minority (the victims) and a majority that cannot reach each other. */
        PARTITION_MAJORITY(Nemesis.partition, 3),
        /**
         * The victim is a bridge: the other nodes, in two halves by id, cannot reach the other
         * half, while the bridge reaches and is reached by both.
         */
        PARTITION_BRIDGE(Nemesis.partition, 3),
        /** Asymmetric: what the victim sends to the other nodes is dropped; it still hears them and answers. */
        PARTITION_ONE_WAY(Nemesis.partition, 2),
        /** Power cut of one node: SIGKILL, every write its disk holds unsynced dropped, restarted after the hold. */
        POWER_CUT_ONE(Nemesis.disk),
        /** Power cut of every node at once: no replica keeps what it had not synced. */
        POWER_CUT_ALL(Nemesis.disk),
        /** fsync and fdatasync on one node's disk fail with EIO for the hold; then it is power-cut and restarted. */
        FSYNC_FAIL_ONE(Nemesis.disk),
        /** One node's disk is full (ENOSPC) for the hold; then it is power-cut and restarted. */
        DISK_FULL_ONE(Nemesis.disk),
        /** Every read on one node's disk fails with EIO for the hold; then it is power-cut and restarted. */
        READ_EIO_ONE(Nemesis.disk),
        /** A flipped bit in stored grains of one node's replicas, while it runs; then scrubbed until repaired ({@link BitRot}). */
        BITROT_ONE(Nemesis.bitrot),
        /**
         * One node cut off from every other node, both ways, and healed, many times over the hold:
         * cuts of {@link #FLAP_CUT_MIN_MS}..+spread around the election timeout, heals shorter.
         */
        PARTITION_FLAP(Nemesis.flap, 2),
        /**
         * One node SIGKILLed for good and its data directory wiped; after the hold a new, empty
         * node joins and takes its place in every group ({@code basalt cluster replace-node}).
         * Carried out, its victims are the replaced node and its replacement.
         */
        REPLACE_ONE(Nemesis.replace);

        public final Nemesis nemesis;
        /** The fewest nodes the kind makes sense with (a partition needs two sides). */
        final int nodesMin;

        Kind(Nemesis nemesis) {
            this(nemesis, 1);
        }

        Kind(Nemesis nemesis, int nodesMin) {
            this.nemesis = nemesis;
            this.nodesMin = nodesMin;
        }
    }

    /**
     * One planned fault: {@code victims} are node ids; it starts {@code gapMs} after the previous
     * fault's victims answered again (the first: after the run's start) and lasts {@code holdMs};
     * {@code atMs}: its start if every recovery were instant.
     */
    public record Fault(int index, Kind kind, List<Integer> victims, long atMs, long gapMs, long holdMs) {
        public Fault {
            victims = List.copyOf(victims);
            if (victims.isEmpty() || atMs < 0 || gapMs < 0 || holdMs <= 0) {
                throw new IllegalArgumentException("fault " + index + ": " + kind + " victims=" + victims + " at=" + atMs + " ms gap=" + gapMs
                        + " ms hold=" + holdMs + " ms (expected: victims, at >= 0, gap >= 0, hold > 0)");
            }
        }

        /** This fault with other victims: a {@link Kind#PARTITION_LEADER} strikes the leader it finds when it starts. */
        public Fault withVictims(List<Integer> actual) {
            return new Fault(index, kind, actual, atMs, gapMs, holdMs);
        }

        public String describe() {
            return kind.name().toLowerCase(Locale.ROOT).replace('_', '-') + " " + victims;
        }
    }

    /**
     * The cuts of a flapping partition {@code f}, drawn from the run's {@code seed} and the
     * fault's index: alternating cut and heal durations in ms (cut, heal, cut, ...), together
     * {@code f.holdMs()}, the last one a cut.
     */
    public static List<Long> flaps(long seed, Fault f) {
        Random random = new Random(seed * 1_000_003L + f.index());
        List<Long> out = new ArrayList<>();
        long left = f.holdMs();
        while (left > 0) {
            long ms = out.size() % 2 == 0 ? FLAP_CUT_MIN_MS + random.nextLong(FLAP_CUT_SPREAD_MS) : FLAP_HEAL_MIN_MS + random.nextLong(FLAP_HEAL_SPREAD_MS);
            out.add(Math.min(ms, left));
            left -= ms;
        }
        if (out.size() % 2 == 0) { // ends on a heal: that heal is the fault's end
            out.remove(out.size() - 1);
        }
        return out;
    }

    /** Quiet time before the first fault: the workloads' first operations succeed on a healthy cluster. */
    static final Duration WARM_UP = Duration.ofSeconds(3);
    /** Quiet time between one fault's end and the next one's start: min, and min + spread. */
    static final Duration GAP_MIN = Duration.ofSeconds(2);
    static final Duration GAP_SPREAD = Duration.ofSeconds(2);
    /** How long a killed node stays down: min, and min + spread. */
    static final Duration DOWN_MIN = Duration.ofSeconds(1);
    static final Duration DOWN_SPREAD = Duration.ofSeconds(2);
    /**
     * How long a pause lasts: at least 3 s, past Ratis's longest election timeout (2 x the
     * cluster's 1 s minimum) and its leader lease (0.9 x the minimum): docs/architecture.md.
     */
    static final Duration PAUSE_MIN = Duration.ofSeconds(3);
    static final Duration PAUSE_SPREAD = Duration.ofSeconds(3);
    /**
     * How long a partition lasts: long enough for the majority to elect leaders and serve. Longer
     * than a pause: on a loaded two-core machine the majority side was seen taking 4.5 s to elect
     * (its candidates' pre-votes and votes to the cut-off node time out first).
     */
    static final Duration PARTITION_MIN = Duration.ofSeconds(6);
    static final Duration PARTITION_SPREAD = Duration.ofSeconds(4);
    /** How long a flapping partition flaps: several cuts and heals. */
    static final Duration FLAP_MIN = Duration.ofSeconds(8);
    static final Duration FLAP_SPREAD = Duration.ofSeconds(4);
    /** One cut of a flapping partition: 0.5..2.5 s, around Ratis's election timeout (1..2 s), so some cuts elect and some do not. */
    static final long FLAP_CUT_MIN_MS = 500;
    static final long FLAP_CUT_SPREAD_MS = 2000;
    /** One heal between two cuts: 0.2..1.2 s, often too short for the cut-off node to catch up. */
    static final long FLAP_HEAL_MIN_MS = 200;
    static final long FLAP_HEAL_SPREAD_MS = 1000;
    /** How long a disk fault (fsync failing, full, reads failing) holds: long enough for the node to hit it on writes and reads. */
    static final Duration DISK_FAULT_MIN = Duration.ofSeconds(3);
    static final Duration DISK_FAULT_SPREAD = Duration.ofSeconds(3);

    public Schedule {
        faults = List.copyOf(faults);
    }

    /** The schedule for {@code seed}: faults of the {@code nemeses} families on nodes 1..{@code nodes}, all starting within {@code time}. */
    public static Schedule plan(long seed, Set<Nemesis> nemeses, Duration time, int nodes) {
        if (nodes < 1) {
            throw new IllegalArgumentException("nodes: " + nodes + " (expected: >= 1)");
        }
        List<Kind> kinds = new ArrayList<>(EnumSet.allOf(Kind.class).stream().filter(k -> nemeses.contains(k.nemesis) && nodes >= k.nodesMin).toList());
        Random random = new Random(seed);
        List<Fault> faults = new ArrayList<>();
        long gapMs = WARM_UP.toMillis();
        long atMs = gapMs;
        List<Kind> round = new ArrayList<>();
        while (!kinds.isEmpty() && atMs < time.toMillis()) {
            if (round.isEmpty()) {
                round.addAll(kinds);
                Collections.shuffle(round, random);
            }
            Kind kind = round.remove(round.size() - 1);
            long holdMs = switch (kind) {
                case KILL_ONE, KILL_MAJORITY, KILL_ALL, POWER_CUT_ONE, POWER_CUT_ALL, REPLACE_ONE -> DOWN_MIN.toMillis() + random.nextLong(DOWN_SPREAD.toMillis());
                case PAUSE_ONE, PAUSE_MAJORITY -> PAUSE_MIN.toMillis() + random.nextLong(PAUSE_SPREAD.toMillis());
                case PARTITION_LEADER, PARTITION_MAJORITY, PARTITION_BRIDGE, PARTITION_ONE_WAY ->
                        PARTITION_MIN.toMillis() + random.nextLong(PARTITION_SPREAD.toMillis());
                case FSYNC_FAIL_ONE, DISK_FULL_ONE, READ_EIO_ONE, BITROT_ONE -> DISK_FAULT_MIN.toMillis() + random.nextLong(DISK_FAULT_SPREAD.toMillis());
                case PARTITION_FLAP -> FLAP_MIN.toMillis() + random.nextLong(FLAP_SPREAD.toMillis());
            };
            faults.add(new Fault(faults.size() + 1, kind, victims(kind, nodes, random), atMs, gapMs, holdMs));
            gapMs = GAP_MIN.toMillis() + random.nextLong(GAP_SPREAD.toMillis());
            atMs += holdMs + gapMs;
        }
        return new Schedule(seed, faults);
    }

    private static List<Integer> victims(Kind kind, int nodes, Random random) {
        List<Integer> all = new ArrayList<>();
        for (int id = 1; id <= nodes; id++) {
            all.add(id);
        }
        Collections.shuffle(all, random);
        int count = switch (kind) {
            case KILL_ONE, PAUSE_ONE, PARTITION_LEADER, PARTITION_BRIDGE, PARTITION_ONE_WAY, POWER_CUT_ONE, FSYNC_FAIL_ONE, DISK_FULL_ONE,
                 READ_EIO_ONE, BITROT_ONE, PARTITION_FLAP, REPLACE_ONE -> 1;
            case KILL_MAJORITY, PAUSE_MAJORITY -> nodes / 2 + 1;
            case PARTITION_MAJORITY -> nodes - (nodes / 2 + 1); // the minority
            case KILL_ALL, POWER_CUT_ALL -> nodes;
        };
        List<Integer> chosen = new ArrayList<>(all.subList(0, count));
        Collections.sort(chosen);
        return chosen;
    }
}
