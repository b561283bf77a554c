package io.basalt.iscsi.pdu;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

/**
 * One iSCSI PDU. Records are immutable except for the data segment, a Netty buffer owned by
 * whoever holds the PDU: the decoder hands ownership to the next handler, the encoder takes it
 * from the sender. The holder calls {@link #release()} exactly once (the encoder does it for
 * PDUs it writes). PDUs never outlive the handler that receives them.
 */
public sealed interface Pdu permits NopOut, ScsiCommand, TaskMgmtRequest, LoginRequest, TextRequest, DataOut,
        LogoutRequest, SnackRequest, NopIn, ScsiResponse, TaskMgmtResponse, LoginResponse, TextResponse, DataIn,
        LogoutResponse, R2t, AsyncMessage, Reject {

    int RESERVED_TAG = 0xffffffff;

    Opcode opcode();

    /** The I bit (immediate delivery); only initiator PDUs carry it. */
    default boolean immediate() {
        return false;
    }

    /** The data segment, without padding or digest; empty when there is none. */
    default ByteBuf data() {
        return Unpooled.EMPTY_BUFFER;
    }

    /** The Additional Header Segments, already framed (length, type); empty for almost every PDU. */
    default ByteBuf ahs() {
        return Unpooled.EMPTY_BUFFER;
    }

    /** Writes the opcode-specific fields into a zeroed 48-byte header; lengths are the encoder's. */
    void encodeFields(ByteBuf bhs);

    /** Releases the data segment. */
    default void release() {
        data().release();
    }

    /** Builds the PDU for {@code opcode} from its header, AHS and data segment (ownership of data moves in). */
    static Pdu decode(Opcode opcode, ByteBuf bhs, ByteBuf ahs, ByteBuf data) {
        return switch (opcode) {
            case NOP_OUT -> NopOut.decode(bhs, data);
            case SCSI_COMMAND -> ScsiCommand.decode(bhs, ahs, data);
            case TASK_MGMT_REQUEST -> TaskMgmtRequest.decode(bhs, data);
            case LOGIN_REQUEST -> LoginRequest.decode(bhs, data);
            case TEXT_REQUEST -> TextRequest.decode(bhs, data);
            case DATA_OUT -> DataOut.decode(bhs, data);
            case LOGOUT_REQUEST -> LogoutRequest.decode(bhs, data);
            case SNACK_REQUEST -> SnackRequest.decode(bhs, data);
            case NOP_IN -> NopIn.decode(bhs, data);
            case SCSI_RESPONSE -> ScsiResponse.decode(bhs, data);
            case TASK_MGMT_RESPONSE -> TaskMgmtResponse.decode(bhs, data);
            case LOGIN_RESPONSE -> LoginResponse.decode(bhs, data);
            case TEXT_RESPONSE -> TextResponse.decode(bhs, data);
            case DATA_IN -> DataIn.decode(bhs, data);
            case LOGOUT_RESPONSE -> LogoutResponse.decode(bhs, data);
            case R2T -> R2t.decode(bhs, data);
            case ASYNC_MESSAGE -> AsyncMessage.decode(bhs, data);
            case REJECT -> Reject.decode(bhs, data);
        };
    }
}
