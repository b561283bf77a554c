package io.basalt.node.api;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;

/**
 * Long operations (flatten, export, import) run in the background as jobs; {@code GET /api/jobs/ID}
 * shows their progress. At most {@link #RUNNING_COUNT_MAX} run at once and
 * {@link #KEPT_COUNT_MAX} are remembered (the oldest finished ones are forgotten first).
 */
final class Jobs implements AutoCloseable {
    static final int RUNNING_COUNT_MAX = 4;
    static final int KEPT_COUNT_MAX = 100;

    enum State { running, done, failed }

    /** A job as shown: progress in {@code unit}s (grains for flatten, bytes for export). */
    record View(String id, String kind, String target, State state, long done, long total, String unit, String error, Object result,
                long startedMs, Long finishedMs) {}

    /** The work of a job: reports progress, returns what the finished job shows as its result. */
    interface Work {
        Object run(Progress progress) throws Exception;
    }

    /**
     * What a job's work reports: how much is done ({@link #accept}), and, for work that learns its
     * size only once under way (a backup learns what it will read after its snapshot), a new total.
     */
    interface Progress extends LongConsumer {
        void total(long total);
    }

    private final class Job {
        final String id;
        final String kind;
        final String target;
        final AtomicLong total;
        final String unit;
        final long startedMs = System.currentTimeMillis();
        final AtomicLong done = new AtomicLong();
        volatile State state = State.running;
        volatile String error;
        volatile Object result;
        volatile Long finishedMs;

        Job(String id, String kind, String target, long total, String unit) {
            this.id = id;
            this.kind = kind;
            this.target = target;
            this.total = new AtomicLong(total);
            this.unit = unit;
        }

        View view() {
            return new View(id, kind, target, state, done.get(), total.get(), unit, error, result, startedMs, finishedMs);
        }
    }

    private final ExecutorService pool = Executors.newFixedThreadPool(RUNNING_COUNT_MAX, Thread.ofPlatform().name("api-job-", 1).daemon().factory());
    private final Map<String, Job> jobs = new LinkedHashMap<>();
    private final AtomicLong nextId = new AtomicLong(1);

    /** Answers a request that started {@code job}: 202, the job, and its URL in {@code Location}. */
    static void accepted(io.javalin.http.Context ctx, View job) {
        ctx.header("Location", "/api/jobs/" + job.id());
        Json.write(ctx, 202, job);
    }

    /** Starts {@code work}; refused (503) while {@link #RUNNING_COUNT_MAX} jobs run. */
    synchronized View start(String kind, String target, long total, String unit, Work work) {
        long running = jobs.values().stream().filter(j -> j.state == State.running).count();
        if (running >= RUNNING_COUNT_MAX) {
            throw new ApiException(503, "jobs: " + running + " running (expected: fewer than " + RUNNING_COUNT_MAX + "); try again when one finished");
        }
        Job job = new Job(Long.toString(nextId.getAndIncrement()), kind, target, total, unit);
        jobs.put(job.id, job);
        forgetOldFinished();
        try {
            pool.execute(() -> run(job, work));
        } catch (RejectedExecutionException e) {
            jobs.remove(job.id);
            throw new ApiException(503, "jobs: the server is stopping (expected: a running server)");
        }
        return job.view();
    }

    private void run(Job job, Work work) {
        try {
            job.result = work.run(new Progress() {
                @Override
                public void accept(long done) {
                    job.done.set(Math.min(done, job.total.get()));
                }

                @Override
                public void total(long total) {
                    if (total < 0) {
                        throw new IllegalArgumentException("job " + job.id + " total: " + total + " (expected: >= 0)");
                    }
                    job.total.set(total);
                }
            });
            job.done.set(job.total.get());
            job.state = State.done;
        } catch (Exception | AssertionError e) {
            Throwable cause = e instanceof java.util.concurrent.CompletionException && e.getCause() != null ? e.getCause() : e;
            job.error = String.valueOf(cause.getMessage());
            job.state = State.failed;
        } finally {
            job.finishedMs = System.currentTimeMillis();
        }
    }

    synchronized Optional<View> get(String id) {
        return Optional.ofNullable(jobs.get(id)).map(Job::view);
    }

    synchronized List<View> all() {
        return jobs.values().stream().map(Job::view).toList();
    }

    private void forgetOldFinished() {
        List<String> finished = new ArrayList<>();
        jobs.values().stream().filter(j -> j.state != State.running).forEach(j -> finished.add(j.id));
        for (int i = 0; jobs.size() > KEPT_COUNT_MAX && i < finished.size(); i++) {
            jobs.remove(finished.get(i));
        }
    }

    @Override
    public void close() {
        pool.shutdownNow();
    }
}
