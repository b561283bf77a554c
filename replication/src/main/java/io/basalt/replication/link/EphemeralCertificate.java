package io.basalt.replication.link;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;

/**
 * A self-signed certificate for a key pair made now and kept only in memory: what a mirror
 * server presents in its TLS handshake. It carries no identity anyone checks (the peers
 * authenticate each other with the shared secret, bound to the TLS session:
 * docs/decisions/mirror-link-security.md); TLS needs a certificate to run at all.
 *
 * <p>Written here in a few lines of DER because the JDK has no public API that makes one, and
 * Netty's {@code SelfSignedCertificate} (deprecated), without BouncyCastle, runs the
 * {@code keytool} program (seen on JDK 25), which leaves the private key in a temporary keystore
 * file under a fixed password; a BouncyCastle dependency for one certificate is not worth it.
 */
final class EphemeralCertificate {
    /** ecdsa-with-SHA256 (RFC 5758). */
    private static final byte[] OID_ECDSA_SHA256 = {0x2a, (byte) 0x86, 0x48, (byte) 0xce, 0x3d, 0x04, 0x03, 0x02};
    /** id-at-commonName. */
    private static final byte[] OID_COMMON_NAME = {0x55, 0x04, 0x03};
    private static final DateTimeFormatter UTC_TIME = DateTimeFormatter.ofPattern("yyMMddHHmmss'Z'").withZone(ZoneOffset.UTC);
    /** Longer than any process lives; the certificate dies with it. */
    private static final Duration VALIDITY = Duration.ofDays(3650);

    final KeyPair keyPair;
    final X509Certificate certificate;

    private EphemeralCertificate(KeyPair keyPair, X509Certificate certificate) {
        this.keyPair = keyPair;
        this.certificate = certificate;
    }

    /** A new P-256 key pair and its self-signed certificate for {@code commonName}. */
    static EphemeralCertificate generate(String commonName, SecureRandom random) {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"), random);
            KeyPair keys = g.generateKeyPair();
            byte[] algorithm = der(0x30, der(0x06, OID_ECDSA_SHA256));
            byte[] name = der(0x30, der(0x31, der(0x30, cat(der(0x06, OID_COMMON_NAME),
                    der(0x0c, commonName.getBytes(StandardCharsets.UTF_8))))));
            Instant now = Instant.now();
            byte[] validity = der(0x30, cat(utcTime(now.minus(Duration.ofDays(1))), utcTime(now.plus(VALIDITY))));
            byte[] serial = der(0x02, new BigInteger(63, random).add(BigInteger.ONE).toByteArray());
            // Version 1 (the field left out): no extensions, nothing for anyone to check.
            byte[] tbs = der(0x30, cat(serial, algorithm, name, validity, name, keys.getPublic().getEncoded()));
            Signature signer = Signature.getInstance("SHA256withECDSA");
            signer.initSign(keys.getPrivate(), random);
            signer.update(tbs);
            byte[] signature = cat(new byte[] {0}, signer.sign()); // a BIT STRING: no unused bits
            byte[] cert = der(0x30, cat(tbs, algorithm, der(0x03, signature)));
            X509Certificate x509 = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(new ByteArrayInputStream(cert));
            x509.verify(keys.getPublic());
            return new EphemeralCertificate(keys, x509);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot make the mirror link's TLS certificate: " + e, e);
        }
    }

    private static byte[] utcTime(Instant t) {
        return der(0x17, UTC_TIME.format(t).getBytes(StandardCharsets.US_ASCII));
    }

    /** One DER element: tag, definite length, content. */
    private static byte[] der(int tag, byte[] content) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(content.length + 6);
        out.write(tag);
        int n = content.length;
        if (n < 0x80) {
            out.write(n);
        } else {
            int bytes = (32 - Integer.numberOfLeadingZeros(n) + 7) / 8;
            out.write(0x80 | bytes);
            for (int i = bytes - 1; i >= 0; i--) {
                out.write(n >>> (8 * i));
            }
        }
        out.writeBytes(content);
        return out.toByteArray();
    }

    private static byte[] cat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }
}
