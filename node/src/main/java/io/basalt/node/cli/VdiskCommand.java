package io.basalt.node.cli;

import io.basalt.node.api.ApiViews;
import io.basalt.node.datastore.Datastore;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.Callable;

import io.basalt.vdisk.Sizes;
import io.basalt.vdisk.store.Extent;
import io.basalt.vdisk.store.SnapshotInfo;
import io.basalt.vdisk.store.Usage;
import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.store.VdiskStore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code basalt vdisk ...}: thin virtual disks in the local store or a cluster ({@code --cluster}), modelled on {@code rbd}. */
@Command(name = "vdisk", description = "Create, inspect, clone, remove, import and export virtual disks.", mixinStandardHelpOptions = true,
        subcommands = {VdiskCommand.Create.class, VdiskCommand.Ls.class, VdiskCommand.Info.class, VdiskCommand.Du.class,
                VdiskCommand.Resize.class, VdiskCommand.Rm.class, VdiskCommand.Clone.class, VdiskCommand.Flatten.class,
                VdiskCommand.Diff.class, VdiskCommand.Write.class, VdiskCommand.Read.class,
                ImageCommands.Export.class, ImageCommands.Import.class, DiffCommands.ExportDiff.class, DiffCommands.ImportDiff.class})
public final class VdiskCommand {

    @Command(name = "create", description = "Create a thin vdisk: it takes no space until written.")
    static final class Create implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Spec CommandSpec spec;
        @Parameters(paramLabel = "NAME") String name;
        @Option(names = {"-s", "--size"}, required = true, converter = SizeConverter.class, description = "Size, e.g. 10G.") long size;
        @Option(names = "--block-size", defaultValue = "512", description = "Logical block size: 512 or 4096 (default ${DEFAULT-VALUE}).") int blockSize;
        @Option(names = "--grain-size", defaultValue = "4K", converter = SizeConverter.class,
                description = "Unit of versioning and placement (default ${DEFAULT-VALUE}).") long grainSize;

        @Override
        public Integer call() {
            try (Datastore s = store.open()) {
                Datastore.VdiskView v = s.create(name, size, blockSize, Math.toIntExact(grainSize));
                spec.commandLine().getOut().printf("created vdisk %s: %s thin, %d-byte blocks, %s grains%n",
                        v.name(), Sizes.format(v.sizeBytes()), v.blockSizeBytes(), Sizes.format(v.grainSizeBytes()));
            }
            return 0;
        }
    }

    @Command(name = "ls", description = "List vdisks.")
    static final class Ls implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Spec CommandSpec spec;
        @Option(names = {"-l", "--long"}, description = "Also show size, usage and parent.") boolean longFormat;
        @Mixin OutputFormat format;

        @Override
        public Integer call() {
            var out = spec.commandLine().getOut();
            try (Datastore s = store.open()) {
                List<Datastore.VdiskView> all = s.list();
                if (format.json()) {
                    out.println(OutputFormat.toJson(all.stream().map(v -> ApiViews.VdiskJson.of(s, v.name())).toList()));
                    return 0;
                }
                if (!longFormat) {
                    all.forEach(v -> out.println(v.name()));
                    return 0;
                }
                out.printf("%-24s %10s %10s %5s  %s%n", "NAME", "SIZE", "USED", "SNAPS", "PARENT");
                for (Datastore.VdiskView v : all) {
                    Usage u = s.usage(v.name());
                    out.printf("%-24s %10s %10s %5d  %s%n", v.name(), Sizes.format(v.sizeBytes()), Sizes.format(u.usedBytes()),
                            s.snapshots(v.name()).size(), v.parent().orElse(""));
                }
            }
            return 0;
        }
    }

    @Command(name = "info", description = "Show a vdisk's geometry, epochs, parent and space.")
    static final class Info implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Spec CommandSpec spec;
        @Parameters(paramLabel = "NAME") String name;
        @Mixin OutputFormat format;

        @Override
        public Integer call() {
            var out = spec.commandLine().getOut();
            try (Datastore s = store.open()) {
                if (format.json()) {
                    out.println(OutputFormat.toJson(ApiViews.VdiskJson.of(s, name)));
                    return 0;
                }
                Datastore.VdiskView v = s.info(name);
                v.rollingBackTo().ifPresent(snap -> spec.commandLine().getErr().printf(
                        "basalt vdisk info: %s has an unfinished rollback to %s@%s (it reads partly as the snapshot and is not opened for I/O);"
                                + " finish it: basalt snap rollback %s@%s%n", name, name, snap, name, snap));
                Usage u = s.usage(name);
                out.printf("vdisk %s%n", v.name());
                out.printf("  id:            %d%n", v.id());
                v.rollingBackTo().ifPresent(snap -> out.printf("  rollback:      UNFINISHED, to %s@%s%n", name, snap));
                out.printf("  size:          %s (%d bytes)%n", Sizes.format(v.sizeBytes()), v.sizeBytes());
                out.printf("  block size:    %d%n", v.blockSizeBytes());
                out.printf("  grain size:    %s%n", Sizes.format(v.grainSizeBytes()));
                v.headEpoch().ifPresent(e -> out.printf("  head epoch:    %d%n", e));
                out.printf("  snapshots:     %d%n", s.snapshots(name).size());
                out.printf("  parent:        %s%n", v.parent().orElse("(none)"));
                out.printf("  chain depth:   %d (max %d)%n", v.chainDepth(), VdiskStore.CHAIN_DEPTH_MAX);
                out.printf("  used:          %s%n", Sizes.format(u.usedBytes()));
                out.printf("  stored:        %s in %d grain versions (snapshots included, after compression)%n",
                        Sizes.format(u.storedBytes()), u.versionCount());
                out.printf("  created:       %s%n", Instant.ofEpochMilli(v.createdEpochMs()));
            }
            return 0;
        }
    }

    @Command(name = "du", description = "Show space: provisioned, used at head, stored with snapshots.")
    static final class Du implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Spec CommandSpec spec;
        @Parameters(paramLabel = "NAME", arity = "0..1") String name;
        @Mixin OutputFormat format;

        /** One vdisk's line of {@code du --format json}. */
        record DuJson(String name, long provisionedBytes, long usedBytes, long storedBytes) {}

        @Override
        public Integer call() {
            var out = spec.commandLine().getOut();
            try (Datastore s = store.open()) {
                if (format.json()) {
                    out.println(OutputFormat.toJson((name == null ? s.list() : List.of(s.info(name))).stream().map(v -> {
                        Usage u = s.usage(v.name());
                        return new DuJson(v.name(), u.provisionedBytes(), u.usedBytes(), u.storedBytes());
                    }).toList()));
                    return 0;
                }
                out.printf("%-24s %12s %12s %12s%n", "NAME", "PROVISIONED", "USED", "STORED");
                long p = 0, used = 0, stored = 0;
                for (Datastore.VdiskView v : name == null ? s.list() : List.of(s.info(name))) {
                    Usage u = s.usage(v.name());
                    out.printf("%-24s %12s %12s %12s%n", v.name(), Sizes.format(u.provisionedBytes()), Sizes.format(u.usedBytes()),
                            Sizes.format(u.storedBytes()));
                    p += u.provisionedBytes();
                    used += u.usedBytes();
                    stored += u.storedBytes();
                }
                out.printf("%-24s %12s %12s %12s%n", "<TOTAL>", Sizes.format(p), Sizes.format(used), Sizes.format(stored));
                int collecting = 0;
                for (Datastore.VdiskView v : name == null ? s.list() : List.of(s.info(name))) {
                    collecting += s.pendingSnapshotGc(v.name()).orElse(0);
                }
                if (collecting > 0) {
                    out.printf("(%d removed snapshots still being collected: STORED falls as they are; basalt snap gc --wait NAME waits)%n", collecting);
                }
            }
            return 0;
        }
    }

    @Command(name = "resize", description = "Grow a vdisk, or shrink it when no data lies past the new end.")
    static final class Resize implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Spec CommandSpec spec;
        @Parameters(paramLabel = "NAME") String name;
        @Option(names = {"-s", "--size"}, required = true, converter = SizeConverter.class) long size;

        @Override
        public Integer call() {
            try (Datastore s = store.open()) {
                long before = s.info(name).sizeBytes();
                s.resize(name, size);
                spec.commandLine().getOut().printf("resized vdisk %s: %s -> %s%n", name, Sizes.format(before), Sizes.format(size));
            }
            return 0;
        }
    }

    @Command(name = "rm", description = "Remove a vdisk (refused while it has snapshots or clones).")
    static final class Rm implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Spec CommandSpec spec;
        @Parameters(paramLabel = "NAME") String name;

        @Override
        public Integer call() {
            try (Datastore s = store.open()) {
                s.remove(name);
                spec.commandLine().getOut().printf("removed vdisk %s%n", name);
            }
            return 0;
        }
    }

    @Command(name = "clone", description = "Create a linked clone of a snapshot: O(1), shares the parent's grains.")
    static final class Clone implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Spec CommandSpec spec;
        @Parameters(index = "0", paramLabel = "PARENT@SNAP") String source;
        @Parameters(index = "1", paramLabel = "CHILD") String child;

        @Override
        public Integer call() {
            Target s0 = Target.parse(source, true);
            try (Datastore s = store.open()) {
                Datastore.VdiskView v = s.clone(s0.vdisk(), s0.snap(), child);
                spec.commandLine().getOut().printf("cloned %s to %s (chain depth %d)%n", source, v.name(), v.chainDepth());
            }
            return 0;
        }
    }

    @Command(name = "flatten", description = "Copy a clone's inherited grains in and cut the link to its parent.")
    static final class Flatten implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Spec CommandSpec spec;
        @Parameters(paramLabel = "NAME") String name;

        @Override
        public Integer call() {
            try (Datastore s = store.open()) {
                Datastore.VdiskView v = s.info(name);
                // The bar starts with the first progress report: a refusal prints no bar.
                Progress[] bar = {null};
                try {
                    s.flatten(name, done -> {
                        if (bar[0] == null) {
                            bar[0] = Progress.start("flatten " + name, v.grainCount(), "grains");
                        }
                        bar[0].stepTo(done);
                    });
                } finally {
                    if (bar[0] != null) {
                        bar[0].close();
                    }
                }
                spec.commandLine().getOut().printf("flattened %s: no longer depends on %s%n", name,
                        v.parent().orElse("?"));
            }
            return 0;
        }
    }

    @Command(name = "diff", description = {"List extents changed between two snapshots (or a snapshot and the head),",
            "like 'rbd diff': offset, length, data|zero. Costs O(changed)."})
    static final class Diff implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Spec CommandSpec spec;
        @Parameters(index = "0", paramLabel = "FROM", description = "NAME@SNAP (older), or NAME for everything written") String from;
        @Parameters(index = "1", paramLabel = "TO", arity = "0..1", description = "NAME@SNAP (newer) or NAME (head; default)") String to;
        @Mixin OutputFormat format;

        /** One extent of {@code diff --format json}, as {@code rbd diff} shows it: {@code type} is data or zero. */
        record ExtentJson(long offset, long length, String type) {}

        @Override
        public Integer call() {
            Target a = Target.parse(from, false);
            Target b = to == null ? new Target(a.vdisk(), null) : Target.parse(to, false);
            if (!a.vdisk().equals(b.vdisk())) {
                throw new IllegalArgumentException("diff: '" + from + "' and '" + to + "' (expected: two views of one vdisk)");
            }
            var out = spec.commandLine().getOut();
            try (Datastore s = store.open()) {
                List<Extent> extents = s.diff(a.vdisk(), a.snap(), b.snap());
                if (format.json()) {
                    out.println(OutputFormat.toJson(extents.stream().map(e -> new ExtentJson(e.offsetBytes(), e.lengthBytes(), e.data() ? "data" : "zero")).toList()));
                    return 0;
                }
                out.printf("%-14s %-10s %s%n", "Offset", "Length", "Type");
                long total = 0;
                for (Extent e : extents) {
                    out.printf("%-14d %-10d %s%n", e.offsetBytes(), e.lengthBytes(), e.data() ? "data" : "zero");
                    total += e.lengthBytes();
                }
                spec.commandLine().getErr().printf("%d extents, %s changed%n", extents.size(), Sizes.format(total));
            }
            return 0;
        }
    }

    @Command(name = "write", description = "Write bytes from a file or stdin at a byte offset (for scripting).")
    static final class Write implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Spec CommandSpec spec;
        @Parameters(paramLabel = "NAME") String name;
        @Option(names = "--offset", defaultValue = "0", converter = SizeConverter.class) long offset;
        @Option(names = {"-i", "--input"}, paramLabel = "FILE", description = "Input file (default: stdin).") Path input;

        @Override
        public Integer call() throws IOException {
            long written = 0;
            try (Datastore s = store.open(); BlockDevice disk = s.open(name);
                 InputStream in = input == null ? System.in : Files.newInputStream(input)) {
                if (input != null && offset + Files.size(input) > disk.sizeBytes()) {
                    // Refuse before writing anything when the size is known up front.
                    throw new IllegalArgumentException("input: " + input + " is " + Files.size(input) + " bytes at offset " + offset
                            + " (expected: within the vdisk's " + disk.sizeBytes() + " bytes) vdisk=" + name);
                }
                // Streamed in chunks, so an image larger than the heap can be written.
                for (byte[] chunk; (chunk = in.readNBytes(ByteIo.CHUNK_BYTES)).length > 0; written += chunk.length) {
                    ByteIo.write(disk, offset + written, chunk);
                }
                disk.flush().join();
            }
            spec.commandLine().getOut().printf("wrote %d bytes to %s at offset %d%n", written, name, offset);
            return 0;
        }
    }

    @Command(name = "read", description = "Read bytes of a vdisk or snapshot (NAME@SNAP) to a file or stdout.")
    static final class Read implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Parameters(paramLabel = "NAME[@SNAP]") String name;
        @Option(names = "--offset", defaultValue = "0", converter = SizeConverter.class) long offset;
        @Option(names = "--length", required = true, converter = SizeConverter.class) long length;
        @Option(names = {"-o", "--output"}, paramLabel = "FILE", description = "Output file (default: stdout).") Path output;

        @Override
        public Integer call() throws IOException {
            try (Datastore s = store.open(); BlockDevice disk = s.open(name);
                 OutputStream out = output == null ? System.out : Files.newOutputStream(output)) {
                ByteIo.read(disk, offset, length, out);
                out.flush();
            }
            return 0;
        }
    }

    /** {@code name} or {@code name@snap}. */
    record Target(String vdisk, String snap) {
        static Target parse(String text, boolean snapRequired) {
            int at = text.indexOf('@');
            if (at < 0) {
                if (snapRequired) {
                    throw new IllegalArgumentException("snapshot: '" + text + "' (expected: NAME@SNAP)");
                }
                return new Target(text, null);
            }
            return new Target(text.substring(0, at), text.substring(at + 1));
        }
    }

    /** Byte-granular reads and writes over a block device, by read-modify-write of edge blocks. */
    static final class ByteIo {
        static final int CHUNK_BYTES = 1 << 20;

        static void write(BlockDevice disk, long offset, byte[] data) {
            int bs = disk.logicalBlockSizeBytes();
            if (offset < 0 || offset + data.length > disk.sizeBytes()) {
                throw new IllegalArgumentException("offset: " + offset + " + " + data.length + " bytes (expected: within the vdisk's "
                        + disk.sizeBytes() + " bytes) vdisk=" + disk.name());
            }
            if (data.length == 0) {
                return;
            }
            long first = offset / bs;
            long end = (offset + data.length + bs - 1) / bs;
            for (long lba = first; lba < end; lba += CHUNK_BYTES / bs) {
                int blocks = (int) Math.min(CHUNK_BYTES / bs, end - lba);
                long chunkStart = lba * bs;
                byte[] buf = new byte[blocks * bs];
                boolean partial = chunkStart < offset || chunkStart + buf.length > offset + data.length;
                if (partial) {
                    disk.read(lba, blocks).join().get(buf);
                }
                long from = Math.max(offset, chunkStart);
                long to = Math.min(offset + data.length, chunkStart + buf.length);
                System.arraycopy(data, (int) (from - offset), buf, (int) (from - chunkStart), (int) (to - from));
                disk.write(lba, ByteBuffer.wrap(buf), false).join();
            }
        }

        static void read(BlockDevice disk, long offset, long length, OutputStream out) throws IOException {
            int bs = disk.logicalBlockSizeBytes();
            if (offset < 0 || length < 0 || offset + length > disk.sizeBytes()) {
                throw new IllegalArgumentException("offset: " + offset + " + " + length + " bytes (expected: within the vdisk's "
                        + disk.sizeBytes() + " bytes) vdisk=" + disk.name());
            }
            long pos = offset;
            while (pos < offset + length) {
                long lba = pos / bs;
                int blocks = (int) Math.min(CHUNK_BYTES / bs, (offset + length - lba * bs + bs - 1) / bs);
                ByteBuffer buf = disk.read(lba, blocks).join();
                int skip = (int) (pos - lba * bs);
                int n = (int) Math.min(buf.remaining() - skip, offset + length - pos);
                out.write(buf.array(), buf.arrayOffset() + skip, n);
                pos += n;
            }
        }
    }

    static String snapshotLine(SnapshotInfo s) {
        return String.format("%-20s %6s %10s  %s", s.name(), s.epoch() < 0 ? "-" : Long.toString(s.epoch()), Sizes.format(s.sizeBytes()), Instant.ofEpochMilli(s.createdEpochMs()));
    }
}
