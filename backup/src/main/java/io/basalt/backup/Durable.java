package io.basalt.backup;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/** The file steps a crash cannot tear: write to a temp file, fsync, rename into place, fsync the directory. */
final class Durable {
    private Durable() {}

    /** Writes {@code data} to {@code target} through a temp file in {@code tmpDir} (same filesystem); replaces nothing half-written. */
    static void write(Path tmpDir, Path target, ByteBuffer data) {
        Path tmp = tmpDir.resolve(target.getFileName() + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            while (data.hasRemaining()) {
                ch.write(data);
            }
            ch.force(true);
        } catch (IOException e) {
            throw new BackupException("write " + target + ": " + e.getMessage(), e);
        }
        rename(tmp, target);
    }

    /** Renames atomically, then fsyncs the target's directory so the new name survives power loss. */
    static void rename(Path from, Path to) {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new BackupException("rename " + from + " to " + to + ": " + e.getMessage(), e);
        }
        syncDirectory(to.getParent());
    }

    static void delete(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            throw new BackupException("delete " + file + ": " + e.getMessage(), e);
        }
        syncDirectory(file.getParent());
    }

    static void syncDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException e) {
            throw new BackupException("fsync directory " + dir + ": " + e.getMessage(), e);
        }
    }

    static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            // Closing a channel only read from loses nothing; the operation's own outcome is what is reported.
        }
    }
}
