package io.basalt.host;

import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * A vCPU hot-plugged into a running guest: the CPU device type and the topology slot it went into
 * ({@code socket-id}, {@code core-id}, {@code thread-id}, as {@code query-hotpluggable-cpus} listed
 * it). A migration's destination starts with the same devices in the same slots, which is what
 * QEMU needs to load the state.
 */
public record HotVcpu(String type, Map<String, Long> props) {
    public HotVcpu {
        Objects.requireNonNull(type, "type");
        props = Collections.unmodifiableMap(new TreeMap<>(props));
        if (!type.matches("[A-Za-z0-9_.-]+") || props.keySet().stream().anyMatch(k -> !k.matches("[a-z-]+"))) {
            throw new IllegalArgumentException("hot-plugged vCPU: " + type + " " + props + " (expected: a device type and topology ids)");
        }
    }
}
