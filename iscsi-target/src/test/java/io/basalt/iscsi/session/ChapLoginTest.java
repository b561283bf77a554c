package io.basalt.iscsi.session;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.basalt.iscsi.MemoryBlockDevice;
import io.basalt.iscsi.pdu.LoginRequest;
import io.basalt.iscsi.pdu.LoginResponse;
import io.basalt.iscsi.pdu.LoginStage;
import io.basalt.iscsi.pdu.SessionId;
import java.util.HexFormat;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** CHAP in the security stage, one-way and mutual, against a live connection. */
class ChapLoginTest {

    private static final ChapCredentials ONE_WAY = ChapCredentials.oneWay("alice", "alice-secret-12");
    private static final ChapCredentials MUTUAL = new ChapCredentials("alice", "alice-secret-12", "target", "target-secret-34");

    private final MemoryBlockDevice device = new MemoryBlockDevice("mem", 512, 1 << 20, Runnable::run);
    private InitiatorHarness h;

    @AfterEach
    void noLeaks() {
        h.close();
        assertEquals(0, h.alloc.unreleased());
    }

    private LoginResponse security(boolean transit, String... keys) {
        h.send(new LoginRequest(new LoginStage(transit, false, 0, 1), 0, 0, new SessionId(0x400001370000L, 0), h.itt++, 0, 1, 0, InitiatorHarness.text(h.alloc, keys)));
        return h.receiveOne(LoginResponse.class);
    }

    /** Runs AuthMethod and CHAP_A; returns the target's CHAP_I and CHAP_C. */
    private Map<String, String> challenge() {
        LoginResponse r = security(true, "InitiatorName=" + InitiatorHarness.INITIATOR, "TargetName=" + InitiatorHarness.TARGET,
                "AuthMethod=CHAP,None");
        assertEquals("CHAP", InitiatorHarness.keys(r).get("AuthMethod"));
        assertFalse(r.stage().transit(), "no transit before authentication");
        r.release();
        r = security(true, "CHAP_A=7,5");
        Map<String, String> keys = InitiatorHarness.keys(r);
        r.release();
        assertEquals("5", keys.get("CHAP_A"));
        return keys;
    }

    private static String response(Map<String, String> challenge, String secret) {
        byte[] c = HexFormat.of().parseHex(challenge.get("CHAP_C").substring(2));
        return "0x" + HexFormat.of().formatHex(Chap.md5(Integer.parseInt(challenge.get("CHAP_I")), secret, c));
    }

    @Test
    void oneWayChapAuthenticatesAndTransits() {
        h = new InitiatorHarness(device, ONE_WAY, InitiatorHarness.settings());
        Map<String, String> c = challenge();
        LoginResponse r = security(true, "CHAP_N=alice", "CHAP_R=" + response(c, "alice-secret-12"));
        assertEquals(0, r.status().statusClass());
        assertTrue(r.stage().transit());
        assertEquals(1, r.stage().nsg());
        r.release();
    }

    @Test
    void mutualChapProvesTheTargetToo() {
        h = new InitiatorHarness(device, MUTUAL, InitiatorHarness.settings());
        Map<String, String> c = challenge();
        byte[] mine = HexFormat.of().parseHex("00112233445566778899aabbccddeeff");
        LoginResponse r = security(true, "CHAP_N=alice", "CHAP_R=" + response(c, "alice-secret-12"), "CHAP_I=77",
                "CHAP_C=0x" + HexFormat.of().formatHex(mine));
        Map<String, String> keys = InitiatorHarness.keys(r);
        assertTrue(r.stage().transit());
        r.release();
        assertEquals("target", keys.get("CHAP_N"));
        assertArrayEquals(Chap.md5(77, "target-secret-34", mine), HexFormat.of().parseHex(keys.get("CHAP_R").substring(2)));
    }

    @Test
    void wrongResponseFailsAuthenticationAndCloses() {
        h = new InitiatorHarness(device, ONE_WAY, InitiatorHarness.settings());
        Map<String, String> c = challenge();
        LoginResponse r = security(true, "CHAP_N=alice", "CHAP_R=" + response(c, "not-the-secret!"));
        assertEquals(2, r.status().statusClass());
        assertEquals(1, r.status().statusDetail());
        r.release();
        assertFalse(h.channel.isOpen());
    }

    @Test
    void reflectedChallengeIsRefused() {
        h = new InitiatorHarness(device, MUTUAL, InitiatorHarness.settings());
        Map<String, String> c = challenge();
        LoginResponse r = security(true, "CHAP_N=alice", "CHAP_R=" + response(c, "alice-secret-12"), "CHAP_I=" + c.get("CHAP_I"),
                "CHAP_C=" + c.get("CHAP_C"));
        assertEquals(2, r.status().statusClass());
        assertEquals(1, r.status().statusDetail());
        r.release();
    }

    @Test
    void noneIsRefusedWhenChapIsRequired() {
        h = new InitiatorHarness(device, ONE_WAY, InitiatorHarness.settings());
        LoginResponse r = security(true, "InitiatorName=" + InitiatorHarness.INITIATOR, "TargetName=" + InitiatorHarness.TARGET,
                "AuthMethod=None");
        assertEquals(2, r.status().statusClass());
        assertEquals(1, r.status().statusDetail());
        r.release();
    }

    @Test
    void operationalStageCannotSkipAuthentication() {
        h = new InitiatorHarness(device, ONE_WAY, InitiatorHarness.settings());
        h.send(new LoginRequest(new LoginStage(true, false, 1, 3), 0, 0, new SessionId(1, 0), 1, 0, 1, 0, InitiatorHarness.text(h.alloc,
                "InitiatorName=" + InitiatorHarness.INITIATOR, "TargetName=" + InitiatorHarness.TARGET)));
        LoginResponse r = h.receiveOne(LoginResponse.class);
        assertEquals(2, r.status().statusClass());
        r.release();
    }

    @Test
    void secretsAreAtLeastTwelveBytesAndDifferPerDirection() {
        h = new InitiatorHarness(device, null, InitiatorHarness.settings());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ChapCredentials.oneWay("a", "short"))
                .getMessage().contains("secret length: 5 bytes"));
        assertThrows(IllegalArgumentException.class, () -> new ChapCredentials("a", "same-secret-123", "t", "same-secret-123"));
    }
}
