package io.basalt.node.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import picocli.CommandLine.Option;

/** {@code --format table|json}: a table for people (the default), JSON for scripts. */
public final class OutputFormat {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    enum Format { table, json }

    @Option(names = "--format", defaultValue = "table", paramLabel = "table|json", description = "Output as a table (default) or JSON.")
    Format format;

    boolean json() {
        return format == Format.json;
    }

    static String toJson(Object value) {
        try {
            return JSON.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write " + value.getClass().getSimpleName() + " as JSON: " + e.getMessage(), e);
        }
    }
}
