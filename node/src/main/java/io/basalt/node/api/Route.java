package io.basalt.node.api;

import java.util.Set;

import io.javalin.http.Handler;
import io.javalin.http.HandlerType;

/**
 * One endpoint of the API: method, path (OpenAPI style, {@code /api/vdisks/{name}}), the query
 * parameters it takes (any other is refused, naming it), the role it needs and its handler. The
 * route table is the one place endpoints are declared; {@link ApiServer} registers exactly these.
 */
record Route(HandlerType method, String path, Set<String> queryParams, Role role, Handler handler) {
    Route {
        if (!path.startsWith("/")) {
            throw new IllegalArgumentException("path: " + path + " (expected: starting with /)");
        }
    }

    /** A read (GET) needs a read token; anything that changes state needs an admin token. */
    static Route of(HandlerType method, String path, Handler handler, String... queryParams) {
        Role role = method == HandlerType.GET ? Role.READ : Role.ADMIN;
        return new Route(method, path, Set.of(queryParams), role, handler);
    }

    /** A route only an admin token may use, whatever its method. */
    static Route admin(HandlerType method, String path, Handler handler) {
        return new Route(method, path, Set.of(), Role.ADMIN, handler);
    }

    static Route open(HandlerType method, String path, Handler handler) {
        return new Route(method, path, Set.of(), Role.NONE, handler);
    }

    /** What a request must present. NONE: the OpenAPI document, which holds no secret. */
    enum Role implements io.javalin.security.RouteRole {
        NONE, READ, ADMIN;

        boolean allows(Role needed) {
            return compareTo(needed) >= 0;
        }
    }
}
