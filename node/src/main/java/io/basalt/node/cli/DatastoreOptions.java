package io.basalt.node.cli;

import io.basalt.node.datastore.Datastore;
import java.nio.file.Path;

import io.basalt.vdisk.store.SpaceReserve;
import picocli.CommandLine.Option;

/**
 * {@code --data DIR} (the embedded store) or {@code --cluster FILE|DIR} (a cluster): what
 * {@code basalt vdisk} and {@code basalt snap} work on; or {@code --api URL}, a management API. Environment: BASALT_API, BASALT_DATA, BASALT_CLUSTER
 * (the option wins; with neither, ./data).
 */
public final class DatastoreOptions {
    @Option(names = "--data", paramLabel = "DIR", description = "Embedded store directory (default: ./data; env BASALT_DATA).")
    Path data;

    @Option(names = "--cluster", paramLabel = "FILE|DIR",
            description = "Work on a cluster instead: its cluster file, or a `basalt cluster up` directory (env BASALT_CLUSTER).")
    Path cluster;

    @Option(names = "--api", paramLabel = "URL", description = {"Work through a node's or basalt serve's management API instead (e.g. http://127.0.0.1:8470;",
            "env BASALT_API): vdisk create/ls/info/du/resize/rm/clone/flatten and snap commands. Token: --api-token or env BASALT_API_TOKEN."})
    java.net.URI api;

    @Option(names = "--api-token", paramLabel = "TOKEN", description = "The bearer token for --api (default: env BASALT_API_TOKEN).")
    String apiToken;

    @Option(names = "--api-ca", paramLabel = "FILE|DIR", description = {"The CA an https --api is checked against: its certificate, or a cluster",
            "directory holding tls/ca.crt (default: env BASALT_API_CA, else ./data/cluster/tls/ca.crt when it exists, else the JDK's CAs)."})
    Path apiCa;

    @Option(names = "--disk-reserve", paramLabel = "SIZE", converter = SizeConverter.class,
            description = {"Embedded store: free space to keep on its filesystem; below it writes are refused (SCSI: space allocation failed)",
                    "while reads, unmaps and removals go on. 0 turns the check off (default: 5%% of the filesystem, at least 1G).",
                    "Cluster nodes keep theirs (basalt node --disk-reserve)."})
    Long diskReserve;

    Datastore open() {
        java.util.Optional<java.net.URI> remote = remote();
        if (remote.isPresent()) {
            if (diskReserve != null) {
                throw new IllegalArgumentException("--disk-reserve " + diskReserve + " with --api (expected: only with the embedded store)");
            }
            String token = apiToken != null ? apiToken : System.getenv("BASALT_API_TOKEN");
            return new io.basalt.node.datastore.RemoteDatastore(remote.get(), token, apiCa().map(io.basalt.cluster.tls.TlsIdentity::trusting));
        }
        Choice c = choice();
        if (c.cluster()) {
            if (diskReserve != null) {
                throw new IllegalArgumentException("--disk-reserve " + diskReserve + " with --cluster (expected: only with the embedded store;"
                        + " each cluster node keeps its own: basalt node --disk-reserve)");
            }
            return Datastore.cluster(c.path());
        }
        try {
            return Datastore.local(c.path(), diskReserve == null ? SpaceReserve.DEFAULT : diskReserve);
        } catch (io.basalt.vdisk.store.StoreException e) {
            String m = String.valueOf(e.getMessage());
            if (m.contains("LOCK: Resource temporarily unavailable") || m.contains("lock hold by current process")) {
                // RocksDB's own lock: one process owns an embedded store; say who usually does and what to do.
                throw new IllegalArgumentException("--data " + c.path() + ": the store is open in another process (basalt serve or"
                        + " basalt demo; expected: a store no process holds). Stop that process first, then run this again.", e);
            }
            throw e;
        }
    }

    /**
     * Where configuration kept beside the datastore lives (targets.json): the store directory,
     * or the directory of the cluster file (configuration of the gateway on this host).
     */
    Path configDir() {
        if (remote().isPresent()) {
            throw new IllegalArgumentException("--api " + remote().get() + ": this command works on files beside the store (targets.json,"
                    + " tokens.json) (expected: --data DIR or --cluster FILE on the machine that holds them)");
        }
        Choice c = choice();
        if (!c.cluster()) {
            return c.path();
        }
        Path file = Datastore.clusterFile(c.path());
        Path parent = file.toAbsolutePath().getParent();
        return parent == null ? Path.of(".") : parent;
    }

    /** Whether the datastore chosen is a cluster ({@code --cluster}, or the default cluster directory). */
    boolean isCluster() {
        return remote().isEmpty() && choice().cluster();
    }

    /** The embedded store's directory; refused, naming {@code what}, when the choice is a cluster. */
    Path embeddedDir(String what) {
        Choice c = choice();
        if (c.cluster()) {
            throw new IllegalArgumentException("--cluster " + c.path() + " (expected: --data DIR; " + what + " works on the embedded store only for now)");
        }
        return c.path();
    }

    /** The CA certificate file an https API is checked against: --api-ca, env BASALT_API_CA, or the default cluster directory's. */
    private java.util.Optional<Path> apiCa() {
        Path given = apiCa != null ? apiCa : java.util.Optional.ofNullable(System.getenv("BASALT_API_CA")).filter(v -> !v.isBlank()).map(Path::of).orElse(null);
        if (given == null) {
            Path dflt = ClusterRef.DATA_DEFAULT.resolve(io.basalt.node.cluster.ClusterCa.DIR).resolve("ca.crt");
            return java.nio.file.Files.isRegularFile(dflt) ? java.util.Optional.of(dflt) : java.util.Optional.empty();
        }
        Path file = java.nio.file.Files.isDirectory(given) ? given.resolve(io.basalt.node.cluster.ClusterCa.DIR).resolve("ca.crt") : given;
        if (!java.nio.file.Files.isRegularFile(file)) {
            throw new IllegalArgumentException("--api-ca: " + given + " (expected: a CA certificate, or a cluster directory holding tls/ca.crt)");
        }
        return java.util.Optional.of(file);
    }

    /** {@code --api URL} (or env BASALT_API when neither --data nor --cluster is given). */
    private java.util.Optional<java.net.URI> remote() {
        if (api != null && (data != null || cluster != null)) {
            throw new IllegalArgumentException("--api " + api + " and " + (data != null ? "--data " + data : "--cluster " + cluster)
                    + " (expected: one of them)");
        }
        if (api != null) {
            return java.util.Optional.of(api);
        }
        String env = System.getenv("BASALT_API");
        return data == null && cluster == null && env != null && !env.isBlank() ? java.util.Optional.of(java.net.URI.create(env.trim()))
                : java.util.Optional.empty();
    }

    private record Choice(boolean cluster, Path path) {}

    private Choice choice() {
        if (data != null && cluster != null) {
            throw new IllegalArgumentException("--data " + data + " and --cluster " + cluster + " (expected: one of them)");
        }
        if (cluster != null) {
            return new Choice(true, cluster);
        }
        if (data != null) {
            return new Choice(false, data);
        }
        String envCluster = System.getenv("BASALT_CLUSTER");
        if (envCluster != null && !envCluster.isBlank()) {
            return new Choice(true, Path.of(envCluster));
        }
        String envData = System.getenv("BASALT_DATA");
        return new Choice(false, Path.of(envData != null && !envData.isBlank() ? envData : "./data"));
    }
}
