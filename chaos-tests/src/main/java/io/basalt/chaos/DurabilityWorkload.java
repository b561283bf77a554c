package io.basalt.chaos;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import io.basalt.cluster.client.ClusterClient;
import io.basalt.cluster.client.ClusterVdisk;

/**
 * The durability workload: workers write unique values to {@link #KEYS} blocks of one vdisk
 * (plain writes, one grain each, spread over the stripes), recording which were acknowledged.
 * At the end every node is SIGKILLed at once while writes are in flight, restarted, and every
 * block read back: each acknowledged write must be present or superseded
 * ({@link DurabilityCheck}).
 *
 * <p>The test that proves the check can fail runs it on clients whose write path acknowledges a
 * write before the cluster committed it ({@link ChaosRun.Options#ackBeforeCommit}): the final
 * kill must then show lost writes.
 */
final class DurabilityWorkload {
    static final String NAME = "durability";
    static final String VDISK = "chaos-durability";
    static final int KEYS = 64;
    static final int KEY_BYTES = 4096;
    static final int BLOCK_BYTES = 512;
    static final long VDISK_BYTES = 128L << 20;
    /** How long a read after the restart may keep failing. */
    static final Duration FINAL_READ_WAIT = Duration.ofSeconds(120);

    private final History history;
    private final List<DurabilityCheck.Write> writes = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final Workers workers = new Workers();
    private final Map<Integer, Long> finalValues = new TreeMap<>();

    DurabilityWorkload(History history) {
        this.history = history;
    }

    static void setUp(ClusterClient admin) {
        if (admin.vdisk(VDISK).isEmpty()) {
            admin.createVdisk(VDISK, VDISK_BYTES, BLOCK_BYTES, KEY_BYTES);
        }
    }

    /** Key {@code k}: one grain, keys 1 MiB apart, so they fall on every placement group. */
    static long lbaOf(int key) {
        return ((long) key * (1 << 20) + (key % 8) * KEY_BYTES) / BLOCK_BYTES;
    }

    void start(List<ClusterClient> clients, int perClient, int firstProcess, long seed) {
        int process = firstProcess;
        for (ClusterClient c : clients) {
            ClusterVdisk disk = c.open(VDISK);
            for (int w = 0; w < perClient; w++, process++) {
                Random random = new Random(seed * 37 + process);
                workers.start("chaos-" + NAME, process, (p, seq) -> write(disk, p, random.nextInt(KEYS), Workers.uniqueValue(p, seq)));
            }
        }
    }

    private boolean write(ClusterVdisk disk, int process, int key, long value) throws InterruptedException {
        long t0 = history.invoke(NAME, process, "write", key, value);
        try {
            disk.write(lbaOf(key), Workers.encode(value, KEY_BYTES), false).get();
            long t1 = history.complete(History.Type.ok, t0, NAME, process, "write", key, value, null);
            writes.add(new DurabilityCheck.Write(key, value, t0, t1, true));
            return true;
        } catch (ExecutionException | RuntimeException e) { // a failure to submit (client closed, cancelled) ends it as well
            history.complete(History.Type.info, t0, NAME, process, "write", key, value, Workers.why(e));
            writes.add(new DurabilityCheck.Write(key, value, t0, Long.MAX_VALUE, false));
            return false;
        }
    }

    void stop() throws InterruptedException {
        workers.stop();
    }

    /** After every node was killed and restarted: each key read back, retried until it succeeds. */
    void finalReads(ClusterClient client, int process) throws InterruptedException, TimeoutException {
        try (ClusterVdisk disk = Workers.openAfterFaults(client, VDISK, FINAL_READ_WAIT)) {
            for (int key = 0; key < KEYS; key++) {
                long deadline = System.nanoTime() + FINAL_READ_WAIT.toNanos();
                while (true) {
                    long t0 = history.invoke(NAME, process, "read", key, 0);
                    try {
                        ByteBuffer b = disk.read(lbaOf(key), KEY_BYTES / BLOCK_BYTES).get();
                        Long value = Workers.decode(b);
                        // A torn block holds no write's value: the check counts it as a corruption.
                        long found = value == null ? -1 : value;
                        history.complete(History.Type.ok, t0, NAME, process, "read", key, found, value == null ? "torn" : null);
                        finalValues.put(key, found);
                        break;
                    } catch (ExecutionException | RuntimeException e) { // a failure to submit (client closed, cancelled) ends it as well
                        history.complete(History.Type.fail, t0, NAME, process, "read", key, 0, Workers.why(e));
                        if (System.nanoTime() > deadline) {
                            throw new TimeoutException("read of key " + key + " after the restart failed for " + FINAL_READ_WAIT.toSeconds() + " s: " + e);
                        }
                        TimeUnit.MILLISECONDS.sleep(Workers.BACKOFF.toMillis());
                    }
                }
            }
        }
    }

    DurabilityCheck.Result check() {
        // A key written but not read back fails the check loudly (finalReads reads every key or throws).
        return DurabilityCheck.check(new ArrayList<>(writes), finalValues);
    }
}
