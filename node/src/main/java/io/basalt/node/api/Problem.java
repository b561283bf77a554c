package io.basalt.node.api;

/**
 * An error answer, {@code application/problem+json} (RFC 9457). {@code type} stays
 * {@code about:blank}: the status and the detail say everything; the detail names the bad value.
 */
public record Problem(String type, String title, int status, String detail, String instance) {
    public static final String CONTENT_TYPE = "application/problem+json";

    static Problem of(int status, String detail, String instance) {
        return new Problem("about:blank", title(status), status, detail, instance);
    }

    private static String title(int status) {
        return switch (status) {
            case 400 -> "Bad Request";
            case 401 -> "Unauthorized";
            case 403 -> "Forbidden";
            case 404 -> "Not Found";
            case 405 -> "Method Not Allowed";
            case 409 -> "Conflict";
            case 415 -> "Unsupported Media Type";
            case 503 -> "Service Unavailable";
            default -> status >= 500 ? "Internal Server Error" : "Error";
        };
    }
}
