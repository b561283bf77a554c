package io.basalt.node.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.cluster.tls.TlsIdentity;
import io.basalt.node.cli.CliResult;

/**
 * {@code basalt cluster tls ls|renew|enable}: TLS turned on for a cluster made before it (then
 * started: its nodes talk TLS and keep their data), leaves renewed from the same CA, and what
 * {@code ls} says of a certificate of another CA; each refusal names what was wrong.
 */
class ClusterTlsCommandTest {
    @TempDir Path dir;

    @Test
    void enableRenewAndListTheCertificates() throws Exception {
        Path data = dir.resolve("cluster");
        Files.createDirectories(data);
        ClusterFile.local("basalt", 3, io.basalt.cluster.LoopbackPorts.freeBase(3), 3, 3).write(data.resolve("cluster.json"));
        String d = data.toString();
        assertTrue(run(0, "cluster", "tls", "ls", "--data", d).out().contains("has no TLS"));
        assertTrue(run(1, "cluster", "tls", "renew", "--all", "--data", d).err().contains("has no TLS"));

        assertTrue(run(0, "cluster", "tls", "enable", "--data", d).out().contains("now says \"tls\": true"));
        assertTrue(ClusterFile.read(data.resolve("cluster.json")).hasTls());
        assertTrue(run(1, "cluster", "tls", "enable", "--data", d).err().contains("has TLS already"));
        String listed = run(0, "cluster", "tls", "ls", "--data", d).out();
        for (String name : List.of("ca", "node-1", "node-2", "node-3", "client")) {
            assertTrue(listed.matches("(?s).*\\n" + name + " +\\S+ +ok .*"), name + " in\n" + listed);
        }

        Path tls = data.resolve("tls");
        var before = TlsIdentity.in(tls, "node-2").certificate().getSerialNumber();
        assertTrue(run(0, "cluster", "tls", "renew", "2", "--data", d).out().contains("renewed " + tls.resolve("node-2.crt")));
        assertNotEquals(before, TlsIdentity.in(tls, "node-2").certificate().getSerialNumber(), "a new certificate");
        TlsIdentity.in(tls, "node-2").certificate().verify(TlsIdentity.in(tls, "ca").certificate().getPublicKey());
        assertTrue(run(1, "cluster", "tls", "renew", "9", "--data", d).err().contains("renew: 9 (expected: a node id of"));
        assertTrue(run(1, "cluster", "tls", "renew", "--data", d).err().contains("nothing named"));

        // A certificate of another CA put in node 3's place: ls names it, and fails.
        Path other = dir.resolve("other");
        ClusterCa.create(other, "other", List.of());
        Files.copy(other.resolve("client.crt"), tls.resolve("node-3.crt"), StandardCopyOption.REPLACE_EXISTING);
        CliResult bad = run(1, "cluster", "tls", "ls", "--data", d);
        assertTrue(bad.out().matches("(?s).*\\nnode-3 +\\S+ +other-ca .*"), bad.out());

        // Renewed from the cluster's CA again, the nodes start and talk TLS.
        run(0, "cluster", "tls", "renew", "3", "--data", d);
        try (ClusterUp up = ClusterUp.start(data, "16M")) {
            Process ls = up.basalt("vdisk", "ls", "--cluster", d);
            assertTrue(ls.waitFor(60, TimeUnit.SECONDS), "vdisk ls did not finish");
            assertEquals(0, ls.exitValue());
            String api = ClusterUpTlsProcessTest.awaitApi(data.resolve("node-1.log"));
            assertTrue(api.startsWith("https://"), "node 1's API on the cluster TLS was turned on for: " + api);
        }
    }

    private static CliResult run(int exit, String... args) {
        CliResult r = CliResult.run(args);
        assertEquals(exit, r.exit(), String.join(" ", args) + ": " + r.out() + r.err());
        return r;
    }
}
