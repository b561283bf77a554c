package io.basalt.node.host;

import java.util.Map;
import java.util.Set;

import io.basalt.iscsi.IscsiTarget;
import io.basalt.iscsi.scsi.LunSource;
import io.basalt.lock.HostSessionClient;
import io.basalt.lock.LockMode;
import io.basalt.lock.LockResult.Grant;
import io.basalt.node.locks.LockedStore;
import io.basalt.vdisk.BlockDevice;

/**
 * One disk of a VM as a host serves it to its QEMU: the vdisk locked by the host's session, opened
 * with the lock's token, exported as LUN 0 of a loopback iSCSI target of its own (so a disk can be
 * unexported alone, when it is detached from the running guest), at {@code url}, and plugged into
 * the guest at PCI slot {@code slot}. Owns the device and the target, not the lock.
 */
record ServedDisk(String vdisk, int slot, BlockDevice device, IscsiTarget target, String url) {
    /**
     * Locks {@code vdisk} in {@code mode} for session {@code s}, opens it and exports it for VM
     * {@code vm}'s slot {@code slot}. On failure what was taken is given back (the lock too) before this throws.
     */
    static ServedDisk serve(LockedStore store, HostSessionClient s, String vm, String vdisk, int slot, LockMode mode) {
        s.acquire(vdisk, mode);
        BlockDevice device = null;
        try {
            device = store.openLocked(vdisk, () -> s.grant(vdisk).map(Grant::token).orElse(0L), () -> s.hold(vdisk));
            String iqn = HostAgent.IQN_PREFIX + vm + ".s" + slot;
            IscsiTarget target = IscsiTarget.builder().portal("127.0.0.1", 0)
                    .addTargetWithSources(iqn, Map.of(0, LunSource.shared(device)), Set.of(), null).start();
            return new ServedDisk(vdisk, slot, device, target, "iscsi://127.0.0.1:" + target.localAddress().getPort() + "/" + iqn + "/0");
        } catch (RuntimeException e) {
            if (device != null) {
                device.close();
            }
            HostAgent.releaseQuietly(s, java.util.List.of(vdisk));
            throw e;
        }
    }

    /** Stops serving: the target (its initiators asked to log out) and the device. The lock stays. */
    void close() {
        target.close();
        device.close();
    }
}
