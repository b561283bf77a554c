package io.basalt.host.qmp;

import java.util.Arrays;

/** QEMU's run states (QAPI {@code RunState}), by their QMP names. */
public enum RunState {
    DEBUG("debug"),
    INMIGRATE("inmigrate"),
    INTERNAL_ERROR("internal-error"),
    IO_ERROR("io-error"),
    PAUSED("paused"),
    POSTMIGRATE("postmigrate"),
    PRELAUNCH("prelaunch"),
    FINISH_MIGRATE("finish-migrate"),
    RESTORE_VM("restore-vm"),
    RUNNING("running"),
    SAVE_VM("save-vm"),
    SHUTDOWN("shutdown"),
    SUSPENDED("suspended"),
    WATCHDOG("watchdog"),
    GUEST_PANICKED("guest-panicked"),
    COLO("colo");

    private final String qmpName;

    RunState(String qmpName) {
        this.qmpName = qmpName;
    }

    public String qmpName() {
        return qmpName;
    }

    /** The state QMP calls {@code name}; a name this enum does not know is a protocol error. */
    static RunState of(String command, String name) throws QmpException.Protocol {
        return Arrays.stream(values()).filter(s -> s.qmpName.equals(name)).findFirst()
                .orElseThrow(() -> new QmpException.Protocol(command, "run state: " + name + " (expected: one of "
                        + Arrays.stream(values()).map(RunState::qmpName).toList() + ")"));
    }
}
