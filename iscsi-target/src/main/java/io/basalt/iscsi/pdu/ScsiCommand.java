package io.basalt.iscsi.pdu;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

/**
 * SCSI Command (RFC 7143 §11.3). A CDB longer than 16 bytes arrives in an Extended CDB AHS and
 * is joined here, so {@code cdb} is always the whole CDB.
 */
public record ScsiCommand(boolean immediate, boolean finalPdu, int taskAttr, long lun, int itt, Transfer transfer,
                          int cmdSn, int expStatSn, Bytes cdb, ByteBuf data) implements Pdu {

    /** Task attribute SIMPLE (RFC 7143 §11.3.1), the one initiators use for ordinary commands. */
    public static final int ATTR_SIMPLE = 1;

    private static final int AHS_EXTENDED_CDB = 1;
    private static final int CDB_BYTES_IN_BHS = 16;

    public ScsiCommand {
        if (cdb.length() < CDB_BYTES_IN_BHS) {
            throw new IllegalArgumentException("cdb length: " + cdb.length() + " (expected: >= 16)");
        }
    }

    @Override
    public Opcode opcode() {
        return Opcode.SCSI_COMMAND;
    }

    @Override
    public void encodeFields(ByteBuf h) {
        h.setByte(1, (finalPdu ? Bhs.FINAL : 0) | (transfer.read() ? 0x40 : 0) | (transfer.write() ? 0x20 : 0) | (taskAttr & 0x07));
        h.setLong(8, lun);
        h.setInt(16, itt);
        h.setInt(20, transfer.expectedBytes());
        h.setInt(24, cmdSn);
        h.setInt(28, expStatSn);
        for (int i = 0; i < CDB_BYTES_IN_BHS; i++) {
            h.setByte(32 + i, cdb.u8(i));
        }
    }

    @Override
    public ByteBuf ahs() {
        int extra = cdb.length() - CDB_BYTES_IN_BHS;
        if (extra == 0) {
            return Unpooled.EMPTY_BUFFER;
        }
        int padded = (extra + 1 + 3 + 3) & ~3;
        ByteBuf a = Unpooled.buffer(padded);
        a.writeShort(extra + 1).writeByte(AHS_EXTENDED_CDB).writeByte(0);
        for (int i = CDB_BYTES_IN_BHS; i < cdb.length(); i++) {
            a.writeByte(cdb.u8(i));
        }
        return a.writeZero(padded - a.readableBytes());
    }

    static ScsiCommand decode(ByteBuf h, ByteBuf ahs, ByteBuf data) {
        byte[] cdb = joinCdb(h, ahs);
        int flags = Bhs.u8(h, 1);
        Transfer transfer = new Transfer((flags & 0x40) != 0, (flags & 0x20) != 0, h.getInt(20));
        return new ScsiCommand(Bhs.bit(h, 0, 0x40), (flags & Bhs.FINAL) != 0, flags & 0x07, h.getLong(8), h.getInt(16),
                transfer, h.getInt(24), h.getInt(28), Bytes.wrapOwned(cdb), data);
    }

    /** Walks the AHS list; only an Extended CDB AHS contributes, other types are skipped. */
    private static byte[] joinCdb(ByteBuf h, ByteBuf ahs) {
        byte[] extra = new byte[0];
        int i = ahs.readerIndex();
        while (i + 4 <= ahs.writerIndex()) {
            int length = ahs.getUnsignedShort(i);
            int type = ahs.getUnsignedByte(i + 2);
            int end = i + 3 + length;
            if (end > ahs.writerIndex()) {
                throw new ProtocolException("AHSLength: " + length + " (expected: <= " + (ahs.writerIndex() - i - 3) + " remaining)");
            }
            if (type == AHS_EXTENDED_CDB && length > 1) {
                extra = new byte[length - 1];
                ahs.getBytes(i + 4, extra);
            }
            i += (3 + length + 3) & ~3;
        }
        byte[] cdb = new byte[CDB_BYTES_IN_BHS + extra.length];
        h.getBytes(32, cdb, 0, CDB_BYTES_IN_BHS);
        System.arraycopy(extra, 0, cdb, CDB_BYTES_IN_BHS, extra.length);
        return cdb;
    }
}
