package io.basalt.node.host;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.basalt.host.GuestImage;
import io.basalt.vdisk.BlockDevice;

/**
 * The guest of {@code basalt demo} and of the hosts' tests: a Linux kernel from /boot and a busybox initramfs whose /init
 * finds the last sequence number on its disk (block n holds {@code SEQ n BOOT b}: the longest run
 * from block 1, read 64 KiB at a time while the run fills them: a TCG guest is slow at bytes), then counts on from it and, every 100 ms, writes {@code SEQ n BOOT b} to block n
 * (synced: fsync before it goes on) and prints {@code BASALT-SEQ n up=UPTIME boot=b} on its
 * console; {@code b} is this boot's id. The uptime and the boot id show a live migration (they go
 * on) from a restart (they start again); the blocks show every synced write landed once, in
 * order, and which boot wrote it (a write of a fenced guest would show its old boot id). With
 * {@code basalt.ip=A.B.C.D} on its command line it also brings its NIC up at that address and
 * echoes every TCP connection to {@link #ECHO_PORT}. Every second it onlines hot-plugged vCPUs and
 * memory (no udev here) and prints {@code BASALT-HW cpus=N memkb=K vda=S vdb=T} from /proc/cpuinfo, /proc/meminfo and
 * its disks' sizes in 512-byte sectors as its kernel sees them (0: no vdb). When a second disk (vdb) appears (attached
 * while it runs, and not its file system's) it writes {@code BASALT-VDB-WROTE b} to its first block, synced, reads it back and prints
 * {@code BASALT-VDB-READ} with what it read. With {@code basalt.fs=vdX} on its command line it
 * mounts that disk's ext4 (or ext2) file system at /mnt, finds the last number in /mnt/seq, and
 * every 100 ms appends the next one to it (a line each; fsync, busybox sync FILE, before it goes on) and prints
 * {@code BASALT-FS n}.
 */
public record SequenceGuest(Path kernel, Path initrd) {
    static final Pattern SEQ = Pattern.compile("BASALT-SEQ (\\d+) up=([0-9.]+) boot=(\\w+)");
    static final int BLOCK_BYTES = 512;
    /** The guest's TCP echo port (busybox nc running cat per connection), up when its command line has {@code basalt.ip=}. */
    public static final int ECHO_PORT = 7777;
    private static final List<String> MODULES = List.of("virtio_pci", "virtio_blk", "virtio_net");
    /** ext4 (which mounts ext2 too) and the crc32c its metadata and journal checksums take by name, not as a module dependency. */
    private static final List<String> FS_MODULES = List.of("crc32c_generic", "ext4");
    static final Pattern FS_SEQ = Pattern.compile("BASALT-FS (\\d+)");

    /** Builds the guest's initramfs in {@code dir}; null when this machine has no kernel to boot (the test is skipped). */
    public static SequenceGuest build(Path dir) throws IOException {
        GuestImage.Kernel kernel = GuestImage.Kernel.find(Path.of("/boot"), Path.of("/lib/modules"));
        if (kernel == null) {
            return null;
        }
        Path initrd = dir.resolve("sequence-initrd.cpio");
        List<Path> boot = kernel.modulesInLoadOrder(MODULES);
        List<Path> fs = kernel.modulesInLoadOrder(FS_MODULES).stream().filter(m -> !boot.contains(m)).toList();
        List<Path> all = new java.util.ArrayList<>(boot);
        all.addAll(fs);
        // The file system's modules are loaded only by a guest told to use one (basalt.fs=): the others boot as fast as before.
        Files.write(initrd, GuestImage.initramfs(GuestImage.BUSYBOX, all,
                names -> initScript(names.subList(0, boot.size()), names.subList(boot.size(), names.size()))));
        return new SequenceGuest(kernel.image(), initrd);
    }

    static String initScript(List<String> moduleFiles, List<String> fsModuleFiles) {
        return GuestImage.initPrelude(moduleFiles) + """
                fsdev=$(sed -n 's/.*basalt[.]fs=\\([a-z]*\\).*/\\1/p' /proc/cmdline)
                if [ -n "$fsdev" ]; then
                  # In the background: the sequence on vda starts (and resumes after a restart) without waiting for the mount.
                  ( for m in %s; do insmod /lib/modules/$m || fail "insmod $m"; done
                    i=0
                    while [ ! -b /dev/$fsdev ]; do
                      i=$((i + 1)); [ $i -gt 300 ] && fail "no /dev/$fsdev after 30 s"
                      sleep 0.1
                    done
                    mkdir -p /mnt
                    mount -t ext4 /dev/$fsdev /mnt || fail "mount of /dev/$fsdev"
                    f=$(tail -n 1 /mnt/seq 2>/dev/null)
                    f=${f:-0}
                    echo "BASALT-FS-RESUME from=$f"
                    while :; do
                      f=$((f + 1))
                      echo $f >> /mnt/seq || fail "append of $f to /mnt/seq"
                      sync /mnt/seq || fail "fsync of /mnt/seq at $f"
                      echo "BASALT-FS $f"
                      sleep 0.1
                    done ) &
                fi
                addr=$(sed -n 's/.*basalt[.]ip=\\([0-9.]*\\).*/\\1/p' /proc/cmdline)
                if [ -n "$addr" ]; then
                  ip link set lo up
                  ip link set eth0 up || fail "no eth0"
                  ip addr add "$addr/24" dev eth0 || fail "ip addr add $addr"
                  nc -ll -p %d -e cat &
                  echo "BASALT-NET $addr"
                fi
                ( while :; do
                    for c in /sys/devices/system/cpu/cpu[0-9]*/online; do [ "$(cat $c)" = 0 ] && echo 1 > $c; done
                    for m in /sys/devices/system/memory/memory*/state; do [ "$(cat $m)" = offline ] && echo online > $m; done
                    if [ -z "$fsdev" ] && [ -b /dev/vdb ]; then
                      if [ -z "$vdb" ]; then
                        echo "BASALT-VDB-WROTE $(cut -c1-8 /proc/sys/kernel/random/boot_id)" | dd of=/dev/vdb bs=512 conv=sync,fsync 2>/dev/null
                        echo "BASALT-VDB-READ $(dd if=/dev/vdb bs=512 count=1 2>/dev/null | head -n 1)"
                        vdb=seen
                      fi
                    else
                      vdb=
                    fi
                    echo "BASALT-HW cpus=$(grep -c ^processor /proc/cpuinfo) memkb=$(sed -n 's/^MemTotal: *\\([0-9]*\\).*/\\1/p' /proc/meminfo) vda=$(cat /sys/block/vda/size) vdb=$(cat /sys/block/vdb/size 2>/dev/null || echo 0)"
                    sleep 1
                  done ) &
                boot=$(cut -c1-8 /proc/sys/kernel/random/boot_id)
                n=0
                k=0
                while :; do
                  n=$(dd if=/dev/vda bs=64k skip=$k count=1 2>/dev/null | tr -s '\\0' '\\n' | awk -v n=$n '$1 == "SEQ" && $2 == n + 1 { n = $2 } END { print n + 0 }')
                  k=$((k + 1))
                  [ "$n" -eq $((k * 128 - 1)) ] || break
                done
                echo "BASALT-RESUME from=$n boot=$boot"
                while :; do
                  n=$((n + 1))
                  echo "SEQ $n BOOT $boot" | dd of=/dev/vda bs=512 seek=$n conv=sync,fsync 2>/tmp/err || fail "write of seq $n: $(cat /tmp/err)"
                  echo "BASALT-SEQ $n up=$(cut -d' ' -f1 /proc/uptime) boot=$boot"
                  sleep 0.1
                done
                """.formatted(String.join(" ", fsModuleFiles), ECHO_PORT);
    }

    /** A record for this guest: 1 vCPU, {@code memoryMiB}, booting the kernel directly, its disk {@code vdisk}. */
    public VmRecord record(String name, long memoryMiB, String vdisk) {
        return VmRecord.create(name, 1, memoryMiB, List.of(vdisk), kernel.toString(), initrd.toString(), GuestImage.KERNEL_COMMAND_LINE);
    }

    /** As {@link #record}, the guest's NIC at {@code ipv4}/24 with its echo port open. */
    public VmRecord record(String name, long memoryMiB, String vdisk, String ipv4) {
        return VmRecord.create(name, 1, memoryMiB, List.of(vdisk), kernel.toString(), initrd.toString(),
                GuestImage.KERNEL_COMMAND_LINE + " basalt.ip=" + ipv4);
    }

    /** The (sequence number, uptime) lines of {@code consoles}, in order. */
    public static List<double[]> ticks(List<Path> consoles) throws IOException {
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

    /** The highest {@code BASALT-FS n} of {@code consoles}: the last number the guests appended to /mnt/seq and synced; 0 before the first. */
    public static long lastFsSeq(List<Path> consoles) throws IOException {
        long last = 0;
        for (Path c : consoles) {
            if (Files.exists(c)) {
                Matcher m = FS_SEQ.matcher(Files.readString(c, StandardCharsets.ISO_8859_1));
                while (m.find()) {
                    last = Math.max(last, Long.parseLong(m.group(1)));
                }
            }
        }
        return last;
    }

    public static long lastSeq(Path console) throws IOException {
        List<double[]> t = ticks(List.of(console));
        return t.isEmpty() ? 0 : (long) t.get(t.size() - 1)[0];
    }

    static final Pattern HW = Pattern.compile("BASALT-HW cpus=(\\d+) memkb=(\\d+) vda=(\\d+) vdb=(\\d+)");

    /** The last {@code BASALT-HW} line of {@code console}: the guest's vCPUs, MemTotal in KiB, vda's and vdb's sectors; zeros before the first. */
    public static long[] hardware(Path console) throws IOException {
        long[] last = {0, 0, 0, 0};
        if (Files.exists(console)) {
            Matcher m = HW.matcher(Files.readString(console, StandardCharsets.ISO_8859_1));
            while (m.find()) {
                last = new long[] {Long.parseLong(m.group(1)), Long.parseLong(m.group(2)), Long.parseLong(m.group(3)), Long.parseLong(m.group(4))};
            }
        }
        return last;
    }

    /** The boot ids of {@code consoles}' sequence lines, in the order they appear. */
    public static List<String> boots(List<Path> consoles) throws IOException {
        List<String> out = new java.util.ArrayList<>();
        for (Path c : consoles) {
            if (Files.exists(c)) {
                Matcher m = SEQ.matcher(Files.readString(c, StandardCharsets.ISO_8859_1));
                while (m.find()) {
                    out.add(m.group(3));
                }
            }
        }
        return out;
    }

    /**
     * Checks that blocks 1..{@code last} of {@code disk} hold SEQ 1..last: no gap, no repeat, no
     * reorder (throws {@link IllegalStateException} naming the first bad block); returns the boot
     * id that wrote each (index 0 is block 1).
     */
    public static List<String> checkSequenceOnDisk(BlockDevice disk, long last) {
        if (disk.logicalBlockSizeBytes() != BLOCK_BYTES) {
            throw new IllegalStateException("the guest's disk " + disk.name() + " has " + disk.logicalBlockSizeBytes() + "-byte blocks (expected: " + BLOCK_BYTES + ")");
        }
        if (last <= 0) {
            throw new IllegalStateException("the guest wrote nothing to " + disk.name());
        }
        List<String> boots = new java.util.ArrayList<>();
        for (long n = 1; n <= last; n++) {
            ByteBuffer buf = disk.read(n, 1).join();
            byte[] bytes = new byte[BLOCK_BYTES];
            buf.get(bytes);
            String text = new String(bytes, StandardCharsets.US_ASCII);
            String line = text.substring(0, Math.max(0, text.indexOf('\n')));
            Matcher m = DISK_LINE.matcher(line);
            if (!m.matches() || Long.parseLong(m.group(1)) != n) {
                throw new IllegalStateException("block " + n + " of " + disk.name() + ": '" + line + "' (expected: SEQ " + n + " BOOT id)");
            }
            boots.add(m.group(2));
        }
        return boots;
    }

    /** How many blocks from block 1 on hold the sequence in order (the guest's view of its disk at boot). */
    public static long sequenceLength(BlockDevice disk) {
        long n = 0;
        while (true) {
            ByteBuffer buf = disk.read(n + 1, 1).join();
            byte[] bytes = new byte[BLOCK_BYTES];
            buf.get(bytes);
            String text = new String(bytes, StandardCharsets.US_ASCII);
            Matcher m = DISK_LINE.matcher(text.substring(0, Math.max(0, text.indexOf('\n'))));
            if (!m.matches() || Long.parseLong(m.group(1)) != n + 1) {
                return n;
            }
            n++;
        }
    }

    private static final Pattern DISK_LINE = Pattern.compile("SEQ (\\d+) BOOT (\\w+)");
}
