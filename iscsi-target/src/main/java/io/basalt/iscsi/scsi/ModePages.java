package io.basalt.iscsi.scsi;

import java.nio.ByteBuffer;

/**
 * MODE SENSE and MODE SELECT (SPC-5 §6.14, §6.15): read-write error recovery, caching (WCE
 * changeable and honoured: with WCE off every write is FUA), control (D_SENSE and SWP
 * changeable) and informational exceptions pages. Saving is not supported.
 */
final class ModePages {

    private static final int RW_ERROR_RECOVERY = 0x01;
    private static final int CACHING = 0x08;
    private static final int CONTROL = 0x0a;
    private static final int INFORMATIONAL_EXCEPTIONS = 0x1c;
    private static final int ALL_PAGES = 0x3f;
    private static final int[] PAGES = {RW_ERROR_RECOVERY, CACHING, CONTROL, INFORMATIONAL_EXCEPTIONS};
    private static final int PC_CURRENT = 0;
    private static final int PC_CHANGEABLE = 1;
    private static final int PC_SAVED = 3;

    private final LogicalUnit lu;

    ModePages(LogicalUnit lu) {
        this.lu = lu;
    }

    ScsiResult sense(ScsiRequest r) {
        boolean six = r.opcode() == Opcodes.MODE_SENSE_6;
        boolean dbd = (r.u8(1) & 0x08) != 0;
        boolean llbaa = !six && (r.u8(1) & 0x10) != 0;
        int pc = r.u8(2) >> 6;
        int page = r.u8(2) & 0x3f;
        int subpage = r.u8(3);
        int alloc = six ? r.u8(4) : r.u16(7);
        if (pc == PC_SAVED) {
            return ScsiResult.check(Sense.SAVING_NOT_SUPPORTED);
        }
        if ((subpage != 0 && !(page == ALL_PAGES && subpage == 0xff)) || (page != ALL_PAGES && !known(page))) {
            return ScsiResult.check(Sense.invalidCdbField(subpage != 0 ? 3 : 2));
        }
        ByteBuffer pages = page == ALL_PAGES ? allPages(pc) : page(page, pc);
        return ScsiResult.good(InfoCommands.truncate(assemble(six, dbd, llbaa, pages), alloc));
    }

    private static boolean known(int page) {
        for (int p : PAGES) {
            if (p == page) {
                return true;
            }
        }
        return false;
    }

    private ByteBuffer assemble(boolean six, boolean dbd, boolean llbaa, ByteBuffer pages) {
        int headerBytes = six ? 4 : 8;
        int descBytes = dbd ? 0 : llbaa ? 16 : 8;
        ByteBuffer b = ByteBuffer.allocate(headerBytes + descBytes + pages.remaining());
        int deviceSpecific = (lu.writeProtected() ? 0x80 : 0) | 0x10;   // WP, DPOFUA
        if (six) {
            b.put(0, (byte) (b.capacity() - 1)).put(2, (byte) deviceSpecific).put(3, (byte) descBytes);
        } else {
            b.putShort(0, (short) (b.capacity() - 2)).put(3, (byte) deviceSpecific).put(4, (byte) (llbaa ? 1 : 0)).putShort(6, (short) descBytes);
        }
        long blocks = lu.device().blockCount();
        if (descBytes == 8) {
            b.putInt(headerBytes, (int) Math.min(blocks, 0xffffffffL));
            b.putInt(headerBytes + 4, lu.blockSize());
            if (six) {
                b.putInt(headerBytes, (int) Math.min(blocks, 0xffffff));
                b.putInt(headerBytes + 4, lu.blockSize() & 0xffffff);
            }
        } else if (descBytes == 16) {
            b.putLong(headerBytes, blocks);
            b.putInt(headerBytes + 12, lu.blockSize());
        }
        b.put(headerBytes + descBytes, pages, pages.position(), pages.remaining());
        return b;
    }

    private ByteBuffer allPages(int pc) {
        ByteBuffer all = ByteBuffer.allocate(256);
        int at = 0;
        for (int p : PAGES) {
            ByteBuffer one = page(p, pc);
            all.put(at, one, 0, one.remaining());
            at += one.remaining();
        }
        return all.slice(0, at);
    }

    private ByteBuffer page(int page, int pc) {
        boolean changeable = pc == PC_CHANGEABLE;
        boolean current = pc == PC_CURRENT;
        return switch (page) {
            case RW_ERROR_RECOVERY -> header(page, 0x0a);
            case CACHING -> {
                ByteBuffer b = header(page, 0x12);
                boolean wce = changeable || (current ? lu.writeCacheEnabled() : true);
                yield b.put(2, (byte) (wce ? 0x04 : 0));
            }
            case CONTROL -> control(changeable, current);
            default -> header(page, 0x0a);
        };
    }

    private ByteBuffer control(boolean changeable, boolean current) {
        ByteBuffer b = header(CONTROL, 0x0a);
        if (changeable) {
            return b.put(2, (byte) 0x04).put(4, (byte) 0x08);
        }
        boolean dSense = current && lu.descriptorSense();
        boolean swp = current && lu.softwareWriteProtect();
        b.put(2, (byte) (dSense ? 0x04 : 0));
        b.put(3, (byte) 0x10);                      // unrestricted reordering
        b.put(4, (byte) (swp ? 0x08 : 0));
        b.putShort(8, (short) 0xffff);              // busy timeout: unlimited
        return b;
    }

    private static ByteBuffer header(int page, int length) {
        ByteBuffer b = ByteBuffer.allocate(2 + length);
        return b.put(0, (byte) page).put(1, (byte) length);
    }

    ScsiResult select(ScsiRequest r) {
        boolean six = r.opcode() == Opcodes.MODE_SELECT_6;
        int length = Math.min(six ? r.u8(4) : r.u16(7), r.dataOut().remaining());
        if ((r.u8(1) & 0x01) != 0) {
            return ScsiResult.check(Sense.invalidCdbField(1));
        }
        if (length == 0) {
            return ScsiResult.good();
        }
        ByteBuffer p = r.dataOut().slice(r.dataOut().position(), length);
        int headerBytes = six ? 4 : 8;
        if (length < headerBytes) {
            return ScsiResult.check(Sense.PARAMETER_LIST_LENGTH_ERROR);
        }
        int descBytes = six ? p.get(3) & 0xff : p.getShort(6) & 0xffff;
        return applyPages(p, headerBytes + descBytes, length);
    }

    /** Validates every page first, then applies them: a bad page changes nothing. */
    private ScsiResult applyPages(ByteBuffer p, int start, int end) {
        for (int pass = 0; pass < 2; pass++) {
            int at = start;
            while (at + 2 <= end) {
                int code = p.get(at) & 0x3f;
                int len = p.get(at + 1) & 0xff;
                if (!known(code) || (p.get(at) & 0x40) != 0 || at + 2 + len > end || len != page(code, PC_CURRENT).remaining() - 2) {
                    return ScsiResult.check(Sense.invalidParameterField(at));
                }
                if (pass == 1) {
                    apply(code, p.slice(at, 2 + len));
                }
                at += 2 + len;
            }
        }
        return ScsiResult.good();
    }

    private void apply(int code, ByteBuffer page) {
        switch (code) {
            case CACHING -> lu.setWriteCacheEnabled((page.get(2) & 0x04) != 0);
            case CONTROL -> {
                lu.setDescriptorSense((page.get(2) & 0x04) != 0);
                lu.setSoftwareWriteProtect((page.get(4) & 0x08) != 0);
            }
            default -> {
                // Nothing in these pages is changeable.
            }
        }
    }
}
