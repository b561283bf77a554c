package io.basalt.node.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.lock.LockCommand;
import io.basalt.lock.LockMode;
import io.basalt.lock.LockResult;
import io.basalt.node.locks.EmbeddedLocks;
import io.basalt.vdisk.store.VdiskStore;

/** {@code basalt host ls}, {@code lock ls} and {@code lock break} on the embedded store. */
class LockCliTest {
    @TempDir
    Path dir;

    CliResult run(String... args) {
        String[] withData = new String[args.length + 2];
        System.arraycopy(args, 0, withData, 0, args.length);
        withData[args.length] = "--data";
        withData[args.length + 1] = dir.resolve("store").toString();
        return CliResult.run(withData);
    }

    /** Host a holds web1 exclusive (as a serving process that died would leave it); returns a's session id and token. */
    private long[] lockWeb1() {
        try (VdiskStore s = VdiskStore.open(dir.resolve("store")); EmbeddedLocks locks = EmbeddedLocks.open(s)) {
            s.create("web1", 1 << 20);
            s.create("web2", 1 << 20);
            long session = ((LockResult.SessionOpened) locks.submit(new LockCommand.OpenSession("host-a", 8_000, System.currentTimeMillis())))
                    .session().id();
            long token = ((LockResult.Granted) locks.submit(new LockCommand.Acquire(session, "web1", LockMode.EXCLUSIVE))).grant().token();
            return new long[] {session, token};
        }
    }

    @Test
    void hostLsShowsSessionsLeasesAndLocks() {
        long[] a = lockWeb1();
        CliResult ls = run("host", "ls");
        assertEquals(0, ls.exit(), ls.err());
        assertTrue(ls.out().startsWith("SESSION  HOST"), ls.out());
        assertTrue(ls.out().matches("(?s).*\n" + a[0] + " +host-a +8\\.0s +\\d+\\.\\ds  web1 \\(exclusive, token " + a[1] + "\\)\n"), ls.out());

        CliResult json = run("host", "ls", "--format", "json");
        assertEquals(0, json.exit(), json.err());
        assertTrue(json.out().contains("\"session\" : " + a[0]) && json.out().contains("\"host\" : \"host-a\"")
                && json.out().contains("\"leaseMs\" : 8000") && json.out().contains("\"web1 (exclusive, token " + a[1] + ")\""), json.out());
    }

    @Test
    void lockLsShowsHolderModeTokenAndFence() {
        long[] a = lockWeb1();
        CliResult ls = run("lock", "ls");
        assertEquals(0, ls.exit(), ls.err());
        assertTrue(ls.out().matches("(?s)VDISK +SESSION +HOST +MODE +TOKEN +FENCE\nweb1 +" + a[0] + " +host-a +exclusive +" + a[1] + " +" + a[1] + "\n"),
                ls.out());
        CliResult one = run("lock", "ls", "web2", "--format", "json");
        assertEquals(0, one.exit(), one.err());
        assertEquals("[ ]", one.out().strip(), "web2 was never locked");
        CliResult missing = run("lock", "ls", "nope");
        assertEquals(1, missing.exit());
        assertTrue(missing.err().contains("nope"), missing.err());
    }

    @Test
    void lockBreakRefusesWithoutYesAndSaysWhatItWouldBreak() {
        long[] a = lockWeb1();
        CliResult dry = run("lock", "break", "web1");
        assertEquals(2, dry.exit());
        assertTrue(dry.err().contains("would break the lock of web1: session id " + a[0] + " (host host-a), fence " + a[1]), dry.err());
        assertTrue(dry.err().contains("--yes"), dry.err());
        assertTrue(run("lock", "ls", "web1").out().contains("exclusive"), "nothing was broken");

        CliResult broke = run("lock", "break", "web1", "--yes");
        assertEquals(0, broke.exit(), broke.err());
        long fence = a[1] + 1;
        assertEquals("broke lock of web1: session id " + a[0] + " (host host-a), fence " + a[1] + " → " + fence + "\n", broke.out());
        CliResult after = run("lock", "ls", "web1", "--format", "json");
        assertTrue(after.out().contains("\"session\" : null") && after.out().contains("\"fence\" : " + fence), after.out());

        CliResult again = run("lock", "break", "web1", "--yes");
        assertEquals(1, again.exit());
        assertTrue(again.err().contains("vdisk: web1 is not locked"), again.err());
        Path page = dir.resolve("page.bin");
        assertEquals(0, run("vdisk", "write", "web2", "--input", writePage(page)).exit(), "web2 was never locked: lockless writes pass");
        CliResult write = run("vdisk", "write", "web1", "--input", page.toString());
        assertEquals(1, write.exit(), "a vdisk that was ever locked refuses writes without a lock");
        assertTrue(write.err().contains("FENCED: vdisk=web1 token=0 (expected: >= fence " + fence + ")"), write.err());
    }

    private static String writePage(Path file) {
        try {
            java.nio.file.Files.write(file, new byte[4096]);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return file.toString();
    }

    @Test
    void aStoreHeldByAnotherProcessIsNamedWithWhatToDo() {
        lockWeb1();
        try (VdiskStore held = VdiskStore.open(dir.resolve("store"))) {
            CliResult ls = run("lock", "ls");
            assertEquals(1, ls.exit());
            assertTrue(ls.err().contains("--data " + dir.resolve("store") + ": the store is open in another process"), ls.err());
            assertTrue(ls.err().contains("Stop that process first"), ls.err());
        }
    }
}
