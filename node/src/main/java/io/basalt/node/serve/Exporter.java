package io.basalt.node.serve;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import io.basalt.iscsi.IscsiTarget;
import io.basalt.iscsi.session.ChapCredentials;
import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.store.VdiskStore;

/**
 * Serves the targets of a {@link TargetsFile.Config} from a store over iSCSI. Owns the devices
 * it opens and the target server; {@link #close()} stops serving first, then closes the devices.
 */
public final class Exporter implements AutoCloseable {
    private final IscsiTarget target;
    private final List<BlockDevice> devices;

    private Exporter(IscsiTarget target, List<BlockDevice> devices) {
        this.target = target;
        this.devices = devices;
    }

    public static Exporter start(VdiskStore store, TargetsFile.Config config, String host, int port) {
        return start(store::open, config, host, port);
    }

    /** Serves {@code config}'s targets, each LUN's {@code VDISK[@SNAP]} opened by {@code open}. */
    public static Exporter start(java.util.function.Function<String, ? extends BlockDevice> open, TargetsFile.Config config, String host, int port) {
        List<BlockDevice> opened = new ArrayList<>();
        try {
            IscsiTarget.Builder builder = IscsiTarget.builder().portal(host, port);
            for (TargetsFile.Target t : config.targets()) {
                Map<Integer, BlockDevice> luns = new LinkedHashMap<>();
                for (Map.Entry<Integer, String> lun : t.luns().entrySet()) {
                    BlockDevice device = open.apply(lun.getValue());
                    opened.add(device);
                    luns.put(lun.getKey(), device);
                }
                ChapCredentials chap = t.chap() == null ? null
                        : new ChapCredentials(t.chap().user(), t.chap().secret(), t.chap().mutualUser(), t.chap().mutualSecret());
                builder.addTarget(t.iqn(), luns, Set.copyOf(t.initiators()), chap);
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
            return new Exporter(server, opened);
        } catch (RuntimeException e) {
            opened.forEach(BlockDevice::close);
            throw e;
        }
    }

    public java.net.InetSocketAddress address() {
        return target.localAddress();
    }

    @Override
    public void close() {
        target.close();
        devices.forEach(BlockDevice::close);
    }
}
