package io.basalt.host.qmp;

import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * The reply of {@code query-migrate}, the fields the agent uses. {@code status} is QMP's
 * {@code MigrationStatus} name as sent ({@code none}, {@code setup}, {@code active},
 * {@code completed}, {@code failed}, {@code cancelled}, ...): kept a string because QEMU adds states
 * between releases and the agent only tests for a few. Times are absent until QEMU knows them
 * ({@code downtime} only once completed).
 */
public record MigrationInfo(String status, OptionalLong totalTimeMs, OptionalLong downtimeMs,
                            OptionalLong expectedDowntimeMs, OptionalLong setupTimeMs,
                            OptionalLong ramTransferredBytes, OptionalLong ramRemainingBytes,
                            Optional<String> errorDesc) {
    public MigrationInfo {
        Objects.requireNonNull(status, "status");
    }

    public boolean completed() {
        return status.equals("completed");
    }

    /** Ended without completing: {@code failed} or {@code cancelled}. */
    public boolean failed() {
        return status.equals("failed") || status.equals("cancelled");
    }
}
