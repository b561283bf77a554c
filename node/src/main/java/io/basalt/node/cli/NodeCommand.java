package io.basalt.node.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

import io.basalt.cluster.ClusterNode;
import io.basalt.node.cluster.ClusterFile;
import io.basalt.vdisk.store.VdiskStore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code basalt node}: run one storage node of a cluster until SIGTERM or Ctrl-C. */
@Command(name = "node", description = "Run a storage node (one Raft server hosting the meta group and its placement groups).")
public final class NodeCommand implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Option(names = "--config", required = true, paramLabel = "FILE", description = "The cluster file (cluster.json).")
    Path config;
    @Option(names = "--id", required = true, description = "This node's id in the cluster file.")
    int id;
    @Option(names = "--data", paramLabel = "DIR", description = "This node's data directory (default: next to the cluster file, node-ID).")
    Path data;
    @Option(names = "--join", description = {"A node new to a running cluster: start empty and wait to be given replicas",
            "(basalt cluster add-node / replace-node). Only matters on the first start."})
    boolean join;

    @Override
    public Integer call() throws Exception {
        ClusterFile file = ClusterFile.read(config);
        Path dir = data != null ? data : config.toAbsolutePath().getParent().resolve("node-" + id);
        ClusterNode node = ClusterNode.start(file.toConfig(), join ? new ClusterNode.Options(id, dir, VdiskStore.Options.defaults()).joining()
                : new ClusterNode.Options(id, dir, VdiskStore.Options.defaults()));
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().unstarted(() -> {
            try {
                node.close();
            } catch (Exception e) {
                System.err.println("node " + id + ": close failed: " + e);
            }
            stopped.countDown();
        }));
        var addr = file.toConfig().node(id);
        spec.commandLine().getOut().printf("node %d pid %d serving cluster %s on %s, data %s%n", id, ProcessHandle.current().pid(),
                file.name(), addr.address(), dir);
        spec.commandLine().getOut().flush();
        stopped.await();
        return 0;
    }
}
