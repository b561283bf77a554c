package io.basalt.iscsi.session;

import io.basalt.iscsi.pdu.LoginRequest;
import io.basalt.iscsi.pdu.LoginStage;
import io.basalt.iscsi.pdu.TextKeys.Pair;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.random.RandomGenerator;

/**
 * The login phase of one connection (RFC 7143 §6.3): identifies initiator and target, runs
 * security negotiation (None or CHAP), then operational negotiation, and decides when to move
 * to full-feature phase. Pure: the connection feeds it requests and sends its replies.
 */
final class Login {

    static final int SECURITY = LoginStage.SECURITY;
    static final int OPERATIONAL = LoginStage.OPERATIONAL;
    static final int FULL_FEATURE = LoginStage.FULL_FEATURE;

    /** What to answer: the stage transition and the keys. */
    record Reply(LoginStage stage, List<Pair> keys) {
    }

    private final TargetSettings settings;
    private final TargetDirectory directory;
    private final RandomGenerator random;
    private final Negotiator negotiator;
    private boolean identified;
    private boolean discovery;
    private String initiatorName;
    private TargetConfig target;
    private ChapCredentials chapRequired;
    private Chap chap;
    private boolean authenticated;
    private boolean declaredOurs;
    private boolean portalGroupTagSent;
    private boolean complete;

    Login(TargetSettings settings, TargetDirectory directory, RandomGenerator random) {
        this.settings = settings;
        this.directory = directory;
        this.random = random;
        this.negotiator = new Negotiator(settings);
    }

    boolean complete() {
        return complete;
    }

    boolean discovery() {
        return discovery;
    }

    String initiatorName() {
        return initiatorName;
    }

    TargetConfig target() {
        return target;
    }

    SessionParams params() {
        return negotiator.params();
    }

    Reply step(LoginRequest req, List<Pair> keys) throws LoginException {
        Map<String, String> map = toMap(keys);
        if (!identified) {
            identify(req, map);
        }
        List<Pair> out = new ArrayList<>();
        if (req.stage().csg() == SECURITY) {
            out.addAll(security(map));
        } else if (req.stage().csg() == OPERATIONAL) {
            if (!authenticated) {
                throw LoginException.initiator(LoginException.AUTHENTICATION_FAILED, "operational stage before authentication");
            }
        } else {
            throw LoginException.initiator(LoginException.INVALID_DURING_LOGIN, "CSG: " + req.stage().csg() + " (expected: 0 or 1)");
        }
        out.addAll(negotiator.respond(keys));
        if (!portalGroupTagSent && !discovery) {
            // RFC 7143 §13.9: the first response of a Normal session names the portal group.
            out.add(new Pair("TargetPortalGroupTag", Integer.toString(directory.portalGroupTag())));
            portalGroupTagSent = true;
        }
        return transition(req, out);
    }

    private Reply transition(LoginRequest req, List<Pair> out) throws LoginException {
        LoginStage stage = req.stage();
        boolean transit = stage.transit() && authenticated;
        if (stage.transit() && (stage.nsg() <= stage.csg() || stage.nsg() == 2)) {
            throw LoginException.initiator(LoginException.INVALID_DURING_LOGIN, "NSG: " + stage.nsg() + " (expected: > CSG " + stage.csg() + ", not 2)");
        }
        if ((stage.csg() == OPERATIONAL || (transit && stage.nsg() == FULL_FEATURE)) && !declaredOurs) {
            out.add(new Pair("MaxRecvDataSegmentLength", Integer.toString(settings.maxRecvDataSegmentLength())));
            declaredOurs = true;
        }
        complete = transit && stage.nsg() == FULL_FEATURE;
        return new Reply(new LoginStage(transit, false, stage.csg(), transit ? stage.nsg() : stage.csg()), out);
    }

    private void identify(LoginRequest req, Map<String, String> keys) throws LoginException {
        if (req.versionMin() > 0) {
            throw LoginException.initiator(LoginException.UNSUPPORTED_VERSION, "VersionMin: " + req.versionMin() + " (expected: 0)");
        }
        if (req.session().tsih() != 0) {
            throw LoginException.initiator(LoginException.SESSION_DOES_NOT_EXIST, "TSIH: " + req.session().tsih() + " (expected: 0; one connection per session)");
        }
        initiatorName = keys.get("InitiatorName");
        if (initiatorName == null || initiatorName.isEmpty()) {
            throw LoginException.initiator(LoginException.MISSING_PARAMETER, "InitiatorName: missing");
        }
        String type = keys.getOrDefault("SessionType", "Normal");
        discovery = type.equals("Discovery");
        if (!discovery && !type.equals("Normal")) {
            throw LoginException.initiator(LoginException.INVALID_DURING_LOGIN, "SessionType: " + type + " (expected: Normal or Discovery)");
        }
        if (discovery) {
            chapRequired = directory.discoveryChap();
        } else {
            identifyTarget(keys.get("TargetName"));
        }
        authenticated = chapRequired == null && req.stage().csg() == OPERATIONAL;
        identified = true;
    }

    private void identifyTarget(String name) throws LoginException {
        if (name == null) {
            throw LoginException.initiator(LoginException.MISSING_PARAMETER, "TargetName: missing in a Normal session");
        }
        target = directory.find(name);
        if (target == null) {
            throw LoginException.initiator(LoginException.NOT_FOUND, "TargetName: " + name + " (expected: a configured target)");
        }
        if (!target.allows(initiatorName)) {
            throw LoginException.initiator(LoginException.AUTHORIZATION_FAILED, "InitiatorName: " + initiatorName + " (not in the ACL of " + name + ")");
        }
        chapRequired = target.chap();
    }

    private List<Pair> security(Map<String, String> keys) throws LoginException {
        List<Pair> out = new ArrayList<>();
        String methods = keys.get("AuthMethod");
        if (methods != null) {
            out.add(new Pair("AuthMethod", chooseAuthMethod(methods)));
        } else if (chap == null && chapRequired == null) {
            authenticated = true;
        }
        if (chap != null && !chap.done()) {
            out.addAll(chap.step(keys));
            authenticated = chap.done();
        }
        return out;
    }

    private String chooseAuthMethod(String offered) throws LoginException {
        List<String> list = Arrays.asList(offered.split(","));
        if (chapRequired != null) {
            if (!list.contains("CHAP")) {
                throw LoginException.initiator(LoginException.AUTHENTICATION_FAILED, "AuthMethod: " + offered + " (expected: CHAP)");
            }
            chap = new Chap(chapRequired, random);
            return "CHAP";
        }
        if (!list.contains("None")) {
            throw LoginException.initiator(LoginException.AUTHENTICATION_FAILED, "AuthMethod: " + offered + " (expected: None; no secret configured)");
        }
        authenticated = true;
        return "None";
    }

    private static Map<String, String> toMap(List<Pair> keys) throws LoginException {
        Map<String, String> map = new LinkedHashMap<>();
        for (Pair p : keys) {
            if (map.put(p.key(), p.value()) != null) {
                throw LoginException.initiator(0, "key " + p.key() + ": sent twice");
            }
        }
        return map;
    }
}
