package io.basalt.replication.link;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;

import javax.net.ssl.ExtendedSSLSession;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLSession;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * TLS 1.3 for the mirror link: encryption and integrity on the wire, and the session's exported
 * keying material that {@link LinkProof} binds the peers' proofs to. The server presents an
 * {@link EphemeralCertificate}; the client accepts any certificate, because the certificate
 * authenticates nothing here: the proofs do, and a man in the middle who presents his own
 * certificate cannot make them (docs/decisions/mirror-link-security.md).
 */
final class LinkTls {
    static final String PROTOCOL = "TLSv1.3";

    /**
     * {@code ExtendedSSLSession.exportKeyingMaterialData(String, byte[], int)}: public API since
     * JDK 25, while this code compiles for release 21, so it is looked up at run time; absent on
     * an older JDK, where the link refuses to start (naming the JDK) rather than run without it.
     */
    private static final MethodHandle EXPORT_KEYING_MATERIAL = exporter();

    private final SSLContext context;
    private final boolean server;

    private LinkTls(SSLContext context, boolean server) {
        this.context = context;
        this.server = server;
    }

    static LinkTls server(String siteId, SecureRandom random) {
        requireExporter();
        EphemeralCertificate cert = EphemeralCertificate.generate("basalt-mirror " + siteId, random);
        try {
            char[] password = new char[0]; // an in-memory keystore: the password protects nothing
            KeyStore keys = KeyStore.getInstance("PKCS12");
            keys.load(null, null);
            keys.setKeyEntry("link", cert.keyPair.getPrivate(), password, new X509Certificate[] {cert.certificate});
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(keys, password);
            SSLContext context = SSLContext.getInstance(PROTOCOL);
            context.init(kmf.getKeyManagers(), null, random);
            return new LinkTls(context, true);
        } catch (GeneralSecurityException | java.io.IOException e) {
            throw new IllegalStateException("cannot set up the mirror server's TLS: " + e, e);
        }
    }

    static LinkTls client(SecureRandom random) {
        requireExporter();
        try {
            SSLContext context = SSLContext.getInstance(PROTOCOL);
            context.init(null, new TrustManager[] {new AnyServerCertificate()}, random);
            return new LinkTls(context, false);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot set up the mirror client's TLS: " + e, e);
        }
    }

    /** A new engine for one connection, TLS 1.3 only. */
    SSLEngine newEngine() {
        SSLEngine engine = context.createSSLEngine();
        engine.setUseClientMode(!server);
        engine.setEnabledProtocols(new String[] {PROTOCOL});
        return engine;
    }

    /** {@link LinkProof#KEYING_MATERIAL_BYTES} of the handshaken session's exported keying material. */
    static byte[] keyingMaterial(SSLSession session) {
        if (!(session instanceof ExtendedSSLSession s) || !PROTOCOL.equals(session.getProtocol())) {
            throw new IllegalStateException("mirror link TLS session: " + session.getProtocol() + " " + session.getClass().getName()
                    + " (expected: " + PROTOCOL + ", a JDK session)");
        }
        try {
            return (byte[]) EXPORT_KEYING_MATERIAL.invokeExact(s, LinkProof.EXPORTER_LABEL, new byte[0], LinkProof.KEYING_MATERIAL_BYTES);
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException("cannot export the TLS session's keying material: " + e, e);
        }
    }

    private static void requireExporter() {
        if (EXPORT_KEYING_MATERIAL == null) {
            throw new IllegalStateException("the mirror link needs JDK 25 or newer (ExtendedSSLSession.exportKeyingMaterialData); running: "
                    + Runtime.version());
        }
    }

    private static MethodHandle exporter() {
        try {
            return MethodHandles.publicLookup().findVirtual(ExtendedSSLSession.class, "exportKeyingMaterialData",
                    MethodType.methodType(byte[].class, String.class, byte[].class, int.class));
        } catch (NoSuchMethodException | IllegalAccessException e) {
            return null;
        }
    }

    /**
     * Accepts the server's certificate, whatever it is: on this link the shared-secret proofs
     * bound to the session authenticate the server, not its certificate ({@link LinkProof}).
     */
    private static final class AnyServerCertificate extends X509ExtendedTrustManager {
        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
            checkPresent(chain);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
            checkPresent(chain);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            checkPresent(chain);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {
            throw new UnsupportedOperationException("the mirror client checks no client certificates");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) {
            throw new UnsupportedOperationException("the mirror client checks no client certificates");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {
            throw new UnsupportedOperationException("the mirror client checks no client certificates");
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }

        private static void checkPresent(X509Certificate[] chain) throws CertificateException {
            if (chain == null || chain.length == 0) {
                throw new CertificateException("mirror server sent no certificate");
            }
        }
    }
}
