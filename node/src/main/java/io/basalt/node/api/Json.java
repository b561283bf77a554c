package io.basalt.node.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.javalin.http.Context;

/** The API's JSON: the project's Jackson, bodies read as trees with errors naming the field. */
final class Json {
    static final ObjectMapper MAPPER = new ObjectMapper();
    static final String CONTENT_TYPE = "application/json";

    private Json() {}

    static void write(Context ctx, int status, Object value) {
        ctx.status(status).contentType(status >= 400 ? Problem.CONTENT_TYPE : CONTENT_TYPE).result(text(value));
    }

    static String text(Object value) {
        try {
            return MAPPER.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write " + value.getClass().getSimpleName() + " as JSON: " + e.getMessage(), e);
        }
    }

    /** The request body as a JSON object; refused naming what came instead. */
    static ObjectNode body(Context ctx) {
        String text = ctx.body();
        JsonNode node;
        try {
            node = MAPPER.readTree(text.isEmpty() ? "null" : text);
        } catch (JsonProcessingException e) {
            throw ApiException.badRequest("body: not JSON (" + e.getOriginalMessage() + ") (expected: a JSON object)");
        }
        if (!(node instanceof ObjectNode object)) {
            throw ApiException.badRequest("body: " + (node == null || node.isNull() ? "empty" : node.getNodeType().toString().toLowerCase())
                    + " (expected: a JSON object)");
        }
        return object;
    }

    /** As {@link #body}, an empty body read as {@code {}} (for requests whose fields are all optional). */
    static ObjectNode bodyOrEmpty(Context ctx) {
        return ctx.body().isEmpty() ? MAPPER.createObjectNode() : body(ctx);
    }

    static String string(ObjectNode body, String field) {
        JsonNode v = body.get(field);
        if (v == null || !v.isTextual() || v.asText().isEmpty()) {
            throw ApiException.badRequest(field + ": " + (v == null ? "missing" : v.toString()) + " (expected: a non-empty string)");
        }
        return v.asText();
    }

    static String string(ObjectNode body, String field, String absent) {
        return body.has(field) ? string(body, field) : absent;
    }

    static long positiveLong(ObjectNode body, String field) {
        JsonNode v = body.get(field);
        if (v == null || !v.canConvertToExactIntegral() || !v.canConvertToLong() || v.asLong() <= 0) {
            throw ApiException.badRequest(field + ": " + (v == null ? "missing" : v.toString()) + " (expected: an integer > 0)");
        }
        return v.asLong();
    }

    static long positiveLong(ObjectNode body, String field, long absent) {
        return body.has(field) ? positiveLong(body, field) : absent;
    }

    static boolean bool(ObjectNode body, String field, boolean absent) {
        JsonNode v = body.get(field);
        if (v == null) {
            return absent;
        }
        if (!v.isBoolean()) {
            throw ApiException.badRequest(field + ": " + v + " (expected: true or false)");
        }
        return v.asBoolean();
    }
}
