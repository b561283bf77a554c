package io.basalt.node.mirror;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Base64;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Peering: who may ship to a site is its peer records, and a peer proves the shared secret. */
class MirrorPeeringTest {
    @TempDir
    Path dir;

    private static byte[] secret(int fill) {
        byte[] s = new byte[32];
        Arrays.fill(s, (byte) fill);
        return s;
    }

    @Test
    void aPeerWithTheWrongSecretIsRefusedAndNothingIsApplied() throws InterruptedException {
        try (TwoSites sites = new TwoSites(dir, secret(1), secret(2))) {
            sites.a.store.create("vm1", 8L << 20);
            sites.a.config.putMirror(new MirrorConfig.Mirror("vm1", "site-b", 200, false));
            TwoSites.await("a refused round", Duration.ofSeconds(20), () -> sites.a.status("vm1").state().equals("ERROR"));
            MirrorStatus.Row row = sites.a.status("vm1");
            assertTrue(row.error().contains("did not prove the shared secret") || row.error().contains("is the shared secret the same"), row.error());
            assertFalse(sites.b.store.exists("vm1"), "nothing reaches site b from a peer that did not prove the secret");

            // The same secret on both sides: the next round goes through.
            TwoSites.peer(sites.b, sites.a, secret(1));
            TwoSites.await("a round applied", Duration.ofSeconds(20), () -> sites.a.status("vm1").state().equals("OK"));
            assertTrue(sites.b.store.exists("vm1"));
            assertEquals("replica", sites.b.status("vm1").role());
        }
    }

    @Test
    void peerRecordsRefuseBadNamesAddressesAndShortSecrets() {
        try (TwoSites.Site s = new TwoSites.Site("site-x", dir)) {
            String ok = Base64.getEncoder().encodeToString(secret(3));
            assertThrows(IllegalArgumentException.class, () -> s.config.putPeer(new MirrorConfig.Peer("Bad Name", "127.0.0.1:1", ok, 0)));
            assertThrows(IllegalArgumentException.class, () -> s.config.putPeer(new MirrorConfig.Peer("b", "nowhere", ok, 0)));
            IllegalArgumentException shortSecret = assertThrows(IllegalArgumentException.class, () -> s.config.putPeer(
                    new MirrorConfig.Peer("b", "127.0.0.1:1", Base64.getEncoder().encodeToString(new byte[8]), 0)));
            assertTrue(shortSecret.getMessage().contains("8 bytes"), shortSecret.getMessage());
            s.config.putPeer(new MirrorConfig.Peer("b", "127.0.0.1:7443", ok, 0));
            s.config.putMirror(new MirrorConfig.Mirror("vm1", "b", 2000, false));
            IllegalArgumentException inUse = assertThrows(IllegalArgumentException.class, () -> s.config.removePeer("b"));
            assertTrue(inUse.getMessage().contains("[vm1]"), inUse.getMessage());
            s.config.removeMirror("vm1");
            s.config.removePeer("b");
            assertTrue(s.config.peers().isEmpty());
            IllegalArgumentException rename = assertThrows(IllegalArgumentException.class, () -> s.config.initSite("site-y"));
            assertTrue(rename.getMessage().contains("expected: site-x"), rename.getMessage());
        }
    }
}
