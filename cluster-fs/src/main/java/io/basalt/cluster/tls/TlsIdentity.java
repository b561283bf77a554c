package io.basalt.cluster.tls;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * Who a process is on a cluster with TLS: its certificate and private key (PEM files, the key
 * PKCS#8), and the cluster CA's certificate, the one issuer it trusts. Nodes and clients present
 * their certificate to each other (mutual TLS) and accept only a peer the CA signed.
 *
 * <p>The files are read when a connection is set up, not held: {@link #load} checks them once,
 * naming the file that is missing or unreadable.
 */
public record TlsIdentity(Path caCertFile, Path certFile, Path keyFile) {
    /** The key store entry's password: the store lives only in memory, so it protects nothing. */
    private static final char[] IN_MEMORY_PASSWORD = "basalt".toCharArray();

    /** The identity whose files are {@code NAME.crt} and {@code NAME.key} in {@code dir}, beside {@code ca.crt}. */
    public static TlsIdentity in(Path dir, String name) {
        return new TlsIdentity(dir.resolve("ca.crt"), dir.resolve(name + ".crt"), dir.resolve(name + ".key"));
    }

    /** Reads the three files, failing with the name of the first one that cannot be used. */
    public TlsIdentity load() {
        caCertificate();
        certificate();
        privateKey();
        return this;
    }

    public X509Certificate caCertificate() {
        return readCertificate(caCertFile);
    }

    public X509Certificate certificate() {
        return readCertificate(certFile);
    }

    public PrivateKey privateKey() {
        String pem = read(keyFile);
        int begin = pem.indexOf("-----BEGIN PRIVATE KEY-----");
        int end = pem.indexOf("-----END PRIVATE KEY-----");
        if (begin < 0 || end < begin) {
            throw new IllegalArgumentException("TLS key " + keyFile + ": no PEM PRIVATE KEY block (expected: a PKCS#8 key, as basalt cluster up writes)");
        }
        byte[] der = Base64.getMimeDecoder().decode(pem.substring(begin + "-----BEGIN PRIVATE KEY-----".length(), end));
        for (String algorithm : new String[] {"EC", "RSA"}) {
            try {
                return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(der));
            } catch (GeneralSecurityException e) {
                // Not this algorithm: try the next.
            }
        }
        throw new IllegalArgumentException("TLS key " + keyFile + ": neither an EC nor an RSA PKCS#8 key");
    }

    /**
     * A JDK TLS context presenting this identity and trusting the CA alone: for HTTPS servers
     * and clients (the management API, the host agents).
     */
    public SSLContext sslContext() {
        try {
            KeyStore keys = KeyStore.getInstance("PKCS12");
            keys.load(null, null);
            keys.setKeyEntry("self", privateKey(), IN_MEMORY_PASSWORD, new X509Certificate[] {certificate(), caCertificate()});
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(keys, IN_MEMORY_PASSWORD);
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(kmf.getKeyManagers(), trustManagers(caCertificate()), null);
            return context;
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("TLS identity " + certFile + ": " + e.getMessage(), e);
        }
    }

    /** A client TLS context that trusts the CA in {@code caCertFile} and presents nothing. */
    public static SSLContext trusting(Path caCertFile) {
        try {
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, trustManagers(readCertificate(caCertFile)), null);
            return context;
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("TLS CA " + caCertFile + ": " + e.getMessage(), e);
        }
    }

    private static javax.net.ssl.TrustManager[] trustManagers(X509Certificate ca) throws GeneralSecurityException, IOException {
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        trust.setCertificateEntry("cluster-ca", ca);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        return tmf.getTrustManagers();
    }

    private static X509Certificate readCertificate(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        } catch (IOException e) {
            throw new IllegalArgumentException("TLS certificate " + file + ": cannot read: " + e, e);
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException("TLS certificate " + file + ": not a PEM X.509 certificate: " + e.getMessage(), e);
        }
    }

    private static String read(Path file) {
        try {
            return Files.readString(file, StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new IllegalArgumentException("TLS key " + file + ": cannot read: " + e, e);
        }
    }
}
