package io.basalt.node.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.node.cli.CliResult;
import io.basalt.node.datastore.Datastore;
import io.basalt.node.metrics.NodeMetrics;

/** {@code basalt vdisk} and {@code basalt snap} with {@code --api URL}: the same commands, through the management API. */
class RemoteCliTest {
    @TempDir Path dir;
    Datastore store;
    ApiServer server;
    String admin;

    @BeforeEach
    void start() {
        store = Datastore.local(dir, 0);
        server = ApiServer.start(new ApiServer.Backend(store, dir, Optional.empty()), NodeMetrics.process(), "127.0.0.1", 0);
        admin = Tokens.create(dir, "ops", "admin").secret();
    }

    @AfterEach
    void stop() {
        try {
            server.close();
        } finally {
            store.close();
        }
    }

    @Test
    void vdiskAndSnapCommandsWorkThroughTheApi() {
        assertOut("created vdisk r1: 64 MiB thin", "vdisk", "create", "r1", "--size", "64M");
        assertEquals(List.of("r1"), store.list().stream().map(Datastore.VdiskView::name).toList(), "made in the server's store");
        assertOut("r1", "vdisk", "ls");
        assertOut("(67108864 bytes)", "vdisk", "info", "r1");
        assertOut("resized vdisk r1: 64 MiB -> 128 MiB", "vdisk", "resize", "r1", "--size", "128M");
        assertOut("created snapshot r1@s1", "snap", "create", "r1@s1");
        assertOut("s1", "snap", "ls", "r1");
        assertOut("cloned r1@s1 to r2", "vdisk", "clone", "r1@s1", "r2");
        assertOut("flattened r2: no longer depends on r1@s1", "vdisk", "flatten", "r2");
        assertTrue(store.info("r2").parent().isEmpty());
        assertOut("rolled back r1 to snapshot s1", "snap", "rollback", "r1@s1");
        assertOut("removed snapshot r1@s1", "snap", "rm", "r1@s1");
        assertOut("removed vdisk r2", "vdisk", "rm", "r2");
        assertEquals(List.of("r1"), store.list().stream().map(Datastore.VdiskView::name).toList());
    }

    @Test
    void theServersRefusalIsTheCommandsErrorNamingTheBadValue() {
        CliResult r = remote("vdisk", "info", "nope");
        assertEquals(1, r.exit());
        assertTrue(r.err().contains("vdisk: nope (expected: an existing vdisk"), r.err());
        CliResult noToken = CliResult.run("vdisk", "ls", "--api", server.url());
        assertEquals(1, noToken.exit());
        assertTrue(noToken.err().contains("Authorization: missing") && noToken.err().contains("BASALT_API_TOKEN"), noToken.err());
        CliResult io = remote("vdisk", "read", "r1", "--offset", "0", "--length", "512");
        assertTrue(io.exit() != 0 && io.err().contains("not offered through the management API"), io.err());
        CliResult both = CliResult.run("vdisk", "ls", "--api", server.url(), "--data", dir.toString());
        assertTrue(both.exit() != 0 && both.err().contains("(expected: one of them)"), both.err());
    }

    private void assertOut(String part, String... args) {
        CliResult r = remote(args);
        assertEquals(0, r.exit(), String.join(" ", args) + ": " + r.err());
        assertTrue(r.out().contains(part), String.join(" ", args) + ": " + r.out() + " (expected to contain: " + part + ")");
    }

    private CliResult remote(String... args) {
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(List.of("--api", server.url(), "--api-token", admin));
        return CliResult.run(all.toArray(String[]::new));
    }
}
