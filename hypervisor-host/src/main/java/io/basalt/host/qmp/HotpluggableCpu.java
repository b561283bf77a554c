package io.basalt.host.qmp;

import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;

/**
 * One entry of {@code query-hotpluggable-cpus}: the device type to {@code device_add}, how many
 * vCPUs it holds, its topology properties ({@code socket-id}, {@code core-id}, {@code thread-id},
 * ... in name order), and its QOM path when the CPU is plugged in.
 */
public record HotpluggableCpu(String type, int vcpusCount, Map<String, Long> props, Optional<String> qomPath) {
    public HotpluggableCpu {
        Objects.requireNonNull(type, "type");
        props = Collections.unmodifiableMap(new TreeMap<>(props));
        Objects.requireNonNull(qomPath, "qomPath");
    }

    public boolean plugged() {
        return qomPath.isPresent();
    }
}
