package io.basalt.vdisk;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parses and prints byte sizes the way qemu-img and rbd do: {@code 10G}, {@code 512M}, {@code 4K}, {@code 1T}. */
public final class Sizes {
    private static final Pattern SIZE = Pattern.compile("(\\d+)(?:\\.(\\d+))?\\s*([KMGTP]?)(?:I?B)?", Pattern.CASE_INSENSITIVE);

    private Sizes() {}

    /** Binary units (K = 1024). A plain number is bytes. */
    public static long parse(String text) {
        Matcher m = SIZE.matcher(text == null ? "" : text.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException("size: '" + text + "' (expected: a number with an optional unit K, M, G, T or P, e.g. 10G)");
        }
        int shift = switch (m.group(3).toUpperCase(Locale.ROOT)) {
            case "" -> 0;
            case "K" -> 10;
            case "M" -> 20;
            case "G" -> 30;
            case "T" -> 40;
            default -> 50;
        };
        try {
            long whole = Long.parseLong(m.group(1));
            if (whole > (Long.MAX_VALUE >> shift)) {
                throw new IllegalArgumentException("size: '" + text + "' (expected: at most 8E)");
            }
            long bytes = whole << shift;
            if (m.group(2) != null) {
                double fraction = Double.parseDouble("0." + m.group(2));
                bytes += Math.round(fraction * (1L << shift));
            }
            return bytes;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("size: '" + text + "' (expected: a number that fits in 64 bits)");
        }
    }

    /** A short human form: {@code 1 GiB}, {@code 12.5 MiB}, {@code 512 B}. */
    public static String format(long bytes) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        if (u == 0) {
            return bytes + " B";
        }
        return (v == Math.floor(v) ? String.format(Locale.ROOT, "%.0f", v) : String.format(Locale.ROOT, "%.1f", v)) + " " + units[u];
    }
}
