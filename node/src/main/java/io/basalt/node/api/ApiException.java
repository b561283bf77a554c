package io.basalt.node.api;

/**
 * A request the API refuses, with the HTTP status to answer and a detail naming the bad value
 * and what was expected (written as {@code application/problem+json}, RFC 9457).
 */
public final class ApiException extends RuntimeException {
    private final int status;

    public ApiException(int status, String detail) {
        super(detail);
        if (status < 400 || status > 599) {
            throw new IllegalArgumentException("status: " + status + " (expected: 400..599) detail=" + detail);
        }
        this.status = status;
    }

    public int status() {
        return status;
    }

    static ApiException badRequest(String detail) {
        return new ApiException(400, detail);
    }

    static ApiException notFound(String detail) {
        return new ApiException(404, detail);
    }
}
