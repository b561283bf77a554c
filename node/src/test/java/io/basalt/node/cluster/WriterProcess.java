package io.basalt.node.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A {@link ZombieWriter} process of a test: its stdout followed (each line echoed as
 * {@code [writer W]}, each {@link ZombieEvent} kept), its stderr in a log file; frozen and let go
 * with SIGSTOP and SIGCONT; told to stop on stdin; killed by pid on {@link #close}, also when the
 * test fails.
 */
final class WriterProcess implements AutoCloseable {
    private final String writer;
    private final Process process;
    private final Path stderrLog;
    private final List<ZombieEvent> events = new CopyOnWriteArrayList<>();
    private final Thread follower;

    private WriterProcess(String writer, Process process, Path stderrLog) {
        this.writer = writer;
        this.process = process;
        this.stderrLog = stderrLog;
        this.follower = Thread.ofPlatform().daemon().name("follow-writer-" + writer).start(this::follow);
    }

    /** Starts {@code command} (a {@link ZombieWriter#command}, maybe wrapped) as writer {@code writer}. */
    static WriterProcess start(String writer, List<String> command, Path dir) throws IOException {
        Path log = dir.resolve("writer-" + writer + "-" + System.nanoTime() + ".log");
        Process p = new ProcessBuilder(command).redirectError(log.toFile()).start();
        return new WriterProcess(writer, p, log);
    }

    long pid() {
        return process.pid();
    }

    List<ZombieEvent> events() {
        return List.copyOf(events);
    }

    /** Waits until the writer holds the lock with its fence raised; returns that event. */
    ZombieEvent.Locked awaitLocked(Duration timeout) throws InterruptedException {
        awaitEvent(e -> e instanceof ZombieEvent.Locked, timeout, "the lock");
        return (ZombieEvent.Locked) events.stream().filter(e -> e instanceof ZombieEvent.Locked).findFirst().orElseThrow();
    }

    /** Waits until at least {@code count} writes were acknowledged. */
    void awaitAcknowledged(int count, Duration timeout) throws InterruptedException {
        awaitEvent(e -> okCount() >= count, timeout, count + " acknowledged writes");
    }

    /** Waits until the writer printed {@code done} and exited 0. */
    ZombieEvent.Done awaitDone(Duration timeout) throws InterruptedException {
        awaitEvent(e -> e instanceof ZombieEvent.Done, timeout, "done");
        assertTrue(process.waitFor(30, TimeUnit.SECONDS), "writer " + writer + " printed done but did not exit");
        assertEquals(0, process.exitValue(), "writer " + writer + "'s exit code; its stderr: " + stderrLog);
        follower.join(Duration.ofSeconds(10));
        return (ZombieEvent.Done) events.stream().filter(e -> e instanceof ZombieEvent.Done).findFirst().orElseThrow();
    }

    /** Asks the writer to stop issuing writes (it then waits for those in flight and prints done). */
    void stop() throws IOException {
        OutputStream in = process.getOutputStream();
        in.write("stop\n".getBytes(StandardCharsets.US_ASCII));
        in.close();
    }

    /** SIGSTOP: the whole JVM frozen, as a host paused by its hypervisor or a long GC. */
    void freeze() throws IOException, InterruptedException {
        signal("STOP");
    }

    /** SIGCONT after {@link #freeze}. */
    void resume() throws IOException, InterruptedException {
        signal("CONT");
    }

    private int okCount() {
        return (int) events.stream().filter(e -> e instanceof ZombieEvent.Outcome o && o.kind() == ZombieEvent.Kind.OK).count();
    }

    private void awaitEvent(Predicate<ZombieEvent> wanted, Duration timeout, String what) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (events.stream().noneMatch(wanted)) {
            if (!process.isAlive() && !follower.isAlive()) {
                fail("writer " + writer + " exited with " + process.exitValue() + " before " + what + "; its stderr: " + stderrLog);
            }
            if (System.nanoTime() - deadline > 0) {
                fail("writer " + writer + ": no " + what + " within " + timeout + "; its stderr: " + stderrLog);
            }
            Thread.sleep(50);
        }
    }

    private void signal(String name) throws IOException, InterruptedException {
        Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(process.pid())).inheritIO().start();
        assertTrue(kill.waitFor(10, TimeUnit.SECONDS) && kill.exitValue() == 0, "kill -" + name + " " + process.pid());
    }

    private void follow() {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = in.readLine()) != null; ) {
                ZombieEvent.parse(line).filter(e -> e.writer().equals(writer)).ifPresent(events::add);
                // Acknowledged writes and unsent ones (hundreds a second after a resume) are counted, not echoed.
                if (!line.startsWith("ok ") && !line.startsWith("fenced-self ") && !line.startsWith("unconfirmed ")) {
                    System.out.println("[writer " + writer + "] " + line);
                }
            }
        } catch (IOException e) {
            // the process ended
        }
    }

    /** Kills the writer (SIGKILL ends a frozen one too) and waits for it. */
    @Override
    public void close() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }
}
