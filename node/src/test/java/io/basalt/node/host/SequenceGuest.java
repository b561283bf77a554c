package io.basalt.node.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.basalt.iscsi.GuestImage;
import io.basalt.vdisk.BlockDevice;

/**
 * The test guest of the hosts' tests: a Linux kernel from /boot and a busybox initramfs whose /init
 * counts in RAM and, every 100 ms, writes {@code SEQ n} to block n of its disk (synced: fsync
 * before it goes on) and then prints {@code BASALT-SEQ n up=UPTIME} on its console. A counter
 * that only lives in RAM and the uptime show a live migration (they go on) from a cold restart
 * (they start again); the blocks show every synced write landed once, in order.
 */
record SequenceGuest(Path kernel, Path initrd) {
    static final Pattern SEQ = Pattern.compile("BASALT-SEQ (\\d+) up=([0-9.]+)");
    static final int BLOCK_BYTES = 512;

    /** Builds the guest's initramfs in {@code dir}; null when this machine has no kernel to boot (the test is skipped). */
    static SequenceGuest build(Path dir) throws IOException {
        GuestImage.Kernel kernel = GuestImage.Kernel.find(Path.of("/boot"), Path.of("/lib/modules"));
        if (kernel == null) {
            return null;
        }
        Path initrd = dir.resolve("sequence-initrd.cpio");
        Files.write(initrd, GuestImage.virtioDiskInitramfs(kernel, SequenceGuest::initScript));
        return new SequenceGuest(kernel.image(), initrd);
    }

    static String initScript(List<String> moduleFiles) {
        return GuestImage.initPrelude(moduleFiles) + """
                n=0
                while :; do
                  n=$((n + 1))
                  echo "SEQ $n" | dd of=/dev/vda bs=512 seek=$n conv=sync,fsync 2>/tmp/err || fail "write of seq $n: $(cat /tmp/err)"
                  echo "BASALT-SEQ $n up=$(cut -d' ' -f1 /proc/uptime)"
                  sleep 0.1
                done
                """;
    }

    /** A record for this guest: 1 vCPU, {@code memoryMiB}, booting the kernel directly, its disk {@code vdisk}. */
    VmRecord record(String name, long memoryMiB, String vdisk) {
        return VmRecord.create(name, 1, memoryMiB, List.of(vdisk), kernel.toString(), initrd.toString(), GuestImage.KERNEL_COMMAND_LINE);
    }

    /** The (sequence number, uptime) lines of {@code consoles}, in order. */
    static List<double[]> ticks(List<Path> consoles) throws IOException {
        List<double[]> out = new java.util.ArrayList<>();
        for (Path c : consoles) {
            if (!Files.exists(c)) {
                continue;
            }
            Matcher m = SEQ.matcher(Files.readString(c, StandardCharsets.ISO_8859_1));
            while (m.find()) {
                out.add(new double[] {Long.parseLong(m.group(1)), Double.parseDouble(m.group(2))});
            }
        }
        return out;
    }

    static long lastSeq(Path console) throws IOException {
        List<double[]> t = ticks(List.of(console));
        return t.isEmpty() ? 0 : (long) t.get(t.size() - 1)[0];
    }

    /** Asserts blocks 1..{@code last} of {@code disk} hold SEQ 1..last: no gap, no repeat, no reorder. */
    static void assertSequenceOnDisk(BlockDevice disk, long last) {
        assertEquals(BLOCK_BYTES, disk.logicalBlockSizeBytes(), "the guest's disk has 512-byte blocks");
        for (long n = 1; n <= last; n++) {
            ByteBuffer buf = disk.read(n, 1).join();
            byte[] bytes = new byte[BLOCK_BYTES];
            buf.get(bytes);
            String text = new String(bytes, StandardCharsets.US_ASCII);
            String line = text.substring(0, Math.max(0, text.indexOf('\n')));
            assertEquals("SEQ " + n, line, "block " + n + " of " + disk.name());
        }
        assertTrue(last > 0, "the guest wrote nothing");
    }
}
