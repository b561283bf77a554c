package io.basalt.backup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The repository alone: chunks stored once and read back checked, manifests whole or refused, what a crash leaves. */
class RepositoryTest {
    @TempDir
    Path dir;

    private static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void storesEachContentOnceAndReadsItBackChecked() {
        Path repoDir = dir.resolve("repo");
        byte[] a = random(65536, 1);
        byte[] z = new byte[65536];
        z[7] = 1; // compressible
        String ha = Chunks.hash(a, 0, a.length);
        String hz = Chunks.hash(z, 0, z.length);
        try (Repository repo = Repository.open(repoDir, Repository.CHUNK_BYTES_DEFAULT); PackWriter w = repo.packWriter()) {
            assertTrue(w.add(ha, a, 0, a.length) > a.length, "random data is stored raw, with its header");
            assertEquals(0, w.add(ha, a, 0, a.length), "the same content again is not stored again");
            assertTrue(w.add(hz, z, 0, z.length) < 1024, "LZ4 shrinks a nearly empty chunk");
            assertFalse(repo.has(ha), "not visible before its pack is in place");
            w.finish();
            assertTrue(repo.has(ha) && repo.has(hz));
            assertEquals(1, w.packCount());
        }
        try (Repository repo = Repository.open(repoDir)) {
            assertEquals(2, repo.chunkCount(), "found again from the pack's index");
            assertArrayEquals(a, repo.readChunk(ha));
            assertArrayEquals(z, repo.readChunk(hz));
        }
    }

    @Test
    void refusesADirectoryThatIsNotARepository() throws Exception {
        Files.writeString(dir.resolve("x"), "x");
        BackupException e = assertThrows(BackupException.class, () -> Repository.open(dir, Repository.CHUNK_BYTES_DEFAULT));
        assertTrue(e.getMessage().contains("no basalt-backup file"), e.getMessage());
        assertThrows(BackupException.class, () -> Repository.open(dir.resolve("missing")));
    }

    @Test
    void oneProcessAtATime() {
        try (Repository repo = Repository.open(dir.resolve("r"), Repository.CHUNK_BYTES_DEFAULT)) {
            assertEquals(Repository.CHUNK_BYTES_DEFAULT, repo.chunkBytes());
            // FileChannel locks are per JVM: a second open in this process fails with OverlappingFileLockException
            assertThrows(RuntimeException.class, () -> Repository.open(dir.resolve("r")).close());
        }
    }

    @Test
    void manifestRoundTripsAndADamagedOneIsRefused() throws Exception {
        Manifest m = new Manifest("web1-1", "web1", 3, "backup-1", Optional.of("web1-0"), Instant.parse("2026-12-07T10:00:00Z"),
                1 << 20, 512, 4096, 65536, 131072, 999, List.of(new Manifest.ChunkRef(0, "aa"), new Manifest.ChunkRef(65536 * 3, "bb")));
        byte[] bytes = m.encode();
        assertEquals(m, Manifest.decode(bytes, "m"));
        String text = new String(bytes, StandardCharsets.UTF_8);
        assertTrue(text.startsWith("basalt-backup-manifest 1\nid web1-1\n"), text);
        byte[] flipped = text.replace("c 196608 bb", "c 262144 bb").getBytes(StandardCharsets.UTF_8);
        assertTrue(assertThrows(BackupException.class, () -> Manifest.decode(flipped, "m")).getMessage().contains("CRC32C"));
        byte[] cut = java.util.Arrays.copyOf(bytes, bytes.length - 20);
        assertThrows(BackupException.class, () -> Manifest.decode(cut, "m"));
    }

    @Test
    void aWriterThatDiesLeavesNoManifestAndTheRepositoryReadable() throws Exception {
        Path repoDir = dir.resolve("repo");
        byte[] a = random(65536, 2);
        String ha = Chunks.hash(a, 0, a.length);
        try (Repository repo = Repository.open(repoDir, Repository.CHUNK_BYTES_DEFAULT)) {
            PackWriter w = repo.packWriter();
            w.add(ha, a, 0, a.length);
            // No finish and no close: as a kill -9 mid-backup leaves it. Also a torn temp manifest.
            Files.write(repo.tmpDir().resolve("x.manifest.tmp"), "basalt-backup-manifest 1\nid".getBytes(StandardCharsets.UTF_8));
        }
        try (Repository repo = Repository.open(repoDir)) {
            assertEquals(List.of(), repo.manifests());
            assertEquals(0, repo.chunkCount(), "the unfinished pack was never in place");
            try (var tmp = Files.list(repo.tmpDir())) {
                assertEquals(0, tmp.count(), "what a dead writer left under tmp/ is cleared on open");
            }
        }
    }
}
