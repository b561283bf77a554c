package io.basalt.vdisk.store;

import org.rocksdb.RocksDBException;
import org.rocksdb.Status;

import io.basalt.vdisk.BlockDeviceException;

/** Maps a failure of the backing RocksDB to the {@link BlockDeviceException} kind callers act on. */
final class StoreErrors {
    private StoreErrors() {}

    /** {@code what} says what failed and where (vdisk, LBA); the kind follows RocksDB's status. */
    static BlockDeviceException blockDevice(String what, Exception e) {
        return new BlockDeviceException(kind(e), what + ": " + e.getMessage(), e);
    }

    static BlockDeviceException.Kind kind(Exception e) {
        if (e instanceof RocksDBException r && r.getStatus() != null && r.getStatus().getCode() == Status.Code.Corruption) {
            return BlockDeviceException.Kind.CORRUPTION;
        }
        return noSpace(e) ? BlockDeviceException.Kind.NO_SPACE : BlockDeviceException.Kind.IO;
    }

    /** RocksDB met ENOSPC (its status carries the OS message). */
    static boolean noSpace(Exception e) {
        return String.valueOf(e.getMessage()).contains("No space");
    }
}
