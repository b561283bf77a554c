package io.basalt.iscsi;

import io.basalt.vdisk.store.Vdisk;
import io.basalt.vdisk.store.VdiskStore;
import java.nio.file.Path;
import java.util.Map;

/**
 * Manual runner for measuring: serves one vdisk of a real {@link VdiskStore} (RocksDB) as LUN 0 of
 * {@code iqn.2026-11.io.basalt:disk0} until killed. Not a test. Arguments: port (3262), store
 * directory (created if missing), size in bytes (1 GiB; used only when the vdisk is created).
 */
public final class RunStoreTarget {

    private RunStoreTarget() {
    }

    public static void main(String[] args) throws InterruptedException {
        int port = args.length > 0 ? Integer.parseInt(args[0]) : 3262;
        Path dir = Path.of(args.length > 1 ? args[1] : "/tmp/basalt-iscsi-store");
        long size = args.length > 2 ? Long.parseLong(args[2]) : 1L << 30;
        try (VdiskStore store = VdiskStore.open(dir)) {
            if (!store.exists("disk0")) {
                store.create("disk0", size);
            }
            try (Vdisk disk = store.open("disk0");
                 IscsiTarget t = IscsiTarget.builder().portal("127.0.0.1", port)
                         .addTarget("iqn.2026-11.io.basalt:disk0", Map.of(0, disk)).start()) {
                System.out.println("listening on " + t.localAddress() + " serving " + disk.name() + " from " + dir);
                Thread.sleep(Long.MAX_VALUE);
            }
        }
    }
}
