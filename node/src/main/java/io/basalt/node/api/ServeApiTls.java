package io.basalt.node.api;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import io.basalt.cluster.tls.TlsIdentity;
import io.basalt.node.cluster.ClusterCa;

/**
 * The certificate {@code basalt serve --api-tls} serves its API with: {@value #NAME}.crt in the
 * {@code tls/} directory beside targets.json. On the embedded store that directory gets a CA of
 * its own the first time (as {@code basalt cluster up --tls} makes a cluster's), so clients trust
 * {@code STORE/tls/ca.crt} ({@code --api-ca STORE}); a gateway to a cluster ({@code --cluster})
 * has its certificate issued by the cluster's CA, whose key must then be in the cluster
 * directory. An existing {@value #NAME}.crt is served as it is: replacing the file (and ca.crt,
 * for a certificate of another CA) and restarting is how an operator installs their own.
 */
public final class ServeApiTls {
    public static final String NAME = "api";

    private ServeApiTls() {}

    /** The API's identity in {@code configDir}/tls for clients reaching it at {@code host}, made when missing. */
    public static TlsIdentity identity(Path configDir, boolean cluster, String host) throws IOException {
        Path dir = configDir.toAbsolutePath().resolve(ClusterCa.DIR);
        Path caCert = dir.resolve(ClusterCa.CA + ".crt");
        if (!Files.exists(caCert)) {
            if (cluster) {
                throw new IllegalArgumentException("--api-tls: " + caCert + " does not exist (expected: a cluster made with TLS, whose CA is in "
                        + dir + "; see docs/security.md)");
            }
            ClusterCa.create(dir, "serve " + configDir.toAbsolutePath().getFileName(), List.of());
        }
        if (!Files.exists(dir.resolve(NAME + ".crt"))) {
            if (!Files.exists(dir.resolve(ClusterCa.CA + ".key"))) {
                throw new IllegalArgumentException("--api-tls: " + dir.resolve(NAME + ".crt") + " does not exist and " + dir.resolve(ClusterCa.CA + ".key")
                        + " is not here to issue it (expected: the CA's key, or " + NAME + ".crt and " + NAME + ".key of your own)");
            }
            ClusterCa.issue(dir, NAME, certificateHost(host));
        }
        return TlsIdentity.in(dir, NAME);
    }

    /** The name a certificate for {@code listenHost} carries: the machine's name for a wildcard address. */
    static String certificateHost(String listenHost) throws IOException {
        return InetAddress.getByName(listenHost).isAnyLocalAddress() ? InetAddress.getLocalHost().getHostName() : listenHost;
    }
}
