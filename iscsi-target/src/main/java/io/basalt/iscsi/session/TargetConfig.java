package io.basalt.iscsi.session;

import io.basalt.iscsi.scsi.TargetLuns;
import java.util.Set;

/**
 * One target as sessions see it: its LUs, the initiators allowed to log in (empty: everyone) and
 * the CHAP credentials initiators must prove (null: no authentication).
 */
public record TargetConfig(TargetLuns luns, Set<String> allowedInitiators, ChapCredentials chap) {

    public TargetConfig {
        allowedInitiators = Set.copyOf(allowedInitiators);
    }

    public String name() {
        return luns.name();
    }

    public boolean allows(String initiatorName) {
        return allowedInitiators.isEmpty() || allowedInitiators.contains(initiatorName);
    }
}
