package io.basalt.cluster.client;

import io.basalt.vdisk.BlockDeviceException;

/**
 * A mutation the lock holder did not send because its lease ran out on its own clock before a
 * renewal got through ({@link io.basalt.lock.HoldState#UNCONFIRMED}), and stayed so for the I/O
 * timeout while the mutation was held back: a passing condition
 * ({@link Kind#TRANSIENT}, BUSY over iSCSI), since the session may still be renewed; nothing was
 * sent, so nothing of it can land.
 */
public final class LeaseUnconfirmedException extends BlockDeviceException {
    private static final long serialVersionUID = 1L;

    LeaseUnconfirmedException(String vdisk, long heldMs) {
        super(Kind.TRANSIENT, vdisk + ": the lock holder's lease is unconfirmed (it ran out before a renewal got through), held "
                + heldMs + " ms; nothing sent, try again");
    }
}
