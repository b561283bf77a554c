package io.basalt.node.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;

import io.basalt.cluster.ClusterConfig;
import io.basalt.cluster.admin.ClusterScrub;
import io.basalt.cluster.client.ClusterClient;
import io.basalt.node.cluster.ClusterFile;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code basalt scrub [VDISK]}: every node reads its replicas' grains (of one vdisk, or all),
 * checks each frame's CRC32C and repairs a bad copy from a healthy replica, at the nodes' scrub
 * rate; this waits for every replica's pass and prints what was found and fixed
 * (docs/decisions/scrub-and-repair.md).
 */
@Command(name = "scrub", mixinStandardHelpOptions = true, description = {
        "Deep-scrub a cluster: every replica's grains are read and their checksums verified; a bad copy is repaired",
        "from a healthy replica. Waits for every replica's pass, printing progress. Exit code 4 when some grain",
        "had no healthy copy anywhere (unrepairable: its reads fail with a medium error)."})
final class ScrubCommand implements Callable<Integer> {
    static final int EXIT_UNREPAIRABLE = 4;
    static final Duration RUN_MAX_DEFAULT = Duration.ofHours(24);

    @Spec CommandSpec spec;
    @picocli.CommandLine.Mixin ClusterRef cluster = new ClusterRef();
    @Option(names = "--cluster", paramLabel = "DIR", description = "A cluster file, or a `cluster up` directory holding cluster.json.") Path clusterDir;
    @Parameters(arity = "0..1", paramLabel = "VDISK", description = "Scrub only this vdisk's grains (default: everything).") String vdisk;
    @Option(names = "--timeout-ms", defaultValue = "5000", description = "Per-replica RPC timeout (default ${DEFAULT-VALUE}).") long timeoutMs;

    @Override
    public Integer call() throws Exception {
        // --cluster takes a cluster file or a `cluster up` directory, with the same refusal as every other command's.
        Path file = clusterDir != null ? io.basalt.node.datastore.Datastore.clusterFile(clusterDir) : cluster.file();
        ClusterConfig config = ClusterFile.read(file).clientConfig(file);
        long only = -1;
        if (vdisk != null) {
            try (ClusterClient client = ClusterClient.open(config)) {
                only = client.vdisk(vdisk).orElseThrow(() -> new IllegalArgumentException("no vdisk named " + vdisk)).id();
            }
        }
        PrintWriter out = spec.commandLine().getOut();
        ClusterScrub.Summary s = ClusterScrub.run(config, only, Duration.ofMillis(timeoutMs), RUN_MAX_DEFAULT, line -> {
            out.println(line);
            out.flush();
        });
        out.printf("scrub of %s done in %.1f s: %d grain versions (%d MiB) checked on every replica, %d bad, %d repaired, %d unrepairable%n",
                vdisk == null ? "every vdisk" : vdisk, s.took().toMillis() / 1000.0, s.grainsChecked(), s.bytesChecked() >> 20,
                s.badFound(), s.repaired(), s.unrepairable());
        out.flush();
        return s.unrepairable() > 0 ? EXIT_UNREPAIRABLE : 0;
    }
}
