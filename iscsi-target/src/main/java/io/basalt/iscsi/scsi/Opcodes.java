package io.basalt.iscsi.scsi;

import java.util.List;

/**
 * The commands a logical unit implements: opcode, service action, CDB length and the CDB usage
 * bitmap REPORT SUPPORTED OPERATION CODES reports. Anything not listed is answered with
 * ILLEGAL REQUEST / INVALID COMMAND OPERATION CODE.
 */
final class Opcodes {

    static final int TEST_UNIT_READY = 0x00;
    static final int REQUEST_SENSE = 0x03;
    static final int READ_6 = 0x08;
    static final int WRITE_6 = 0x0a;
    static final int INQUIRY = 0x12;
    static final int MODE_SELECT_6 = 0x15;
    static final int RESERVE_6 = 0x16;
    static final int RELEASE_6 = 0x17;
    static final int MODE_SENSE_6 = 0x1a;
    static final int START_STOP_UNIT = 0x1b;
    static final int PREVENT_ALLOW = 0x1e;
    static final int READ_CAPACITY_10 = 0x25;
    static final int READ_10 = 0x28;
    static final int WRITE_10 = 0x2a;
    static final int WRITE_VERIFY_10 = 0x2e;
    static final int VERIFY_10 = 0x2f;
    static final int PRE_FETCH_10 = 0x34;
    static final int SYNCHRONIZE_CACHE_10 = 0x35;
    static final int WRITE_SAME_10 = 0x41;
    static final int UNMAP = 0x42;
    static final int MODE_SELECT_10 = 0x55;
    static final int MODE_SENSE_10 = 0x5a;
    static final int PERSISTENT_RESERVE_IN = 0x5e;
    static final int PERSISTENT_RESERVE_OUT = 0x5f;
    static final int EXTENDED_COPY = 0x83;
    static final int RECEIVE_COPY_RESULTS = 0x84;
    static final int READ_DEFECT_DATA_10 = 0x37;
    static final int READ_DEFECT_DATA_12 = 0xb7;
    static final int READ_16 = 0x88;
    static final int COMPARE_AND_WRITE = 0x89;
    static final int WRITE_16 = 0x8a;
    static final int ORWRITE_16 = 0x8b;
    static final int WRITE_VERIFY_16 = 0x8e;
    static final int VERIFY_16 = 0x8f;
    static final int PRE_FETCH_16 = 0x90;
    static final int SYNCHRONIZE_CACHE_16 = 0x91;
    static final int WRITE_SAME_16 = 0x93;
    static final int WRITE_ATOMIC_16 = 0x9c;
    static final int SERVICE_ACTION_IN_16 = 0x9e;
    static final int REPORT_LUNS = 0xa0;
    static final int MAINTENANCE_IN = 0xa3;
    static final int READ_12 = 0xa8;
    static final int WRITE_12 = 0xaa;
    static final int WRITE_VERIFY_12 = 0xae;
    static final int VERIFY_12 = 0xaf;

    static final int SA_READ_CAPACITY_16 = 0x10;
    static final int SA_GET_LBA_STATUS = 0x12;
    static final int SA_REPORT_SUPPORTED_OPCODES = 0x0c;
    static final int SA_XCOPY_LID1 = 0x00;
    static final int SA_COPY_STATUS = 0x00;
    static final int SA_OPERATING_PARAMETERS = 0x03;
    static final int SA_PRIN = -1;
    static final int SA_PROUT = -1;

    /** One supported command; {@code serviceAction} is -1 when the opcode has none. */
    record Command(int opcode, int serviceAction, String usageHex) {
        int cdbLength() {
            return usageHex.length() / 2;
        }

        byte[] usage() {
            return java.util.HexFormat.of().parseHex(usageHex);
        }
    }

    /** CDB usage bitmaps (SPC-5 §6.35.3): a 1 bit is a bit the device server looks at. */
    static final List<Command> SUPPORTED = List.of(
            new Command(TEST_UNIT_READY, -1, "000000000007"),
            new Command(REQUEST_SENSE, -1, "03010000ff07"),
            new Command(READ_6, -1, "081fffffff07"),
            new Command(WRITE_6, -1, "0a1fffffff07"),
            new Command(INQUIRY, -1, "1201ffffff07"),
            new Command(MODE_SELECT_6, -1, "15110000ff07"),
            new Command(RESERVE_6, -1, "160000000007"),
            new Command(RELEASE_6, -1, "170000000007"),
            new Command(MODE_SENSE_6, -1, "1a08ffffff07"),
            new Command(START_STOP_UNIT, -1, "1b01000ff707"),
            new Command(READ_CAPACITY_10, -1, "25000000000000000007"),
            new Command(READ_10, -1, "28fcffffffff1fffff07"),
            new Command(WRITE_10, -1, "2afaffffffff1fffff07"),
            new Command(WRITE_VERIFY_10, -1, "2ef2ffffffff1fffff07"),
            new Command(VERIFY_10, -1, "2ff6ffffffff1fffff07"),
            new Command(PRE_FETCH_10, -1, "3402ffffffff1fffff07"),
            new Command(SYNCHRONIZE_CACHE_10, -1, "3502ffffffff1fffff07"),
            new Command(WRITE_SAME_10, -1, "41f8ffffffff1fffff07"),
            new Command(UNMAP, -1, "42010000000000ffff07"),
            new Command(MODE_SELECT_10, -1, "55110000000000ffff07"),
            new Command(MODE_SENSE_10, -1, "5a18ffff000000ffff07"),
            new Command(PERSISTENT_RESERVE_IN, SA_PRIN, "5e1f0000000000ffff07"),
            new Command(PERSISTENT_RESERVE_OUT, SA_PROUT, "5f1fff0000ffffffff07"),
            new Command(READ_16, -1, "88fcffffffffffffffffffffffff1f07"),
            new Command(COMPARE_AND_WRITE, -1, "89f8ffffffffffffffff000000ff1f07"),
            new Command(WRITE_16, -1, "8afaffffffffffffffffffffffff1f07"),
            new Command(ORWRITE_16, -1, "8bfaffffffffffffffffffffffff1f07"),
            new Command(WRITE_VERIFY_16, -1, "8ef2ffffffffffffffffffffffff1f07"),
            new Command(VERIFY_16, -1, "8ff6ffffffffffffffffffffffff1f07"),
            new Command(PRE_FETCH_16, -1, "9002ffffffffffffffffffffffff1f07"),
            new Command(SYNCHRONIZE_CACHE_16, -1, "9102ffffffffffffffffffffffff1f07"),
            new Command(WRITE_SAME_16, -1, "93f9ffffffffffffffffffffffff1f07"),
            // ATOMIC BOUNDARY (bytes 10-11) must be 0: we report no atomic boundary support.
            new Command(WRITE_ATOMIC_16, -1, "9cf8ffffffffffffffff0000ffff1f07"),
            new Command(SERVICE_ACTION_IN_16, SA_READ_CAPACITY_16, "9e1f0000000000000000ffffffff0007"),
            new Command(SERVICE_ACTION_IN_16, SA_GET_LBA_STATUS, "9e1fffffffffffffffffffffffff0007"),
            new Command(REPORT_LUNS, -1, "a000ff000000ffffffff0007"),
            new Command(MAINTENANCE_IN, SA_REPORT_SUPPORTED_OPCODES, "a31f87ffffffffffffff0007"),
            new Command(READ_12, -1, "a8fcffffffffffffffff1f07"),
            new Command(WRITE_12, -1, "aafaffffffffffffffff1f07"),
            new Command(WRITE_VERIFY_12, -1, "aef2ffffffffffffffff1f07"),
            new Command(VERIFY_12, -1, "aff6ffffffffffffffff1f07"),
            new Command(READ_DEFECT_DATA_10, -1, "37001f00000000ffff07"),
            new Command(READ_DEFECT_DATA_12, -1, "b71f00000000ffffffff0007"),
            new Command(EXTENDED_COPY, SA_XCOPY_LID1, "831f0000000000000000ffffffff0007"),
            new Command(RECEIVE_COPY_RESULTS, SA_COPY_STATUS, "841fff00000000000000ffffffff0007"),
            new Command(RECEIVE_COPY_RESULTS, SA_OPERATING_PARAMETERS, "841fff00000000000000ffffffff0007"));

    private Opcodes() {
    }

    /** True when {@code opcode} takes a service action in CDB byte 1. */
    static boolean hasServiceAction(int opcode) {
        return SUPPORTED.stream().anyMatch(c -> c.opcode() == opcode && c.serviceAction() >= 0);
    }

    static Command find(int opcode, int serviceAction) {
        for (Command c : SUPPORTED) {
            if (c.opcode() == opcode && (c.serviceAction() < 0 || c.serviceAction() == serviceAction)) {
                return c;
            }
        }
        return null;
    }
}
