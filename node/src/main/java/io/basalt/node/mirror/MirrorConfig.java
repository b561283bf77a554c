package io.basalt.node.mirror;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.basalt.cluster.meta.ConfigRecord;
import io.basalt.node.config.Configs;
import io.basalt.replication.link.LinkSecret;
import io.basalt.replication.link.MirrorClient;

/**
 * A site's mirroring configuration, as JSON config records beside the vdisks (the embedded
 * store's, or a cluster's meta group): {@code mirror/site} (this site's name), {@code
 * mirror/peer/NAME} (a peer site: where its mirror link listens, the secret both share) and
 * {@code mirror/vdisk/NAME} (a vdisk this site mirrors to a peer, as its primary), {@code
 * mirror/group/NAME} (a consistency group: vdisks this site mirrors whose mirror snapshots are
 * taken at one instant) and {@code mirror/replica-group/NAME} (a group whose replicas are here,
 * as the primary site announced it). A replica has no record of its own here: the store's
 * replica mark says what it mirrors.
 */
public final class MirrorConfig {
    static final ObjectMapper JSON = new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);
    /** Site names go into the link's hello and into replica records: short, plain. */
    private static final Pattern SITE_NAME = Pattern.compile("[a-z0-9][a-z0-9-]{0,62}");
    static final Duration INTERVAL_MIN = Duration.ofMillis(200);
    static final Duration INTERVAL_MAX = Duration.ofHours(24);
    private static final int ATTEMPTS_MAX = 50;

    /** This site: its name, as peers know it. */
    public record Site(String name) {}

    /** A peer site: where its mirror link listens and the secret both sites share (base64), and the limit on what is sent to it. */
    public record Peer(String name, String address, String secretBase64, long bandwidthBytesPerSecond) {
        public MirrorClient.Peer toLink() {
            return new MirrorClient.Peer(name, socketAddress(address), LinkSecret.fromBase64(secretBase64), bandwidthBytesPerSecond);
        }
    }

    /**
     * A vdisk this site mirrors, as primary, to site {@code peer} every {@code intervalMs}.
     * {@code held}: no rounds until the peer asks for one (after an unplanned failover made this
     * copy primary while the old primary may still think it is one).
     */
    public record Mirror(String vdisk, String peer, long intervalMs, boolean held) {
        public Duration interval() {
            return Duration.ofMillis(intervalMs);
        }

        Mirror withHeld(boolean h) {
            return new Mirror(vdisk, peer, intervalMs, h);
        }
    }

    /**
     * A consistency group this site mirrors, as primary, to site {@code peer}: each of {@code
     * vdisks} (each also has its {@link Mirror}) gets mirror snapshot {@code mirror-N} at the same
     * instant, every {@code intervalMs}.
     */
    public record Group(String name, String peer, long intervalMs, List<String> vdisks) {
        public Group {
            vdisks = List.copyOf(vdisks);
        }
    }

    /** A group whose replicas are on this site, as site {@code sourceSite} (its primary) announced it. */
    public record ReplicaGroup(String name, String sourceSite, List<String> vdisks) {
        public ReplicaGroup {
            vdisks = List.copyOf(vdisks);
        }
    }

    private final Configs configs;

    public MirrorConfig(Configs configs) {
        this.configs = configs;
    }

    public Optional<Site> site() {
        return configs.read("mirror/site").map(r -> decode(r, Site.class));
    }

    /** This site's name; refused, saying how to set it, when there is none. */
    public String siteName() {
        return site().map(Site::name).orElseThrow(() -> new IllegalArgumentException(
                "site: no name for this site (expected: one set with basalt site init NAME)"));
    }

    /** Names this site; refused when it has another name (replicas elsewhere know it by that one). */
    public void initSite(String name) {
        checkSiteName(name);
        Optional<ConfigRecord> r = configs.read("mirror/site");
        if (r.isPresent()) {
            String had = decode(r.get(), Site.class).name();
            if (!had.equals(name)) {
                throw new IllegalArgumentException("site: " + name + " (expected: " + had + ", this site's name; peers and replicas know it by it)");
            }
            return;
        }
        if (!configs.compareAndSet("mirror/site", 0, Optional.of(encode(new Site(name))))) {
            throw new IllegalStateException("site: named meanwhile by another command; run basalt site init again");
        }
    }

    public List<Peer> peers() {
        return configs.list("mirror/peer").stream().map(r -> decode(r, Peer.class)).toList();
    }

    public Optional<Peer> peer(String name) {
        return configs.read("mirror/peer/" + name).map(r -> decode(r, Peer.class));
    }

    public Peer existingPeer(String name) {
        return peer(name).orElseThrow(() -> new IllegalArgumentException("site: " + name + " (expected: a peer; see basalt site peer ls)"));
    }

    /** Adds or replaces peer {@code p} (a new secret or address replaces the old one). */
    public void putPeer(Peer p) {
        checkSiteName(p.name());
        socketAddress(p.address());
        LinkSecret.fromBase64(p.secretBase64()); // refuses a short or malformed secret, naming its length
        put("mirror/peer/" + p.name(), p);
    }

    /** Removes peer {@code name}; refused while a vdisk is mirrored to it. */
    public void removePeer(String name) {
        existingPeer(name);
        List<String> using = mirrors().stream().filter(m -> m.peer().equals(name)).map(Mirror::vdisk).toList();
        if (!using.isEmpty()) {
            throw new IllegalArgumentException("site: " + name + " mirrors " + using + " (expected: no mirror to it; basalt mirror disable first)");
        }
        remove("mirror/peer/" + name);
    }

    public List<Mirror> mirrors() {
        return configs.list("mirror/vdisk").stream().map(r -> decode(r, Mirror.class)).toList();
    }

    public Optional<Mirror> mirror(String vdisk) {
        return configs.read("mirror/vdisk/" + vdisk).map(r -> decode(r, Mirror.class));
    }

    public void putMirror(Mirror m) {
        checkMirror(m);
        put("mirror/vdisk/" + m.vdisk(), m);
    }

    /** Refuses, naming the value, a mirror to an unknown peer or with an interval out of range; writes nothing. */
    void checkMirror(Mirror m) {
        existingPeer(m.peer());
        if (m.interval().compareTo(INTERVAL_MIN) < 0 || m.interval().compareTo(INTERVAL_MAX) > 0) {
            throw new IllegalArgumentException("interval: " + m.interval() + " (expected: " + INTERVAL_MIN + " to " + INTERVAL_MAX + ")");
        }
    }

    public void removeMirror(String vdisk) {
        remove("mirror/vdisk/" + vdisk);
    }

    public List<Group> groups() {
        return configs.list("mirror/group").stream().map(r -> decode(r, Group.class)).toList();
    }

    public Optional<Group> group(String name) {
        return configs.read("mirror/group/" + name).map(r -> decode(r, Group.class));
    }

    public Group existingGroup(String name) {
        return group(name).orElseThrow(() -> new IllegalArgumentException("group: " + name + " (expected: a group mirrored from this site; see basalt mirror group ls)"));
    }

    /** The group {@code vdisk} is mirrored in from this site, if any. */
    public Optional<Group> groupOf(String vdisk) {
        return groups().stream().filter(g -> g.vdisks().contains(vdisk)).findFirst();
    }

    public void putGroup(Group g) {
        checkGroupName(g.name());
        put("mirror/group/" + g.name(), g);
    }

    public void removeGroup(String name) {
        remove("mirror/group/" + name);
    }

    public List<ReplicaGroup> replicaGroups() {
        return configs.list("mirror/replica-group").stream().map(r -> decode(r, ReplicaGroup.class)).toList();
    }

    public Optional<ReplicaGroup> replicaGroup(String name) {
        return configs.read("mirror/replica-group/" + name).map(r -> decode(r, ReplicaGroup.class));
    }

    /** The announced group replica {@code vdisk} belongs to here, if any. */
    public Optional<ReplicaGroup> replicaGroupOf(String vdisk) {
        return replicaGroups().stream().filter(g -> g.vdisks().contains(vdisk)).findFirst();
    }

    /** Records (or, with no vdisks, forgets) a group the peer announced; unchanged records are not written again. */
    public void putReplicaGroup(ReplicaGroup g) {
        checkGroupName(g.name());
        if (g.vdisks().isEmpty()) {
            remove("mirror/replica-group/" + g.name());
        } else if (!replicaGroup(g.name()).equals(Optional.of(g))) {
            put("mirror/replica-group/" + g.name(), g);
        }
    }

    static void checkGroupName(String name) {
        if (name == null || !SITE_NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("group name: '" + name + "' (expected: lower-case letters, digits and '-', at most 63)");
        }
    }

    static void checkSiteName(String name) {
        if (name == null || !SITE_NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("site name: '" + name + "' (expected: lower-case letters, digits and '-', at most 63)");
        }
    }

    /** {@code host:port}. */
    static InetSocketAddress socketAddress(String address) {
        int colon = address.lastIndexOf(':');
        try {
            int port = Integer.parseInt(address.substring(colon + 1));
            if (colon <= 0 || port <= 0 || port > 65535) {
                throw new NumberFormatException();
            }
            return new InetSocketAddress(address.substring(0, colon), port);
        } catch (NumberFormatException | IndexOutOfBoundsException e) {
            throw new IllegalArgumentException("address: '" + address + "' (expected: HOST:PORT, the peer's --mirror-port)");
        }
    }

    private void put(String key, Object value) {
        for (int attempt = 0; attempt < ATTEMPTS_MAX; attempt++) {
            long version = configs.read(key).map(ConfigRecord::version).orElse(0L);
            if (configs.compareAndSet(key, version, Optional.of(encode(value)))) {
                return;
            }
        }
        throw new IllegalStateException("config " + key + ": " + ATTEMPTS_MAX + " attempts lost to other writers");
    }

    private void remove(String key) {
        for (int attempt = 0; attempt < ATTEMPTS_MAX; attempt++) {
            Optional<ConfigRecord> r = configs.read(key);
            if (r.isEmpty() || configs.compareAndSet(key, r.get().version(), Optional.empty())) {
                return;
            }
        }
        throw new IllegalStateException("config " + key + ": " + ATTEMPTS_MAX + " attempts lost to other writers");
    }

    static ByteBuffer encode(Object value) {
        try {
            return ByteBuffer.wrap(JSON.writeValueAsBytes(value));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String encodeString(Object value) {
        try {
            return JSON.writeValueAsString(value);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static <T> T decode(ConfigRecord r, Class<T> type) {
        try {
            ByteBuffer b = r.value().duplicate();
            byte[] bytes = new byte[b.remaining()];
            b.get(bytes);
            return JSON.readValue(bytes, type);
        } catch (IOException e) {
            throw new IllegalStateException("config " + r.key() + " does not decode as " + type.getSimpleName() + ": " + e.getMessage(), e);
        }
    }
}
