package io.basalt.node.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code basalt backup ...} and {@code vdisk export-diff|import-diff} on the embedded store, end to end through the command line. */
class BackupCliTest {
    @TempDir
    Path dir;

    private CliResult expect(int exit, String... args) {
        String[] withData = Arrays.copyOf(args, args.length + 2);
        withData[args.length] = "--data";
        withData[args.length + 1] = dir.resolve("store").toString();
        CliResult r = CliResult.run(withData);
        assertEquals(exit, r.exit(), String.join(" ", args) + ": " + r.out() + r.err());
        return r;
    }

    /** Commands that do not take --data (ls, verify, prune work on the repository alone). */
    private CliResult repoOnly(int exit, String... args) {
        CliResult r = CliResult.run(args);
        assertEquals(exit, r.exit(), String.join(" ", args) + ": " + r.out() + r.err());
        return r;
    }

    private CliResult ok(String... args) {
        return expect(0, args);
    }

    private void write(String vdisk, String offset, int bytes, long seed) throws Exception {
        byte[] data = new byte[bytes];
        new Random(seed).nextBytes(data);
        Path in = dir.resolve("in.bin");
        Files.write(in, data);
        ok("vdisk", "write", vdisk, "--offset", offset, "--input", in.toString());
    }

    private byte[] readAll(String vdisk) throws Exception {
        return read(vdisk, "16M");
    }

    private byte[] read(String vdisk, String length) throws Exception {
        Path out = dir.resolve("read.bin");
        ok("vdisk", "read", vdisk, "--length", length, "--output", out.toString());
        return Files.readAllBytes(out);
    }

    private String lastId(String repo) {
        List<String> lines = repoOnly(0, "backup", "ls", "--repo", repo).out().lines().toList();
        return lines.getLast().split(" ")[0];
    }

    @Test
    void createIncrementalLsVerifyRestoreAndPrune() throws Exception {
        String repo = dir.resolve("repo").toString();
        ok("vdisk", "create", "web1", "--size", "16M");
        write("web1", "1M", 4 << 20, 1);
        CliResult full = ok("backup", "create", "web1", "--to", repo);
        assertTrue(full.out().contains(": full, 16 MiB disk, 4 MiB of data"), full.out());
        assertTrue(full.out().contains("read 4 MiB in 64 chunks"), full.out());
        String first = lastId(repo);
        byte[] atFirst = readAll("web1");

        write("web1", "8M", 128 << 10, 2);
        CliResult inc = ok("backup", "create", "web1", "--to", repo);
        assertTrue(inc.out().contains("incremental from " + first), inc.out());
        assertTrue(inc.out().contains("read 128 KiB in 2 chunks") && inc.out().contains("in 2 new chunks"), inc.out());
        assertTrue(inc.out().contains("removed the previous base snapshot(s)"), inc.out());
        String second = lastId(repo);

        String json = repoOnly(0, "backup", "ls", "--repo", repo, "--format", "json").out();
        assertTrue(json.contains("\"id\" : \"" + second + "\"") && json.contains("\"parent\" : \"" + first + "\""), json);
        assertTrue(repoOnly(0, "backup", "verify", "--repo", repo).out().contains("verified 2 backup(s): 66 chunk(s), 4.1 MiB of data, all whole"));

        CliResult restored = ok("backup", "restore", "--repo", repo, first, "--to-vdisk", "back1");
        assertTrue(restored.out().startsWith("restored " + first + " into back1: 16 MiB disk"), restored.out());
        assertArrayEquals(atFirst, readAll("back1"));
        CliResult into = ok("backup", "restore", "--repo", repo, first, "--into", "web1");
        assertTrue(into.out().contains("128 KiB zeroed"), "only the chunks written since are put back: " + into.out());
        assertArrayEquals(atFirst, readAll("web1"));

        Path qcow2 = dir.resolve("b.qcow2");
        ok("backup", "restore", "--repo", repo, second, "--to-qcow2", qcow2.toString());
        ok("vdisk", "import", qcow2.toString(), "fromqcow2");
        ok("backup", "restore", "--repo", repo, second, "--to-vdisk", "back2");
        assertArrayEquals(readAll("back2"), readAll("fromqcow2"));

        CliResult pruned = repoOnly(0, "backup", "prune", "--repo", repo, "--keep-last", "1");
        assertTrue(pruned.out().contains("removed " + first) && pruned.out().contains("kept 1 backup(s), removed 1"), pruned.out());
        assertTrue(repoOnly(0, "backup", "verify", "--repo", repo).out().contains("all whole"));
    }

    @Test
    void backsUpAnExistingSnapshotKeepingItAndAllDisksOfAStoppedVmAtOneInstantHoldingNoLockAfter() throws Exception {
        String repo = dir.resolve("repo").toString();
        ok("vdisk", "create", "d1", "--size", "4M");
        ok("vdisk", "create", "d2", "--size", "4M");
        write("d1", "0", 1 << 20, 4);
        write("d2", "1M", 1 << 20, 5);
        ok("snap", "create", "d1@mine");
        byte[] atMine = read("d1", "4M");
        write("d1", "0", 64 << 10, 6);

        CliResult fromSnap = ok("backup", "create", "d1@mine", "--to", repo);
        assertTrue(fromSnap.out().contains("holding d1 shared-read (lock session "), fromSnap.out());
        assertTrue(fromSnap.out().contains("of d1@mine: full, 4 MiB disk, 1 MiB of data"), fromSnap.out());
        assertTrue(!fromSnap.out().contains("snapshot backup-"), "no snapshot is taken: " + fromSnap.out());
        String mine = lastId(repo);
        CliResult taken = ok("backup", "create", "d1", "--to", repo);
        assertTrue(taken.out().contains("by the store (nothing writes it)") && taken.out().contains("incremental from " + mine), taken.out());
        assertTrue(!taken.out().contains("removed the previous base"), "the operator's snapshot is not the backup's to remove: " + taken.out());
        assertTrue(ok("snap", "ls", "d1").out().contains("mine"), "d1@mine stays");
        ok("backup", "restore", "--repo", repo, mine, "--to-vdisk", "r1");
        assertArrayEquals(atMine, read("r1", "4M"));

        ok("vm", "create", "vm1", "--disk", "d1", "--disk", "d2");
        CliResult vm = ok("backup", "create", "--vm", "vm1", "--to", repo);
        assertTrue(vm.out().contains("holding d1, d2 shared-read"), vm.out());
        assertTrue(vm.out().contains("of d1, d2 by the store (nothing writes them)"), vm.out());
        assertTrue(vm.out().contains("backup d1-") && vm.out().contains("backup d2-"), vm.out());
        String lockLs = ok("lock", "ls", "--format", "json").out();
        assertTrue(!lockLs.contains("shared-read"), "the backup's locks are gone after it: " + lockLs);
        assertTrue(expect(1, "backup", "create", "nope", "--to", repo).err().contains("vdisk: nope (expected: an existing vdisk"), "a missing vdisk is named");
        assertTrue(expect(1, "backup", "create", "d1", "--vm", "vm1", "--to", repo).err().contains("(expected: one of them)"));
    }

    @Test
    void aDamagedChunkFailsVerifyAndRestoreNamingIt() throws Exception {
        String repo = dir.resolve("repo").toString();
        ok("vdisk", "create", "web1", "--size", "4M");
        write("web1", "0", 1 << 20, 3);
        ok("backup", "create", "web1", "--to", repo);
        String id = lastId(repo);
        Path pack;
        try (Stream<Path> s = Files.list(dir.resolve("repo/packs"))) {
            pack = s.findFirst().orElseThrow();
        }
        try (FileChannel ch = FileChannel.open(pack, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(new byte[] {42, 42, 42}), 5000); // inside the first chunk's data
        }
        CliResult verify = repoOnly(1, "backup", "verify", "--repo", repo);
        assertTrue(verify.out().startsWith("damaged chunk ") && verify.out().contains("used by [" + id + "]"), verify.out());
        String hash = verify.out().substring("damaged chunk ".length(), "damaged chunk ".length() + 64);
        CliResult refused = expect(1, "backup", "restore", "--repo", repo, id, "--to-vdisk", "back");
        assertTrue(refused.err().contains("chunk " + hash + " is damaged"), refused.err());
        assertTrue(!ok("vdisk", "ls").out().contains("back"), "no half-restored vdisk is left");
    }

    @Test
    void exportDiffAndImportDiffMakeACopy() throws Exception {
        ok("vdisk", "create", "web1", "--size", "16M");
        write("web1", "0", 1 << 20, 4);
        ok("snap", "create", "web1@s1");
        write("web1", "5M", 64 << 10, 5);
        ok("snap", "create", "web1@s2");
        Path full = dir.resolve("full.diff");
        Path inc = dir.resolve("inc.diff");
        assertTrue(ok("vdisk", "export-diff", "web1@s1", full.toString()).out().contains("from the start to @s1"));
        CliResult exported = ok("vdisk", "export-diff", "web1@s1", "web1@s2", inc.toString());
        assertTrue(exported.out().contains("64 KiB of data"), exported.out());
        ok("vdisk", "create", "copy", "--size", "16M");
        CliResult refused = expect(1, "vdisk", "import-diff", inc.toString(), "copy");
        assertTrue(refused.err().contains("the stream is from snapshot s1"), refused.err());
        ok("vdisk", "import-diff", full.toString(), "copy");
        CliResult imported = ok("vdisk", "import-diff", inc.toString(), "copy");
        assertTrue(imported.out().contains("created snapshot copy@s2"), imported.out());
        assertArrayEquals(readAll("web1@s2"), readAll("copy"));
    }
}
