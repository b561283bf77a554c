package io.basalt.replication.link;

import java.io.IOException;

/** The frames a peer staged for a stream are not this stream's beginning; the round starts again under a new stream id. */
final class StagedPrefixMismatch extends IOException {
    StagedPrefixMismatch(String message) {
        super(message);
    }
}
