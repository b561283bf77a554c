package io.basalt.node.host;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Optional;
import java.util.function.UnaryOperator;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.basalt.cluster.meta.ConfigRecord;
import io.basalt.node.config.Configs;

/**
 * The VMs and host agents of a datastore, as JSON config records ({@code vm/NAME},
 * {@code host/NAME}). Updates are compare-and-set loops: read, change, write at the version read,
 * again when another writer came first.
 */
public final class Inventory {
    static final ObjectMapper JSON = new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);
    /** Compare-and-set attempts before an update gives up (each loses only to another writer's success). */
    private static final int ATTEMPTS_MAX = 50;

    private final Configs configs;

    public Inventory(Configs configs) {
        this.configs = configs;
    }

    public List<VmRecord> vms() {
        return configs.list("vm").stream().map(r -> decode(r, VmRecord.class)).toList();
    }

    public Optional<VmRecord> vm(String name) {
        return configs.read(vmKey(name)).map(r -> decode(r, VmRecord.class));
    }

    /** VM {@code name}'s record; refused naming it when there is no such VM. */
    public VmRecord existingVm(String name) {
        return vm(name).orElseThrow(() -> noVm(name));
    }

    /** Records a new VM; refused naming it when one of that name exists. */
    public void createVm(VmRecord vm) {
        if (!configs.compareAndSet(vmKey(vm.name()), 0, Optional.of(encode(vm)))) {
            throw new IllegalArgumentException("vm: " + vm.name() + " (expected: a new name; that VM exists)");
        }
    }

    /** Applies {@code change} to VM {@code name}'s record; returns the stored result. Refused naming it when there is no such VM. */
    public VmRecord updateVm(String name, UnaryOperator<VmRecord> change) {
        for (int attempt = 0; attempt < ATTEMPTS_MAX; attempt++) {
            ConfigRecord r = configs.read(vmKey(name)).orElseThrow(() -> noVm(name));
            VmRecord next = change.apply(decode(r, VmRecord.class));
            if (configs.compareAndSet(r.key(), r.version(), Optional.of(encode(next)))) {
                return next;
            }
        }
        throw new IllegalStateException("vm " + name + ": " + ATTEMPTS_MAX + " concurrent updates won over this one");
    }

    /** Forgets VM {@code name} if {@code check} accepts its record (it throws naming why not). */
    public void removeVm(String name, java.util.function.Consumer<VmRecord> check) {
        for (int attempt = 0; attempt < ATTEMPTS_MAX; attempt++) {
            ConfigRecord r = configs.read(vmKey(name)).orElseThrow(() -> noVm(name));
            check.accept(decode(r, VmRecord.class));
            if (configs.compareAndSet(r.key(), r.version(), Optional.empty())) {
                return;
            }
        }
        throw new IllegalStateException("vm " + name + ": " + ATTEMPTS_MAX + " concurrent updates won over its removal");
    }

    public List<HostRecord> hosts() {
        return configs.list("host").stream().map(r -> decode(r, HostRecord.class)).toList();
    }

    public Optional<HostRecord> host(String name) {
        return configs.read(hostKey(name)).map(r -> decode(r, HostRecord.class));
    }

    /** Stores {@code host}'s record, replacing what an earlier run of that agent left. */
    public void putHost(HostRecord host) {
        for (int attempt = 0; attempt < ATTEMPTS_MAX; attempt++) {
            long version = configs.read(hostKey(host.name())).map(ConfigRecord::version).orElse(0L);
            if (configs.compareAndSet(hostKey(host.name()), version, Optional.of(encode(host)))) {
                return;
            }
        }
        throw new IllegalStateException("host " + host.name() + ": " + ATTEMPTS_MAX + " concurrent updates won over this one");
    }

    /** Applies {@code change} to host {@code name}'s record. */
    public HostRecord updateHost(String name, UnaryOperator<HostRecord> change) {
        for (int attempt = 0; attempt < ATTEMPTS_MAX; attempt++) {
            ConfigRecord r = configs.read(hostKey(name)).orElseThrow(
                    () -> new IllegalArgumentException("host: " + name + " (expected: a host that ran `basalt host run`)"));
            HostRecord next = change.apply(decode(r, HostRecord.class));
            if (configs.compareAndSet(r.key(), r.version(), Optional.of(encode(next)))) {
                return next;
            }
        }
        throw new IllegalStateException("host " + name + ": " + ATTEMPTS_MAX + " concurrent updates won over this one");
    }

    /** The config record of the datastore's agent token. */
    static final String AGENT_TOKEN_KEY = "agent/token";
    private static final int AGENT_TOKEN_BYTES = 32;

    /** HTTPS for host agents, on a TLS cluster opened with its certificate ({@link AgentTls}). */
    public java.util.Optional<AgentTls> agentTls() {
        return configs.tls().map(AgentTls::of);
    }

    /** A client of the agent registered at {@code api}, with the agent token and, on a TLS cluster, the certificate. */
    public AgentClient agentClient(String api) {
        return new AgentClient(api, agentToken(), agentTls());
    }

    /**
     * The secret every host agent's control API asks of its callers (agents and the CLI): made
     * once per datastore, by whoever needs it first (compare-and-set: two makers agree on one).
     * Whoever can open the datastore can read it, and could do all an agent does anyway.
     */
    public String agentToken() {
        for (int attempt = 0; attempt < ATTEMPTS_MAX; attempt++) {
            Optional<ConfigRecord> r = configs.read(AGENT_TOKEN_KEY);
            if (r.isPresent()) {
                return java.nio.charset.StandardCharsets.US_ASCII.decode(r.get().value().duplicate()).toString();
            }
            byte[] secret = new byte[AGENT_TOKEN_BYTES];
            new java.security.SecureRandom().nextBytes(secret);
            String token = java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(secret);
            configs.compareAndSet(AGENT_TOKEN_KEY, 0, Optional.of(ByteBuffer.wrap(token.getBytes(java.nio.charset.StandardCharsets.US_ASCII))));
        }
        throw new IllegalStateException(AGENT_TOKEN_KEY + ": not readable after " + ATTEMPTS_MAX + " attempts");
    }

    static String vmKey(String name) {
        return "vm/" + name;
    }

    static String hostKey(String name) {
        return "host/" + name;
    }

    private static IllegalArgumentException noVm(String name) {
        return new IllegalArgumentException("vm: " + name + " (expected: an existing VM; see basalt vm ls)");
    }

    private static ByteBuffer encode(Object record) {
        try {
            return ByteBuffer.wrap(JSON.writeValueAsBytes(record));
        } catch (IOException e) {
            throw new UncheckedIOException("encode " + record, e);
        }
    }

    private static <T> T decode(ConfigRecord r, Class<T> type) {
        try {
            return JSON.readValue(r.bytes(), type);
        } catch (IOException e) {
            throw new IllegalStateException("config record " + r.key() + " (version " + r.version() + "): not a "
                    + type.getSimpleName() + ": " + e.getMessage(), e);
        }
    }
}
