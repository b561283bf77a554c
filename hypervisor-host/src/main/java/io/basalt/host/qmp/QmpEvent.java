package io.basalt.host.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.util.Objects;

/**
 * An asynchronous QMP event ({@code STOP}, {@code RESUME}, {@code SHUTDOWN}, {@code MIGRATION},
 * {@code BLOCK_IO_ERROR}, ...) with its data ({@code {}} when QEMU sent none) and QEMU's timestamp.
 * The data node is shared by every listener: read it, don't change it.
 */
public record QmpEvent(String name, JsonNode data, Instant timestamp) {
    public QmpEvent {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(data, "data");
        Objects.requireNonNull(timestamp, "timestamp");
    }
}
