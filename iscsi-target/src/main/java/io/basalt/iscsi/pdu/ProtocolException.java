package io.basalt.iscsi.pdu;

/** A peer broke the protocol; the message names the bad value. The connection is closed. */
public class ProtocolException extends RuntimeException {

    public ProtocolException(String message) {
        super(message);
    }
}
