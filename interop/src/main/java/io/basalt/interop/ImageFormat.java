package io.basalt.interop;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;

/** The image formats Basalt reads and writes, and detection by magic. */
public enum ImageFormat {
    RAW, QCOW2;

    static final int QCOW2_MAGIC = 0x514649fb; // "QFI\xfb"
    static final int VMDK_SPARSE_MAGIC = 0x4b444d56; // "KDMV" as a little-endian int

    /** {@code raw}, {@code qcow2}: what {@code -f} and {@code -O} take. */
    public static ImageFormat parse(String text) {
        for (ImageFormat f : values()) {
            if (f.name().toLowerCase(Locale.ROOT).equals(text)) {
                return f;
            }
        }
        throw new InteropException("format: '" + text + "' (expected: raw or qcow2)");
    }

    /** qcow2 by its magic, raw otherwise; a VMDK is refused (not supported yet) rather than taken as raw. */
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
            if (Integer.reverseBytes(m) == VMDK_SPARSE_MAGIC) {
                throw new InteropException(file + ": magic: KDMV, a VMDK sparse extent (expected: raw or qcow2; VMDK import is not supported yet)");
            }
            return RAW;
        } catch (IOException e) {
            throw new InteropException(file + ": " + e.getMessage(), e);
        }
    }

    public String cliName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
