package io.basalt.node.api;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

import com.fasterxml.jackson.core.type.TypeReference;

import io.basalt.cluster.meta.ConfigRecord;
import io.basalt.node.config.Configs;

/**
 * The API's bearer tokens. Only a SHA-256 of each token is stored, so the store does not give
 * access; a token is 32 random bytes, so an unsalted hash suffices (no dictionary to try).
 *
 * <p>Where they are kept: on a cluster, in the meta group as config records {@code
 * api-token/NAME} ({@link #create(Configs, String, String)}), so every node takes the same
 * tokens and a removed token is refused everywhere; an embedded store keeps them in {@value
 * #FILE_NAME} beside targets.json (one machine; the CLI can change the file while {@code basalt
 * serve} holds the store). A cluster node also takes the tokens of a {@value #FILE_NAME} beside
 * its cluster file, where tokens were kept before. The server reads the file again when it
 * changed, and the meta group's records at most {@link #SHARED_REFRESH_MS} after its last read
 * (at once, rate-limited, when a token is not among them), and the file at least as often: a
 * new or revoked token takes effect without a restart, a revoked one within that second.
 */
public final class Tokens {
    public static final String FILE_NAME = "tokens.json";
    /** The config records of a cluster's tokens: {@code api-token/NAME}. */
    public static final String KEY_PREFIX = "api-token";
    /** How stale the meta group's tokens may be when a presented token is among them: a removal takes this long. */
    static final long SHARED_REFRESH_MS = 1_000;
    /** How often an unknown token may make the server read the meta group again. */
    static final long MISS_REFRESH_MS = 100;
    private static final String PREFIX = "basalt_";
    private static final int TOKEN_BYTES = 32;
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final java.util.regex.Pattern NAME = java.util.regex.Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

    /** One stored token: its name, role and the hex SHA-256 of the secret. */
    public record Entry(String name, String role, String sha256, long createdMs) {}

    /** A new token: the secret is shown once and not kept. */
    public record Created(Entry entry, String secret) {}

    private final Path configDir;
    private final Path file;
    private final Optional<Configs> shared;
    private FileTime loadedAt;
    private long fileReadNanos;
    private List<Entry> entries = List.of();
    private List<Entry> sharedEntries = List.of();
    private long sharedReadNanos;
    private boolean sharedRead;

    /** The tokens of {@code configDir}'s file, and with {@code shared} (a cluster's config records) those too. */
    public Tokens(Path configDir, Optional<Configs> shared) {
        this.configDir = configDir;
        this.file = configDir.resolve(FILE_NAME);
        this.shared = shared;
    }

    /** Adds a token of {@code role} to a cluster's meta group; returns it with its secret. */
    public static Created create(Configs configs, String name, String role) {
        Created c = newToken(name, role);
        if (!configs.compareAndSet(key(name), 0, Optional.of(ByteBuffer.wrap(encode(c.entry()))))) {
            throw new IllegalArgumentException("token name: " + name + " (expected: a name not in use; see basalt token ls)");
        }
        return c;
    }

    /** A cluster's tokens in its meta group, by name. */
    public static List<Entry> list(Configs configs) {
        return configs.list(KEY_PREFIX).stream().map(Tokens::decode).toList();
    }

    /** Removes token {@code name} from a cluster's meta group; false when it has none of that name. */
    public static boolean remove(Configs configs, String name) {
        for (int attempt = 0; attempt < 8; attempt++) {
            Optional<ConfigRecord> r = configs.read(key(name));
            if (r.isEmpty()) {
                return false;
            }
            if (configs.compareAndSet(r.get().key(), r.get().version(), Optional.empty())) {
                return true;
            }
        }
        throw new IllegalStateException("token " + name + ": changed by others 8 times while being removed; try again");
    }

    /** Adds a token of {@code role} ({@code admin} or {@code read}); returns it with its secret. */
    public static Created create(Path configDir, String name, String role) {
        Created c = newToken(name, role);
        List<Entry> all = new ArrayList<>(read(configDir.resolve(FILE_NAME)));
        if (all.stream().anyMatch(e -> e.name().equals(name))) {
            throw new IllegalArgumentException("token name: " + name + " (expected: a name not in use; see basalt token ls)");
        }
        all.add(c.entry());
        write(configDir.resolve(FILE_NAME), all);
        return c;
    }

    private static Created newToken(String name, String role) {
        Route.Role r = parseRole(role);
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("name: '" + name + "' (expected: letters, digits, '.', '_' or '-', at most 128)");
        }
        byte[] secretBytes = new byte[TOKEN_BYTES];
        RANDOM.nextBytes(secretBytes);
        String secret = PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(secretBytes);
        return new Created(new Entry(name, r.name().toLowerCase(), sha256(secret), System.currentTimeMillis()), secret);
    }

    private static String key(String name) {
        return KEY_PREFIX + "/" + name;
    }

    private static byte[] encode(Entry e) {
        try {
            return Json.MAPPER.writeValueAsBytes(e);
        } catch (IOException x) {
            throw new UncheckedIOException("token " + e.name() + ": " + x.getMessage(), x);
        }
    }

    private static Entry decode(ConfigRecord r) {
        try {
            byte[] bytes = new byte[r.value().remaining()];
            r.value().duplicate().get(bytes);
            return Json.MAPPER.readValue(bytes, Entry.class);
        } catch (IOException x) {
            throw new UncheckedIOException("config record " + r.key() + ": " + x.getMessage() + " (expected: a token as basalt token create writes)", x);
        }
    }

    public static List<Entry> list(Path configDir) {
        return read(configDir.resolve(FILE_NAME));
    }

    /** Removes token {@code name}; refused naming it when there is none. */
    public static void remove(Path configDir, String name) {
        List<Entry> all = new ArrayList<>(read(configDir.resolve(FILE_NAME)));
        if (!all.removeIf(e -> e.name().equals(name))) {
            throw new IllegalArgumentException("token name: " + name + " (expected: one of " + all.stream().map(Entry::name).toList() + ")");
        }
        write(configDir.resolve(FILE_NAME), all);
    }

    /** A token as {@code basalt token ls} and {@code GET /api/tokens} show it: where it is kept, {@code meta-group} or {@value #FILE_NAME}. */
    public record Listed(String name, String role, long createdMs, String kept) {}

    /** Every token of a cluster's meta group ({@code shared}) and of {@code configDir}'s file. */
    public static List<Listed> list(Optional<Configs> shared, Path configDir) {
        List<Listed> all = new ArrayList<>();
        shared.ifPresent(c -> list(c).forEach(e -> all.add(new Listed(e.name(), e.role(), e.createdMs(), "meta-group"))));
        list(configDir).forEach(e -> all.add(new Listed(e.name(), e.role(), e.createdMs(), FILE_NAME)));
        return all;
    }

    /**
     * Revokes token {@code name}: removes it from the cluster's meta group ({@code shared}) or,
     * when it is not there, from {@code configDir}'s file; refused naming it when it is in
     * neither. Returns where it was kept. Every server refuses it within {@link
     * #SHARED_REFRESH_MS} (the server it was revoked through, at once).
     */
    public static String revoke(Optional<Configs> shared, Path configDir, String name) {
        if (shared.isPresent() && remove(shared.get(), name)) {
            return "the cluster's meta group";
        }
        if (list(configDir).stream().noneMatch(e -> e.name().equals(name))) {
            throw new IllegalArgumentException("token name: " + name + " (expected: one of " + list(shared, configDir).stream().map(Listed::name).toList()
                    + "; see basalt token ls)");
        }
        remove(configDir, name);
        return configDir.resolve(FILE_NAME).toString();
    }

    /** This server's tokens, as {@link #list(Optional, Path)}. */
    List<Listed> list() {
        return list(shared, configDir);
    }

    /** Revokes {@code name} as {@link #revoke(Optional, Path, String)}; this server refuses it from the next request on. */
    synchronized String revoke(String name) {
        String where = revoke(shared, configDir, name);
        sharedRead = false;
        loadedAt = null;
        return where;
    }

    /** The role a presented secret carries; empty when it is no token of the file nor of the meta group. */
    synchronized Optional<Route.Role> roleOf(String secret) {
        reloadIfChanged();
        byte[] presented = sha256(secret).getBytes(StandardCharsets.US_ASCII);
        Optional<Route.Role> inFile = match(entries, presented);
        if (inFile.isPresent() || shared.isEmpty()) {
            return inFile;
        }
        if (!sharedRead || sharedAgeMs() >= SHARED_REFRESH_MS) {
            readShared();
        }
        Optional<Route.Role> role = match(sharedEntries, presented);
        if (role.isEmpty() && sharedAgeMs() >= MISS_REFRESH_MS) {
            readShared();       // perhaps created since the last read
            role = match(sharedEntries, presented);
        }
        return role;
    }

    private long sharedAgeMs() {
        return (System.nanoTime() - sharedReadNanos) / 1_000_000;
    }

    private void readShared() {
        sharedEntries = list(shared.orElseThrow());
        sharedReadNanos = System.nanoTime();
        sharedRead = true;
    }

    private static Optional<Route.Role> match(List<Entry> candidates, byte[] presentedSha256) {
        for (Entry e : candidates) {
            if (MessageDigest.isEqual(presentedSha256, e.sha256().getBytes(StandardCharsets.US_ASCII))) {
                return Optional.of(parseRole(e.role()));
            }
        }
        return Optional.empty();
    }

    /**
     * Reads the file again when its modification time changed, and at least every {@link
     * #SHARED_REFRESH_MS}: two writes within one tick of the filesystem's clock (a few ms) leave
     * the same time, and a token removed by the second must not stay valid.
     */
    private void reloadIfChanged() {
        try {
            FileTime at = Files.exists(file) ? Files.getLastModifiedTime(file) : null;
            if (at == null) {
                entries = List.of();
            } else if (!at.equals(loadedAt) || (System.nanoTime() - fileReadNanos) / 1_000_000 >= SHARED_REFRESH_MS) {
                entries = read(file);
                fileReadNanos = System.nanoTime();
            }
            loadedAt = at;
        } catch (IOException e) {
            throw new UncheckedIOException("tokens file " + file + ": " + e.getMessage(), e);
        }
    }

    static Route.Role parseRole(String role) {
        return switch (role) {
            case "admin" -> Route.Role.ADMIN;
            case "read" -> Route.Role.READ;
            default -> throw new IllegalArgumentException("role: " + role + " (expected: admin or read)");
        };
    }

    private static List<Entry> read(Path file) {
        if (!Files.exists(file)) {
            return List.of();
        }
        try {
            return Json.MAPPER.readValue(file.toFile(), new TypeReference<List<Entry>>() {});
        } catch (IOException e) {
            throw new UncheckedIOException("tokens file " + file + ": " + e.getMessage() + " (expected: a list of tokens as basalt token create writes)", e);
        }
    }

    /** Written to a temporary file and moved in place, so a server never reads half a file. */
    private static void write(Path file, List<Entry> all) {
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            Path tmp = file.resolveSibling(FILE_NAME + ".tmp");
            Files.writeString(tmp, Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(all));
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("write tokens file " + file + ": " + e.getMessage(), e);
        }
    }

    static String sha256(String secret) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(secret.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JDK", e);
        }
    }
}
