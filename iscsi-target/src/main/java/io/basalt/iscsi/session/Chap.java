package io.basalt.iscsi.session;

import io.basalt.iscsi.pdu.TextKeys.Pair;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.random.RandomGenerator;

/**
 * CHAP with MD5 (RFC 1994, RFC 7143 §12.1.3), one-way and mutual. The challenge comes from the
 * injected random source (SecureRandom in production). A mutual challenge equal to ours is a
 * reflection attack and fails the login.
 */
final class Chap {

    static final int ALGORITHM_MD5 = 5;
    private static final int CHALLENGE_BYTES = 16;
    private static final int CHALLENGE_BYTES_MAX = 1024;

    enum State { WAIT_ALGORITHM, WAIT_RESPONSE, DONE }

    private final ChapCredentials credentials;
    private final RandomGenerator random;
    private State state = State.WAIT_ALGORITHM;
    private int identifier;
    private byte[] challenge;

    Chap(ChapCredentials credentials, RandomGenerator random) {
        this.credentials = credentials;
        this.random = random;
    }

    boolean done() {
        return state == State.DONE;
    }

    /** One security-stage exchange; returns the keys to send back. */
    List<Pair> step(Map<String, String> keys) throws LoginException {
        return switch (state) {
            case WAIT_ALGORITHM -> offerChallenge(keys.get("CHAP_A"));
            case WAIT_RESPONSE -> verify(keys);
            case DONE -> List.of();
        };
    }

    private List<Pair> offerChallenge(String algorithms) throws LoginException {
        if (algorithms == null) {
            return List.of();
        }
        if (!Arrays.asList(algorithms.split(",")).contains(Integer.toString(ALGORITHM_MD5))) {
            throw fail("CHAP_A: " + algorithms + " (expected: a list containing 5)");
        }
        identifier = random.nextInt(256);
        challenge = new byte[CHALLENGE_BYTES];
        random.nextBytes(challenge);
        state = State.WAIT_RESPONSE;
        return List.of(new Pair("CHAP_A", "5"), new Pair("CHAP_I", Integer.toString(identifier)),
                new Pair("CHAP_C", "0x" + HexFormat.of().formatHex(challenge)));
    }

    private List<Pair> verify(Map<String, String> keys) throws LoginException {
        String name = keys.get("CHAP_N");
        String response = keys.get("CHAP_R");
        if (name == null || response == null) {
            throw fail("CHAP_N/CHAP_R: missing (expected: both after a challenge)");
        }
        byte[] expected = md5(identifier, credentials.secret(), challenge);
        if (!name.equals(credentials.user()) || !MessageDigest.isEqual(expected, binary("CHAP_R", response))) {
            throw fail("CHAP_R for CHAP_N=" + name + ": wrong name or response");
        }
        state = State.DONE;
        return mutual(keys.get("CHAP_I"), keys.get("CHAP_C"));
    }

    private List<Pair> mutual(String id, String theirChallenge) throws LoginException {
        if (id == null && theirChallenge == null) {
            return List.of();
        }
        if (id == null || theirChallenge == null || !credentials.mutual()) {
            throw fail("mutual CHAP: requested but " + (credentials.mutual() ? "CHAP_I or CHAP_C missing" : "no target secret is configured"));
        }
        int i = Negotiator.numeric(id, 0, 255);
        byte[] c = binary("CHAP_C", theirChallenge);
        if (i < 0 || c.length == 0) {
            throw fail("CHAP_I: " + id + " (expected: 0..255 with a non-empty CHAP_C)");
        }
        if (Arrays.equals(c, challenge)) {
            throw fail("CHAP_C: equal to our challenge (expected: a fresh challenge; reflection refused)");
        }
        byte[] r = md5(i, credentials.mutualSecret(), c);
        return List.of(new Pair("CHAP_N", credentials.mutualUser()), new Pair("CHAP_R", "0x" + HexFormat.of().formatHex(r)));
    }

    static byte[] md5(int identifier, String secret, byte[] challenge) {
        try {
            MessageDigest md = MessageDigest.getInstance("MD5");
            md.update((byte) identifier);
            md.update(secret.getBytes(StandardCharsets.UTF_8));
            md.update(challenge);
            return md.digest();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("MD5 is required of every JDK", e);
        }
    }

    /** A CHAP binary value: 0x hex or 0b base64. */
    static byte[] binary(String key, String value) throws LoginException {
        try {
            byte[] b;
            if (value.startsWith("0x") || value.startsWith("0X")) {
                String hex = value.substring(2);
                b = HexFormat.of().parseHex(hex.length() % 2 == 1 ? "0" + hex : hex);
            } else if (value.startsWith("0b") || value.startsWith("0B")) {
                b = Base64.getDecoder().decode(value.substring(2));
            } else {
                throw fail(key + ": '" + value + "' (expected: 0x hex or 0b base64)");
            }
            if (b.length > CHALLENGE_BYTES_MAX) {
                throw fail(key + " length: " + b.length + " bytes (expected: <= " + CHALLENGE_BYTES_MAX + ")");
            }
            return b;
        } catch (IllegalArgumentException e) {
            throw fail(key + ": not decodable (" + e.getMessage() + ")");
        }
    }

    private static LoginException fail(String message) {
        return LoginException.initiator(LoginException.AUTHENTICATION_FAILED, message);
    }
}
