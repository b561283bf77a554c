package io.basalt.node.host;

import java.io.IOException;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import io.basalt.host.Taps;

/** A Linux bridge with the host's address on it, for guests' taps in a test; removed on close. Needs root and a tun device. */
record TestBridge(Optional<String> name) implements AutoCloseable {

    /** Makes bridge {@code name} with {@code hostIp}/24, or says why not and returns empty (the test then runs without a network). */
    static Optional<String> create(String name, String hostIp) throws IOException, InterruptedException {
        Optional<String> why = Taps.unavailable();
        if (why.isPresent() || HostAgentMigrationTest.which("ip") == null) {
            System.out.println("[bridge] none: " + why.orElse("no ip command"));
            return Optional.empty();
        }
        run("ip", "link", "del", name);    // a leftover of an earlier run; fails when there is none
        if (run("ip", "link", "add", name, "type", "bridge") != 0 || run("ip", "addr", "add", hostIp + "/24", "dev", name) != 0
                || run("ip", "link", "set", name, "up") != 0) {
            run("ip", "link", "del", name);
            System.out.println("[bridge] could not make " + name);
            return Optional.empty();
        }
        return Optional.of(name);
    }

    @Override
    public void close() throws IOException, InterruptedException {
        if (name.isPresent()) {
            run("ip", "link", "del", name.get());
        }
    }

    private static int run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(List.of(cmd)).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        if (!p.waitFor(10, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return -1;
        }
        return p.exitValue();
    }
}
