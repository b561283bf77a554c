package io.basalt.node.serve;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

/**
 * The iSCSI export configuration of a store, kept next to it as {@code targets.json} (like
 * targetcli's saveconfig.json): targets, their LUNs (vdisk or vdisk@snap), initiator ACLs and
 * CHAP secrets. Written atomically (temp file, fsync, rename), readable only by its owner
 * because it holds secrets.
 */
public final class TargetsFile {
    public static final String FILE_NAME = "targets.json";

    /** CHAP secrets of one target; the mutual pair is optional. */
    public record Chap(String user, String secret, String mutualUser, String mutualSecret) {}

    /** One target. {@code luns} maps LUN number to a vdisk spec. */
    public record Target(String iqn, TreeMap<Integer, String> luns, List<String> initiators, Chap chap) {
        public Target {
            luns = luns == null ? new TreeMap<>() : new TreeMap<>(luns);
            initiators = initiators == null ? new ArrayList<>() : new ArrayList<>(initiators);
        }
    }

    public record Config(List<Target> targets) {
        public Config {
            targets = targets == null ? new ArrayList<>() : new ArrayList<>(targets);
        }

        public Optional<Target> find(String iqn) {
            return targets.stream().filter(t -> t.iqn().equals(iqn)).findFirst();
        }

        public Target get(String iqn) {
            return find(iqn).orElseThrow(() -> new IllegalArgumentException("target: " + iqn + " (expected: one of "
                    + targets.stream().map(Target::iqn).toList() + "; add it with 'basalt target create')"));
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private TargetsFile() {}

    public static Config load(Path dataDir) throws IOException {
        Path file = dataDir.resolve(FILE_NAME);
        if (!Files.exists(file)) {
            return new Config(List.of());
        }
        try {
            return JSON.readValue(file.toFile(), Config.class);
        } catch (IOException e) {
            throw new IOException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    public static void save(Path dataDir, Config config) throws IOException {
        Files.createDirectories(dataDir);
        Path file = dataDir.resolve(FILE_NAME);
        Path tmp = dataDir.resolve(FILE_NAME + ".tmp");
        byte[] bytes = JSON.writeValueAsBytes(config);
        try (var ch = java.nio.channels.FileChannel.open(tmp, java.nio.file.StandardOpenOption.CREATE,
                java.nio.file.StandardOpenOption.TRUNCATE_EXISTING, java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap(bytes));
            ch.force(true);
        }
        try {
            Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        } catch (UnsupportedOperationException e) {
            // not a POSIX file system: nothing to tighten
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }
}
