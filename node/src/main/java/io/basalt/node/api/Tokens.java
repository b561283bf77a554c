package io.basalt.node.api;

import java.io.IOException;
import java.io.UncheckedIOException;
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

/**
 * The API's bearer tokens, kept in {@value #FILE_NAME} beside targets.json (the store directory,
 * or the cluster file's directory): only a SHA-256 of each token is stored, so the file does not
 * give access. A token is 32 random bytes, so an unsalted hash suffices (no dictionary to try).
 * The server reads the file again when it changed, so {@code basalt token create} takes effect
 * without a restart.
 */
public final class Tokens {
    public static final String FILE_NAME = "tokens.json";
    private static final String PREFIX = "basalt_";
    private static final int TOKEN_BYTES = 32;
    private static final SecureRandom RANDOM = new SecureRandom();

    /** One stored token: its name, role and the hex SHA-256 of the secret. */
    public record Entry(String name, String role, String sha256, long createdMs) {}

    /** A new token: the secret is shown once and not kept. */
    public record Created(Entry entry, String secret) {}

    private final Path file;
    private FileTime loadedAt;
    private List<Entry> entries = List.of();

    public Tokens(Path configDir) {
        this.file = configDir.resolve(FILE_NAME);
    }

    /** Adds a token of {@code role} ({@code admin} or {@code read}); returns it with its secret. */
    public static Created create(Path configDir, String name, String role) {
        Route.Role r = parseRole(role);
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("name: '" + name + "' (expected: a non-empty name)");
        }
        List<Entry> all = new ArrayList<>(read(configDir.resolve(FILE_NAME)));
        if (all.stream().anyMatch(e -> e.name().equals(name))) {
            throw new IllegalArgumentException("token name: " + name + " (expected: a name not in use; see basalt token ls)");
        }
        byte[] secretBytes = new byte[TOKEN_BYTES];
        RANDOM.nextBytes(secretBytes);
        String secret = PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(secretBytes);
        Entry e = new Entry(name, r.name().toLowerCase(), sha256(secret), System.currentTimeMillis());
        all.add(e);
        write(configDir.resolve(FILE_NAME), all);
        return new Created(e, secret);
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

    /** The role a presented secret carries; empty when it is no token of this file. */
    synchronized Optional<Route.Role> roleOf(String secret) {
        reloadIfChanged();
        byte[] presented = sha256(secret).getBytes(StandardCharsets.US_ASCII);
        for (Entry e : entries) {
            if (MessageDigest.isEqual(presented, e.sha256().getBytes(StandardCharsets.US_ASCII))) {
                return Optional.of(parseRole(e.role()));
            }
        }
        return Optional.empty();
    }

    private void reloadIfChanged() {
        try {
            FileTime at = Files.exists(file) ? Files.getLastModifiedTime(file) : null;
            if (at == null) {
                entries = List.of();
            } else if (!at.equals(loadedAt)) {
                entries = read(file);
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
