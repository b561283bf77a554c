package io.basalt.node.cli;

import java.io.PrintStream;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Progress of one long step (a fill, a flatten) on standard error.
 *
 * <p>On a terminal it is a redrawn bar. Anywhere else (a CI log, {@code | tee}, a file) a bar
 * would print a new line for every redraw, so it prints one line when the step finishes
 * instead: {@code flatten web2: 262144 grains in 3.2 s}. Whether standard error is a terminal
 * is the launcher's call ({@code ./basalt} sets {@value #TTY_PROPERTY} when {@code [ -t 2 ]}):
 * Java 21 cannot tell a redirected stream from a terminal.
 */
final class Progress implements AutoCloseable {
    static final String TTY_PROPERTY = "basalt.stderr.tty";

    private final String task;
    private final String unit;
    private final PrintStream err;
    private final ProgressBar bar; // null when standard error is not a terminal
    private final AtomicLong done = new AtomicLong();
    private final long startNanos = System.nanoTime();

    private Progress(String task, long max, String unit, PrintStream err, boolean terminal) {
        this.task = task;
        this.unit = unit;
        this.err = err;
        this.bar = terminal
                ? new ProgressBarBuilder().setTaskName(task).setInitialMax(max).setUnit(" " + unit, 1)
                        .setStyle(ProgressBarStyle.ASCII).setConsumer(new ConsoleProgressBarConsumer(err)).build()
                : null;
    }

    /** Starts a step of {@code max} {@code unit}s on {@code System.err}. */
    static Progress start(String task, long max, String unit) {
        return new Progress(task, max, unit, System.err, Boolean.getBoolean(TTY_PROPERTY));
    }

    /** For tests: a step that reports to {@code err}, as on a terminal or not. */
    static Progress start(String task, long max, String unit, PrintStream err, boolean terminal) {
        return new Progress(task, max, unit, err, terminal);
    }

    void step() {
        done.incrementAndGet();
        if (bar != null) {
            bar.step();
        }
    }

    void stepTo(long n) {
        done.set(n);
        if (bar != null) {
            bar.stepTo(n);
        }
    }

    @Override
    public void close() {
        if (bar != null) {
            bar.close();
            return;
        }
        double seconds = (System.nanoTime() - startNanos) / (double) TimeUnit.SECONDS.toNanos(1);
        err.printf("%s: %d %s in %.1f s%n", task, done.get(), unit, seconds);
    }
}
