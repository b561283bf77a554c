package io.basalt.node.locks;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.iscsi.pdu.Bytes;
import io.basalt.iscsi.scsi.Initiator;
import io.basalt.iscsi.scsi.LogicalUnit;
import io.basalt.iscsi.scsi.Nexus;
import io.basalt.iscsi.scsi.ScsiRequest;
import io.basalt.iscsi.scsi.ScsiResult;
import io.basalt.iscsi.scsi.Sense;
import io.basalt.iscsi.scsi.TargetLuns;
import io.basalt.lock.Holding;
import io.basalt.lock.LockMode;
import io.basalt.vdisk.store.VdiskStore;

/**
 * Hosts that register a persistent-reservation key take a LUN's lock multi-writer, so the
 * reservation arbitrates among them; a host that never registered still takes it exclusive and is
 * refused (DATA PROTECT / WRITE PROTECTED) while others hold it. One LU of {@link HostLuns} on the
 * embedded store, driven with SCSI commands per nexus, without a transport.
 */
class PrRegistrantLocksTest {
    private static final String TARGET = "iqn.2026-11.io.basalt:t";
    private static final String HOST_A = "iqn.2026-11.x:a";
    private static final String HOST_B = "iqn.2026-11.x:b";
    private static final String HOST_C = "iqn.2026-11.x:c";
    private static final int PR_WRITE_EXCLUSIVE_REGISTRANTS_ONLY = 5;

    @TempDir
    Path dir;
    private VdiskStore store;
    private EmbeddedLocks locks;
    private HostLuns hostLuns;
    private LogicalUnit lu;

    @BeforeEach
    void serve() {
        store = VdiskStore.open(dir.resolve("store"));
        store.create("web1", 1 << 20, 512, 4096);
        locks = EmbeddedLocks.open(store);
        hostLuns = new HostLuns(LockedStore.embedded(store, locks));
        lu = TargetLuns.ofSources(TARGET, Map.of(0, hostLuns.lun("web1"))).lun(0);
        int tsih = 1;
        for (String host : List.of(HOST_A, HOST_B, HOST_C)) {
            lu.attach(nexus(host), new Initiator(host, 1, tsih++, null));
        }
    }

    @AfterEach
    void stop() {
        for (String host : List.of(HOST_A, HOST_B, HOST_C)) {
            lu.detach(nexus(host));
        }
        hostLuns.close();
        locks.close();
        store.close();
    }

    @Test
    void twoRegisteredHostsBothWriteAndAnUnregisteredHostIsRefused() {
        assertEquals(ScsiResult.GOOD, register(HOST_A, 0xa).status());
        assertEquals(ScsiResult.GOOD, register(HOST_B, 0xb).status());
        assertEquals(ScsiResult.GOOD, reserve(HOST_A, 0xa, PR_WRITE_EXCLUSIVE_REGISTRANTS_ONLY).status());

        assertEquals(ScsiResult.GOOD, write(HOST_A, 1).status(), "registrant A writes");
        assertEquals(ScsiResult.GOOD, write(HOST_B, 2).status(), "registrant B writes too");
        assertEquals(List.of(LockMode.MULTI_WRITER, LockMode.MULTI_WRITER), modes());

        assertEquals(ScsiResult.RESERVATION_CONFLICT, write(HOST_C, 3).status(), "the reservation refuses a non-registrant first");
        assertEquals(ScsiResult.GOOD, release(HOST_A, 0xa, PR_WRITE_EXCLUSIVE_REGISTRANTS_ONLY).status());
        assertFenced(write(HOST_C, 3), "without a reservation, the lock refuses the unregistered host");
    }

    @Test
    void aHostThatWroteExclusiveThenRegisteredLetsAnotherRegistrantWrite() {
        assertEquals(ScsiResult.GOOD, write(HOST_A, 1).status());
        assertEquals(List.of(LockMode.EXCLUSIVE), modes());
        assertFenced(write(HOST_B, 2), "B writes while A holds the disk exclusive");

        assertEquals(ScsiResult.GOOD, register(HOST_A, 0xa).status());
        assertEquals(List.of(LockMode.MULTI_WRITER), modes(), "A switched when it registered");
        assertEquals(ScsiResult.GOOD, write(HOST_A, 1).status(), "A writes with the switch's token");
        assertEquals(ScsiResult.GOOD, register(HOST_B, 0xb).status());
        assertEquals(ScsiResult.GOOD, write(HOST_B, 2).status(), "B joins as a multi-writer");
        assertEquals(ScsiResult.GOOD, write(HOST_A, 3).status(), "A still writes after B joined");
        assertEquals(List.of(LockMode.MULTI_WRITER, LockMode.MULTI_WRITER), modes());
        assertFenced(write(HOST_C, 4), "an unregistered host still may not join registrants");
    }

    @Test
    void aRegistrantIsRefusedWhileAnUnregisteredHostHoldsTheDiskExclusive() {
        assertEquals(ScsiResult.GOOD, write(HOST_C, 1).status());
        assertEquals(ScsiResult.GOOD, register(HOST_A, 0xa).status());
        assertFenced(write(HOST_A, 2), "a multi-writer does not join an exclusive holder");
        assertEquals(List.of(LockMode.EXCLUSIVE), modes());
    }

    private List<LockMode> modes() {
        return locks.lock("web1").orElseThrow().holders().stream().map(Holding::mode).toList();
    }

    private static void assertFenced(ScsiResult r, String what) {
        assertEquals(ScsiResult.CHECK_CONDITION, r.status(), what);
        Sense s = r.sense();
        assertEquals(List.of(Sense.DATA_PROTECT, 0x27, 0x00), List.of(s.key(), s.asc(), s.ascq()), what);
    }

    private static Nexus nexus(String host) {
        return Nexus.of(host, 1, TARGET, 1);
    }

    private ScsiResult write(String host, long lba) {
        byte[] c = new byte[10];
        c[0] = 0x2a;
        c[5] = (byte) lba;
        c[8] = 1;
        return lu.execute(new ScsiRequest(nexus(host), Bytes.wrapOwned(c), ByteBuffer.allocate(512), 512)).join();
    }

    private ScsiResult register(String host, long key) {
        return prOut(host, 0, 0, 0, key);
    }

    private ScsiResult reserve(String host, long key, int type) {
        return prOut(host, 1, type, key, 0);
    }

    private ScsiResult release(String host, long key, int type) {
        return prOut(host, 2, type, key, 0);
    }

    private ScsiResult prOut(String host, int serviceAction, int type, long key, long serviceActionKey) {
        byte[] c = new byte[10];
        c[0] = 0x5f;
        c[1] = (byte) serviceAction;
        c[2] = (byte) type;
        c[8] = 24;
        ByteBuffer p = ByteBuffer.allocate(24).putLong(0, key).putLong(8, serviceActionKey);
        return lu.execute(new ScsiRequest(nexus(host), Bytes.wrapOwned(c), p, 24)).join();
    }
}
