package io.basalt.node.cli;

import io.basalt.node.datastore.Datastore;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.function.LongConsumer;

import io.basalt.interop.ImageExport;
import io.basalt.interop.ImageFormat;
import io.basalt.interop.ImageImport;
import io.basalt.node.datastore.ImageImports;
import io.basalt.interop.ImageSource;
import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.Sizes;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code basalt vdisk export|import}: disk images in and out of vdisks, thin both ways, with
 * {@code qemu-img}'s letters ({@code -O} for the output format, {@code -f} for the input's).
 * The work is the interop module's; these commands name the vdisk, show progress and report.
 */
final class ImageCommands {
    private static final long MIB = 1 << 20;

    private ImageCommands() {}

    @Command(name = "export", description = {"Write a vdisk or snapshot to an image file, thin: holes and zeros stay unallocated.",
            "Formats as qemu-img names them; qcow2 is version 3 (compat=1.1)."})
    static final class Export implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Spec CommandSpec spec;
        @Parameters(index = "0", paramLabel = "VDISK[@SNAP]") String source;
        @Parameters(index = "1", paramLabel = "FILE", description = "The image to write (replaced if it exists).") Path file;
        @Option(names = "-O", paramLabel = "FORMAT", defaultValue = "raw", description = "raw, qcow2 or vmdk (default ${DEFAULT-VALUE}).")
        String format;
        @Option(names = "--compress", description = {"qcow2: deflate each cluster, as qemu-img convert -c does.",
                "vmdk: streamOptimized (compressed grains, what OVF and OVA carry) instead of monolithicSparse."}) boolean compress;

        @Override
        public Integer call() {
            ImageFormat f = ImageFormat.parse(format);
            if (compress && f == ImageFormat.RAW) {
                throw new IllegalArgumentException("--compress with -O " + format + " (expected: -O qcow2, or -O vmdk for a streamOptimized VMDK)");
            }
            ImageExport.Result r;
            try (Datastore s = store.open(); BlockDevice disk = s.open(source); LazyProgress bar = new LazyProgress("export " + source, disk.sizeBytes())) {
                r = ImageExport.export(disk, file, f, compress, bar);
            }
            String compressed = compress ? " (" + r.compressedClusterCount() + " compressed)" : "";
            spec.commandLine().getOut().printf("exported %s to %s: %s, %s disk, %s of data in %d clusters%s, file %s, %.1f s%n",
                    source, file, f.cliName(), Sizes.format(r.sizeBytes()), Sizes.format(r.dataBytes()), r.dataClusterCount(), compressed,
                    Sizes.format(r.fileBytes()), r.elapsed().toMillis() / 1000.0);
            return 0;
        }
    }

    @Command(name = "import", description = {"Create a vdisk from an image file: raw, qcow2 (with its backing chain),",
            "VMDK monolithicSparse or streamOptimized.",
            "Only non-zero data is written: holes, zero clusters and zeros stay unallocated."})
    static final class Import implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Spec CommandSpec spec;
        @Parameters(index = "0", paramLabel = "FILE") Path file;
        @Parameters(index = "1", paramLabel = "VDISK", description = "The vdisk to create, of the image's size.") String name;
        @Option(names = "-f", paramLabel = "FORMAT", defaultValue = "auto", description = "auto, raw, qcow2 or vmdk (default ${DEFAULT-VALUE}: by magic).")
        String format;
        @Option(names = "--block-size", defaultValue = "512", description = "Logical block size: 512 or 4096 (default ${DEFAULT-VALUE}).") int blockSize;

        @Override
        public Integer call() {
            ImageFormat f = format.equals("auto") ? null : ImageFormat.parse(format);
            try (ImageSource image = ImageSource.open(file, f); Datastore s = store.open()) {
                ImageImport.Result r;
                try (LazyProgress bar = new LazyProgress("import " + name, image.sizeBytes())) {
                    r = ImageImports.create(s, image, file.toString(), name, blockSize, bar);
                }
                spec.commandLine().getOut().printf("imported %s (%s) into %s: %s disk, %s written, %.1f s%n", file, image.description(), name,
                        Sizes.format(r.sizeBytes()), Sizes.format(r.writtenBytes()), r.elapsed().toMillis() / 1000.0);
            }
            return 0;
        }
    }

    /** A bar in MiB that appears with the first progress report, so a refusal before any work prints none (as flatten's). */
    static final class LazyProgress implements LongConsumer, AutoCloseable {
        private final String task;
        private final long sizeBytes;
        private Progress bar;

        LazyProgress(String task, long sizeBytes) {
            this.task = task;
            this.sizeBytes = sizeBytes;
        }

        @Override
        public void accept(long doneBytes) {
            if (bar == null) {
                bar = Progress.start(task, (sizeBytes + MIB - 1) / MIB, "MiB");
            }
            bar.stepTo((doneBytes + MIB - 1) / MIB);
        }

        @Override
        public void close() {
            if (bar != null) {
                bar.close();
            }
        }
    }
}
