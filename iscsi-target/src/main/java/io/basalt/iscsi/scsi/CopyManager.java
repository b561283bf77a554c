package io.basalt.iscsi.scsi;

import java.util.concurrent.CompletableFuture;

/**
 * EXTENDED COPY (LID1) and RECEIVE COPY RESULTS between LUs of one target. Not implemented yet:
 * both answer ILLEGAL REQUEST / INVALID COMMAND OPERATION CODE, and INQUIRY does not set 3PC.
 */
public final class CopyManager {

    public CompletableFuture<ScsiResult> execute(LogicalUnit lu, ScsiRequest r) {
        return LogicalUnit.done(ScsiResult.check(Sense.INVALID_OPCODE));
    }
}
