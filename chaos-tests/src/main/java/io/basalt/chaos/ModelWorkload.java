package io.basalt.chaos;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import io.basalt.cluster.ClusterConfig;
import io.basalt.cluster.client.ClusterClient;
import io.basalt.cluster.client.ClusterVdisk;

/**
 * The vdisk model workload: one client, one operation at a time, drives a seeded random sequence
 * on the vdisk {@link #VDISK} and the linked clones it makes of it: writes of 1 to
 * {@link #WRITE_BLOCKS_MAX} blocks at any LBA (a third grain-aligned), unmaps, snapshots, clones of
 * a snapshot, rollbacks to a snapshot, grows by {@link #GROW_BYTES}, snapshot removals (when a
 * vdisk has {@link #SNAPSHOTS_MAX}), and reads of any head or snapshot. Every operation is in the
 * history ({@code detail} says its LBAs, snapshot or size); a read is checked against the
 * {@link VdiskModel} at once. After the heal every block of every head and snapshot is read back
 * and compared ({@link ModelCheck}).
 *
 * <p><b>Outcomes not known.</b> A write or unmap that fails is {@code info} and is modelled as
 * possibly applied, at any time from then on ({@link VdiskModel}). A snapshot, clone, rollback,
 * grow or snapshot removal that fails is {@code info} too, and is called again until it succeeds
 * (each of them finishes a call cut short: the PG steps are idempotent, the namespace marks an
 * unfinished rollback, an existing clone is completed by opening it); the model takes it in
 * only then. No other operation runs in between, so what it captured is what the model holds.
 * One that still fails after {@link #FINISH_WAIT} stops the workload; it is called again after
 * the heal, and if it fails then too that is a violation.
 */
final class ModelWorkload {
    static final String NAME = "model";
    static final String VDISK = "chaos-model";
    static final int BLOCK_BYTES = ModelData.BLOCK_BYTES;
    static final int GRAIN_BYTES = 4096;
    static final int GRAIN_BLOCKS = GRAIN_BYTES / BLOCK_BYTES;
    /** 2 MiB to 4 MiB: three or four 1 MiB stripes, so every placement group of a small cluster holds some. */
    static final long START_BYTES = 2L << 20;
    static final long GROW_BYTES = 512L << 10;
    static final long SIZE_BYTES_MAX = 4L << 20;
    static final int SNAPSHOTS_MAX = 4;
    static final int CLONES_MAX = 2;
    static final int WRITE_BLOCKS_MAX = 64;
    static final int UNMAP_BLOCKS_MAX = 128;
    static final int READ_BLOCKS_MAX = 128;
    /** The final reads' piece: one op's most. */
    static final int FINAL_READ_BLOCKS = (256 << 10) / BLOCK_BYTES;
    /** How long a snapshot, clone, rollback, grow or removal is called again before the workload stops (inside {@link Workers#JOIN_WAIT}). */
    static final Duration FINISH_WAIT = Duration.ofSeconds(60);
    static final Duration FINAL_WAIT = Duration.ofSeconds(120);
    static final int PROCESS = 301;

    /** One call of a namespace operation, against the client given. */
    private interface Attempt {
        void run(ClusterClient client) throws Exception;
    }

    /** A namespace operation that could not be finished yet: called again after the heal. */
    private record Unfinished(String f, String vdisk, String detail, Attempt attempt, Runnable apply, String error) {}

    private final History history;
    private final VdiskModel model = new VdiskModel();
    private final Workers workers = new Workers();
    /** Every vdisk made, in order: its index is its history key. */
    private final List<String> names = new ArrayList<>();
    private final Map<String, ClusterVdisk> heads = new HashMap<>();
    /** Clone name to the {@code vdisk@snap} it was made of: such a snapshot is not removed. */
    private final Map<String, String> cloneSources = new LinkedHashMap<>();
    private final List<ModelCheck.Mismatch> duringRun = new ArrayList<>();
    private final List<String> problems = new ArrayList<>();
    /** The first bytes of blocks read as garbage, and why a volume could not be read back (the violations' evidence). */
    private final List<String> evidence = new ArrayList<>();
    private final Map<String, long[]> finalContent = new LinkedHashMap<>();
    private final Map<String, Long> counts = new LinkedHashMap<>();
    private ClusterClient client;
    private Random random;
    private long nextWriteId = 1;
    private int nextSnap = 1;
    private Unfinished unfinished;
    private String lastReadError = "";

    ModelWorkload(History history) {
        this.history = history;
        names.add(VDISK);
        model.create(VDISK, (int) (START_BYTES / BLOCK_BYTES));
        for (String f : List.of("write", "unmap", "read", "snapshot", "clone", "rollback", "grow", "remove-snapshot", "repeated")) {
            counts.put(f, 0L);
        }
    }

    /** The model workload's vdisk, new: the model starts from zeros. */
    static void setUp(ClusterClient admin) {
        if (admin.vdisk(VDISK).isPresent()) {
            throw new IllegalStateException("vdisk " + VDISK + " exists already (expected: a new run directory; the model starts from zeros)");
        }
        admin.createVdisk(VDISK, START_BYTES, BLOCK_BYTES, GRAIN_BYTES);
    }

    /** Starts the one worker, on a cluster client of its own. */
    void start(ClusterConfig config, long seed) {
        client = ClusterClient.open(config);
        random = new Random(seed * 43 + PROCESS);
        workers.start("chaos-" + NAME, PROCESS, (p, seq) -> step());
    }

    /** Stops the worker after its operation, and closes its client. */
    void stop() throws InterruptedException {
        try {
            workers.stop();
        } finally {
            heads.values().forEach(ClusterVdisk::close);
            heads.clear();
            if (client != null) {
                try {
                    client.close();
                } catch (RuntimeException e) {
                    // Nothing is lost: every operation is recorded already.
                }
                client = null;
            }
        }
    }

    private boolean step() throws InterruptedException {
        if (unfinished != null) {
            TimeUnit.MILLISECONDS.sleep(Workers.BACKOFF.toMillis()); // waits for the heal, which calls it again
            return true;
        }
        List<String> live = model.vdisks();
        String v = live.get(random.nextInt(live.size()));
        int r = random.nextInt(100);
        if (r < 40) {
            return mutate(v, false);
        } else if (r < 50) {
            return mutate(v, true);
        } else if (r < 72) {
            return read();
        } else if (r < 82) {
            return snapshotOrRemove(v);
        } else if (r < 87) {
            return cloneOf(v);
        } else if (r < 94) {
            return rollback(v);
        }
        return grow(v);
    }

    private boolean mutate(String v, boolean unmap) throws InterruptedException {
        ClusterVdisk d = head(v);
        if (d == null) {
            return false;
        }
        int blocks = model.blocks(v);
        int count = Math.min(blocks, 1 + random.nextInt(unmap ? UNMAP_BLOCKS_MAX : WRITE_BLOCKS_MAX));
        long lba = random.nextInt(blocks - count + 1);
        if (random.nextInt(3) == 0) { // grain-aligned whole grains: no partial grain merged on the PG
            count = Math.max(GRAIN_BLOCKS, count / GRAIN_BLOCKS * GRAIN_BLOCKS);
            lba = lba / GRAIN_BLOCKS * GRAIN_BLOCKS;
        }
        long id = unmap ? 0 : nextWriteId++;
        String f = unmap ? "unmap" : "write";
        String detail = v + " lba " + lba + " blocks " + count;
        long t0 = history.invokeDetailed(NAME, PROCESS, f, key(v), id, detail);
        try {
            (unmap ? d.unmap(lba, count) : d.write(lba, ModelData.encode(id, lba, count), false)).get();
            history.completeDetailed(History.Type.ok, t0, NAME, PROCESS, f, key(v), id, detail, null);
            model.write(v, lba, count, id, true);
            counts.merge(f, 1L, Long::sum);
            return true;
        } catch (ExecutionException | RuntimeException e) { // a failure to submit ends it as well: it may still have been sent
            history.completeDetailed(History.Type.info, t0, NAME, PROCESS, f, key(v), id, detail, Workers.why(e));
            model.write(v, lba, count, id, false);
            return false;
        }
    }

    /** A read of a random head or snapshot, checked against the model at once. */
    private boolean read() throws InterruptedException {
        List<String> volumes = model.volumes();
        String volume = volumes.get(random.nextInt(volumes.size()));
        int blocks = model.blocks(volume);
        int count = Math.min(blocks, 1 + random.nextInt(READ_BLOCKS_MAX));
        long lba = random.nextInt(blocks - count + 1);
        Optional<long[]> found = readOnce(volume, lba, count, PROCESS);
        if (found.isEmpty()) {
            return false;
        }
        counts.merge("read", 1L, Long::sum);
        duringRun.addAll(model.observe(volume, lba, found.get()));
        return true;
    }

    /** One read through this workload's client, in the history; empty when it failed. */
    private Optional<long[]> readOnce(String volume, long lba, int count, int process) throws InterruptedException {
        String vdisk = volume.contains("@") ? volume.substring(0, volume.indexOf('@')) : volume;
        String detail = volume + " lba " + lba + " blocks " + count;
        long t0 = history.invokeDetailed(NAME, process, "read", key(vdisk), 0, detail);
        try {
            ByteBuffer data;
            if (volume.contains("@")) {
                try (ClusterVdisk snap = client.openSnapshot(vdisk, volume.substring(volume.indexOf('@') + 1))) {
                    data = snap.read(lba, count).get();
                }
            } else {
                ClusterVdisk d = head(vdisk);
                if (d == null) {
                    throw new IllegalStateException("could not open " + vdisk);
                }
                data = d.read(lba, count).get();
            }
            long[] found = ModelData.decode(data, lba);
            for (int i = 0; i < found.length; i++) {
                if (found[i] == VdiskModel.GARBAGE) {
                    evidence.add(volume + " lba " + (lba + i) + " starts " + ModelData.head(data, i));
                    break;
                }
            }
            history.completeDetailed(History.Type.ok, t0, NAME, process, "read", key(vdisk), 0, detail, null);
            return Optional.of(found);
        } catch (ExecutionException | RuntimeException e) {
            lastReadError = Workers.why(e);
            history.completeDetailed(History.Type.fail, t0, NAME, process, "read", key(vdisk), 0, detail, lastReadError);
            return Optional.empty();
        }
    }

    private boolean snapshotOrRemove(String v) throws InterruptedException {
        List<String> snaps = snapshotsOf(v);
        if (snaps.size() < SNAPSHOTS_MAX) {
            String snap = "s" + nextSnap++;
            return finish("snapshot", v, v + "@" + snap, c -> c.createSnapshot(v, snap), () -> model.snapshot(v, snap));
        }
        // The oldest snapshot no clone was made of goes: removing it must leave the rest alone.
        Optional<String> victim = snaps.stream().filter(s -> !cloneSources.containsValue(v + "@" + s)).findFirst();
        if (victim.isEmpty()) {
            return read();
        }
        String snap = victim.get();
        return finish("remove-snapshot", v, v + "@" + snap, c -> {
            if (c.vdisk(v).orElseThrow().snapshot(snap).isPresent()) { // a call cut short after the namespace step removed it
                c.removeSnapshot(v, snap);
            }
        }, () -> model.removeSnapshot(v, snap));
    }

    private boolean cloneOf(String v) throws InterruptedException {
        List<String> snaps = snapshotsOf(v);
        if (snaps.isEmpty() || cloneSources.size() >= CLONES_MAX) {
            return read();
        }
        String snap = snaps.get(random.nextInt(snaps.size()));
        String child = VDISK + "-c" + (cloneSources.size() + 1);
        return finish("clone", v, v + "@" + snap + " to " + child, c -> {
            if (c.vdisk(child).isPresent()) {
                c.open(child).close(); // recorded by a call cut short: opening finishes its creation on every PG
            } else {
                c.cloneVdisk(v, snap, child);
            }
        }, () -> {
            model.cloneOf(v, snap, child);
            cloneSources.put(child, v + "@" + snap);
            names.add(child);
        });
    }

    private boolean rollback(String v) throws InterruptedException {
        List<String> snaps = snapshotsOf(v);
        if (snaps.isEmpty()) {
            return read();
        }
        String snap = snaps.get(random.nextInt(snaps.size()));
        dropHead(v); // the one writer stops first; its record's size changes
        return finish("rollback", v, v + "@" + snap, c -> c.rollback(v, snap), () -> model.rollback(v, snap));
    }

    private boolean grow(String v) throws InterruptedException {
        long bytes = (long) model.blocks(v) * BLOCK_BYTES + GROW_BYTES;
        if (bytes > SIZE_BYTES_MAX) {
            return read();
        }
        dropHead(v);
        return finish("grow", v, v + " to " + bytes + " bytes", c -> {
            try (ClusterVdisk d = c.open(v)) {
                d.resize(bytes).get();
            }
        }, () -> model.grow(v, (int) (bytes / BLOCK_BYTES)));
    }

    /**
     * Calls a namespace operation until it succeeds (each failed call {@code info}: it may have
     * taken effect in part), then applies it to the model; after {@link #FINISH_WAIT} of failures
     * the workload stops and leaves it to {@link #finalReads}.
     */
    private boolean finish(String f, String v, String detail, Attempt attempt, Runnable apply) throws InterruptedException {
        long deadline = System.nanoTime() + FINISH_WAIT.toNanos();
        while (true) {
            long t0 = history.invokeDetailed(NAME, PROCESS, f, key(v), 0, detail);
            try {
                attempt.run(client);
                history.completeDetailed(History.Type.ok, t0, NAME, PROCESS, f, key(v), 0, detail, null);
                apply.run();
                counts.merge(f, 1L, Long::sum);
                return true;
            } catch (InterruptedException e) {
                throw e;
            } catch (Exception e) {
                history.completeDetailed(History.Type.info, t0, NAME, PROCESS, f, key(v), 0, detail, Workers.why(e));
                counts.merge("repeated", 1L, Long::sum);
                if (System.nanoTime() > deadline) {
                    unfinished = new Unfinished(f, v, detail, attempt, apply, Workers.why(e));
                    return false;
                }
                TimeUnit.MILLISECONDS.sleep(Workers.BACKOFF.toMillis());
            }
        }
    }

    /** The head device of {@code v}, opened on first use; null when it could not be opened (the step fails). */
    private ClusterVdisk head(String v) {
        ClusterVdisk d = heads.get(v);
        if (d == null) {
            try {
                d = client.open(v);
            } catch (RuntimeException e) {
                return null;
            }
            heads.put(v, d);
        }
        return d;
    }

    private void dropHead(String v) {
        ClusterVdisk d = heads.remove(v);
        if (d != null) {
            d.close();
        }
    }

    private List<String> snapshotsOf(String v) {
        return model.snapshots().stream().filter(s -> s.startsWith(v + "@")).map(s -> s.substring(v.length() + 1)).toList();
    }

    private int key(String vdisk) {
        return names.indexOf(vdisk);
    }

    /**
     * After the heal, with the worker stopped: finishes an operation left unfinished, checks the
     * namespace holds the model's vdisks, sizes and snapshots, and reads every block of every
     * head and snapshot through {@code admin} ({@link #readBack}).
     */
    void finalReads(ClusterClient admin, int process) throws InterruptedException {
        client = admin;
        try {
            if (unfinished != null && !finishAfterHeal()) {
                return; // what the vdisks hold is not known: check() reports why
            }
            for (String volume : model.volumes()) {
                checkNamespace(volume);
                readBack(volume, process);
            }
        } finally {
            heads.values().forEach(ClusterVdisk::close);
            heads.clear();
            client = null; // the caller's: not closed here
        }
    }

    /** Every block of {@code volume}, each piece retried for {@link #FINAL_WAIT}; one that cannot be read leaves the volume unread (a violation). */
    private void readBack(String volume, int process) throws InterruptedException {
        int blocks = model.blocks(volume);
        long[] all = new long[blocks];
        for (int lba = 0; lba < blocks; lba += FINAL_READ_BLOCKS) {
            int count = Math.min(FINAL_READ_BLOCKS, blocks - lba);
            long deadline = System.nanoTime() + FINAL_WAIT.toNanos();
            Optional<long[]> found;
            while ((found = readOnce(volume, lba, count, process)).isEmpty()) {
                if (System.nanoTime() > deadline) {
                    evidence.add(volume + " lba " + lba + " failed to read for " + FINAL_WAIT.toSeconds() + " s after the heal: " + lastReadError);
                    return;
                }
                TimeUnit.MILLISECONDS.sleep(Workers.BACKOFF.toMillis());
            }
            System.arraycopy(found.get(), 0, all, lba, count);
        }
        finalContent.put(volume, all);
    }

    /** Calls the unfinished operation again; false (and a problem) when it still fails. */
    private boolean finishAfterHeal() throws InterruptedException {
        Unfinished u = unfinished;
        long deadline = System.nanoTime() + FINAL_WAIT.toNanos();
        String error = u.error();
        while (System.nanoTime() < deadline) {
            long t0 = history.invokeDetailed(NAME, PROCESS, u.f(), key(u.vdisk()), 0, u.detail());
            try {
                u.attempt().run(client);
                history.completeDetailed(History.Type.ok, t0, NAME, PROCESS, u.f(), key(u.vdisk()), 0, u.detail(), null);
                u.apply().run();
                unfinished = null;
                return true;
            } catch (InterruptedException e) {
                throw e;
            } catch (Exception e) {
                error = Workers.why(e);
                history.completeDetailed(History.Type.info, t0, NAME, PROCESS, u.f(), key(u.vdisk()), 0, u.detail(), error);
                TimeUnit.MILLISECONDS.sleep(Workers.BACKOFF.toMillis());
            }
        }
        problems.add(u.f() + " " + u.detail() + " failed for " + FINISH_WAIT.toSeconds() + " s during the run and "
                + FINAL_WAIT.toSeconds() + " s after the heal: " + error);
        return false;
    }

    /** The namespace must list the model's vdisk or snapshot with the model's size. */
    private void checkNamespace(String volume) {
        String vdisk = volume.contains("@") ? volume.substring(0, volume.indexOf('@')) : volume;
        var record = client.vdisk(vdisk);
        long expected = (long) model.blocks(volume) * BLOCK_BYTES;
        Optional<Long> size = record.flatMap(r -> volume.contains("@")
                ? r.snapshot(volume.substring(volume.indexOf('@') + 1)).map(s -> s.sizeBytes()) : Optional.of(r.sizeBytes()));
        if (size.isEmpty() || size.get() != expected) {
            problems.add(volume + ": the namespace has " + size.map(s -> s + " bytes").orElse("no such volume") + " (expected: " + expected + " bytes)");
        }
    }

    /** The check: the run's reads, the final reads, and what the namespace or a read showed apart from the blocks. */
    ModelCheck.Result check() {
        if (unfinished != null) {
            // Not read back: a rollback or a grow cut short leaves what the model cannot say.
            ModelCheck.Result r = ModelCheck.check(model, Map.of(), duringRun, false);
            List<String> violations = new ArrayList<>(r.violations());
            problems.forEach(p -> violations.add("model: " + p));
            return new ModelCheck.Result(0, 0, r.lost(), violations);
        }
        ModelCheck.Result r = ModelCheck.check(model, finalContent, duringRun, true);
        List<String> violations = new ArrayList<>(r.violations());
        problems.forEach(p -> violations.add("model: " + p));
        return new ModelCheck.Result(r.volumesChecked(), r.blocksChecked(), r.lost(), violations);
    }

    /** What the workload did, for the run's output and report. */
    String describe() {
        StringBuilder s = new StringBuilder();
        counts.forEach((f, n) -> s.append(s.isEmpty() ? "" : ", ").append(n).append(' ').append(f));
        return s + " (ok; \"repeated\": calls of a namespace step finished by calling again); " + model.vdisks().size() + " vdisks, "
                + model.snapshots().size() + " snapshots, " + finalContent.values().stream().mapToLong(a -> a.length).sum() + " blocks read back"
                + (evidence.isEmpty() ? "" : "; evidence: " + evidence.subList(0, Math.min(5, evidence.size())));
    }
}
