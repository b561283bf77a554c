package io.basalt.cluster.meta;

import java.nio.ByteBuffer;
import java.util.regex.Pattern;

/**
 * One entry of the cluster's configuration records: what the features above the storage keep
 * cluster-wide (a VM's spec and placement, a host agent's registration, later a mirror's or a
 * peer site's settings), under a slash-separated key such as {@code vm/web1}. The meta group never
 * reads {@code value}; its owner encodes it. {@code version} grows by one at each
 * {@link MetaCommand.PutConfig} that changed the record, so owners update by compare-and-set.
 */
public record ConfigRecord(String key, long version, ByteBuffer value) {
    /** Keys: path segments of letters, digits, '.', '_' and '-', joined by '/'. */
    public static final Pattern KEY = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}(/[A-Za-z0-9][A-Za-z0-9._-]{0,127}){0,3}");
    /** Larger values are refused: these are settings, not data. */
    public static final int VALUE_BYTES_MAX = 64 << 10;
    /** Records per cluster: bounds the meta group's memory and a full listing's answer. */
    public static final int RECORDS_MAX = 100_000;

    public ConfigRecord {
        checkKey(key);
        if (version < 1) {
            throw new IllegalArgumentException("config version: " + version + " (expected: >= 1) key=" + key);
        }
        value = value.asReadOnlyBuffer();
    }

    /** Throws naming the key when it is not a valid config key. */
    public static void checkKey(String key) {
        if (key == null || !KEY.matcher(key).matches()) {
            throw new IllegalArgumentException("config key: '" + key + "' (expected: " + KEY.pattern() + ")");
        }
    }

    /** The value's bytes, copied. */
    public byte[] bytes() {
        byte[] out = new byte[value.remaining()];
        value.duplicate().get(out);
        return out;
    }
}
