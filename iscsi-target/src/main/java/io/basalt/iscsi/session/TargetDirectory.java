package io.basalt.iscsi.session;

import java.util.Collection;

/** The targets one portal serves, as login and discovery need them. */
public interface TargetDirectory {

    /** The target named {@code iqn}, or null. */
    TargetConfig find(String iqn);

    Collection<TargetConfig> all();

    /** Credentials discovery sessions must prove, or null for none. */
    ChapCredentials discoveryChap();

    /** The portal group tag every target of this portal reports. */
    default int portalGroupTag() {
        return 1;
    }
}
