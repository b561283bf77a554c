package io.basalt.iscsi.session;

import java.util.HashMap;
import java.util.Map;

/**
 * Live sessions of one target server, keyed by initiator name, ISID and target name, so a new
 * login of the same initiator port reinstates (closes) the old session (RFC 7143 §6.3.5).
 * Also hands out TSIHs, never 0.
 */
public final class SessionRegistry {

    record Key(String initiatorName, long isid, String targetName) {
    }

    private final Map<Key, Connection> sessions = new HashMap<>();
    private int nextTsih = 1;

    synchronized int nextTsih() {
        int t = nextTsih;
        nextTsih = nextTsih == 0xffff ? 1 : nextTsih + 1;
        return t;
    }

    /** Registers {@code c}; returns the connection it replaces, or null. */
    synchronized Connection register(Key key, Connection c) {
        return sessions.put(key, c);
    }

    /** Removes {@code c}; false when a newer login already replaced it. */
    synchronized boolean unregister(Key key, Connection c) {
        return sessions.remove(key, c);
    }

    public synchronized java.util.List<Connection> all() {
        return java.util.List.copyOf(sessions.values());
    }
}
