package io.basalt.node.cluster;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

import io.basalt.cluster.tls.TlsIdentity;

/**
 * A cluster's certificate authority: {@code tls/} beside the cluster file holds the CA's
 * certificate and key, and each node's ({@code node-ID}) and the clients' ({@code client})
 * certificate and key, signed by it. Keys are EC P-256, PKCS#8 PEM, mode 0600 in a 0700
 * directory; certificates are PEM. docs/security.md says how to copy, check and rotate them.
 *
 * <p>Every leaf certificate is for both TLS ends (server and client auth), since a node serves
 * Raft and calls its peers on the same identity. Its names: the node's host, 127.0.0.1 and
 * localhost, so a client's host-name check passes however it reaches the node.
 */
public final class ClusterCa {
    public static final String DIR = "tls";
    public static final String CA = "ca";
    public static final String CLIENT = "client";
    static final Duration CA_VALIDITY = Duration.ofDays(3650);
    static final Duration LEAF_VALIDITY = Duration.ofDays(1825);
    private static final String SIGNATURE = "SHA256withECDSA";
    private static final SecureRandom RANDOM = new SecureRandom();

    private ClusterCa() {}

    /** The TLS directory of the cluster whose file is {@code clusterFile}. */
    public static Path dirOf(Path clusterFile) {
        Path parent = clusterFile.toAbsolutePath().getParent();
        return parent.resolve(DIR);
    }

    public static String nodeName(int id) {
        return "node-" + id;
    }

    /**
     * Creates the CA of cluster {@code clusterName} in {@code dir}, a certificate for each of
     * {@code nodes} and one for clients. Refuses a directory that already holds a CA (never
     * replaces one: the nodes' certificates would no longer match).
     */
    public static void create(Path dir, String clusterName, List<ClusterFile.Node> nodes) throws IOException {
        if (Files.exists(dir.resolve(CA + ".crt"))) {
            throw new FileAlreadyExistsException(dir.resolve(CA + ".crt").toString(), null, "a cluster CA exists already (expected: a new directory)");
        }
        Files.createDirectories(dir);
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        KeyPair ca = newKeyPair();
        X500Name caName = new X500Name("CN=basalt cluster " + escape(clusterName) + " CA");
        X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(caName, serial(), notBefore(), notAfter(CA_VALIDITY), caName, ca.getPublic());
        try {
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(ca.getPublic()));
            X509Certificate cert = sign(b, ca.getPrivate());
            write(dir, CA, cert, ca.getPrivate());
        } catch (GeneralSecurityException | OperatorCreationException e) {
            throw new IllegalStateException("cluster CA of " + clusterName + ": " + e.getMessage(), e);
        }
        for (ClusterFile.Node n : nodes) {
            issue(dir, nodeName(n.id()), n.host());
        }
        issue(dir, CLIENT, "localhost");
    }

    /**
     * Issues (or replaces) the certificate {@code name} for {@code host} with the CA in {@code dir}:
     * a new node's, or a renewed one. Returns its identity.
     */
    public static TlsIdentity issue(Path dir, String name, String host) throws IOException {
        TlsIdentity caFiles = TlsIdentity.in(dir, CA);
        X509Certificate caCert = caFiles.certificate();
        PrivateKey caKey = caFiles.privateKey();
        KeyPair keys = newKeyPair();
        X500Name subject = new X500Name("CN=" + escape(name));
        X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(caCert, serial(), notBefore(), notAfter(LEAF_VALIDITY), subject, keys.getPublic());
        try {
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyAgreement));
            b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth,
                    KeyPurposeId.id_kp_clientAuth}));
            b.addExtension(Extension.subjectAlternativeName, false, subjectAltNames(host));
            b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(keys.getPublic()));
            b.addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(caCert));
            write(dir, name, sign(b, caKey), keys.getPrivate());
        } catch (GeneralSecurityException | OperatorCreationException e) {
            throw new IllegalStateException("certificate " + name + " for " + host + ": " + e.getMessage(), e);
        }
        return TlsIdentity.in(dir, name);
    }

    /** The subject alternative names of {@code cert}, as text ({@code localhost, 127.0.0.1}); "-" for none. */
    public static String names(X509Certificate cert) {
        try {
            var names = cert.getSubjectAlternativeNames();
            if (names == null || names.isEmpty()) {
                return "-";
            }
            return String.join(", ", names.stream().map(n -> String.valueOf(n.get(1))).toList());
        } catch (java.security.cert.CertificateParsingException e) {
            return "unreadable: " + e.getMessage();
        }
    }

    /** The host itself (an IP address or a DNS name), 127.0.0.1 and localhost, each once. */
    static GeneralNames subjectAltNames(String host) {
        Set<GeneralName> names = new LinkedHashSet<>();
        for (String h : List.of(host, "127.0.0.1", "localhost")) {
            names.add(isIpLiteral(h) ? new GeneralName(GeneralName.iPAddress, h) : new GeneralName(GeneralName.dNSName, h));
        }
        return new GeneralNames(names.toArray(GeneralName[]::new));
    }

    private static boolean isIpLiteral(String host) {
        return host.matches("[0-9.]+") || host.contains(":");
    }

    private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey key) throws GeneralSecurityException, OperatorCreationException {
        return new JcaX509CertificateConverter().getCertificate(b.build(new JcaContentSignerBuilder(SIGNATURE).build(key)));
    }

    private static KeyPair newKeyPair() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
            return g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("EC P-256 key generation: " + e.getMessage(), e);
        }
    }

    /** Writes NAME.crt (0644) and NAME.key (0600 from its creation: never readable by others, even briefly). */
    private static void write(Path dir, String name, X509Certificate cert, PrivateKey key) throws IOException, GeneralSecurityException {
        Path keyTmp = dir.resolve(name + ".key.tmp");
        Files.deleteIfExists(keyTmp);
        Files.createFile(keyTmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(keyTmp, pem("PRIVATE KEY", key.getEncoded()), StandardCharsets.US_ASCII);
        Files.move(keyTmp, dir.resolve(name + ".key"), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        Path certTmp = dir.resolve(name + ".crt.tmp");
        Files.writeString(certTmp, pem("CERTIFICATE", cert.getEncoded()), StandardCharsets.US_ASCII);
        Files.move(certTmp, dir.resolve(name + ".crt"), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    static String pem(String type, byte[] der) {
        String body = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der);
        return "-----BEGIN " + type + "-----\n" + body + "\n-----END " + type + "-----\n";
    }

    private static BigInteger serial() {
        return new BigInteger(127, RANDOM).add(BigInteger.ONE);
    }

    /** A minute back: a peer whose clock is slightly behind still accepts a fresh certificate. */
    private static Date notBefore() {
        return Date.from(Instant.now().minus(Duration.ofMinutes(1)));
    }

    private static Date notAfter(Duration validity) {
        return Date.from(Instant.now().plus(validity));
    }

    /** A name as one RDN value: the characters X.500 gives meaning to are escaped. */
    private static String escape(String value) {
        return value.replaceAll("([,+=\"\\\\<>;#])", "\\\\$1");
    }
}
