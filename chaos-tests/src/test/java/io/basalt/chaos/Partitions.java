package io.basalt.chaos;

import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.ratis.util.CodeInjectionForTesting;

/**
 * Network partitions between the Raft servers of an in-process cluster, through Ratis's own
 * injection points on the receiving side: a vote request, an append (entries, heartbeats, the
 * leader's read-index rounds) or a snapshot install from a peer this server is cut off from waits
 * until the partition heals, as a message held up in the network would. Every group between
 * the two nodes is cut at once, as a real link failure would. The messages are delayed, not
 * dropped: a held-up request is handled after the heal, when its term is usually stale.
 *
 * <p>JVM-wide state: {@link #close} removes the injections; {@link #blockedCalls} proves the cut
 * took effect (an injection point Ratis renamed would silently cut nothing).
 */
final class Partitions implements AutoCloseable {
    /** Ratis's injection points in {@code RaftServerImpl} (its CLASS_NAME + method). */
    private static final List<String> POINTS = List.of("RaftServerImpl.requestVote", "RaftServerImpl.appendEntries",
            "RaftServerImpl.installSnapshot");

    /** Cut links as "receiver->sender" peer ids. */
    private final Set<String> cut = ConcurrentHashMap.newKeySet();
    final AtomicLong blockedCalls = new AtomicLong();

    Partitions() {
        for (String point : POINTS) {
            CodeInjectionForTesting.put(point, this::hold);
        }
    }

    private boolean hold(Object local, Object remote, Object... args) {
        if (remote == null || !cut.contains(local + "->" + remote)) {
            return false;
        }
        blockedCalls.incrementAndGet();
        try {
            while (cut.contains(local + "->" + remote)) {
                Thread.sleep(5);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return true;
    }

    /** Cuts {@code peer} off from every peer in {@code others}, both ways. */
    void isolate(String peer, List<String> others) {
        for (String o : others) {
            cut.add(peer + "->" + o);
            cut.add(o + "->" + peer);
        }
    }

    /**
     * Cuts the link from {@code from} to {@code to} one way: {@code to} does not hear
     * {@code from}'s requests, while {@code from} still hears {@code to}'s (and answers them).
     */
    void cutOneWay(String from, String to) {
        cut.add(to + "->" + from);
    }

    void heal() {
        cut.clear();
    }

    @Override
    public void close() {
        heal();
        for (String point : POINTS) {
            CodeInjectionForTesting.remove(point);
        }
    }
}
