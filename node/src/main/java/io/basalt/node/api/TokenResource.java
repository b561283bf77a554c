package io.basalt.node.api;

import static io.javalin.http.HandlerType.DELETE;
import static io.javalin.http.HandlerType.GET;

import java.util.List;

import io.javalin.http.Context;

/**
 * {@code /api/tokens}: the API's own tokens, as {@code basalt token ls} and {@code basalt token
 * revoke} show and revoke them; admin tokens only, reads included (a read token has no business
 * learning which other tokens exist). A revoked token is refused by this server from the next
 * request on, and by every other node of a cluster within {@link Tokens#SHARED_REFRESH_MS}.
 * Tokens are made with {@code basalt token create} only: its secret is shown once, on the machine
 * that made it, never in an API answer.
 */
final class TokenResource {
    /** A revocation's answer: the token and where it was kept. */
    record Revoked(String name, String removedFrom) {}

    private final Tokens tokens;

    TokenResource(Tokens tokens) {
        this.tokens = tokens;
    }

    List<Route> routes() {
        return List.of(
                Route.admin(GET, "/api/tokens", ctx -> Json.write(ctx, 200, tokens.list())),
                Route.admin(DELETE, "/api/tokens/{name}", this::revoke));
    }

    private void revoke(Context ctx) {
        String name = ctx.pathParam("name");
        if (tokens.list().stream().noneMatch(t -> t.name().equals(name))) {
            throw ApiException.notFound("token: " + name + " (expected: one of " + tokens.list().stream().map(Tokens.Listed::name).toList()
                    + "; see GET /api/tokens)");
        }
        Json.write(ctx, 200, new Revoked(name, tokens.revoke(name)));
    }
}
