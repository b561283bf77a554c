package io.basalt.iscsi.pdu;

/**
 * The outcome of a login step (RFC 7143 §11.13.5): the status class (0 success, 1 redirect,
 * 2 initiator error, 3 target error) and the detail within it.
 */
public record LoginStatus(int statusClass, int statusDetail) {

    public static final LoginStatus SUCCESS = new LoginStatus(0, 0);

    public LoginStatus {
        if (statusClass >>> 8 != 0 || statusDetail >>> 8 != 0) {
            throw new IllegalArgumentException("login status: " + statusClass + "/" + statusDetail + " (expected: bytes)");
        }
    }

    public boolean success() {
        return statusClass == 0;
    }
}
