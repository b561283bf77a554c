package io.basalt.node.serve;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import io.basalt.iscsi.IscsiTarget;
import io.basalt.iscsi.scsi.LunSource;
import io.basalt.iscsi.session.ChapCredentials;
import io.basalt.iscsi.session.TargetSettings;
import io.basalt.lock.HostSessionClient;
import io.basalt.node.locks.HostLuns;
import io.basalt.node.locks.LockedStore;
import io.basalt.node.metrics.MeteredLunSource;
import io.basalt.node.metrics.NodeMetrics;

/**
 * Serves the targets of a {@link TargetsFile.Config} from a store over iSCSI, each initiator bound
 * to its host's session of the store's lock table ({@link HostLuns}: a host writes a vdisk only
 * while it holds its lock). Owns the LUN devices it opens, the host sessions and the target
 * server; {@link #close()} stops serving first, then releases the hosts' locks. Each LUN's I/O
 * is counted on the process's metrics, per vdisk and target ({@link MeteredLunSource}).
 */
public final class Exporter implements AutoCloseable {
    private final IscsiTarget target;
    private final HostLuns hosts;
    private final List<LunSource> sources;

    private Exporter(IscsiTarget target, HostLuns hosts, List<LunSource> sources) {
        this.target = target;
        this.hosts = hosts;
        this.sources = sources;
    }

    /** Serves {@code config}'s targets with hosts' leases of {@link HostSessionClient#LEASE_MS_DEFAULT}. */
    public static Exporter start(LockedStore store, TargetsFile.Config config, String host, int port) {
        return start(store, config, host, port, Duration.ofMillis(HostSessionClient.LEASE_MS_DEFAULT));
    }

    /** Serves {@code config}'s targets, each LUN's {@code VDISK[@SNAP]} from {@code store}; hosts' sessions last {@code lease}. */
    public static Exporter start(LockedStore store, TargetsFile.Config config, String host, int port, Duration lease) {
        HostLuns hosts = new HostLuns(store, lease);
        List<LunSource> opened = new ArrayList<>();
        try {
            IscsiTarget.Builder builder = IscsiTarget.builder().portal(host, port)
                    .settings(hosts.targetSettings(TargetSettings.defaults())).sessionListener(hosts);
            for (TargetsFile.Target t : config.targets()) {
                Map<Integer, LunSource> luns = new LinkedHashMap<>();
                for (Map.Entry<Integer, String> lun : t.luns().entrySet()) {
                    LunSource source = hosts.lun(lun.getValue());
                    opened.add(source);
                    luns.put(lun.getKey(), new MeteredLunSource(source, NodeMetrics.process().io(lun.getValue(), t.iqn())));
                }
                ChapCredentials chap = t.chap() == null ? null
                        : new ChapCredentials(t.chap().user(), t.chap().secret(), t.chap().mutualUser(), t.chap().mutualSecret());
                builder.addTargetWithSources(t.iqn(), luns, Set.copyOf(t.initiators()), chap);
            }
            IscsiTarget server;
            try {
                server = builder.start();
            } catch (Exception e) {
                // Netty rethrows the bind failure as it is, a checked BindException included.
                if (e instanceof java.net.BindException || e.getCause() instanceof java.net.BindException) {
                    throw new IllegalArgumentException("portal: " + host + ":" + port + " (expected: a free address; is another target running?)", e);
                }
                if (e instanceof RuntimeException r) {
                    throw r;
                }
                throw new IllegalStateException("starting the iSCSI target on " + host + ":" + port + ": " + e, e);
            }
            return new Exporter(server, hosts, opened);
        } catch (RuntimeException e) {
            hosts.close();
            opened.forEach(s -> s.device().close());
            throw e;
        }
    }

    public java.net.InetSocketAddress address() {
        return target.localAddress();
    }

    @Override
    public void close() {
        target.close();
        hosts.close();
        sources.forEach(s -> s.device().close());
    }
}
