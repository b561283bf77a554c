package io.basalt.iscsi.session;

/** A login that must fail with this Status-Class and Status-Detail (RFC 7143 §11.13.5). */
final class LoginException extends Exception {

    static final int INITIATOR_ERROR = 0x02;
    static final int TARGET_ERROR = 0x03;
    static final int AUTHENTICATION_FAILED = 0x01;
    static final int AUTHORIZATION_FAILED = 0x02;
    static final int NOT_FOUND = 0x03;
    static final int UNSUPPORTED_VERSION = 0x05;
    static final int MISSING_PARAMETER = 0x07;
    static final int SESSION_DOES_NOT_EXIST = 0x0a;
    static final int INVALID_DURING_LOGIN = 0x0b;

    private final int statusClass;
    private final int statusDetail;

    LoginException(int statusClass, int statusDetail, String message) {
        super(message, null, false, false);
        this.statusClass = statusClass;
        this.statusDetail = statusDetail;
    }

    static LoginException initiator(int detail, String message) {
        return new LoginException(INITIATOR_ERROR, detail, message);
    }

    int statusClass() {
        return statusClass;
    }

    int statusDetail() {
        return statusDetail;
    }
}
