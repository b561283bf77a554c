package io.basalt.cluster.meta;

import java.util.ArrayList;
import java.util.List;

import io.basalt.cluster.Wire;
import io.basalt.cluster.Wire.DecodeException;
import io.basalt.lock.Holding;
import io.basalt.lock.LockCommand;
import io.basalt.lock.LockMode;
import io.basalt.lock.LockResult;
import io.basalt.lock.LockResult.Grant;
import io.basalt.lock.Session;
import io.basalt.lock.VdiskLock;

/**
 * Binary encoding of the lock table's commands, results and records inside meta entries, meta
 * results, query answers and the {@link MetaStore} (see {@link Wire}). No version of its own: it
 * travels inside those, whose versions cover it ({@link MetaCodec#VERSION}, {@link MetaCodec#RESULT_VERSION},
 * {@link MetaQuery#VERSION}, {@link MetaStore}'s format). Lock modes travel as fixed codes
 * and refusal reasons by name, never by ordinal, so reordering an enum cannot change a record.
 */
final class MetaLockCodec {
    /** Holders of one vdisk at most (far above any real cluster: the decoder's bound). */
    static final int HOLDERS_MAX = 4096;

    private MetaLockCodec() {}

    static void writeCommand(Wire.Out out, LockCommand command) {
        switch (command) {
            case LockCommand.OpenSession c -> out.u8(1).str(c.host()).i64(c.leaseMs()).i64(c.nowMs());
            case LockCommand.RenewSession c -> out.u8(2).i64(c.sessionId()).i64(c.nowMs());
            case LockCommand.CloseSession c -> out.u8(3).i64(c.sessionId());
            case LockCommand.ExpireSession c -> out.u8(4).i64(c.sessionId()).i64(c.renewedAtIndex());
            case LockCommand.Acquire c -> out.u8(5).i64(c.sessionId()).str(c.vdisk()).u8(code(c.mode()));
            case LockCommand.Release c -> out.u8(6).i64(c.sessionId()).str(c.vdisk());
            case LockCommand.Handoff c -> out.u8(7).str(c.vdisk()).i64(c.fromSessionId()).i64(c.toSessionId());
            case LockCommand.Break c -> out.u8(8).str(c.vdisk());
            case LockCommand.Forget c -> out.u8(9).str(c.vdisk());
        }
    }

    static LockCommand readCommand(Wire.In in) {
        int tag = in.u8();
        Wire.checkTag(tag, 9, "lock command");
        return switch (tag) {
            case 1 -> new LockCommand.OpenSession(in.str(), in.i64(), in.i64());
            case 2 -> new LockCommand.RenewSession(in.i64(), in.i64());
            case 3 -> new LockCommand.CloseSession(in.i64());
            case 4 -> new LockCommand.ExpireSession(in.i64(), in.i64());
            case 5 -> new LockCommand.Acquire(in.i64(), in.str(), mode(in.u8()));
            case 6 -> new LockCommand.Release(in.i64(), in.str());
            case 7 -> new LockCommand.Handoff(in.str(), in.i64(), in.i64());
            case 8 -> new LockCommand.Break(in.str());
            default -> new LockCommand.Forget(in.str());
        };
    }

    static void writeResult(Wire.Out out, LockResult result) {
        switch (result) {
            case LockResult.SessionOpened r -> writeSession(out.u8(1), r.session());
            case LockResult.SessionRenewed r -> {
                writeSession(out.u8(2), r.session()).i32(r.grants().size());
                r.grants().forEach(g -> writeGrant(out, g));
            }
            case LockResult.SessionEnded r -> {
                out.u8(3).i64(r.sessionId()).bool(r.expired()).i32(r.changed().size());
                r.changed().forEach(l -> writeLock(out, l));
            }
            case LockResult.Granted r -> writeGrant(out.u8(4), r.grant());
            case LockResult.Released r -> writeLock(out.u8(5).str(r.vdisk()).i64(r.sessionId()), r.after());
            case LockResult.HandedOff r -> writeLock(writeGrant(out.u8(6), r.grant()).i64(r.fromSessionId()), r.after());
            case LockResult.Broken r -> {
                out.u8(7).str(r.vdisk()).i32(r.sessionIds().size());
                r.sessionIds().forEach(out::i64);
                writeLock(out, r.after());
            }
            case LockResult.Forgotten r -> out.u8(8).str(r.vdisk());
            case LockResult.Refused r -> out.u8(9).str(r.reason().name()).str(r.message());
        }
    }

    static LockResult readResult(Wire.In in) {
        int tag = in.u8();
        Wire.checkTag(tag, 9, "lock result");
        return switch (tag) {
            case 1 -> new LockResult.SessionOpened(readSession(in));
            case 2 -> {
                Session s = readSession(in);
                int n = count(in, "grant");
                List<Grant> grants = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    grants.add(readGrant(in));
                }
                yield new LockResult.SessionRenewed(s, grants);
            }
            case 3 -> {
                long id = in.i64();
                boolean expired = in.bool();
                int n = count(in, "changed lock");
                List<VdiskLock> changed = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    changed.add(readLock(in));
                }
                yield new LockResult.SessionEnded(id, expired, changed);
            }
            case 4 -> new LockResult.Granted(readGrant(in));
            case 5 -> new LockResult.Released(in.str(), in.i64(), readLock(in));
            case 6 -> new LockResult.HandedOff(readGrant(in), in.i64(), readLock(in));
            case 7 -> {
                String vdisk = in.str();
                int n = count(in, "broken session");
                List<Long> ids = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    ids.add(in.i64());
                }
                yield new LockResult.Broken(vdisk, ids, readLock(in));
            }
            case 8 -> new LockResult.Forgotten(in.str());
            default -> new LockResult.Refused(reason(in.str()), in.str());
        };
    }

    static Wire.Out writeSession(Wire.Out out, Session s) {
        return out.i64(s.id()).str(s.host()).i64(s.leaseMs()).i64(s.openedAtMs()).i64(s.renewedAtMs()).i64(s.renewedAtIndex());
    }

    static Session readSession(Wire.In in) {
        long id = in.i64();
        String host = in.str();
        long lease = in.i64();
        long opened = in.i64();
        long renewed = in.i64();
        long renewedAt = in.i64();
        try {
            return new Session(id, host, lease, opened, renewed, renewedAt);
        } catch (IllegalArgumentException e) {
            throw new DecodeException("host session: " + e.getMessage());
        }
    }

    static Wire.Out writeLock(Wire.Out out, VdiskLock l) {
        out.str(l.vdisk()).i64(l.fence()).i64(l.lastToken()).i32(l.holders().size());
        for (Holding h : l.holders()) {
            out.i64(h.sessionId()).u8(code(h.mode())).i64(h.token());
        }
        return out;
    }

    static VdiskLock readLock(Wire.In in) {
        String vdisk = in.str();
        long fence = in.i64();
        long lastToken = in.i64();
        int n = count(in, "holder");
        List<Holding> holders = new ArrayList<>(n);
        try {
            for (int i = 0; i < n; i++) {
                holders.add(new Holding(in.i64(), mode(in.u8()), in.i64()));
            }
            return new VdiskLock(vdisk, holders, fence, lastToken);
        } catch (IllegalArgumentException e) {
            throw new DecodeException("vdisk lock: " + e.getMessage());
        }
    }

    private static Wire.Out writeGrant(Wire.Out out, Grant g) {
        return out.str(g.vdisk()).i64(g.sessionId()).u8(code(g.mode())).i64(g.token()).i64(g.fence());
    }

    private static Grant readGrant(Wire.In in) {
        return new Grant(in.str(), in.i64(), mode(in.u8()), in.i64(), in.i64());
    }

    private static int count(Wire.In in, String what) {
        int n = in.i32();
        if (n < 0 || n > HOLDERS_MAX || n > in.remaining()) {
            throw new DecodeException(what + " count: " + n + " (expected: 0.." + Math.min(HOLDERS_MAX, in.remaining()) + ")");
        }
        return n;
    }

    private static int code(LockMode mode) {
        return switch (mode) {
            case EXCLUSIVE -> 1;
            case SHARED_READ -> 2;
            case MULTI_WRITER -> 3;
        };
    }

    private static LockMode mode(int code) {
        return switch (code) {
            case 1 -> LockMode.EXCLUSIVE;
            case 2 -> LockMode.SHARED_READ;
            case 3 -> LockMode.MULTI_WRITER;
            default -> throw new DecodeException("lock mode: " + code + " (expected: 1..3)");
        };
    }

    private static LockResult.Reason reason(String name) {
        try {
            return LockResult.Reason.valueOf(name);
        } catch (IllegalArgumentException e) {
            throw new DecodeException("lock refusal reason: '" + name + "' (expected: one of " + java.util.Arrays.toString(LockResult.Reason.values()) + ")");
        }
    }
}
