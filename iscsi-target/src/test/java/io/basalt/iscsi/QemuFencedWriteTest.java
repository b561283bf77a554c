package io.basalt.iscsi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.basalt.iscsi.scsi.Initiator;
import io.basalt.iscsi.scsi.LunSource;
import io.basalt.iscsi.session.InitiatorSession;
import io.basalt.iscsi.session.SessionListener;
import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.CompareResult;
import io.basalt.vdisk.FencedException;
import io.basalt.vdisk.LbaStatus;
import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What QEMU's own iSCSI client (libiscsi, the initiator a Basalt host's VMs use) does with a
 * fenced write: it must report an error at once, not re-issue the write (see
 * docs/decisions/fenced-writes-over-iscsi.md). Runs {@code qemu-io} against a target whose LUN
 * source hands out a device that refuses every mutation with a {@link FencedException}; skipped
 * when {@code qemu-io} is not installed (Debian: qemu-utils with qemu-block-extra).
 */
class QemuFencedWriteTest {

    private static final String IQN = "iqn.2026-11.io.basalt:fenced";
    private static final String HOST = "iqn.2026-11.io.basalt:qemu-host";
    private static final Duration QEMU_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration SESSION_END_WAIT = Duration.ofSeconds(10);

    @TempDir
    Path tmp;

    /** A memory device whose every mutation is refused as fenced, counting the attempts. */
    private static final class Fenced implements BlockDevice {
        final MemoryBlockDevice d;
        final AtomicInteger refusedCount = new AtomicInteger();

        Fenced(MemoryBlockDevice d) {
            this.d = d;
        }

        private <T> CompletableFuture<T> refuse() {
            refusedCount.incrementAndGet();
            return CompletableFuture.failedFuture(new FencedException(d.name(), 1, 2));
        }

        @Override public String name() { return d.name(); }
        @Override public int logicalBlockSizeBytes() { return d.logicalBlockSizeBytes(); }
        @Override public long sizeBytes() { return d.sizeBytes(); }
        @Override public boolean readOnly() { return false; }
        @Override public CompletableFuture<ByteBuffer> read(long lba, int blockCount) { return d.read(lba, blockCount); }
        @Override public CompletableFuture<Void> write(long lba, ByteBuffer data, boolean fua) { return refuse(); }
        @Override public CompletableFuture<Void> flush() { return d.flush(); }
        @Override public CompletableFuture<Void> unmap(long lba, long blockCount) { return refuse(); }
        @Override public CompletableFuture<Void> writeZeroes(long lba, long blockCount, boolean unmap) { return refuse(); }
        @Override public CompletableFuture<CompareResult> compareAndWrite(long lba, ByteBuffer expected, ByteBuffer data) { return refuse(); }
        @Override public CompletableFuture<List<LbaStatus>> getLbaStatus(long lba, long blockCountMax) { return d.getLbaStatus(lba, blockCountMax); }
        @Override public CompletableFuture<Void> resize(long newSizeBytes) { return refuse(); }
        @Override public void close() { d.close(); }
    }

    private static final class Source implements LunSource {
        final MemoryBlockDevice store = new MemoryBlockDevice("vd0", 512, 16 << 20, Runnable::run);
        final Fenced fenced = new Fenced(store);
        final List<String> events = new CopyOnWriteArrayList<>();

        @Override
        public BlockDevice device() {
            return store;
        }

        @Override
        public CompletableFuture<BlockDevice> open(Initiator who) {
            events.add("open " + who.name());
            return CompletableFuture.completedFuture(fenced);
        }

        @Override
        public void closed(Initiator who, BlockDevice device) {
            events.add("closed " + who.name());
        }
    }

    private static final class Sessions implements SessionListener {
        final List<String> events = new CopyOnWriteArrayList<>();

        @Override
        public void started(InitiatorSession session) {
            events.add("started " + session.initiator().name());
        }

        @Override
        public void ended(InitiatorSession session) {
            events.add("ended " + session.initiator().name());
        }
    }

    @Test
    void qemuReportsAFencedWriteAsPermissionDeniedWithoutReissuingItAndStillReads() throws Exception {
        String qemuIo = which("qemu-io");
        assumeTrue(qemuIo != null, "qemu-io is not installed (Debian: apt-get install qemu-utils qemu-block-extra)");
        Source source = new Source();
        Sessions sessions = new Sessions();
        try (IscsiTarget t = IscsiTarget.builder().portal("127.0.0.1", 0).threads(2).sessionListener(sessions)
                .addTargetWithSources(IQN, Map.of(0, source), Set.of(), null).start()) {
            String image = "driver=iscsi,transport=tcp,portal=127.0.0.1:" + t.localAddress().getPort() + ",target=" + IQN
                    + ",lun=0,initiator-name=" + HOST;
            String out = run(List.of(qemuIo, "--image-opts", "-c", "write -P 0x77 4096 4096", "-c", "read -P 0 4096 4096", image));

            assertTrue(out.contains("write failed: Permission denied"), "QEMU's errno for DATA PROTECT / WRITE PROTECTED is EACCES:\n" + out);
            assertTrue(out.contains("read 4096/4096 bytes"), "reads are not fenced:\n" + out);
            assertEquals(1, source.fenced.refusedCount.get(), "the write was not re-issued:\n" + out);
            assertEquals(ByteBuffer.allocate(4096), source.store.read(8, 8).join(), "nothing was written");
            awaitSize(sessions.events, 2);
            assertEquals(List.of("started " + HOST, "ended " + HOST), sessions.events);
            awaitSize(source.events, 2);
            assertEquals(List.of("open " + HOST, "closed " + HOST), source.events);
        }
    }

    private static void awaitSize(List<String> events, int size) throws InterruptedException {
        long deadlineNanos = System.nanoTime() + SESSION_END_WAIT.toNanos();
        while (events.size() < size && System.nanoTime() - deadlineNanos < 0) {
            Thread.sleep(20);
        }
    }

    /** Runs {@code command} to completion (bounded); returns its output. The process is always stopped. */
    private String run(List<String> command) throws IOException, InterruptedException {
        Path log = tmp.resolve("qemu-io.log");
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            assertTrue(p.waitFor(QEMU_TIMEOUT.toSeconds(), TimeUnit.SECONDS), String.join(" ", command) + " ran past " + QEMU_TIMEOUT);
            return Files.readString(log);
        } finally {
            if (p.isAlive()) {
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    private static String which(String name) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            Path exe = Path.of(dir, name);
            if (Files.isExecutable(exe)) {
                return exe.toString();
            }
        }
        return null;
    }
}
