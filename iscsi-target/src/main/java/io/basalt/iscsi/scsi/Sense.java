package io.basalt.iscsi.scsi;

import java.nio.ByteBuffer;

/**
 * SCSI sense data (SPC-5 §4.4): sense key, additional sense code and qualifier, and optionally
 * the INFORMATION field (a miscompare offset, say) and a field pointer to the bad CDB or
 * parameter byte.
 *
 * @param information the INFORMATION field, or -1 for none
 * @param fieldPointer sense-key-specific field pointer, or -1 for none
 * @param inCdb true when {@code fieldPointer} points into the CDB, false for parameter data
 */
public record Sense(int key, int asc, int ascq, long information, int fieldPointer, boolean inCdb) {

    public static final int NO_SENSE = 0x0;
    public static final int NOT_READY = 0x2;
    public static final int MEDIUM_ERROR = 0x3;
    public static final int HARDWARE_ERROR = 0x4;
    public static final int ILLEGAL_REQUEST = 0x5;
    public static final int UNIT_ATTENTION = 0x6;
    public static final int DATA_PROTECT = 0x7;
    public static final int ABORTED_COMMAND = 0xb;
    public static final int MISCOMPARE = 0xe;

    public static final Sense NONE = new Sense(NO_SENSE, 0, 0, -1, -1, false);
    public static final Sense INVALID_OPCODE = of(ILLEGAL_REQUEST, 0x20, 0x00);
    public static final Sense LBA_OUT_OF_RANGE = of(ILLEGAL_REQUEST, 0x21, 0x00);
    public static final Sense INVALID_FIELD_IN_CDB = of(ILLEGAL_REQUEST, 0x24, 0x00);
    public static final Sense LUN_NOT_SUPPORTED = of(ILLEGAL_REQUEST, 0x25, 0x00);
    public static final Sense INVALID_FIELD_IN_PARAMETERS = of(ILLEGAL_REQUEST, 0x26, 0x00);
    public static final Sense PARAMETER_LIST_LENGTH_ERROR = of(ILLEGAL_REQUEST, 0x1a, 0x00);
    public static final Sense INVALID_FIELD_IN_INFORMATION_UNIT = of(ILLEGAL_REQUEST, 0x0e, 0x03);
    public static final Sense SAVING_NOT_SUPPORTED = of(ILLEGAL_REQUEST, 0x39, 0x00);
    public static final Sense TOO_MANY_SEGMENT_DESCRIPTORS = of(ILLEGAL_REQUEST, 0x26, 0x08);
    public static final Sense TOO_MANY_TARGET_DESCRIPTORS = of(ILLEGAL_REQUEST, 0x26, 0x06);
    public static final Sense UNSUPPORTED_TARGET_DESCRIPTOR = of(ILLEGAL_REQUEST, 0x26, 0x07);
    public static final Sense UNSUPPORTED_SEGMENT_DESCRIPTOR = of(ILLEGAL_REQUEST, 0x26, 0x09);
    public static final Sense COPY_TARGET_DEVICE_NOT_REACHABLE = of(ABORTED_COMMAND, 0x0d, 0x02);
    public static final Sense WRITE_PROTECTED = of(DATA_PROTECT, 0x27, 0x00);
    public static final Sense SOFTWARE_WRITE_PROTECTED = of(DATA_PROTECT, 0x27, 0x02);
    public static final Sense SPACE_ALLOCATION_FAILED = of(DATA_PROTECT, 0x27, 0x07);
    public static final Sense UNRECOVERED_READ_ERROR = of(MEDIUM_ERROR, 0x11, 0x00);
    public static final Sense INTERNAL_TARGET_FAILURE = of(HARDWARE_ERROR, 0x44, 0x00);
    public static final Sense NOT_READY_STOPPED = of(NOT_READY, 0x04, 0x02);
    public static final Sense NOT_READY_UNAVAILABLE = of(NOT_READY, 0x04, 0x03);
    public static final Sense MEDIUM_NOT_PRESENT = of(NOT_READY, 0x3a, 0x00);
    public static final Sense POWER_ON_RESET = of(UNIT_ATTENTION, 0x29, 0x00);
    public static final Sense BUS_RESET = of(UNIT_ATTENTION, 0x29, 0x02);
    public static final Sense LUN_RESET = of(UNIT_ATTENTION, 0x29, 0x03);
    public static final Sense NEXUS_LOSS = of(UNIT_ATTENTION, 0x29, 0x07);
    public static final Sense MODE_PARAMETERS_CHANGED = of(UNIT_ATTENTION, 0x2a, 0x01);
    public static final Sense RESERVATIONS_PREEMPTED = of(UNIT_ATTENTION, 0x2a, 0x03);
    public static final Sense RESERVATIONS_RELEASED = of(UNIT_ATTENTION, 0x2a, 0x04);
    public static final Sense REGISTRATIONS_PREEMPTED = of(UNIT_ATTENTION, 0x2a, 0x05);
    public static final Sense CAPACITY_CHANGED = of(UNIT_ATTENTION, 0x2a, 0x09);
    public static final Sense COMMANDS_CLEARED_BY_ANOTHER_INITIATOR = of(UNIT_ATTENTION, 0x2f, 0x00);
    public static final Sense REPORTED_LUNS_CHANGED = of(UNIT_ATTENTION, 0x3f, 0x0e);

    public static Sense of(int key, int asc, int ascq) {
        return new Sense(key, asc, ascq, -1, -1, false);
    }

    public static Sense miscompareAt(long offsetBytes) {
        return new Sense(MISCOMPARE, 0x1d, 0x00, offsetBytes, -1, false);
    }

    /** ILLEGAL REQUEST / INVALID FIELD IN CDB pointing at {@code cdbByte}. */
    public static Sense invalidCdbField(int cdbByte) {
        return new Sense(ILLEGAL_REQUEST, 0x24, 0x00, -1, cdbByte, true);
    }

    /** ILLEGAL REQUEST / INVALID FIELD IN PARAMETER LIST pointing at {@code paramByte}. */
    public static Sense invalidParameterField(int paramByte) {
        return new Sense(ILLEGAL_REQUEST, 0x26, 0x00, -1, paramByte, false);
    }

    /** Fixed format (0x70) or descriptor format (0x72) sense data. */
    public ByteBuffer encode(boolean descriptorFormat) {
        return descriptorFormat ? descriptor() : fixed();
    }

    private ByteBuffer fixed() {
        ByteBuffer b = ByteBuffer.allocate(18);
        b.put(0, (byte) (information >= 0 ? 0xf0 : 0x70));
        b.put(2, (byte) key);
        if (information >= 0) {
            b.putInt(3, (int) information);
        }
        b.put(7, (byte) 10);
        b.put(12, (byte) asc);
        b.put(13, (byte) ascq);
        if (fieldPointer >= 0) {
            b.put(15, (byte) (0x80 | (inCdb ? 0x40 : 0)));
            b.putShort(16, (short) fieldPointer);
        }
        return b;
    }

    private ByteBuffer descriptor() {
        int extra = (information >= 0 ? 12 : 0) + (fieldPointer >= 0 ? 8 : 0);
        ByteBuffer b = ByteBuffer.allocate(8 + extra);
        b.put(0, (byte) 0x72).put(1, (byte) key).put(2, (byte) asc).put(3, (byte) ascq).put(7, (byte) extra);
        int at = 8;
        if (information >= 0) {
            b.put(at, (byte) 0x00).put(at + 1, (byte) 0x0a).put(at + 2, (byte) 0x80).putLong(at + 4, information);
            at += 12;
        }
        if (fieldPointer >= 0) {
            b.put(at, (byte) 0x02).put(at + 1, (byte) 0x06).put(at + 4, (byte) (0x80 | (inCdb ? 0x40 : 0)));
            b.putShort(at + 5, (short) fieldPointer);
        }
        return b;
    }
}
