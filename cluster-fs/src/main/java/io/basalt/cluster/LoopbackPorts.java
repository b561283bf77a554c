package io.basalt.cluster;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Free loopback ports for local nodes: the tests' clusters and {@code basalt chaos run}'s (whose
 * killed nodes must bind their ports again when restarted). A port the kernel
 * hands out for {@code bind(0)} is an ephemeral one, which any outgoing connection may take before
 * the node binds it, and then Ratis exits the whole JVM ("Terminating with exit status 1: Failed to
 * start Grpc server", seen once in {@code ClusterVdiskTest}). So ports come from just below the
 * kernel's ephemeral range ({@code net.ipv4.ip_local_port_range}), which outgoing connections
 * never use, each checked free by binding it.
 */
public final class LoopbackPorts {
    private static final int SPAN = 10_000;
    private static final int LOW = ephemeralLow() - SPAN;
    private static final AtomicInteger NEXT = new AtomicInteger(LOW + ThreadLocalRandom.current().nextInt(SPAN));

    private LoopbackPorts() {}

    /** A loopback port nothing listens on now, outside the ephemeral range. */
    public static int free() throws IOException {
        return freeBase(1) + 1;
    }

    /**
     * A base port such that {@code base + 1 .. base + count} are free loopback ports outside the
     * ephemeral range ({@code basalt cluster up --base-port}: node i listens on base + i).
     */
    public static int freeBase(int count) throws IOException {
        for (int tried = 0; tried < SPAN; tried += count) {
            int base = LOW + Math.floorMod(NEXT.getAndAdd(count) - LOW, SPAN - count);
            if (allFree(base + 1, count)) {
                return base;
            }
        }
        throw new IOException("no " + count + " free loopback ports in a row in " + LOW + ".." + (LOW + SPAN - 1));
    }

    private static boolean allFree(int first, int count) {
        for (int port = first; port < first + count; port++) {
            try (ServerSocket s = new ServerSocket()) {
                s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1);
            } catch (IOException inUse) {
                return false;
            }
        }
        return true;
    }

    /** The first port of the kernel's ephemeral range; Linux's default 32768 where it cannot be read. */
    private static int ephemeralLow() {
        try {
            String range = Files.readString(Path.of("/proc/sys/net/ipv4/ip_local_port_range")).trim();
            int low = Integer.parseInt(range.split("\\s+")[0]);
            return low > SPAN + 1024 ? low : 32_768;
        } catch (IOException | RuntimeException e) {
            return 32_768;
        }
    }
}
