package io.basalt.replication.link;

import java.util.Arrays;
import java.util.Base64;

/**
 * The secret two sites share to authenticate their mirror link: random bytes, at least
 * {@link #BYTES_MIN}. Both sides prove they know it without sending it
 * ({@link LinkProof}); a captured proof lets an attacker test guesses offline, so it must be
 * random, not a password a person chose. Never printed: {@link #toString()} names its length only.
 */
public final class LinkSecret {
    /** 128 bits: out of reach of an offline guess. */
    public static final int BYTES_MIN = 16;

    private final byte[] bytes;

    private LinkSecret(byte[] bytes) {
        if (bytes.length < BYTES_MIN) {
            throw new IllegalArgumentException("mirror link secret: " + bytes.length + " bytes (expected: >= " + BYTES_MIN + ", random)");
        }
        this.bytes = bytes.clone();
    }

    public static LinkSecret of(byte[] bytes) {
        return new LinkSecret(bytes);
    }

    /** From its base64 form (how an operator pastes it into both sites' configuration). */
    public static LinkSecret fromBase64(String base64) {
        return new LinkSecret(Base64.getDecoder().decode(base64.strip()));
    }

    byte[] bytes() {
        return bytes.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LinkSecret s && java.security.MessageDigest.isEqual(bytes, s.bytes);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(bytes);
    }

    @Override
    public String toString() {
        return "LinkSecret[" + bytes.length + " bytes]";
    }
}
