package io.basalt.iscsi.scsi;

import java.nio.ByteBuffer;
import java.util.List;

/** REPORT SUPPORTED OPERATION CODES (SPC-5 §6.35). */
final class SupportedOpcodes {

    private static final int TIMEOUTS_BYTES = 12;

    private SupportedOpcodes() {
    }

    /** @param atomicWrites whether the LU offers WRITE ATOMIC (16) (its device offers atomic writes) */
    static ScsiResult report(ScsiRequest r, boolean atomicWrites) {
        boolean rctd = (r.u8(2) & 0x80) != 0;
        int options = r.u8(2) & 0x07;
        int alloc = (int) Math.min(r.u32(6), Integer.MAX_VALUE);
        ByteBuffer data = switch (options) {
            case 0 -> all(rctd, atomicWrites);
            case 1, 2, 3 -> one(r, options, rctd, atomicWrites);
            default -> null;
        };
        return data == null ? ScsiResult.check(Sense.invalidCdbField(2)) : ScsiResult.good(InfoCommands.truncate(data, alloc));
    }

    private static List<Opcodes.Command> offered(boolean atomicWrites) {
        return Opcodes.SUPPORTED.stream().filter(c -> atomicWrites || c.opcode() != Opcodes.WRITE_ATOMIC_16).toList();
    }

    private static ByteBuffer all(boolean rctd, boolean atomicWrites) {
        int each = 8 + (rctd ? TIMEOUTS_BYTES : 0);
        List<Opcodes.Command> offered = offered(atomicWrites);
        ByteBuffer b = ByteBuffer.allocate(4 + each * offered.size());
        b.putInt(0, b.capacity() - 4);
        int at = 4;
        for (Opcodes.Command c : offered) {
            b.put(at, (byte) c.opcode());
            b.putShort(at + 2, (short) Math.max(c.serviceAction(), 0));
            b.put(at + 5, (byte) ((rctd ? 0x02 : 0) | (c.serviceAction() >= 0 ? 0x01 : 0)));
            b.putShort(at + 6, (short) c.cdbLength());
            if (rctd) {
                timeouts(b, at + 8);
            }
            at += each;
        }
        return b;
    }

    private static ByteBuffer one(ScsiRequest r, int options, boolean rctd, boolean atomicWrites) {
        int opcode = r.u8(3);
        int sa = r.u16(4);
        boolean hasSa = Opcodes.hasServiceAction(opcode);
        if ((options == 1 && hasSa) || (options == 2 && !hasSa)) {
            return null;
        }
        Opcodes.Command c = opcode == Opcodes.WRITE_ATOMIC_16 && !atomicWrites ? null : Opcodes.find(opcode, hasSa ? sa : -1);
        if (c == null || (!hasSa && options == 3 && sa != 0)) {
            ByteBuffer b = ByteBuffer.allocate(4);
            b.put(1, (byte) 0x01);                   // not supported
            return b;
        }
        byte[] usage = c.usage();
        ByteBuffer b = ByteBuffer.allocate(4 + usage.length + (rctd ? TIMEOUTS_BYTES : 0));
        b.put(1, (byte) ((rctd ? 0x80 : 0) | 0x03));     // supported, per standard
        b.putShort(2, (short) usage.length);
        b.put(4, usage);
        if (rctd) {
            timeouts(b, 4 + usage.length);
        }
        return b;
    }

    private static void timeouts(ByteBuffer b, int at) {
        b.putShort(at, (short) 0x0a);
        b.putInt(at + 4, 30);      // nominal seconds
        b.putInt(at + 8, 60);      // recommended seconds
    }
}
