package io.basalt.replication.link;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The proof each side of a mirror link gives that it knows the shared secret:
 * HMAC-SHA256(secret, role, the TLS session's exported keying material, both nonces, both site
 * ids). The keying material is unique to one TLS session and known only to its two ends, so a
 * man in the middle, who runs one session with each side, cannot pass a proof from one on to
 * the other; the role keeps the server's proof from being played back as the client's
 * (docs/decisions/mirror-link-security.md).
 */
final class LinkProof {
    /** The RFC 8446 exporter label; also names the protocol version the proof belongs to. */
    static final String EXPORTER_LABEL = "EXPORTER-basalt-mirror-link-v1";
    static final int KEYING_MATERIAL_BYTES = 32;
    static final int NONCE_BYTES = 32;
    static final int PROOF_BYTES = 32;

    enum Role { CLIENT, SERVER }

    private LinkProof() {}

    /**
     * @param keyingMaterial this TLS session's exported keying material ({@link #EXPORTER_LABEL})
     * @param clientSite     the site id the client said in its hello
     * @param serverSite     the site id the server said in its hello
     */
    static byte[] compute(LinkSecret secret, Role role, byte[] keyingMaterial, byte[] clientNonce, byte[] serverNonce,
                          String clientSite, String serverSite) {
        if (keyingMaterial.length != KEYING_MATERIAL_BYTES || clientNonce.length != NONCE_BYTES || serverNonce.length != NONCE_BYTES) {
            throw new IllegalArgumentException("keying material " + keyingMaterial.length + ", nonces " + clientNonce.length + "/"
                    + serverNonce.length + " bytes (expected: " + KEYING_MATERIAL_BYTES + ", " + NONCE_BYTES + ")");
        }
        ByteArrayOutputStream in = new ByteArrayOutputStream();
        field(in, role.name().getBytes(StandardCharsets.US_ASCII));
        field(in, keyingMaterial);
        field(in, clientNonce);
        field(in, serverNonce);
        field(in, clientSite.getBytes(StandardCharsets.UTF_8));
        field(in, serverSite.getBytes(StandardCharsets.UTF_8));
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret.bytes(), "HmacSHA256"));
            return mac.doFinal(in.toByteArray());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 unavailable: " + e, e);
        }
    }

    /** Compares in constant time. */
    static boolean matches(byte[] expected, byte[] received) {
        return MessageDigest.isEqual(expected, received);
    }

    /** Length-prefixed, so no two different inputs run together into the same bytes. */
    private static void field(ByteArrayOutputStream out, byte[] value) {
        out.write(value.length >>> 8);
        out.write(value.length);
        out.writeBytes(value);
    }
}
