package io.basalt.node.cluster;

import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Map;
import java.util.Set;

import io.basalt.cluster.server.ClusterNode;
import io.basalt.cluster.client.ClusterClient;
import io.basalt.iscsi.IscsiTarget;
import io.basalt.iscsi.scsi.LunSource;
import io.basalt.iscsi.session.TargetSettings;
import io.basalt.node.locks.HostLuns;
import io.basalt.node.locks.LockedStore;
import io.basalt.vdisk.BlockDevice;

/**
 * A storage node that also serves a cluster vdisk over iSCSI (a hyperconverged host: the target
 * runs next to a replica of every group it can). Its {@link ClusterClient} is opened with the
 * node itself, so reads of PGs this node replicates and writes to PGs it leads go to its Raft
 * server in-process instead of over gRPC (docs/decisions/gateway-inside-the-node.md).
 *
 * <p>Each initiator is a host holding the vdisk's lock in the cluster's lock table while it writes
 * ({@link HostLuns}): its writes carry its token and the placement groups refuse them once the
 * lock was taken over.
 *
 * <p>Persistent reservations of the vdisk's LUN are kept in the meta group, so every gateway of the
 * vdisk (one per serving node, each a target port of its own) sees the same registrations and
 * reservation.
 *
 * <p>The vdisk may not exist yet when the node starts (e.g. {@code basalt cluster up} creates it
 * once the meta group has a leader): {@link #start} waits for it up to {@code wait}.
 */
public final class NodeGateway implements AutoCloseable {
    /** The target name a cluster gateway serves its vdisk under (LUN 0). */
    public static final String IQN = "iqn.2026-11.io.basalt:cluster";

    private final ClusterClient client;
    private final HostLuns hosts;
    private final LunSource lun;
    private final IscsiTarget target;

    private NodeGateway(ClusterClient client, HostLuns hosts, LunSource lun, IscsiTarget target) {
        this.client = client;
        this.hosts = hosts;
        this.lun = lun;
        this.target = target;
    }

    public static NodeGateway start(ClusterNode node, String vdisk, String host, int port, Duration wait, PrintWriter out)
            throws InterruptedException {
        long deadline = System.nanoTime() + wait.toNanos();
        ClusterClient client = ClusterClient.open(node.config(), node);
        try {
            RuntimeException last = null;
            while (true) {
                try {
                    if (client.vdisk(vdisk).isPresent()) {
                        break;
                    }
                    last = new IllegalStateException("vdisk " + vdisk + " does not exist");
                } catch (RuntimeException e) {
                    last = e; // no meta leader yet
                }
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("serving " + vdisk + ": not available within " + wait.toSeconds() + " s: " + last.getMessage(), last);
                }
                Thread.sleep(500);
            }
            HostLuns hosts = new HostLuns(LockedStore.cluster(client));
            LunSource lun = hosts.lun(vdisk);
            try {
                // Each node's gateway is its own SCSI target port (portal group tag = node id): one initiator
                // through two gateways is two I_T nexuses, as persistent reservations count them.
                IscsiTarget target = IscsiTarget.builder().portal(host, port).portalGroupTag(node.id())
                        .settings(hosts.targetSettings(TargetSettings.defaults()))
                        .sessionListener(hosts).addTargetWithSources(IQN, Map.of(0, new io.basalt.node.metrics.MeteredLunSource(lun,
                                io.basalt.node.metrics.NodeMetrics.process().io(vdisk, IQN))), Set.of(), null).start();
                InetSocketAddress at = target.localAddress();
                out.printf("serving %s: iscsi://%s:%d/%s/0%n", vdisk, at.getAddress().getHostAddress(), at.getPort(), IQN);
                out.flush();
                return new NodeGateway(client, hosts, lun, target);
            } catch (RuntimeException e) {
                hosts.close();
                lun.device().close();
                throw e;
            }
        } catch (RuntimeException | InterruptedException e) {
            client.close();
            throw e;
        }
    }

    public InetSocketAddress address() {
        return target.localAddress();
    }

    @Override
    public void close() {
        BlockDevice identity = lun.device();
        try (client; identity; hosts; target) {
            // closed in reverse order: target (no new commands), hosts (their locks released), the LUN's device, client
        }
    }
}
