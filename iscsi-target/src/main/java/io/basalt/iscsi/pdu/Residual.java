package io.basalt.iscsi.pdu;

/**
 * How a transfer differed from the initiator's expected length (RFC 7143 §11.4.5): overflow
 * (more was wanted than expected) or underflow (less), and by how many bytes.
 */
public record Residual(boolean overflow, boolean underflow, int count) {

    public static final Residual NONE = new Residual(false, false, 0);

    public Residual {
        if (overflow && underflow) {
            throw new IllegalArgumentException("residual: both overflow and underflow (expected: at most one)");
        }
    }

    /** The O and U flag bits at {@code overflowMask} and the next lower bit. */
    int flags(int overflowMask) {
        return (overflow ? overflowMask : 0) | (underflow ? overflowMask >> 1 : 0);
    }

    static Residual of(int flagsByte, int overflowMask, int count) {
        return new Residual((flagsByte & overflowMask) != 0, (flagsByte & overflowMask >> 1) != 0, count);
    }
}
