package io.basalt.node.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import io.basalt.node.TestProcesses;

/**
 * The ext4 file system a {@link SequenceGuest} appends /seq to ({@code basalt.fs=vdb}), made and
 * checked with e2fsprogs on this side: {@link #make} formats an image to import as the guest's
 * disk, {@link #check} looks at a raw copy of that disk after the guest crashed one or more times.
 */
public record GuestFileSystem(String mkfs, String e2fsck, String debugfs) {
    /** What the tests' assumptions print when e2fsprogs is missing. */
    public static final String MISSING = "needs mkfs.ext4, e2fsck and debugfs (e2fsprogs): scripts/install-test-deps.sh";

    /** The tools, or null when one is missing (the test is skipped). */
    public static GuestFileSystem find() {
        String mkfs = sbin("mkfs.ext4");
        String e2fsck = sbin("e2fsck");
        String debugfs = sbin("debugfs");
        return mkfs == null || e2fsck == null || debugfs == null ? null : new GuestFileSystem(mkfs, e2fsck, debugfs);
    }

    /** Formats {@code image} (created, {@code size} as mkfs takes it: 32M) as ext4 labelled {@code label}. */
    public void make(Path image, String label, String size) throws Exception {
        Result r = run(mkfs, "-q", "-F", "-L", label, image.toString(), size);
        assertEquals(0, r.exit(), "mkfs.ext4: " + r.out());
    }

    /**
     * Checks {@code raw}, a copy of the guest's disk taken after its last crash: the journal
     * replayed (what a mount or fsck does first), then {@code e2fsck -fn} finds it clean, and
     * /seq holds 1, 2, ... with no gap or repeat, up to at least {@code lastSynced}, the last
     * number a guest synced. Returns how many numbers /seq holds.
     */
    public int check(Path raw, long lastSynced) throws Exception {
        Result replay = run(e2fsck, "-y", "-E", "journal_only", raw.toString());
        assertTrue(replay.exit() == 0 || replay.exit() == 1, "journal replay: exit " + replay.exit() + "\n" + replay.out());
        Result check = run(e2fsck, "-fn", raw.toString());
        assertEquals(0, check.exit(), "e2fsck -fn of the guest's file system:\n" + check.out());
        List<String> lines = run(debugfs, "-R", "cat /seq", raw.toString()).out().lines().filter(l -> !l.startsWith("debugfs ")).toList();
        for (int i = 0; i < lines.size(); i++) {
            assertEquals(Integer.toString(i + 1), lines.get(i), "line " + (i + 1) + " of /seq (of " + lines.size() + ")");
        }
        assertTrue(lines.size() >= lastSynced, "/seq ends at " + lines.size() + ", before the last synced " + lastSynced);
        return lines.size();
    }

    private record Result(int exit, String out) {}

    private static Result run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), String.join(" ", command) + ": still running after 60 s");
        return new Result(p.exitValue(), out);
    }

    /** A tool from e2fsprogs: on the PATH, or in /usr/sbin or /sbin (not on a user's PATH everywhere); null when missing. */
    private static String sbin(String tool) {
        String onPath = TestProcesses.which(tool);
        if (onPath != null) {
            return onPath;
        }
        return Stream.of("/usr/sbin/", "/sbin/").map(d -> d + tool).filter(f -> Files.isExecutable(Path.of(f))).findFirst().orElse(null);
    }
}
