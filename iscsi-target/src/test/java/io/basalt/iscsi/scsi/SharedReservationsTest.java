package io.basalt.iscsi.scsi;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.basalt.iscsi.MemoryBlockDevice;
import io.basalt.iscsi.pdu.Bytes;
import io.basalt.vdisk.BlockDevice;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/**
 * Two gateways of one LUN (two targets, two target ports) whose PR state lives in one shared
 * store: registrations, reservations and unit attentions made through one are seen through the
 * other, and a gateway whose copy is stale runs its command again on the newer state.
 */
class SharedReservationsTest {
    private static final String TARGET = "iqn.2026-11.io.basalt:cluster";
    private static final String HOST_A = "iqn.2026-11.x:a";
    private static final String HOST_B = "iqn.2026-11.x:b";

    /** The in-memory register, declared shared so the LUs re-read it as they would a cluster's. */
    private final PrStateStore shared = new PrStateStore() {
        private final PrStateStore memory = PrStateStore.inMemory();

        @Override
        public CompletableFuture<Versioned> read() {
            if (unreachable) {
                return CompletableFuture.failedFuture(new io.basalt.vdisk.BlockDeviceException(io.basalt.vdisk.BlockDeviceException.Kind.UNAVAILABLE,
                        "meta query PrStateOf: no leader (test)"));
            }
            return memory.read();
        }

        @Override
        public CompletableFuture<Boolean> compareAndSet(long expectedVersion, ByteBuffer state) {
            return memory.compareAndSet(expectedVersion, state);
        }

        @Override
        public boolean shared() {
            return true;
        }
    };
    /** The shared store cannot be read (a cluster's meta group without a quorum). */
    private volatile boolean unreachable;
    private final BlockDevice disk = new MemoryBlockDevice("vd0", 512, 1 << 20, Runnable::run);
    private final LogicalUnit gateway1 = gateway();
    private final LogicalUnit gateway2 = gateway();
    private final Nexus a1 = Nexus.of(HOST_A, 1, TARGET, 1);
    private final Nexus b2 = Nexus.of(HOST_B, 2, TARGET, 2);

    private LogicalUnit gateway() {
        LunSource source = new LunSource() {
            @Override
            public BlockDevice device() {
                return disk;
            }

            @Override
            public CompletableFuture<BlockDevice> open(Initiator who) {
                return CompletableFuture.completedFuture(disk);
            }

            @Override
            public void closed(Initiator who, BlockDevice device) {}

            @Override
            public PrStateStore prStateStore() {
                return shared;
            }
        };
        return TargetLuns.ofSources(TARGET, Map.of(0, source)).lun(0);
    }

    @Test
    void aReservationMadeThroughOneGatewayIsEnforcedAndReportedThroughTheOther() {
        gateway1.attach(a1, new Initiator(HOST_A, 1, 1, null));
        gateway2.attach(b2, new Initiator(HOST_B, 2, 1, null));
        assertEquals(ScsiResult.GOOD, prOut(gateway1, a1, 0, 0, 0, 0xa).status());
        assertEquals(List.of(0xaL), readKeys(gateway2, b2), "gateway 2 reads gateway 1's registration");
        assertEquals(ScsiResult.GOOD, prOut(gateway2, b2, 0, 0, 0, 0xb).status());
        assertEquals(List.of(0xaL, 0xbL), readKeys(gateway1, a1));

        assertEquals(ScsiResult.GOOD, prOut(gateway1, a1, 1, Reservations.WRITE_EXCLUSIVE, 0xa, 0).status());
        assertEquals(ScsiResult.RESERVATION_CONFLICT, write(gateway2, b2).status(), "gateway 2 enforces gateway 1's reservation");
        assertEquals(ScsiResult.GOOD, write(gateway1, a1).status());

        assertEquals(ScsiResult.GOOD, prOut(gateway2, b2, 4, Reservations.WRITE_EXCLUSIVE, 0xb, 0xa).status(), "B preempts A");
        ScsiResult told = write(gateway1, a1);
        assertEquals(ScsiResult.CHECK_CONDITION, told.status());
        assertEquals(Sense.REGISTRATIONS_PREEMPTED, told.sense(), "A learns through its own gateway that it was preempted");
        assertEquals(ScsiResult.RESERVATION_CONFLICT, write(gateway1, a1).status());
        assertEquals(ScsiResult.GOOD, write(gateway2, b2).status());
        assertEquals(List.of(0xbL), readKeys(gateway1, a1));
    }

    @Test
    void anUnreadableSharedStateFailsNoPlainDisksIoButBusiesOneWithRegistrations() {
        gateway1.attach(a1, new Initiator(HOST_A, 1, 1, null));
        unreachable = true;
        assertEquals(ScsiResult.GOOD, write(gateway1, a1).status(), "nothing registered: the write runs on the copy it has");
        unreachable = false;
        assertEquals(ScsiResult.GOOD, prOut(gateway1, a1, 0, 0, 0, 0xa).status());
        unreachable = true;
        assertEquals(ScsiResult.BUSY, write(gateway1, a1).status(), "registrations in use and not readable: the initiator retries");
        unreachable = false;
        assertEquals(ScsiResult.GOOD, write(gateway1, a1).status());
    }

    private static ScsiResult write(LogicalUnit lu, Nexus n) {
        byte[] c = new byte[10];
        c[0] = 0x2a;
        c[8] = 1;
        return lu.execute(new ScsiRequest(n, Bytes.wrapOwned(c), ByteBuffer.allocate(512), 512)).join();
    }

    private static ScsiResult prOut(LogicalUnit lu, Nexus n, int serviceAction, int type, long key, long serviceActionKey) {
        byte[] c = new byte[10];
        c[0] = 0x5f;
        c[1] = (byte) serviceAction;
        c[2] = (byte) type;
        c[8] = 24;
        ByteBuffer p = ByteBuffer.allocate(24).putLong(0, key).putLong(8, serviceActionKey);
        return lu.execute(new ScsiRequest(n, Bytes.wrapOwned(c), p, 24)).join();
    }

    private static List<Long> readKeys(LogicalUnit lu, Nexus n) {
        byte[] c = new byte[10];
        c[0] = 0x5e;
        c[8] = (byte) 200;
        ScsiResult r = lu.execute(new ScsiRequest(n, Bytes.wrapOwned(c), ByteBuffer.allocate(0), 200)).join();
        assertEquals(ScsiResult.GOOD, r.status(), "READ KEYS: " + r.sense());
        ByteBuffer d = r.dataIn();
        int count = d.getInt(4) / 8;
        return java.util.stream.IntStream.range(0, count).mapToObj(i -> d.getLong(8 + 8 * i)).toList();
    }
}
