package io.basalt.iscsi.session;

import java.nio.charset.StandardCharsets;

/**
 * CHAP secrets for a target (or for discovery). The initiator proves {@code secret} under
 * {@code user}; with a mutual pair, the target proves {@code mutualSecret} under {@code mutualUser}.
 * Secrets are 12 to 255 bytes (RFC 7143 §12.1.3 asks for at least 96 bits), and the two
 * directions must not share a secret.
 */
public record ChapCredentials(String user, String secret, String mutualUser, String mutualSecret) {

    public static final int SECRET_BYTES_MIN = 12;
    public static final int SECRET_BYTES_MAX = 255;

    public ChapCredentials {
        checkSecret("secret", secret);
        if (user == null || user.isEmpty()) {
            throw new IllegalArgumentException("user: '" + user + "' (expected: a CHAP name)");
        }
        if (mutualSecret != null) {
            checkSecret("mutualSecret", mutualSecret);
            if (mutualSecret.equals(secret)) {
                throw new IllegalArgumentException("mutualSecret: equal to secret (expected: a different secret per direction)");
            }
            if (mutualUser == null || mutualUser.isEmpty()) {
                throw new IllegalArgumentException("mutualUser: '" + mutualUser + "' (expected: a CHAP name when mutualSecret is set)");
            }
        }
    }

    public static ChapCredentials oneWay(String user, String secret) {
        return new ChapCredentials(user, secret, null, null);
    }

    public boolean mutual() {
        return mutualSecret != null;
    }

    private static void checkSecret(String name, String s) {
        int n = s == null ? 0 : s.getBytes(StandardCharsets.UTF_8).length;
        if (n < SECRET_BYTES_MIN || n > SECRET_BYTES_MAX) {
            throw new IllegalArgumentException(name + " length: " + n + " bytes (expected: " + SECRET_BYTES_MIN + ".." + SECRET_BYTES_MAX + ")");
        }
    }

    @Override
    public String toString() {
        return "ChapCredentials[user=" + user + ", mutualUser=" + mutualUser + ", secrets hidden]";
    }
}
