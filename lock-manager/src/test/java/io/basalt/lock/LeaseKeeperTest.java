package io.basalt.lock;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class LeaseKeeperTest {
    private static final long MS = 1_000_000L;

    @Test
    void clientLeaseEndsBeforeTheLeadersTimer() {
        // The renewal leaves the client at 1,000 ms, the leader applies it at 1,300 ms; both clocks
        // run at the same rate here, but the leader's may run up to 10 % fast.
        Session s = new Session(1, "a", 8_000, 0, 0, 1);
        LeaseKeeper client = new LeaseKeeper(s.leaseMs());
        LeaseTimers leader = new LeaseTimers();
        leader.renewed(s, 1_300 * MS);
        client.renewed(1_000 * MS);
        long clientEndMs = 1_000 + 7_200;
        assertTrue(client.valid((clientEndMs - 1) * MS));
        assertFalse(client.valid(clientEndMs * MS));
        assertEquals(List.of(), leader.expired(clientEndMs * MS), "the leader still times the lease when the client gives up");
        long fastLeaderDeadlineMs = 1_300 + 8_000 * 10 / 11;   // a leader clock 10 % fast ends the lease this early
        assertTrue(clientEndMs < fastLeaderDeadlineMs);
    }

    @Test
    void notValidBeforeTheFirstRenewal() {
        LeaseKeeper k = new LeaseKeeper(8_000);
        assertFalse(k.valid(0));
        assertEquals(-1, k.remainingNanos(0));
    }

    @Test
    void aLateAcknowledgementOfAnOlderRenewalDoesNotShortenTheLease() {
        LeaseKeeper k = new LeaseKeeper(8_000);
        k.renewed(5_000 * MS);
        k.renewed(1_000 * MS);
        assertTrue(k.valid(12_000 * MS - 1));
        assertEquals(200 * MS, k.remainingNanos(12_000 * MS));
    }

    @Test
    void aLeaseOfZeroIsRefused() {
        assertEquals("leaseMs: 0 (expected: > 0)", assertThrows(IllegalArgumentException.class, () -> new LeaseKeeper(0)).getMessage());
    }
}
