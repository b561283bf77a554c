package io.basalt.vdisk.store;

/**
 * A namespace operation was refused: no such vdisk, name taken, snapshot has clones, and so on.
 * The message names the object and says what would make the operation possible.
 */
public final class StoreException extends RuntimeException {
    public StoreException(String message) {
        super(message);
    }

    public StoreException(String message, Throwable cause) {
        super(message, cause);
    }
}
