package io.basalt.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/**
 * The stage fields of a Login Request or Response (RFC 7143 §11.12.1): T (move to the next
 * stage), C (the text continues in the next PDU), the current stage and the next one. Stages:
 * 0 security, 1 operational, 3 full feature.
 */
public record LoginStage(boolean transit, boolean cont, int csg, int nsg) {

    public static final int SECURITY = 0;
    public static final int OPERATIONAL = 1;
    public static final int FULL_FEATURE = 3;

    public LoginStage {
        if (csg < 0 || csg > 3 || nsg < 0 || nsg > 3) {
            throw new IllegalArgumentException("stages: CSG " + csg + " NSG " + nsg + " (expected: 0..3)");
        }
    }

    /** Staying in {@code csg} without moving on (NSG repeats CSG). */
    public static LoginStage stay(int csg) {
        return new LoginStage(false, false, csg, csg);
    }

    void write(ByteBuf h) {
        h.setByte(1, (transit ? 0x80 : 0) | (cont ? 0x40 : 0) | csg << 2 | nsg);
    }

    static LoginStage read(ByteBuf h) {
        int f = Bhs.u8(h, 1);
        return new LoginStage((f & 0x80) != 0, (f & 0x40) != 0, (f >> 2) & 3, f & 3);
    }
}
