package io.basalt.node.metrics;

import java.util.Set;
import java.util.concurrent.CompletableFuture;

import io.basalt.iscsi.scsi.Initiator;
import io.basalt.iscsi.scsi.LunSource;
import io.basalt.iscsi.scsi.PrStateStore;
import io.basalt.vdisk.BlockDevice;

/** A LUN whose sessions' devices count their I/O on the meters of (vdisk, target). */
public record MeteredLunSource(LunSource source, NodeMetrics.IoMeters meters) implements LunSource {
    @Override
    public BlockDevice device() {
        return source.device();
    }

    @Override
    public CompletableFuture<BlockDevice> open(Initiator who) {
        return source.open(who).thenApply(d -> new MeteredDevice(d, meters));
    }

    @Override
    public void closed(Initiator who, BlockDevice device) {
        source.closed(who, device instanceof MeteredDevice m ? m.device() : device);
    }

    @Override
    public CompletableFuture<Void> registrantsChanged(long version, Set<String> hosts) {
        return source.registrantsChanged(version, hosts);
    }

    @Override
    public PrStateStore prStateStore() {
        return source.prStateStore();
    }
}
