package io.basalt.interop;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;

/** The image formats Basalt reads and writes, and detection by magic. */
public enum ImageFormat {
    RAW, QCOW2, VMDK;

    static final int QCOW2_MAGIC = 0x514649fb; // "QFI\xfb"
    static final int VMDK_SPARSE_MAGIC = 0x4b444d56; // "KDMV": the little-endian 0x564d444b ("VMDK") read big-endian
    static final String VMDK_DESCRIPTOR = "# Disk DescriptorFile";
    static final int VMDK_DESCRIPTOR_START = 0x23204469; // "# Di"

    /** {@code raw}, {@code qcow2}, {@code vmdk}: what {@code -f} and {@code -O} take. */
    public static ImageFormat parse(String text) {
        for (ImageFormat f : values()) {
            if (f.name().toLowerCase(Locale.ROOT).equals(text)) {
                return f;
            }
        }
        throw new InteropException("format: '" + text + "' (expected: raw, qcow2 or vmdk)");
    }

    /** qcow2 or VMDK by its magic, raw otherwise; a VMDK descriptor file (extents elsewhere) is refused rather than taken as raw. */
    public static ImageFormat detect(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer magic = ByteBuffer.allocate(4);
            while (magic.hasRemaining() && ch.read(magic, magic.position()) > 0) {
                // Loop: a positional read may return fewer bytes than asked.
            }
            if (magic.hasRemaining()) {
                return RAW;
            }
            int m = magic.getInt(0);
            if (m == QCOW2_MAGIC) {
                return QCOW2;
            }
            if (m == VMDK_SPARSE_MAGIC) {
                return VMDK;
            }
            if (m == VMDK_DESCRIPTOR_START && startsWith(ch, VMDK_DESCRIPTOR)) {
                throw new InteropException(file + ": a VMDK descriptor file (expected: a monolithicSparse or streamOptimized .vmdk;"
                        + " convert split or flat VMDKs with qemu-img convert -O vmdk first)");
            }
            return RAW;
        } catch (IOException e) {
            throw new InteropException(file + ": " + e.getMessage(), e);
        }
    }

    private static boolean startsWith(FileChannel ch, String text) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(text.length());
        while (b.hasRemaining() && ch.read(b, b.position()) > 0) {
            // Loop: a positional read may return fewer bytes than asked.
        }
        return new String(b.array(), 0, b.position(), java.nio.charset.StandardCharsets.US_ASCII).equals(text);
    }

    public String cliName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
