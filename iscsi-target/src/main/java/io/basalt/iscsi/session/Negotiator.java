package io.basalt.iscsi.session;

import io.basalt.iscsi.pdu.TextKeys.Pair;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Operational key negotiation (RFC 7143 §13): the initiator offers, we answer with the result
 * (minimum, maximum, OR, AND, or the first acceptable list entry). Values outside a key's range
 * are answered with {@code Reject}, unknown keys with {@code NotUnderstood}. Pure: no I/O.
 */
final class Negotiator {

    private static final Set<String> DECLARED_BY_LOGIN = Set.of("InitiatorName", "InitiatorAlias", "SessionType",
            "TargetName", "AuthMethod");
    private static final Set<String> TARGET_ONLY = Set.of("TargetAlias", "TargetAddress", "TargetPortalGroupTag", "SendTargets");

    private final TargetSettings ours;
    private boolean headerDigest;
    private boolean dataDigest;
    private int initiatorMrdsl = 8192;
    private int maxBurstLength = 262144;
    private int firstBurstLength = 65536;
    private boolean initialR2t = true;
    private boolean immediateData = true;
    private int maxOutstandingR2t = 1;
    private int defaultTime2Wait = 2;
    private int defaultTime2Retain = 20;

    Negotiator(TargetSettings ours) {
        this.ours = ours;
        // Keys the initiator never mentions keep the RFC default, except where our offer is
        // stricter and the result function lets us impose it.
        this.maxBurstLength = Math.min(maxBurstLength, ours.maxBurstLength());
        this.firstBurstLength = Math.min(firstBurstLength, ours.firstBurstLength());
    }

    SessionParams params() {
        // RFC 7143 §13.14: FirstBurstLength must not exceed MaxBurstLength, whichever was negotiated last.
        int first = Math.min(firstBurstLength, maxBurstLength);
        return new SessionParams(headerDigest, dataDigest, initiatorMrdsl, maxBurstLength, first, initialR2t,
                immediateData, maxOutstandingR2t, defaultTime2Wait, defaultTime2Retain, 0);
    }

    /** Answers every operational key in {@code keys}; login-only keys are left to the caller. */
    List<Pair> respond(List<Pair> keys) {
        List<Pair> out = new ArrayList<>();
        for (Pair p : keys) {
            if (DECLARED_BY_LOGIN.contains(p.key()) || p.key().startsWith("CHAP_")) {
                continue;
            }
            String answer = answer(p.key(), p.value());
            if (answer != null) {
                out.add(new Pair(p.key(), answer));
            }
        }
        return out;
    }

    private String answer(String key, String value) {
        return switch (key) {
            case "HeaderDigest" -> digest(value, true);
            case "DataDigest" -> digest(value, false);
            case "MaxConnections" -> numeric(value, 1, 65535) < 0 ? "Reject" : "1";
            case "InitialR2T" -> bool(value, v -> initialR2t = v || ours.initialR2t(), () -> initialR2t);
            case "ImmediateData" -> bool(value, v -> immediateData = v, () -> immediateData);
            case "MaxRecvDataSegmentLength" -> declare(value, v -> initiatorMrdsl = v);
            case "MaxBurstLength" -> minimum(value, 512, TargetSettings.BURST_BYTES_MAX, ours.maxBurstLength(), v -> maxBurstLength = v);
            case "FirstBurstLength" -> minimum(value, 512, TargetSettings.BURST_BYTES_MAX, ours.firstBurstLength(), v -> firstBurstLength = v);
            case "MaxOutstandingR2T" -> minimum(value, 1, 65535, ours.maxOutstandingR2t(), v -> maxOutstandingR2t = v);
            case "DefaultTime2Wait" -> maximum(value, 0, 3600, 2, v -> defaultTime2Wait = v);
            case "DefaultTime2Retain" -> minimum(value, 0, 3600, 20, v -> defaultTime2Retain = v);
            case "ErrorRecoveryLevel" -> numeric(value, 0, 2) < 0 ? "Reject" : "0";
            case "DataPDUInOrder", "DataSequenceInOrder" -> isBool(value) ? "Yes" : "Reject";
            case "IFMarker", "OFMarker" -> isBool(value) ? "No" : "Reject";
            case "IFMarkInt", "OFMarkInt" -> "Irrelevant";
            case "TaskReporting" -> "RFC3720";
            case "iSCSIProtocolLevel" -> numeric(value, 0, 31) < 0 ? "Reject" : Integer.toString(Math.min(1, numeric(value, 0, 31)));
            default -> TARGET_ONLY.contains(key) ? "Irrelevant" : "NotUnderstood";
        };
    }

    /** Picks the first entry of the initiator's list that we support: None and CRC32C both are. */
    private String digest(String list, boolean header) {
        for (String choice : list.split(",")) {
            if (choice.equals("None") || choice.equals("CRC32C")) {
                boolean on = choice.equals("CRC32C");
                if (header) {
                    headerDigest = on;
                } else {
                    dataDigest = on;
                }
                return choice;
            }
        }
        return "Reject";
    }

    private static boolean isBool(String v) {
        return v.equals("Yes") || v.equals("No");
    }

    private static String bool(String value, java.util.function.Consumer<Boolean> set, java.util.function.BooleanSupplier result) {
        if (!isBool(value)) {
            return "Reject";
        }
        set.accept(value.equals("Yes"));
        return result.getAsBoolean() ? "Yes" : "No";
    }

    private static String declare(String value, java.util.function.IntConsumer set) {
        int v = numeric(value, 512, TargetSettings.BURST_BYTES_MAX);
        if (v < 0) {
            return "Reject";
        }
        set.accept(v);
        return null;
    }

    private static String minimum(String value, int min, int max, int offer, java.util.function.IntConsumer set) {
        int v = numeric(value, min, max);
        if (v < 0) {
            return "Reject";
        }
        int result = Math.min(v, offer);
        set.accept(result);
        return Integer.toString(result);
    }

    private static String maximum(String value, int min, int max, int offer, java.util.function.IntConsumer set) {
        int v = numeric(value, min, max);
        if (v < 0) {
            return "Reject";
        }
        int result = Math.max(v, offer);
        set.accept(result);
        return Integer.toString(result);
    }

    /** The value as a number in [min, max], or -1 when it is not one (decimal or 0x hex). */
    static int numeric(String value, int min, int max) {
        try {
            long v = value.startsWith("0x") || value.startsWith("0X") ? Long.parseLong(value.substring(2), 16) : Long.parseLong(value);
            return v < min || v > max ? -1 : (int) v;
        } catch (NumberFormatException e) {
            return -1;
        }
    }
}
