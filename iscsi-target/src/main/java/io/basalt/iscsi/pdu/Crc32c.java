package io.basalt.iscsi.pdu;

import io.netty.buffer.ByteBuf;
import java.util.zip.CRC32C;

/** The iSCSI digest: CRC32C over a buffer range, sent little-endian after the covered bytes. */
public final class Crc32c {

    private Crc32c() {
    }

    public static int of(ByteBuf buf, int index, int length) {
        CRC32C crc = new CRC32C();
        if (buf.nioBufferCount() == 1) {
            crc.update(buf.nioBuffer(index, length));
        } else {
            for (java.nio.ByteBuffer b : buf.nioBuffers(index, length)) {
                crc.update(b);
            }
        }
        return (int) crc.getValue();
    }
}
