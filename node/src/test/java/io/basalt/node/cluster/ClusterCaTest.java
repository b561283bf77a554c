package io.basalt.node.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.cluster.tls.TlsIdentity;

class ClusterCaTest {
    @TempDir Path dir;

    @Test
    void createsACaAndACertificatePerNodeSignedByItWithPrivateKeys() throws Exception {
        Path tls = dir.resolve("tls");
        ClusterCa.create(tls, "c1", List.of(new ClusterFile.Node(1, "10.0.0.5", 7101), new ClusterFile.Node(2, "store2.example", 7102)));

        X509Certificate ca = TlsIdentity.in(tls, ClusterCa.CA).certificate();
        for (String name : List.of("node-1", "node-2", "client")) {
            TlsIdentity id = TlsIdentity.in(tls, name).load();
            id.certificate().verify(ca.getPublicKey()); // throws unless the CA signed it
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(id.keyFile())), name + ".key");
            assertTrue(id.certificate().getExtendedKeyUsage().containsAll(List.of("1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2")),
                    name + ": serverAuth and clientAuth");
            assertEquals(-1, id.certificate().getBasicConstraints(), name + " is no CA");
        }
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(tls.resolve("ca.key"))));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(tls)));
        assertEquals(Set.of("10.0.0.5", "127.0.0.1", "localhost"), altNames(TlsIdentity.in(tls, "node-1").certificate()));
        assertEquals(Set.of("store2.example", "127.0.0.1", "localhost"), altNames(TlsIdentity.in(tls, "node-2").certificate()));
        assertTrue(ca.getBasicConstraints() >= 0, "the CA is a CA");
    }

    @Test
    void refusesToReplaceAnExistingCa() throws Exception {
        Path tls = dir.resolve("tls");
        ClusterCa.create(tls, "c1", List.of(new ClusterFile.Node(1, "127.0.0.1", 7101)));
        byte[] before = Files.readAllBytes(tls.resolve("ca.crt"));
        assertThrows(java.nio.file.FileAlreadyExistsException.class, () -> ClusterCa.create(tls, "c1", List.of()));
        assertEquals(new String(before), Files.readString(tls.resolve("ca.crt")));
    }

    @Test
    void aMissingTlsFileIsNamed() throws Exception {
        Path tls = dir.resolve("tls");
        ClusterCa.create(tls, "c1", List.of(new ClusterFile.Node(1, "127.0.0.1", 7101)));
        Files.delete(tls.resolve("node-1.key"));
        var e = assertThrows(IllegalArgumentException.class, () -> TlsIdentity.in(tls, "node-1").load());
        assertTrue(e.getMessage().contains("node-1.key"), e.getMessage());
    }

    private static Set<String> altNames(X509Certificate cert) throws Exception {
        return cert.getSubjectAlternativeNames().stream().map(l -> String.valueOf(l.get(1))).collect(Collectors.toSet());
    }
}
