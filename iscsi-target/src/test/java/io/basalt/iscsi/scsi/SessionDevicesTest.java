package io.basalt.iscsi.scsi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.basalt.iscsi.MemoryBlockDevice;
import io.basalt.iscsi.pdu.Bytes;
import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.BlockDeviceException;
import io.basalt.vdisk.FencedException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;

/** The devices a {@link LunSource} opens per session, as one LU keeps them, without a transport. */
class SessionDevicesTest {

    /** Device completions wait here until the test runs them. */
    private final Queue<Runnable> pending = new ArrayDeque<>();
    private final List<String> events = new ArrayList<>();
    private BlockDevice next;

    private final LunSource source = new LunSource() {
        private final MemoryBlockDevice identity = new MemoryBlockDevice("vd0", 512, 1 << 20, Runnable::run);

        @Override
        public BlockDevice device() {
            return identity;
        }

        @Override
        public CompletableFuture<BlockDevice> open(Initiator who) {
            events.add("open " + who.name());
            return CompletableFuture.completedFuture(next);
        }

        @Override
        public void closed(Initiator who, BlockDevice device) {
            events.add("closed " + who.name() + " " + device.name());
        }
    };
    private final TargetLuns target = TargetLuns.ofSources("iqn.2026-11.io.basalt:t", Map.of(0, source));
    private final LogicalUnit lu = target.lun(0);
    private final Nexus a = Nexus.of("iqn.2026-11.x:a", 1, target.name(), 1);
    private final Initiator whoA = new Initiator("iqn.2026-11.x:a", 1, 7, null);

    private CompletableFuture<ScsiResult> write(Nexus n, long lba) {
        byte[] c = new byte[16];
        c[0] = 0x2a;
        c[5] = (byte) lba;
        c[8] = 1;
        return lu.execute(new ScsiRequest(n, Bytes.wrapOwned(c), ByteBuffer.allocate(512), 512));
    }

    @Test
    void aSessionsDeviceIsClosedOnlyOnceItsLastCommandCompleted() {
        next = new MemoryBlockDevice("a-view", 512, 1 << 20, pending::add);
        lu.attach(a, whoA);
        CompletableFuture<ScsiResult> w = write(a, 3);
        assertFalse(w.isDone());
        lu.detach(a);
        assertEquals(List.of("open " + whoA.name()), events, "not closed under a running write");
        pending.forEach(Runnable::run);
        assertEquals(ScsiResult.GOOD, w.join().status());
        assertEquals(List.of("open " + whoA.name(), "closed " + whoA.name() + " a-view"), events);
    }

    @Test
    void aSessionThatNeverNeededTheLunOpensNothingAndClosesNothing() {
        lu.attach(a, whoA);
        lu.detach(a);
        assertEquals(List.of(), events);
    }

    @Test
    void aCommandFromANexusThatIsNotAttachedIsABugAndOpensNothing() {
        ScsiResult r = write(a, 3).join();
        assertEquals(ScsiResult.CHECK_CONDITION, r.status());
        assertEquals(Sense.INTERNAL_TARGET_FAILURE, r.sense());
        assertEquals(List.of(), events);
    }

    @Test
    void anOpenedDeviceOfAnotherBlockSizeIsRefusedAndClosed() {
        next = new MemoryBlockDevice("wrong", 4096, 1 << 20, Runnable::run);
        lu.attach(a, whoA);
        ScsiResult r = write(a, 3).join();
        assertEquals(Sense.INTERNAL_TARGET_FAILURE, r.sense());
        assertEquals(List.of("open " + whoA.name(), "closed " + whoA.name() + " wrong"), events);
    }

    @Test
    void aFencedExceptionAmongTheFirstCausesIsDataProtectWriteProtected() {
        FencedException fenced = new FencedException("vd0", 4, 5);
        for (Throwable t : List.of(fenced, new CompletionException(fenced), new ExecutionException(fenced),
                new CompletionException(new BlockDeviceException(BlockDeviceException.Kind.IO, "write failed", fenced)))) {
            Sense s = LogicalUnit.failure(t).sense();
            assertEquals(List.of(Sense.DATA_PROTECT, 0x27, 0x00), List.of(s.key(), s.asc(), s.ascq()), t.toString());
        }
        assertEquals(ScsiResult.BUSY, LogicalUnit.failure(new CompletionException(new BlockDeviceException(BlockDeviceException.Kind.TRANSIENT, "x")))
                .status(), "other device failures keep their mapping");
    }
}
