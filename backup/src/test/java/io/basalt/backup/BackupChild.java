package io.basalt.backup;

import java.nio.file.Path;
import java.time.Instant;

import io.basalt.vdisk.store.VdiskStore;

/**
 * A child JVM that runs one backup, for {@link BackupKillTest}: {@code STORE REPO VDISK}. Prints
 * {@code planned BYTES} once and {@code progress BYTES} as chunks are handled, then {@code done ID}.
 */
public final class BackupChild {
    private BackupChild() {}

    public static void main(String[] args) {
        try (VdiskStore store = VdiskStore.open(Path.of(args[0])); Repository repo = Repository.open(Path.of(args[1]))) {
            BackupCreate.Result r = BackupCreate.create(repo, new StoreAccess(store), args[2], Instant.now(),
                    planned -> line("planned " + planned), handled -> line("progress " + handled));
            line("done " + r.manifest().id());
        }
    }

    private static void line(String s) {
        System.out.println(s);
        System.out.flush();
    }
}
