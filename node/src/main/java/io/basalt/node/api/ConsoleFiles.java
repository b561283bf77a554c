package io.basalt.node.api;

import static io.javalin.http.HandlerType.GET;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;

import io.javalin.http.Context;

/**
 * The web console's static files (docs/decisions/web-console.md): a page, a script and a style
 * sheet kept as resources in {@code io/basalt/node/console/}, read once at start and served from
 * memory under {@value #PATH} with no token: they hold no data and no secret, and every call the
 * console makes to the API carries the user's bearer token like any other client's.
 *
 * <p>The files are a fixed list, not a directory: a request names one of them or gets the API's
 * 404 problem. These routes are not API endpoints and so are not in openapi.json
 * ({@link ApiServer#apiRoutes()} leaves them out).
 */
final class ConsoleFiles {
    static final String PATH = "/console/";
    private static final String RESOURCE_DIR = "/io/basalt/node/console/";
    /**
     * Scripts and styles only from this server, no inline script, no framing: a value that lands
     * in the page as text cannot run, and another site cannot overlay the console's buttons.
     */
    static final String CONTENT_SECURITY_POLICY = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
            + " frame-ancestors 'none'; form-action 'self'; base-uri 'none'";
    private static final Map<String, String> TYPES = Map.of(
            "index.html", "text/html; charset=utf-8",
            "console.js", "text/javascript; charset=utf-8",
            "console.css", "text/css; charset=utf-8");

    private final Map<String, byte[]> files;

    ConsoleFiles() {
        this.files = Map.copyOf(TYPES.keySet().stream().collect(java.util.stream.Collectors.toMap(f -> f, ConsoleFiles::read)));
    }

    List<Route> routes() {
        return List.of(
                Route.open(GET, "/", ctx -> ctx.redirect(PATH)),
                Route.open(GET, PATH, this::index),
                Route.open(GET, PATH + "{file}", ctx -> send(ctx, ctx.pathParam("file"))));
    }

    /**
     * The page. Javalin ignores trailing slashes, so this route answers {@code /console} too: that
     * one is sent to {@code /console/}, where the page's relative links to its script and style
     * sheet resolve under {@value #PATH} (under a proxy's prefix as well).
     */
    private void index(Context ctx) {
        if (!ctx.path().endsWith("/")) {
            ctx.redirect(ctx.path() + "/");
            return;
        }
        send(ctx, "index.html");
    }

    private void send(Context ctx, String name) {
        byte[] body = files.get(name);
        if (body == null) {
            throw ApiException.notFound("console file: " + name + " (expected: one of " + new java.util.TreeSet<>(files.keySet()) + ")");
        }
        // No caching: after an upgrade the next load gets the new script with the new API.
        ctx.header("Cache-Control", "no-cache");
        ctx.header("Content-Security-Policy", CONTENT_SECURITY_POLICY);
        ctx.header("X-Content-Type-Options", "nosniff");
        ctx.header("Referrer-Policy", "no-referrer");
        ctx.contentType(TYPES.get(name)).result(body);
    }

    private static byte[] read(String name) {
        try (InputStream in = ConsoleFiles.class.getResourceAsStream(RESOURCE_DIR + name)) {
            if (in == null) {
                throw new IllegalStateException("console file " + RESOURCE_DIR + name + " is missing from the class path (expected in the node jar)");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("read console file " + name + ": " + e.getMessage(), e);
        }
    }
}
