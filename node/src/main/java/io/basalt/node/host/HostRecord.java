package io.basalt.node.host;

import java.util.Objects;

/**
 * A host agent as the cluster keeps it (config record {@code host/NAME}, JSON): its session of
 * the lock table (the agent is alive while that session is), where its control API listens, what
 * it offers guests, and whether it is in maintenance (no new placements).
 */
public record HostRecord(String name, long session, String api, int vcpus, long memoryMiB, boolean maintenance, long startedAtMs) {
    public HostRecord {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(api, "api");
        if (vcpus < 1 || memoryMiB < 1) {
            throw new IllegalArgumentException("capacity of host " + name + ": " + vcpus + " vCPUs, " + memoryMiB
                    + " MiB (expected: at least 1 of each)");
        }
    }

    public HostRecord inMaintenance(boolean on) {
        return new HostRecord(name, session, api, vcpus, memoryMiB, on, startedAtMs);
    }
}
