package io.basalt.chaos;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * The run's history as JSON lines ({@code history.jsonl}), in the form Jepsen records: one line
 * when a client invokes an operation and one when it ends, {@code ok} (it took effect),
 * {@code fail} (it certainly did not) or {@code info} (unknown: a write that timed out may still
 * land). Each line carries the monotonic time ({@link System#nanoTime}, relative to the run's
 * start), the client process, the workload, the operation and its key and value:
 *
 * <pre>
 * {"type":"invoke","timeNs":1200,"process":3,"workload":"registers","f":"write","key":5,"value":"300000007"}
 * {"type":"ok","timeNs":9800,"process":3,"workload":"registers","f":"write","key":5,"value":"300000007"}
 * </pre>
 *
 * <p>Thread-safe: every worker records into one file, lines whole and in the order written. The
 * completed operations are also kept in memory ({@link #completed}) for the report.
 */
public final class History implements AutoCloseable {
    /** How an operation ended: Jepsen's ok, fail and info. */
    public enum Type { ok, fail, info }

    /** A completed operation, for counts, latency and recovery times. */
    public record Completed(String workload, int process, String f, int key, long invokedNs, long completedNs, Type type) {}

    private static final ObjectMapper JSON = new ObjectMapper();
    private final BufferedWriter out;
    private final long startNs;
    private final List<Completed> completed = new ArrayList<>();
    private final AtomicLong ok = new AtomicLong();
    private final AtomicLong fail = new AtomicLong();
    private final AtomicLong info = new AtomicLong();

    public History(Path file, long startNs) throws IOException {
        this.out = Files.newBufferedWriter(file, StandardCharsets.UTF_8);
        this.startNs = startNs;
    }

    /** Records the invocation; returns its time (absolute nanoTime) for {@link #complete}. */
    public long invoke(String workload, int process, String f, int key, long value) {
        return line("invoke", workload, process, f, key, value, null, null, null);
    }

    /** {@link #invoke}, the line also naming the fencing token the operation carries (the locks workload). */
    public long invoke(String workload, int process, String f, int key, long value, long token) {
        return line("invoke", workload, process, f, key, value, token, null, null);
    }

    /** {@link #invoke}, the line also saying what the operation touches ({@code detail}: the vdisk model's LBAs, snapshot, size). */
    public long invokeDetailed(String workload, int process, String f, int key, long value, String detail) {
        return line("invoke", workload, process, f, key, value, null, detail, null);
    }

    /** {@link #complete}, the line also carrying {@code detail} as its invocation did. */
    public long completeDetailed(Type type, long invokedNs, String workload, int process, String f, int key, long value, String detail, String error) {
        return completed(line(type.name(), workload, process, f, key, value, null, detail, error), type, invokedNs, workload, process, f, key);
    }

    /** Records the end of an operation invoked at {@code invokedNs}; {@code error} says why it failed. */
    public long complete(Type type, long invokedNs, String workload, int process, String f, int key, long value, String error) {
        return complete(type, invokedNs, workload, process, f, key, value, null, error);
    }

    /** {@link #complete}, the line also naming the fencing token ({@code null}: none). */
    public long complete(Type type, long invokedNs, String workload, int process, String f, int key, long value, Long token, String error) {
        return completed(line(type.name(), workload, process, f, key, value, token, null, error), type, invokedNs, workload, process, f, key);
    }

    private long completed(long now, Type type, long invokedNs, String workload, int process, String f, int key) {
        synchronized (this) {
            completed.add(new Completed(workload, process, f, key, invokedNs - startNs, now - startNs, type));
        }
        (switch (type) {
            case ok -> ok;
            case fail -> fail;
            case info -> info;
        }).incrementAndGet();
        return now;
    }

    /**
     * Writes one line and returns its time. The clock is read under the lock, so the file's lines
     * are in time order; an invocation's time is still before the operation starts, a
     * completion's after it ended.
     */
    private synchronized long line(String type, String workload, int process, String f, int key, long value, Long token, String detail, String error) {
        long nowNs = System.nanoTime();
        ObjectNode n = JSON.createObjectNode();
        n.put("type", type).put("timeNs", nowNs - startNs).put("process", process).put("workload", workload).put("f", f).put("key", key)
                .put("value", Long.toHexString(value));
        if (token != null) {
            n.put("token", token);
        }
        if (detail != null) {
            n.put("detail", detail);
        }
        if (error != null) {
            n.put("error", error);
        }
        try {
            out.write(n.toString());
            out.newLine();
        } catch (IOException e) {
            throw new UncheckedIOException("history: " + e.getMessage(), e);
        }
        return nowNs;
    }

    public long startNs() {
        return startNs;
    }

    public long okCount() {
        return ok.get();
    }

    public long failCount() {
        return fail.get();
    }

    public long infoCount() {
        return info.get();
    }

    /** The completed operations so far, times relative to the run's start. */
    public synchronized List<Completed> completed() {
        return List.copyOf(completed);
    }

    @Override
    public synchronized void close() throws IOException {
        out.close();
    }
}
