package io.basalt.node.host;

/** A VM or host command refused because of where things stand (the VM runs, no host has room): the message says what and why. */
public final class VmStateException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    public VmStateException(String message) {
        super(message);
    }
}
