package io.basalt.backup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.store.VdiskStore;

/**
 * docs/backup-format.md's crash promise, with a real SIGKILL: a child JVM backs up a 256 MiB vdisk
 * of random data into a repository that already holds another backup, and is killed once it has
 * handled half its chunks. Then the repository verifies, lists only the whole backup, a new
 * backup of the same vdisk succeeds (reusing the chunks the killed one left in its packs), and
 * both backups restore bit for bit.
 */
class BackupKillTest {
    private static final int MIB = 1 << 20;
    private static final long BIG_SIZE_BYTES = 256L * MIB;
    private static final long SMALL_SIZE_BYTES = 8L * MIB;
    private static final long CHILD_TIMEOUT_SECONDS = 120;

    @TempDir
    Path dir;

    @Test
    void sigkillMidBackupLeavesTheRepositoryValidAndTheNextBackupRestoresBitExact() throws Exception {
        Path storeDir = dir.resolve("store");
        Path repoDir = dir.resolve("repo");
        Random random = new Random(2412);
        String firstId;
        try (VdiskStore store = VdiskStore.open(storeDir); Repository repo = Repository.open(repoDir, Repository.CHUNK_BYTES_DEFAULT)) {
            StoreAccess access = new StoreAccess(store);
            access.create("small", SMALL_SIZE_BYTES, 512, 4096);
            access.write("small", 0, randomBytes(random, (int) SMALL_SIZE_BYTES));
            firstId = BackupCreate.create(repo, access, "small", Instant.now(), x -> { }, x -> { }).manifest().id();
            access.create("big", BIG_SIZE_BYTES, 512, 4096);
            for (long at = 0; at < BIG_SIZE_BYTES; at += 8 * MIB) {
                access.write("big", at, randomBytes(random, 8 * MIB));
            }
        }

        long handledAtKill = backUpAndKillHalfway(storeDir, repoDir, "big");
        System.out.printf("BackupKillTest: killed after %d MiB of %d MiB%n", handledAtKill / MIB, BIG_SIZE_BYTES / MIB);

        try (VdiskStore store = VdiskStore.open(storeDir); Repository repo = Repository.open(repoDir)) {
            StoreAccess access = new StoreAccess(store);
            assertEquals(List.of(firstId), repo.manifests().stream().map(Manifest::id).toList(), "backups listed after the kill");
            BackupCheck.Report report = BackupCheck.check(repo, repo.manifests(), x -> { });
            assertTrue(report.ok(), "verify after the kill: " + report.damage());
            try (Stream<Path> tmp = Files.list(repoDir.resolve("tmp"))) {
                assertEquals(List.of(), tmp.toList(), "tmp/ after a writer opened the repository");
            }

            BackupCreate.Result again = BackupCreate.create(repo, access, "big", Instant.now(), x -> { }, x -> { });
            assertEquals(BIG_SIZE_BYTES / repo.chunkBytes(), again.manifest().chunks().size(), "chunks of the new backup");
            assertTrue(again.newChunkCount() < again.manifest().chunks().size(),
                    "the killed backup's packs hold chunks the new one reuses: " + again.newChunkCount() + " new of "
                            + again.manifest().chunks().size());
            assertTrue(BackupCheck.check(repo, repo.manifests(), x -> { }).ok(), "verify after the new backup");
            assertEquals(2, repo.manifests().size(), "backups listed after the new one");
            // No manifest names the killed backup's snapshot, so it stays on the vdisk (docs/backup-format.md, "Crash safety").
            assertTrue(access.snapshots("big").contains(again.manifest().snapshot()), "the new backup's snapshot, the next diff base");
            assertEquals(2, access.snapshots("big").size(), "the new backup's snapshot and the killed one's: " + access.snapshots("big"));
            restore(repo, access, store, again.manifest(), "big-back");
            assertArrayEquals(sha256(store, "big"), sha256(store, "big-back"), "big restored bit for bit");
            restore(repo, access, store, repo.manifest(firstId), "small-back");
            assertArrayEquals(access.readAll("small"), access.readAll("small-back"), "small restored bit for bit");
        }
    }

    /** Runs the backup in a child JVM and SIGKILLs it once half its planned bytes are handled; returns the bytes handled then. */
    private static long backUpAndKillHalfway(Path storeDir, Path repoDir, String vdisk) throws IOException, InterruptedException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process child = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-Xmx512m",
                "-cp", System.getProperty("java.class.path"), BackupChild.class.getName(), storeDir.toString(), repoDir.toString(), vdisk)
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.US_ASCII))) {
            long planned = -1;
            for (String line; (line = out.readLine()) != null; ) {
                String[] f = line.split(" ");
                if (f[0].equals("planned")) {
                    planned = Long.parseLong(f[1]);
                } else if (f[0].equals("progress") && planned > 0 && Long.parseLong(f[1]) >= planned / 2) {
                    child.destroyForcibly(); // SIGKILL on Linux
                    assertTrue(child.waitFor(30, TimeUnit.SECONDS), "child still alive 30 s after SIGKILL");
                    assertTrue(Long.parseLong(f[1]) < planned, "killed before the end: " + line + " of " + planned);
                    return Long.parseLong(f[1]);
                } else if (f[0].equals("done")) {
                    throw new AssertionError("the backup finished before the kill: " + line);
                }
            }
            child.waitFor(CHILD_TIMEOUT_SECONDS, TimeUnit.SECONDS);
            throw new AssertionError("the child ended before half the backup, exit " + (child.isAlive() ? "none" : child.exitValue()));
        } finally {
            if (child.isAlive()) {
                child.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
            }
        }
    }

    private static void restore(Repository repo, StoreAccess access, VdiskStore store, Manifest m, String name) {
        access.create(name, m.sizeBytes(), m.blockSizeBytes(), m.grainSizeBytes());
        try (BlockDevice d = store.open(name)) {
            BackupRestore.toEmpty(repo, m, d, x -> { });
        }
    }

    /** SHA-256 of a whole vdisk, read 1 MiB at a time (256 MiB twice would not fit the test's heap). */
    private static byte[] sha256(VdiskStore store, String vdisk) throws NoSuchAlgorithmException {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        try (BlockDevice d = store.open(vdisk)) {
            int bs = d.logicalBlockSizeBytes();
            for (long at = 0; at < d.sizeBytes(); at += MIB) {
                md.update(d.read(at / bs, MIB / bs).join());
            }
        }
        return md.digest();
    }

    private static byte[] randomBytes(Random random, int n) {
        byte[] b = new byte[n];
        random.nextBytes(b);
        return b;
    }
}
