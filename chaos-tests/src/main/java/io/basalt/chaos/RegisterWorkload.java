package io.basalt.chaos;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import io.basalt.cluster.client.ClusterClient;
import io.basalt.cluster.client.ClusterVdisk;

/**
 * The registers workload: workers read and write {@link #REGISTERS} registers of one vdisk, each
 * one grain written whole with an atomic write, in a different 1 MiB stripe (so on different
 * placement groups). Every write writes a value no other uses; every operation goes to the
 * history; the check is linearizability per register ({@link RegisterHistory}). A read that is
 * not one value repeated is a torn atomic write, a violation of its own.
 *
 * <p>A write that failed may still land (info); a read that failed changed nothing (fail).
 */
final class RegisterWorkload {
    static final String NAME = "registers";
    static final String VDISK = "chaos-registers";
    static final int REGISTERS = 16;
    static final int REGISTER_BYTES = 4096;
    static final int BLOCK_BYTES = 512;
    static final long VDISK_BYTES = 64L << 20;
    /** How long a final read may keep failing after the cluster was healed. */
    static final Duration FINAL_READ_WAIT = Duration.ofSeconds(120);

    private final History history;
    private final RegisterHistory registers = new RegisterHistory();
    private final List<String> torn = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final Workers workers = new Workers();
    private final List<ClusterVdisk> disks = new ArrayList<>();

    RegisterWorkload(History history) {
        this.history = history;
    }

    /** The vdisk, once. */
    static void setUp(ClusterClient admin) {
        if (admin.vdisk(VDISK).isEmpty()) {
            admin.createVdisk(VDISK, VDISK_BYTES, BLOCK_BYTES, REGISTER_BYTES);
        }
    }

    /** Register {@code i}: one grain in stripe {@code i}, at a different offset in each. */
    static long lbaOf(int register) {
        return ((long) register * (1 << 20) + (register % 4) * REGISTER_BYTES) / BLOCK_BYTES;
    }

    /** Starts {@code perClient} workers on each client; process numbers from {@code firstProcess}; seeded per process. */
    void start(List<ClusterClient> clients, int perClient, int firstProcess, long seed) {
        int process = firstProcess;
        for (ClusterClient c : clients) {
            ClusterVdisk disk = c.open(VDISK);
            disks.add(disk);
            for (int w = 0; w < perClient; w++, process++) {
                Random random = new Random(seed * 31 + process);
                workers.start("chaos-" + NAME, process, (p, seq) -> random.nextBoolean()
                        ? write(disk, p, random.nextInt(REGISTERS), Workers.uniqueValue(p, seq))
                        : read(disk, p, random.nextInt(REGISTERS)));
            }
        }
    }

    private boolean write(ClusterVdisk disk, int process, int register, long value) throws InterruptedException {
        long t0 = history.invoke(NAME, process, "write", register, value);
        try {
            disk.writeAtomic(lbaOf(register), Workers.encode(value, REGISTER_BYTES), false).get();
            long t1 = history.complete(History.Type.ok, t0, NAME, process, "write", register, value, null);
            registers.add(new RegisterHistory.Op(register, true, value, t0, t1, RegisterHistory.Outcome.OK));
            return true;
        } catch (ExecutionException | RuntimeException e) { // a failure to submit (client closed, cancelled) ends it as well
            history.complete(History.Type.info, t0, NAME, process, "write", register, value, Workers.why(e));
            registers.add(new RegisterHistory.Op(register, true, value, t0, Long.MAX_VALUE, RegisterHistory.Outcome.UNKNOWN));
            return false;
        }
    }

    private boolean read(ClusterVdisk disk, int process, int register) throws InterruptedException {
        long t0 = history.invoke(NAME, process, "read", register, 0);
        ByteBuffer b;
        try {
            b = disk.read(lbaOf(register), REGISTER_BYTES / BLOCK_BYTES).get();
        } catch (ExecutionException | RuntimeException e) { // a failure to submit (client closed, cancelled) ends it as well
            history.complete(History.Type.fail, t0, NAME, process, "read", register, 0, Workers.why(e));
            return false;
        }
        recordRead(process, register, t0, b);
        return true;
    }

    private void recordRead(int process, int register, long t0, ByteBuffer b) {
        Long value = Workers.decode(b);
        long t1 = history.complete(History.Type.ok, t0, NAME, process, "read", register, value == null ? -1 : value, value == null ? "torn" : null);
        if (value == null) {
            torn.add("register " + register + " read torn at " + (t0 - history.startNs()) + " ns: " + Long.toHexString(b.getLong(0))
                    + " at byte 0, not one value throughout");
        } else {
            registers.add(new RegisterHistory.Op(register, false, value, t0, t1, RegisterHistory.Outcome.OK));
        }
    }

    /** Stops the workers (each finishes its operation). */
    void stop() throws InterruptedException {
        workers.stop();
    }

    /** After the heal: every register read once more through every client, each read retried until it succeeds. */
    void finalReads(List<ClusterClient> clients, int process) throws InterruptedException, TimeoutException {
        for (ClusterClient c : clients) {
            try (ClusterVdisk disk = Workers.openAfterFaults(c, VDISK, FINAL_READ_WAIT)) {
                for (int register = 0; register < REGISTERS; register++) {
                    long deadline = System.nanoTime() + FINAL_READ_WAIT.toNanos();
                    while (!read(disk, process, register)) {
                        if (System.nanoTime() > deadline) {
                            throw new TimeoutException("final read of register " + register + " failed for " + FINAL_READ_WAIT.toSeconds() + " s");
                        }
                        TimeUnit.MILLISECONDS.sleep(Workers.BACKOFF.toMillis());
                    }
                }
            }
        }
        disks.forEach(ClusterVdisk::close);
    }

    /** Linearizability violations per register, torn reads first. */
    List<String> violations() {
        List<String> out = new ArrayList<>(torn);
        out.addAll(registers.check());
        return out;
    }

    /** The violation with the narrowest witness, described for the report. */
    java.util.Optional<String> smallestViolation() {
        return registers.smallestViolation().map(v -> "register " + v.register() + ", window " + (v.fromNs() - history.startNs()) + ".."
                + (v.toNs() - history.startNs()) + " ns (" + v.windowNs() / 1_000_000 + " ms): " + v.witness() + " — " + v.message());
    }

    /** Operations on the registers checked (reads and writes, torn reads not counted). */
    int checkedOps() {
        return registers.ops().size();
    }
}
