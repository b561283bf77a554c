package io.basalt.node.cli;

import java.nio.file.Path;

import io.basalt.vdisk.store.VdiskStore;
import picocli.CommandLine.Option;

/** {@code --data DIR}: where the local (embedded single-node) store lives. */
public final class StoreOptions {
    @Option(names = "--data", paramLabel = "DIR", defaultValue = "${BASALT_DATA:-./data}",
            description = "Store directory (default: ${DEFAULT-VALUE}; env BASALT_DATA).")
    Path data;

    VdiskStore open() {
        return VdiskStore.open(data);
    }
}
