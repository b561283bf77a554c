package io.basalt.iscsi.pdu;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The text format of Login and Text data segments (RFC 7143 §6): {@code key=value} pairs, each
 * ended by a NUL, UTF-8. Keys keep the order they were sent in.
 */
public final class TextKeys {

    /** RFC 7143 §6.1: a key name is at most 63 bytes. */
    public static final int KEY_BYTES_MAX = 63;
    /** The longest value we accept: big enough for a 1024-byte CHAP challenge in hex. */
    public static final int VALUE_BYTES_MAX = 8192;

    public record Pair(String key, String value) {
    }

    private TextKeys() {
    }

    /** Parses a whole text (the concatenated data segments of one request sequence). */
    public static List<Pair> parse(ByteBuf text) {
        String s = text.toString(StandardCharsets.UTF_8);
        List<Pair> pairs = new ArrayList<>();
        int i = 0;
        while (i < s.length()) {
            int end = s.indexOf('\0', i);
            if (end < 0) {
                end = s.length();
            }
            if (end > i) {
                pairs.add(pair(s.substring(i, end)));
            }
            i = end + 1;
        }
        return pairs;
    }

    private static Pair pair(String kv) {
        int eq = kv.indexOf('=');
        if (eq <= 0) {
            throw new ProtocolException("text key: '" + abbreviate(kv) + "' (expected: key=value)");
        }
        if (eq > KEY_BYTES_MAX) {
            throw new ProtocolException("text key length: " + eq + " (expected: <= " + KEY_BYTES_MAX + ")");
        }
        String value = kv.substring(eq + 1);
        if (value.length() > VALUE_BYTES_MAX) {
            throw new ProtocolException("value length of " + kv.substring(0, eq) + ": " + value.length() + " (expected: <= " + VALUE_BYTES_MAX + ")");
        }
        return new Pair(kv.substring(0, eq), value);
    }

    public static ByteBuf format(ByteBufAllocator alloc, List<Pair> pairs) {
        StringBuilder sb = new StringBuilder();
        for (Pair p : pairs) {
            sb.append(p.key()).append('=').append(p.value()).append('\0');
        }
        byte[] bytes = sb.toString().getBytes(StandardCharsets.UTF_8);
        return alloc.buffer(bytes.length).writeBytes(bytes);
    }

    private static String abbreviate(String s) {
        return s.length() <= 40 ? s : s.substring(0, 40) + "...";
    }
}
