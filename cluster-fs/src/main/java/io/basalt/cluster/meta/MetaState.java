package io.basalt.cluster.meta;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Pattern;

import io.basalt.cluster.meta.MetaCommand.CloneVdisk;
import io.basalt.cluster.meta.MetaCommand.CreateSnapshot;
import io.basalt.cluster.meta.MetaCommand.CreateVdisk;
import io.basalt.cluster.meta.MetaCommand.RemoveSnapshot;
import io.basalt.cluster.meta.MetaCommand.RemoveVdisk;
import io.basalt.cluster.meta.MetaCommand.ResizeVdisk;
import io.basalt.cluster.meta.VdiskRecord.ParentLink;
import io.basalt.cluster.meta.VdiskRecord.SnapshotRecord;
import io.basalt.lock.LockCommand;
import io.basalt.lock.LockResult;
import io.basalt.lock.LockTable;
import io.basalt.lock.Session;
import io.basalt.lock.VdiskLock;

/**
 * The cluster namespace as a pure, deterministic state: vdisks, their snapshots and clone links,
 * and the lock table (host sessions, vdisk locks, fences: a {@link LockTable}, whose own
 * invariants it checks after every change). {@link #apply} is the only mutator; given the same commands in the same
 * order every replica reaches the same state and the same results (sorted maps only, no clock,
 * no randomness). It knows nothing of Raft or storage: {@link MetaStore} persists it.
 *
 * <p>Invariants (checked by {@link #checkInvariants()} in tests and after load):
 * names are unique; a clone's parent exists and has the named snapshot; a vdisk with clones or
 * snapshots is never removed, nor one that is locked; ids only grow; an unfinished rollback's
 * snapshot exists.
 */
public final class MetaState {
    public static final int CLONE_DEPTH_MAX = 16;
    public static final int SNAPSHOTS_PER_VDISK_MAX = 1024;
    public static final long SIZE_MAX_BYTES = 1L << 50;
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

    /** Which persisted records an {@link #apply} touched (lock records: {@link #drainLockChanges}). */
    public sealed interface Key {
        record Vdisk(long id) implements Key {}
        record NextId() implements Key {}
        record Node(int id) implements Key {}
        record Space(int nodeId) implements Key {}
        record Pr(String vdisk) implements Key {}
        record Config(String key) implements Key {}
    }

    private final TreeMap<Long, VdiskRecord> vdisks = new TreeMap<>();
    private final TreeMap<String, Long> names = new TreeMap<>();
    private final LockTable locks = new LockTable();
    private final TreeMap<Integer, NodeRecord> nodes = new TreeMap<>();
    private final TreeMap<Integer, NodeSpace> spaces = new TreeMap<>();
    private final TreeMap<String, PrRecord> prStates = new TreeMap<>();
    private final TreeMap<String, ConfigRecord> configs = new TreeMap<>();
    private long nextId = 1;
    private final List<Key> touched = new ArrayList<>();

    /**
     * Applies one command at log index {@code index}. A refused command changes nothing and
     * returns {@link MetaResult.Rejected}.
     */
    public MetaResult apply(long index, MetaCommand command) {
        touched.clear();
        return switch (command) {
            case CreateVdisk c -> createVdisk(c);
            case RemoveVdisk c -> removeVdisk(index, c);
            case ResizeVdisk c -> resizeVdisk(c);
            case CreateSnapshot c -> createSnapshot(c);
            case RemoveSnapshot c -> removeSnapshot(c);
            case CloneVdisk c -> cloneVdisk(c);
            case MetaCommand.Lock c -> lock(index, c.command());
            case MetaCommand.RegisterNode c -> registerNode(c);
            case MetaCommand.UnregisterNode c -> unregisterNode(c);
            case MetaCommand.FlattenVdisk c -> flattenVdisk(c);
            case MetaCommand.ReportSpace c -> reportSpace(c.space());
            case MetaCommand.BeginRollback c -> beginRollback(c);
            case MetaCommand.EndRollback c -> endRollback(c);
            case MetaCommand.SetPrState c -> setPrState(c);
            case MetaCommand.PutConfig c -> putConfig(c);
        };
    }

    /** The records the last {@link #apply} changed or removed, for the persistence layer. */
    public List<Key> touched() {
        return List.copyOf(touched);
    }

    // ---- queries ----

    public Optional<VdiskRecord> vdisk(String name) {
        Long id = names.get(name);
        return id == null ? Optional.empty() : Optional.of(vdisks.get(id));
    }

    /** The persistent-reservation state of {@code vdisk}'s LUN; empty when never set. */
    public Optional<PrRecord> prState(String vdisk) {
        return Optional.ofNullable(prStates.get(vdisk));
    }

    /** Config record {@code key}; empty when absent. */
    public Optional<ConfigRecord> config(String key) {
        return Optional.ofNullable(configs.get(key));
    }

    /** The config records at {@code prefix} or under {@code prefix + "/"} (all for ""), by key. */
    public List<ConfigRecord> configsUnder(String prefix) {
        if (prefix.isEmpty()) {
            return List.copyOf(configs.values());
        }
        List<ConfigRecord> out = new ArrayList<>();
        Optional.ofNullable(configs.get(prefix)).ifPresent(out::add);
        // '/' + 1 is '0': the keys under "prefix/" sort in [prefix/, prefix0).
        out.addAll(configs.subMap(prefix + "/", prefix + "0").values());
        return out;
    }

    public Optional<VdiskRecord> vdisk(long id) {
        return Optional.ofNullable(vdisks.get(id));
    }

    /** Every vdisk, by name. */
    public List<VdiskRecord> vdisks() {
        return names.values().stream().map(vdisks::get).toList();
    }

    /** The open host sessions, by id. */
    public Collection<Session> sessions() {
        return locks.sessions();
    }

    public Optional<Session> session(long id) {
        return locks.session(id);
    }

    /** Every vdisk's lock record, by vdisk name. */
    public Collection<VdiskLock> locks() {
        return locks.locks();
    }

    public Optional<VdiskLock> lock(String vdisk) {
        return locks.lock(vdisk);
    }

    /** What this replica's lock table has applied, by kind (metrics). */
    public io.basalt.lock.LockEvents lockEvents() {
        return locks.events();
    }

    /** The lock records changed since the last call, for the persistence layer (absent now: delete). */
    public LockTable.Changes drainLockChanges() {
        return locks.drainChanges();
    }

    public long nextId() {
        return nextId;
    }

    /** The node registry, by id. */
    public List<NodeRecord> nodes() {
        return List.copyOf(nodes.values());
    }

    public Optional<NodeRecord> node(int id) {
        return Optional.ofNullable(nodes.get(id));
    }

    /** The nodes' last space reports, by node id. */
    public List<NodeSpace> spaces() {
        return List.copyOf(spaces.values());
    }

    public Optional<NodeSpace> space(int nodeId) {
        return Optional.ofNullable(spaces.get(nodeId));
    }

    /** Names of the clones of {@code vdiskId}, optionally only those of one snapshot. */
    public List<String> clonesOf(long vdiskId, Optional<String> snapName) {
        List<String> out = new ArrayList<>();
        for (VdiskRecord v : vdisks.values()) {
            if (v.parent().isPresent() && v.parent().get().vdiskId() == vdiskId
                    && snapName.map(s -> s.equals(v.parent().get().snapName())).orElse(true)) {
                out.add(v.name());
            }
        }
        out.sort(null);
        return out;
    }

    // ---- loading (MetaStore, on open) ----

    void load(VdiskRecord v) {
        vdisks.put(v.id(), v);
        names.put(v.name(), v.id());
    }

    /** Loads the lock table's records; {@code appliedIndex} is the store's (no lock command was applied after it). */
    void loadLocks(long appliedIndex, Collection<Session> savedSessions, Collection<VdiskLock> savedLocks) {
        locks.restore(Math.max(0, appliedIndex), savedSessions, savedLocks);
    }

    void load(NodeRecord n) {
        nodes.put(n.id(), n);
    }

    void load(ConfigRecord r) {
        configs.put(r.key(), r);
    }

    void load(PrRecord r) {
        prStates.put(r.vdisk(), r);
    }

    void load(NodeSpace s) {
        spaces.put(s.nodeId(), s);
    }

    void loadNextId(long id) {
        nextId = id;
    }

    /** Throws {@link IllegalStateException} naming the first broken invariant. */
    public void checkInvariants() {
        if (names.size() != vdisks.size()) {
            throw new IllegalStateException("names: " + names.size() + " entries for " + vdisks.size() + " vdisks");
        }
        for (VdiskRecord v : vdisks.values()) {
            if (v.id() >= nextId) {
                throw new IllegalStateException("vdisk id " + v.id() + " (expected: < nextId " + nextId + ") vdisk=" + v.name());
            }
            if (!Long.valueOf(v.id()).equals(names.get(v.name()))) {
                throw new IllegalStateException("name " + v.name() + " maps to " + names.get(v.name()) + " (expected: " + v.id() + ")");
            }
            if (v.parent().isPresent()) {
                ParentLink p = v.parent().get();
                VdiskRecord parent = vdisks.get(p.vdiskId());
                if (parent == null || parent.snapshot(p.snapName()).isEmpty()) {
                    throw new IllegalStateException("clone " + v.name() + " links to missing " + p);
                }
                if (parent.rootId() != v.rootId()) {
                    throw new IllegalStateException("clone " + v.name() + " rootId " + v.rootId() + " (expected: " + parent.rootId() + ")");
                }
            }
            if (v.rollingBackTo().isPresent() && v.snapshot(v.rollingBackTo().get()).isEmpty()) {
                throw new IllegalStateException("vdisk " + v.name() + " rolls back to missing snapshot " + v.rollingBackTo().get());
            }
        }
    }

    // ---- commands ----

    private MetaResult createVdisk(CreateVdisk c) {
        String bad = checkName("vdisk name", c.name());
        if (bad == null) {
            bad = checkGeometry(c.name(), c.sizeBytes(), c.blockSizeBytes(), c.grainSizeBytes());
        }
        if (bad == null && names.containsKey(c.name())) {
            bad = "vdisk " + c.name() + " already exists";
        }
        if (bad != null) {
            return new MetaResult.Rejected(bad);
        }
        long id = allocateId();
        VdiskRecord v = new VdiskRecord(id, c.name(), c.sizeBytes(), c.blockSizeBytes(), c.grainSizeBytes(), id,
                Optional.empty(), List.of(), c.nowMs());
        put(v);
        return new MetaResult.VdiskChanged(v);
    }

    private MetaResult removeVdisk(long index, RemoveVdisk c) {
        VdiskRecord v = vdisk(c.name()).orElse(null);
        if (v == null) {
            return noSuchVdisk(c.name());
        }
        Optional<String> locked = lockedBy(c.name());
        if (locked.isPresent()) {
            return new MetaResult.Rejected(locked.get());
        }
        if (!v.snapshots().isEmpty()) {
            return new MetaResult.Rejected("vdisk " + c.name() + " has " + v.snapshots().size()
                    + " snapshots; remove them first");
        }
        List<String> clones = clonesOf(v.id(), Optional.empty());
        if (!clones.isEmpty()) {
            return new MetaResult.Rejected("vdisk " + c.name() + " has clones " + clones + "; remove or flatten them first");
        }
        vdisks.remove(v.id());
        names.remove(v.name());
        touched.add(new Key.Vdisk(v.id()));
        if (prStates.remove(v.name()) != null) {
            touched.add(new Key.Pr(v.name()));    // a vdisk created later under this name starts unregistered
        }
        if (locks.lock(v.name()).isPresent()) {
            // A vdisk created later under this name is another vdisk (another id, fence 0 on the PGs).
            locks.apply(index, new LockCommand.Forget(v.name()));
        }
        return new MetaResult.VdiskChanged(v);
    }

    private MetaResult resizeVdisk(ResizeVdisk c) {
        VdiskRecord v = vdisk(c.name()).orElse(null);
        if (v == null) {
            return noSuchVdisk(c.name());
        }
        String bad = checkGeometry(c.name(), c.newSizeBytes(), v.blockSizeBytes(), v.grainSizeBytes());
        if (bad != null) {
            return new MetaResult.Rejected(bad);
        }
        VdiskRecord resized = v.withSize(c.newSizeBytes());
        put(resized);
        return new MetaResult.VdiskChanged(resized);
    }

    private MetaResult createSnapshot(CreateSnapshot c) {
        VdiskRecord v = vdisk(c.vdiskName()).orElse(null);
        if (v == null) {
            return noSuchVdisk(c.vdiskName());
        }
        String bad = checkName("snapshot name", c.snapName());
        if (bad == null && v.rollingBackTo().isPresent()) {
            bad = v.unfinishedRollback().orElseThrow() + "; a snapshot now would keep a mix of both";
        }
        if (bad == null && v.snapshot(c.snapName()).isPresent()) {
            bad = "snapshot " + c.vdiskName() + "@" + c.snapName() + " already exists";
        }
        if (bad == null && v.snapshots().size() >= SNAPSHOTS_PER_VDISK_MAX) {
            bad = "snapshots of " + c.vdiskName() + ": " + v.snapshots().size() + " (expected: < " + SNAPSHOTS_PER_VDISK_MAX + ")";
        }
        if (bad != null) {
            return new MetaResult.Rejected(bad);
        }
        List<SnapshotRecord> snaps = new ArrayList<>(v.snapshots());
        snaps.add(new SnapshotRecord(c.snapName(), v.sizeBytes(), c.nowMs()));
        VdiskRecord changed = v.withSnapshots(snaps);
        put(changed);
        return new MetaResult.VdiskChanged(changed);
    }

    private MetaResult removeSnapshot(RemoveSnapshot c) {
        VdiskRecord v = vdisk(c.vdiskName()).orElse(null);
        if (v == null) {
            return noSuchVdisk(c.vdiskName());
        }
        if (v.snapshot(c.snapName()).isEmpty()) {
            return new MetaResult.Rejected("no snapshot " + c.vdiskName() + "@" + c.snapName());
        }
        List<String> clones = clonesOf(v.id(), Optional.of(c.snapName()));
        if (!clones.isEmpty()) {
            return new MetaResult.Rejected("snapshot " + c.vdiskName() + "@" + c.snapName() + " has clones " + clones
                    + "; remove or flatten them first");
        }
        if (v.rollingBackTo().equals(Optional.of(c.snapName()))) {
            return new MetaResult.Rejected(v.unfinishedRollback().orElseThrow());
        }
        VdiskRecord changed = v.withSnapshots(v.snapshots().stream().filter(s -> !s.name().equals(c.snapName())).toList());
        put(changed);
        return new MetaResult.VdiskChanged(changed);
    }

    private MetaResult cloneVdisk(CloneVdisk c) {
        VdiskRecord parent = vdisk(c.parentName()).orElse(null);
        if (parent == null) {
            return noSuchVdisk(c.parentName());
        }
        SnapshotRecord snap = parent.snapshot(c.snapName()).orElse(null);
        String bad = snap == null ? "no snapshot " + c.parentName() + "@" + c.snapName() : checkName("vdisk name", c.childName());
        if (bad == null && names.containsKey(c.childName())) {
            bad = "vdisk " + c.childName() + " already exists";
        }
        if (bad == null && depth(parent) + 1 > CLONE_DEPTH_MAX) {
            bad = "clone chain depth: " + (depth(parent) + 1) + " (expected: <= " + CLONE_DEPTH_MAX + "); flatten " + c.parentName() + " first";
        }
        if (bad != null) {
            return new MetaResult.Rejected(bad);
        }
        long id = allocateId();
        VdiskRecord child = new VdiskRecord(id, c.childName(), snap.sizeBytes(), parent.blockSizeBytes(), parent.grainSizeBytes(),
                parent.rootId(), Optional.of(new ParentLink(parent.id(), c.snapName())), List.of(), c.nowMs());
        put(child);
        return new MetaResult.VdiskChanged(child);
    }

    /** A compare-and-set of a vdisk's PR state; refused for a vdisk the namespace does not hold, or at another version. */
    private MetaResult setPrState(MetaCommand.SetPrState c) {
        if (!names.containsKey(c.vdisk())) {
            return new MetaResult.Rejected("no vdisk named " + c.vdisk());
        }
        long current = prState(c.vdisk()).map(PrRecord::version).orElse(0L);
        if (c.expectedVersion() != current) {
            return new MetaResult.Rejected("pr state of vdisk " + c.vdisk() + " is at version " + current + " (expected: " + c.expectedVersion() + ")");
        }
        if (c.state().remaining() > PrRecord.STATE_BYTES_MAX) {
            return new MetaResult.Rejected("pr state of vdisk " + c.vdisk() + ": " + c.state().remaining() + " bytes (expected: <= "
                    + PrRecord.STATE_BYTES_MAX + ")");
        }
        ByteBuffer copy = ByteBuffer.allocate(c.state().remaining()).put(c.state().duplicate()).flip();
        prStates.put(c.vdisk(), new PrRecord(c.vdisk(), current + 1, copy));
        touched.add(new Key.Pr(c.vdisk()));
        return new MetaResult.Done();
    }

    /** A compare-and-set of a config record (an empty value removes it). */
    private MetaResult putConfig(MetaCommand.PutConfig c) {
        long current = config(c.key()).map(ConfigRecord::version).orElse(0L);
        if (c.expectedVersion() != current) {
            return new MetaResult.Rejected("config " + c.key() + " is at version " + current + " (expected: " + c.expectedVersion() + ")");
        }
        if (c.value().isEmpty()) {
            if (configs.remove(c.key()) != null) {
                touched.add(new Key.Config(c.key()));
            }
            return new MetaResult.Done();
        }
        ByteBuffer value = c.value().get();
        if (value.remaining() > ConfigRecord.VALUE_BYTES_MAX) {
            return new MetaResult.Rejected("config " + c.key() + ": " + value.remaining() + " bytes (expected: <= "
                    + ConfigRecord.VALUE_BYTES_MAX + ")");
        }
        if (current == 0 && configs.size() >= ConfigRecord.RECORDS_MAX) {
            return new MetaResult.Rejected("config " + c.key() + ": the cluster holds " + configs.size() + " config records (the limit)");
        }
        ByteBuffer copy = ByteBuffer.allocate(value.remaining()).put(value.duplicate()).flip();
        configs.put(c.key(), new ConfigRecord(c.key(), current + 1, copy));
        touched.add(new Key.Config(c.key()));
        return new MetaResult.Done();
    }

    /** A lock command; a lock is only taken on a vdisk the namespace holds. */
    private MetaResult lock(long index, LockCommand c) {
        if (c instanceof LockCommand.Acquire a && a.vdisk() != null && !names.containsKey(a.vdisk())) {
            return new MetaResult.LockApplied(new LockResult.Refused(LockResult.Reason.INVALID,
                    "vdisk: " + a.vdisk() + " (expected: an existing vdisk) session=" + a.sessionId()));
        }
        return new MetaResult.LockApplied(locks.apply(index, c));
    }

    /** Why {@code vdisk} may not be removed because of its lock, if it may not. */
    private Optional<String> lockedBy(String vdisk) {
        return locks.lock(vdisk).filter(l -> !l.holders().isEmpty()).map(l -> "vdisk " + vdisk + " is locked by session(s) "
                + l.holders().stream().map(h -> h.sessionId() + " (" + h.mode().cliName() + ")").toList()
                + "; release or break the lock first");
    }

    private MetaResult beginRollback(MetaCommand.BeginRollback c) {
        VdiskRecord v = vdisk(c.vdiskName()).orElse(null);
        if (v == null) {
            return noSuchVdisk(c.vdiskName());
        }
        if (v.snapshot(c.snapName()).isEmpty()) {
            return new MetaResult.Rejected("no snapshot " + c.vdiskName() + "@" + c.snapName());
        }
        VdiskRecord marked = v.withRollingBackTo(Optional.of(c.snapName()));
        put(marked);
        return new MetaResult.VdiskChanged(marked);
    }

    /** Clears the mark and takes the snapshot's size; refused unless this very rollback is under way. */
    private MetaResult endRollback(MetaCommand.EndRollback c) {
        VdiskRecord v = vdisk(c.vdiskName()).orElse(null);
        if (v == null) {
            return noSuchVdisk(c.vdiskName());
        }
        if (!v.rollingBackTo().equals(Optional.of(c.snapName()))) {
            return new MetaResult.Rejected("rollback of " + c.vdiskName() + " to " + c.snapName() + " is not under way (under way: "
                    + v.rollingBackTo().map(x -> "to " + x).orElse("none") + ")");
        }
        SnapshotRecord snap = v.snapshot(c.snapName()).orElseThrow();
        VdiskRecord done = v.withRollingBackTo(Optional.empty()).withSize(snap.sizeBytes());
        put(done);
        return new MetaResult.VdiskChanged(done);
    }

    /** The clone keeps its root id: its grains stay in the placement groups they were written to. */
    private MetaResult flattenVdisk(MetaCommand.FlattenVdisk c) {
        VdiskRecord v = vdisk(c.name()).orElse(null);
        if (v == null) {
            return noSuchVdisk(c.name());
        }
        if (v.parent().isEmpty()) {
            return new MetaResult.Rejected("vdisk " + c.name() + " is not a clone; nothing to flatten");
        }
        VdiskRecord flat = new VdiskRecord(v.id(), v.name(), v.sizeBytes(), v.blockSizeBytes(), v.grainSizeBytes(), v.rootId(),
                Optional.empty(), v.snapshots(), v.createdMs(), v.rollingBackTo());
        put(flat);
        return new MetaResult.VdiskChanged(flat);
    }

    private MetaResult registerNode(MetaCommand.RegisterNode c) {
        String bad = NodeRecord.check(c.id(), c.host(), c.port());
        if (bad != null) {
            return new MetaResult.Rejected(bad);
        }
        nodes.put(c.id(), new NodeRecord(c.id(), c.host(), c.port()));
        touched.add(new Key.Node(c.id()));
        return new MetaResult.Done();
    }

    private MetaResult unregisterNode(MetaCommand.UnregisterNode c) {
        if (nodes.remove(c.id()) != null) {
            touched.add(new Key.Node(c.id()));
        }
        if (spaces.remove(c.id()) != null) {
            touched.add(new Key.Space(c.id()));
        }
        return new MetaResult.Done();
    }

    private MetaResult reportSpace(NodeSpace s) {
        String bad = NodeSpace.check(s.nodeId(), s.freeBytes(), s.reserveBytes(), s.totalBytes());
        if (bad != null) {
            return new MetaResult.Rejected(bad);
        }
        spaces.put(s.nodeId(), s);
        touched.add(new Key.Space(s.nodeId()));
        return new MetaResult.Done();
    }

    // ---- helpers ----

    private void put(VdiskRecord v) {
        vdisks.put(v.id(), v);
        names.put(v.name(), v.id());
        touched.add(new Key.Vdisk(v.id()));
    }

    private long allocateId() {
        long id = nextId++;
        touched.add(new Key.NextId());
        return id;
    }

    private int depth(VdiskRecord v) {
        int d = 0;
        TreeSet<Long> seen = new TreeSet<>();
        for (VdiskRecord cur = v; cur.parent().isPresent(); cur = vdisks.get(cur.parent().get().vdiskId())) {
            if (!seen.add(cur.id())) {
                throw new IllegalStateException("clone cycle through vdisk id " + cur.id());
            }
            d++;
        }
        return d;
    }

    private static MetaResult noSuchVdisk(String name) {
        return new MetaResult.Rejected("no vdisk named " + name);
    }

    private static String checkName(String what, String name) {
        if (name == null || !NAME.matcher(name).matches()) {
            return what + ": '" + name + "' (expected: 1-128 of A-Z a-z 0-9 . _ -, starting with a letter or digit)";
        }
        return null;
    }

    private static String checkGeometry(String name, long sizeBytes, int blockSizeBytes, int grainSizeBytes) {
        if (blockSizeBytes != 512 && blockSizeBytes != 4096) {
            return "blockSizeBytes: " + blockSizeBytes + " (expected: 512 or 4096) vdisk=" + name;
        }
        if (grainSizeBytes < blockSizeBytes || grainSizeBytes > (1 << 20) || Integer.bitCount(grainSizeBytes) != 1) {
            return "grainSizeBytes: " + grainSizeBytes + " (expected: a power of two in " + blockSizeBytes + "..1048576) vdisk=" + name;
        }
        if (sizeBytes <= 0 || sizeBytes > SIZE_MAX_BYTES || sizeBytes % blockSizeBytes != 0) {
            return "sizeBytes: " + sizeBytes + " (expected: a positive multiple of " + blockSizeBytes + ", <= 2^50) vdisk=" + name;
        }
        return null;
    }
}
