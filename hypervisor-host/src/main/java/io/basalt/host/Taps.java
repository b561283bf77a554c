package io.basalt.host;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Tap devices on a Linux bridge for guests, made with iproute2's {@code ip} (root, or
 * CAP_NET_ADMIN, and {@code /dev/net/tun}). A tap is named after its host and VM, so the source
 * and the destination of a migration on one machine never collide, and a leftover of a crashed
 * agent is replaced rather than refused.
 */
public final class Taps {
    /** How long one {@code ip} command may take. */
    static final long IP_TIMEOUT_SECONDS = 10;
    static final Path TUN = Path.of("/dev/net/tun");

    private Taps() {}

    /** The tap name of VM {@code vm} on host {@code host}: {@code bt} and 12 hex digits of their hash (15 bytes at most). */
    public static String nameFor(String host, String vm) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest((host + "/" + vm).getBytes(StandardCharsets.UTF_8));
            return "bt" + HexFormat.of().formatHex(d, 0, 6);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required of every Java runtime", e);
        }
    }

    /** Why taps cannot be made here, or empty when they can (a tun device and the privilege to add links). */
    public static java.util.Optional<String> unavailable() {
        if (!Files.exists(TUN)) {
            return java.util.Optional.of("no " + TUN);
        }
        if (!"root".equals(System.getProperty("user.name"))) {
            return java.util.Optional.of("not running as root (taps need CAP_NET_ADMIN)");
        }
        return java.util.Optional.empty();
    }

    /** Whether {@code bridge} is an existing Linux bridge. */
    public static boolean isBridge(String bridge) {
        return GuestNetwork.IFNAME.matcher(bridge).matches() && Files.isDirectory(Path.of("/sys/class/net", bridge, "bridge"));
    }

    /** Makes tap {@code tap}, puts it on {@code bridge} and sets it up; a tap of that name left over is replaced. */
    public static void create(String tap, String bridge) throws IOException, InterruptedException {
        new GuestNetwork.Tap(tap);    // checks the name
        if (!isBridge(bridge)) {
            throw new IllegalArgumentException("bridge: '" + bridge + "' (expected: an existing Linux bridge, e.g. ip link add " + bridge + " type bridge)");
        }
        deleteQuietly(tap);
        try {
            ip("tuntap", "add", "dev", tap, "mode", "tap");
            ip("link", "set", tap, "master", bridge);
            ip("link", "set", tap, "up");
        } catch (IOException | InterruptedException | RuntimeException e) {
            deleteQuietly(tap);
            throw e;
        }
    }

    /** Removes tap {@code tap} if it exists. */
    public static void deleteQuietly(String tap) {
        if (!Files.exists(Path.of("/sys/class/net", tap))) {
            return;
        }
        try {
            ip("tuntap", "del", "dev", tap, "mode", "tap");
        } catch (IOException e) {
            System.getLogger(Taps.class.getName()).log(System.Logger.Level.WARNING, "remove tap " + tap + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Runs {@code ip ARGS}; a failure throws naming the command and what it printed. */
    static void ip(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("ip"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        if (!p.waitFor(IP_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", cmd) + ": no answer within " + IP_TIMEOUT_SECONDS + " s");
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        if (p.exitValue() != 0) {
            throw new IOException(String.join(" ", cmd) + ": exit " + p.exitValue() + (out.isEmpty() ? "" : ": " + out));
        }
    }
}
