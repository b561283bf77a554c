package io.basalt.host.qmp;

import java.util.Objects;

/** The reply of {@code query-status}: whether the vCPUs run, and the run state. */
public record StatusInfo(boolean running, RunState status) {
    public StatusInfo {
        Objects.requireNonNull(status, "status");
    }
}
