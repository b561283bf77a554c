package io.basalt.node.host;

import java.net.Socket;
import java.net.http.HttpClient;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Optional;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import javax.net.ssl.X509TrustManager;

import io.basalt.cluster.tls.TlsIdentity;

/**
 * TLS between host agents and their callers on a TLS cluster (docs/security.md). An agent's
 * control API is then HTTPS with mutual authentication: the agent presents this process's
 * certificate of the cluster CA (an agent's is the client certificate, a node's its own) and asks
 * every caller for one, then for the agent token as before. Both ends check that the peer's chain
 * ends at the cluster's CA, and not the host name: every agent shares the client certificate,
 * which names no agent's address, and a holder of any certificate of the CA is a member of the
 * cluster already (as on the node port). On a cluster without TLS and on the embedded store
 * (whose agents run on its own machine) the API stays plain HTTP.
 *
 * <p>The identity comes with the datastore: {@link io.basalt.node.config.Configs#tls} of a TLS
 * cluster opened with its certificate, through {@link Inventory#agentTls}.
 */
public final class AgentTls {
    public static final String SCHEME = "https://";
    private static final char[] IN_MEMORY_PASSWORD = "basalt".toCharArray();
    /** One context and client per identity (their set-up reads and parses the key files). */
    private static final java.util.Map<TlsIdentity, AgentTls> MADE = new java.util.concurrent.ConcurrentHashMap<>();

    private final SSLContext context;
    private final HttpClient client;

    private AgentTls(SSLContext context) {
        this.context = context;
        this.client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).sslContext(context).build();
    }

    /** Agents serving HTTPS with {@code identity}, and clients presenting it. */
    public static AgentTls of(TlsIdentity identity) {
        return MADE.computeIfAbsent(identity, id -> new AgentTls(context(id)));
    }

    /** The TLS context agents serve with and clients connect with. */
    SSLContext context() {
        return context;
    }

    /** The client for an agent registered at {@code api}: HTTPS for an {@code https://} address, else {@code plain}. */
    static HttpClient clientFor(String api, Optional<AgentTls> tls, HttpClient plain) {
        if (!api.startsWith(SCHEME)) {
            return plain;
        }
        return tls.orElseThrow(() -> new IllegalStateException("host agent at " + api + " speaks HTTPS (an agent of a TLS cluster): this"
                + " process holds no certificate of the cluster's CA (expected: --cluster with the cluster's tls/ directory beside its"
                + " cluster file)")).client;
    }

    /** {@code api} as a URL base: an {@code https://} address as it is, a bare HOST:PORT over plain HTTP. */
    static String base(String api) {
        return api.startsWith(SCHEME) ? api : "http://" + api;
    }

    private static SSLContext context(TlsIdentity identity) {
        try {
            KeyStore keys = KeyStore.getInstance("PKCS12");
            keys.load(null, null);
            keys.setKeyEntry("self", identity.privateKey(), IN_MEMORY_PASSWORD, new X509Certificate[] {identity.certificate(), identity.caCertificate()});
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(keys, IN_MEMORY_PASSWORD);
            KeyStore trust = KeyStore.getInstance("PKCS12");
            trust.load(null, null);
            trust.setCertificateEntry("cluster-ca", identity.caCertificate());
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trust);
            X509TrustManager ca = null;
            for (TrustManager tm : tmf.getTrustManagers()) {
                if (tm instanceof X509TrustManager x) {
                    ca = x;
                }
            }
            if (ca == null) {
                throw new IllegalStateException("the JDK gave no X.509 trust manager");
            }
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(kmf.getKeyManagers(), new TrustManager[] {new ChainToCa(ca)}, null);
            return context;
        } catch (GeneralSecurityException | java.io.IOException e) {
            throw new IllegalStateException("TLS identity " + identity.certFile() + " for host agents: " + e.getMessage(), e);
        }
    }

    /** Checks that a peer's chain ends at the cluster CA; no host-name check (see the class comment). */
    private static final class ChainToCa extends X509ExtendedTrustManager {
        private final X509TrustManager ca;

        ChainToCa(X509TrustManager ca) {
            this.ca = ca;
        }

        @Override public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            ca.checkClientTrusted(chain, authType);
        }

        @Override public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            ca.checkServerTrusted(chain, authType);
        }

        @Override public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
            ca.checkClientTrusted(chain, authType);
        }

        @Override public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
            ca.checkServerTrusted(chain, authType);
        }

        @Override public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
            ca.checkClientTrusted(chain, authType);
        }

        @Override public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
            ca.checkServerTrusted(chain, authType);
        }

        @Override public X509Certificate[] getAcceptedIssuers() {
            return ca.getAcceptedIssuers();
        }
    }
}
