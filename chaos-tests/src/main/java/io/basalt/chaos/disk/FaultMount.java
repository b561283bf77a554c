package io.basalt.chaos.disk;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * A fault file system mounted in this JVM: {@code mountPoint} shows {@code backingDir}, file data
 * waits in memory until fsync, and the owner switches faults ({@link #mode}) and cuts the power
 * ({@link #powerCut}) with plain calls. See {@link FaultFileSystem} for what the model loses and
 * what it does not.
 *
 * <p>Ownership: the creator closes it, also on failure (try-with-resources); {@link #close}
 * unmounts and waits for the FUSE loop's thread to end. The mount uses {@code auto_unmount}, so
 * it also goes away if this JVM dies without closing it.
 */
public final class FaultMount implements AutoCloseable {
    private static final Duration MOUNT_WAIT = Duration.ofSeconds(10);
    private static final String LOOP_THREAD_NAME = "jnr-fuse-mount-thread";
    // big_writes with 128 KiB (the kernel's largest without max_pages) keeps a 1 MiB write at
    // 8 calls instead of 256; auto_unmount has fusermount unmount if this JVM dies.
    private static final String[] OPTIONS = {"-o", "big_writes,max_write=131072,auto_unmount,fsname=basalt-faultfs"};

    private final Path backingDir;
    private final Path mountPoint;
    private final Control control = new Control();
    private FaultFileSystem fs;
    private Thread loopThread;
    private long droppedBytesTotal;
    private int powerCutCount;

    /** The fault mode, read by every FUSE call and set by the owner. */
    static final class Control {
        private volatile FaultMode mode = FaultMode.NORMAL;

        FaultMode mode() {
            return mode;
        }
    }

    private FaultMount(Path backingDir, Path mountPoint) {
        this.backingDir = backingDir;
        this.mountPoint = mountPoint;
    }

    /**
     * Why fault mounts cannot be made here, or empty when they can: they need /dev/fuse, root
     * (fusermount's auto_unmount and the tests' cleanup), libfuse 2 and fusermount.
     */
    public static Optional<String> unavailableReason() {
        if (!Files.exists(Path.of("/dev/fuse"))) {
            return Optional.of("/dev/fuse (no FUSE device on this machine)");
        }
        if (!"root".equals(System.getProperty("user.name"))) {
            return Optional.of("root (running as " + System.getProperty("user.name") + ")");
        }
        boolean libfuse = List.of("/usr/lib/x86_64-linux-gnu/libfuse.so.2", "/lib/x86_64-linux-gnu/libfuse.so.2",
                "/usr/lib/aarch64-linux-gnu/libfuse.so.2", "/usr/lib64/libfuse.so.2", "/usr/lib/libfuse.so.2")
                .stream().anyMatch(p -> Files.exists(Path.of(p)));
        if (!libfuse) {
            return Optional.of("libfuse 2 (apt-get install libfuse2 fuse)");
        }
        if (List.of("/usr/bin/fusermount", "/bin/fusermount").stream().noneMatch(p -> Files.isExecutable(Path.of(p)))) {
            return Optional.of("fusermount (apt-get install fuse)");
        }
        return Optional.empty();
    }

    /** Mounts {@code backingDir} (created if missing) on {@code mountPoint} (created if missing, and empty). */
    public static FaultMount mount(Path backingDir, Path mountPoint) throws IOException {
        Files.createDirectories(backingDir);
        Files.createDirectories(mountPoint);
        FaultMount m = new FaultMount(backingDir.toAbsolutePath().normalize(), mountPoint.toAbsolutePath().normalize());
        m.mountNow();
        return m;
    }

    public Path path() {
        return mountPoint;
    }

    public Path backingDir() {
        return backingDir;
    }

    public FaultMode mode() {
        return control.mode;
    }

    public void mode(FaultMode mode) {
        control.mode = java.util.Objects.requireNonNull(mode, "mode");
    }

    /** Calls failed on purpose by the fault modes since the last mount. */
    public synchronized long failedCallCount() {
        return fs.failedCallCount();
    }

    public synchronized long droppedBytesTotal() {
        return droppedBytesTotal;
    }

    public synchronized int powerCutCount() {
        return powerCutCount;
    }

    /**
     * The power cut: every file's data written since its last fsync is dropped and the file is
     * back to its content and size as of that sync. The mount is unmounted (which drops the
     * kernel's page cache of it too) and mounted again in mode normal. Whoever had files open
     * there must be dead already: a busy mount is refused, not detached.
     */
    public synchronized Dropped powerCut() throws IOException {
        unmount(false);
        Dropped dropped = fs.dropUnsynced();
        droppedBytesTotal += dropped.bytes();
        powerCutCount++;
        control.mode = FaultMode.NORMAL;
        mountNow();
        return dropped;
    }

    /** Unmounts; unsynced data is written through (a clean shutdown), so the backing dir can be inspected. */
    @Override
    public synchronized void close() throws IOException {
        if (fs == null) {
            return;
        }
        try {
            unmount(true);
        } finally {
            fs.syncAll();
            fs = null;
        }
    }

    private void mountNow() throws IOException {
        Set<Thread> before = loopThreads();
        FaultFileSystem next = new FaultFileSystem(backingDir, control);
        next.mount(mountPoint, false, false, OPTIONS);
        fs = next;
        long deadline = System.nanoTime() + MOUNT_WAIT.toNanos();
        while (!mounted(mountPoint)) {
            if (System.nanoTime() > deadline) {
                unmount(true);
                throw new IOException("fault mount on " + mountPoint + " did not appear in /proc/self/mountinfo within " + MOUNT_WAIT);
            }
            sleepMs(10);
        }
        Set<Thread> started = loopThreads();
        started.removeAll(before);
        loopThread = started.stream().findFirst().orElse(null);
    }

    /** Unmounts and waits for the FUSE loop to end; {@code lazy} detaches a busy mount instead of refusing. */
    private void unmount(boolean lazy) throws IOException {
        if (mounted(mountPoint)) {
            Process p = new ProcessBuilder(lazy ? List.of("fusermount", "-u", "-z", mountPoint.toString())
                    : List.of("fusermount", "-u", mountPoint.toString())).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            int rc = waitFor(p);
            if (rc != 0 && mounted(mountPoint)) {
                throw new IOException("cannot unmount fault mount " + mountPoint + " (fusermount exit " + rc + ": " + out
                        + "); a process still has files open there");
            }
        }
        fs.markUnmounted();
        if (loopThread != null) {
            try {
                loopThread.join(MOUNT_WAIT.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted waiting for the FUSE loop of " + mountPoint + " to end", e);
            }
            if (loopThread.isAlive()) {
                throw new IOException("the FUSE loop of " + mountPoint + " did not end within " + MOUNT_WAIT + " of its unmount");
            }
            loopThread = null;
        }
    }

    /** Whether {@code dir} is a mount point now, by the kernel's table of this process's mounts. */
    public static boolean mounted(Path dir) throws IOException {
        String want = dir.toAbsolutePath().normalize().toString();
        for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"), StandardCharsets.UTF_8)) {
            String[] f = line.split(" ");
            if (f.length > 4 && f[4].replace("\\040", " ").equals(want)) {
                return true;
            }
        }
        return false;
    }

    private static Set<Thread> loopThreads() {
        Set<Thread> out = new HashSet<>();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().equals(LOOP_THREAD_NAME)) {
                out.add(t);
            }
        }
        return out;
    }

    private static int waitFor(Process p) throws IOException {
        try {
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("fusermount did not finish within 30 s");
            }
            return p.exitValue();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new IOException("interrupted waiting for fusermount", e);
        }
    }

    private static void sleepMs(long ms) throws IOException {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }
}
