package io.basalt.node.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import picocli.CommandLine.Option;

/** {@code --format table|json}: a table for people (the default), JSON for scripts. */
public final class OutputFormat {
    /**
     * Holds the mapper apart from the class: picocli builds an {@code OutputFormat} for every
     * command that has {@code --format}, at every start, and Jackson's classes take about 0.4 s
     * to load, which a command that prints a table never needs.
     */
    private static final class Json {
        static final ObjectMapper MAPPER = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    }

    enum Format { table, json }

    @Option(names = "--format", defaultValue = "table", paramLabel = "table|json", description = "Output as a table (default) or JSON.")
    Format format;

    boolean json() {
        return format == Format.json;
    }

    static String toJson(Object value) {
        try {
            return Json.MAPPER.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write " + value.getClass().getSimpleName() + " as JSON: " + e.getMessage(), e);
        }
    }
}
