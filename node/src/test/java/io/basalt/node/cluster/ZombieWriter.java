package io.basalt.node.cluster;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import io.basalt.cluster.client.ClusterClient;
import io.basalt.cluster.client.ClusterLocks;
import io.basalt.cluster.client.ClusterVdisk;
import io.basalt.cluster.client.LeaseUnconfirmedException;
import io.basalt.lock.HostSessionClient;
import io.basalt.lock.LockMode;
import io.basalt.lock.LockRefusedException;
import io.basalt.lock.LockResult;
import io.basalt.vdisk.FencedException;

/**
 * A writer process for {@link ClusterZombieProcessTest}: a host of its own (its own JVM, its own
 * session in the cluster's lock table) that takes a vdisk's exclusive lock with
 * {@link ClusterLocks#acquireAndFence}, waiting while another session holds it, then writes
 * numbered {@link ZombieBlock}s round-robin over a set of slots through
 * {@link ClusterClient#open(String, HostSessionClient)} (the device real hosts use: its writes
 * carry the session's token, and it refuses to send once the lease is lost), keeping up to
 * {@code --inflight} writes in flight. It prints one {@link ZombieEvent} line per outcome on stdout.
 *
 * <p>A refusal does not stop it: frozen or cut off and then let go again, it goes on issuing
 * writes as the holder it believes it is, which is the zombie. What reaches a PG with its old
 * token is what was in flight when it lost the lock (its client refuses to send anything new).
 *
 * <p>It writes {@code --writes} blocks and stops, or (0) until a line {@code stop} or the end
 * of stdin; then it waits for its writes in flight (longer than the I/O timeout, so each one
 * ends) and prints {@code done}.
 *
 * <pre>
 * ZombieWriter --cluster FILE --vdisk NAME --writer A --lease-ms MS --slots N --inflight N --writes N
 * </pre>
 */
final class ZombieWriter {
    static final int BLOCK_BYTES = 4096;
    /**
     * Slot k is at byte k * 1 MiB: one stripe (256 grains of 4 KiB) apart, so consecutive slots
     * are in different stripes and the slots spread over every PG.
     */
    static final long SLOT_STRIDE_BYTES = 1L << 20;
    /** Longest wait for the lock while another session holds it (its lease must run out first). */
    static final Duration TAKEOVER_WAIT = Duration.ofSeconds(60);
    /** Longer than the cluster's default I/O timeout (30 s): every write in flight ends before this. */
    static final Duration DRAIN_WAIT = Duration.ofSeconds(45);
    /** Between two writes issued: a steady stream without flooding stdout. */
    static final long PACE_MS = 5;

    record Options(Path clusterFile, String vdisk, String writer, long leaseMs, int slotCount, int inflightMax, long writeCountMax) {
        static Options parse(String[] args) {
            if (args.length != 14) {
                throw new IllegalArgumentException("arguments: " + List.of(args) + " (expected: --cluster FILE --vdisk NAME --writer W"
                        + " --lease-ms MS --slots N --inflight N --writes N)");
            }
            java.util.Map<String, String> o = new java.util.HashMap<>();
            for (int i = 0; i < args.length; i += 2) {
                o.put(args[i], args[i + 1]);
            }
            return new Options(Path.of(o.get("--cluster")), o.get("--vdisk"), o.get("--writer"), Long.parseLong(o.get("--lease-ms")),
                    Integer.parseInt(o.get("--slots")), Integer.parseInt(o.get("--inflight")), Long.parseLong(o.get("--writes")));
        }

        List<String> toArgs() {
            return List.of("--cluster", clusterFile.toString(), "--vdisk", vdisk, "--writer", writer, "--lease-ms", Long.toString(leaseMs),
                    "--slots", Integer.toString(slotCount), "--inflight", Integer.toString(inflightMax), "--writes", Long.toString(writeCountMax));
        }
    }

    private ZombieWriter() {}

    public static void main(String[] args) throws Exception {
        Options o = Options.parse(args);
        AtomicBoolean stop = new AtomicBoolean();
        Thread.ofPlatform().daemon().name("stdin").start(() -> awaitStop(stop));
        ClusterClient client = ClusterClient.open(ClusterFile.read(o.clusterFile()).clientConfig(o.clusterFile()));
        HostSessionClient session = HostSessionClient.open(client.locks(), "zombie-" + o.writer(), o.leaseMs(), System::nanoTime);
        LockResult.Grant grant = takeOver(client.locks(), session, o.vdisk());
        emit(new ZombieEvent.Locked(o.writer(), grant.token(), grant.fence(), System.currentTimeMillis()));
        ClusterVdisk device = client.open(o.vdisk(), session);
        long slotsBytes = o.slotCount() * SLOT_STRIDE_BYTES;
        if (device.blockCount() * device.logicalBlockSizeBytes() < slotsBytes) {
            throw new IllegalArgumentException("vdisk " + o.vdisk() + ": " + device.blockCount() * device.logicalBlockSizeBytes()
                    + " bytes (expected: >= " + slotsBytes + " for " + o.slotCount() + " slots)");
        }
        int unresolved = writeUntilStopped(o, device, grant.token(), stop);
        emit(new ZombieEvent.Done(o.writer(), unresolved));
        // Not closed: a zombie's session is gone already, and the test reads the data after
        // both writers ended. The Ratis clients' threads would keep the JVM alive: exit.
        System.out.flush();
        System.exit(0);
    }

    /** Acquires {@code vdisk} and raises its fence on every PG, trying again while another session holds it. */
    private static LockResult.Grant takeOver(ClusterLocks locks, HostSessionClient session, String vdisk) throws InterruptedException {
        long deadline = System.nanoTime() + TAKEOVER_WAIT.toNanos();
        while (true) {
            try {
                return locks.acquireAndFence(session, vdisk, LockMode.EXCLUSIVE);
            } catch (LockRefusedException e) {
                if (e.reason() != LockResult.Reason.CONFLICT || System.nanoTime() - deadline > 0) {
                    throw e;
                }
                Thread.sleep(100);
            }
        }
    }

    /** Issues writes until told to stop, then waits for those in flight; returns how many never ended. */
    private static int writeUntilStopped(Options o, ClusterVdisk device, long token, AtomicBoolean stop) throws InterruptedException {
        Semaphore window = new Semaphore(o.inflightMax());
        long seq = 0;
        while (!stop.get() && (o.writeCountMax() == 0 || seq < o.writeCountMax())) {
            // All in flight (a cut-off writer sits here): look at the stop flag now and then.
            if (!window.tryAcquire(100, TimeUnit.MILLISECONDS)) {
                continue;
            }
            seq++;
            issue(o, device, token, seq, window);
            Thread.sleep(PACE_MS);
        }
        if (window.tryAcquire(o.inflightMax(), DRAIN_WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
            return 0;
        }
        return o.inflightMax() - window.availablePermits();
    }

    private static void issue(Options o, ClusterVdisk device, long token, long seq, Semaphore window) {
        int slot = (int) ((seq - 1) % o.slotCount());
        long lba = slot * SLOT_STRIDE_BYTES / device.logicalBlockSizeBytes();
        ByteBuffer data = new ZombieBlock(o.writer(), seq, slot, token).encode(BLOCK_BYTES);
        long issuedMs = System.currentTimeMillis();
        device.write(lba, data, false).whenComplete((x, ex) -> {
            long doneMs = System.currentTimeMillis();
            emit(outcome(o.writer(), seq, slot, token, issuedMs, doneMs, ex));
            window.release();
        });
    }

    /**
     * How the client reported the write. A write the client did not send because its lease ran
     * out unconfirmed is a {@link LeaseUnconfirmedException}. A refusal by the client itself (lock
     * lost, nothing sent) is the {@link FencedException} whose fence is {@code Long.MAX_VALUE} (ClusterVdisk's
     * self-fence: no token may write from there); a PG's refusal carries the PG's fence.
     */
    static ZombieEvent.Outcome outcome(String writer, long seq, int slot, long token, long issuedMs, long doneMs, Throwable failure) {
        Throwable cause = failure;
        while (cause instanceof CompletionException && cause.getCause() != null) {
            cause = cause.getCause();
        }
        ZombieEvent.Kind kind;
        long fence = 0;
        String detail = "";
        if (cause == null) {
            kind = ZombieEvent.Kind.OK;
        } else if (cause instanceof LeaseUnconfirmedException) {
            kind = ZombieEvent.Kind.UNCONFIRMED;
        } else if (cause instanceof FencedException f && f.fence() == Long.MAX_VALUE) {
            kind = ZombieEvent.Kind.FENCED_SELF;
        } else if (cause instanceof FencedException f) {
            kind = ZombieEvent.Kind.FENCED_PG;
            token = f.token();
            fence = f.fence();
        } else {
            kind = ZombieEvent.Kind.ERROR;
            detail = cause.toString();
        }
        return new ZombieEvent.Outcome(kind, writer, seq, slot, token, issuedMs, doneMs, fence, detail);
    }

    private static void awaitStop(AtomicBoolean stop) {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
            for (String line; (line = in.readLine()) != null; ) {
                if (line.strip().equals("stop")) {
                    break;
                }
            }
        } catch (IOException e) {
            // stdin is gone: stop as at its end
        }
        stop.set(true);
    }

    private static void emit(ZombieEvent e) {
        synchronized (System.out) {
            System.out.println(e.format());
            System.out.flush();
        }
    }

    /** The command that runs this writer as its own JVM, on this JVM's java and class path. */
    static List<String> command(Options o) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow", "-Xms64m", "-Xmx256m",
                "-cp", System.getProperty("java.class.path"), ZombieWriter.class.getName()));
        cmd.addAll(o.toArgs());
        return cmd;
    }
}
