package io.basalt.iscsi.session;

import io.basalt.iscsi.pdu.LoginRequest;
import io.basalt.iscsi.pdu.LoginResponse;
import io.basalt.iscsi.pdu.LoginStage;
import io.basalt.iscsi.pdu.Pdu;
import io.basalt.iscsi.pdu.PduDecoder;
import io.basalt.iscsi.pdu.PduEncoder;
import io.basalt.iscsi.pdu.PduLimits;
import io.basalt.iscsi.pdu.SessionId;
import io.basalt.iscsi.pdu.TextKeys;
import io.basalt.iscsi.pdu.TrackingAllocator;
import io.basalt.iscsi.scsi.TargetLuns;
import io.basalt.vdisk.BlockDevice;
import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * A real {@link Connection} (with its decoder and encoder) in an {@link EmbeddedChannel}, driven
 * by a scripted initiator that encodes and decodes with the same codec. Every buffer comes from a
 * {@link TrackingAllocator}, so a test can check that nothing leaked.
 */
final class InitiatorHarness implements AutoCloseable {

    static final String TARGET = "iqn.2026-11.io.basalt:test";
    static final String INITIATOR = "iqn.2026-11.io.basalt:initiator";
    static final int RESERVED = Pdu.RESERVED_TAG;

    final TrackingAllocator alloc = new TrackingAllocator();
    final EmbeddedChannel channel;
    final TargetConfig target;
    final SessionRegistry registry;
    private final EmbeddedChannel inbound;
    private final PduDecoder responseDecoder = new PduDecoder(new PduLimits((1 << 24) - 1, 1020), false);
    private boolean headerDigest;
    private boolean dataDigest;
    int cmdSn = 1;
    int itt = 100;

    record Directory(TargetConfig target, ChapCredentials discoveryChap) implements TargetDirectory {
        @Override
        public TargetConfig find(String iqn) {
            return target.name().equals(iqn) ? target : null;
        }

        @Override
        public Collection<TargetConfig> all() {
            return List.of(target);
        }
    }

    /** Nanoseconds; tests move it forward to drive timers. */
    final java.util.concurrent.atomic.AtomicLong clock = new java.util.concurrent.atomic.AtomicLong();

    InitiatorHarness(BlockDevice device, ChapCredentials chap, TargetSettings settings) {
        this(new TargetConfig(new TargetLuns(TARGET, Map.of(0, device)), Set.of(), chap), new SessionRegistry(), settings);
    }

    /** A second connection to the same target and registry (reinstatement tests). */
    InitiatorHarness(TargetConfig target, SessionRegistry registry, TargetSettings settings) {
        this(target, registry, settings, SessionListener.NONE);
    }

    InitiatorHarness(TargetConfig target, SessionRegistry registry, TargetSettings settings, SessionListener listener) {
        this.target = target;
        this.registry = registry;
        PduDecoder decoder = new PduDecoder(new PduLimits(settings.maxRecvDataSegmentLength(), 256), true);
        PduEncoder encoder = new PduEncoder();
        Connection connection = new Connection(settings, new Directory(target, null), registry, listener, decoder, encoder,
                new SplittableRandom(42), clock::get);
        channel = new EmbeddedChannel();
        channel.config().setAllocator(alloc);
        channel.pipeline().addLast(decoder, encoder, connection);
        inbound = new EmbeddedChannel(responseDecoder);
        inbound.config().setAllocator(alloc);
    }

    static TargetSettings settings() {
        return new TargetSettings(8192, 65536, 16384, false, 4, 16, Duration.ZERO, Duration.ofSeconds(30), Duration.ofSeconds(30));
    }

    void send(Pdu pdu) {
        channel.writeInbound(PduEncoder.encode(alloc, pdu, headerDigest, dataDigest));
        channel.runPendingTasks();
    }

    /** Sends raw bytes (possibly malformed). */
    void sendRaw(ByteBuf bytes) {
        channel.writeInbound(bytes);
        channel.runPendingTasks();
    }

    /** Everything the target wrote so far, decoded. The caller releases the PDUs. */
    List<Pdu> receive() {
        channel.runPendingTasks();
        for (Object o; (o = channel.readOutbound()) != null; ) {
            inbound.writeInbound(o);
        }
        List<Pdu> out = new ArrayList<>();
        for (Object o; (o = inbound.readInbound()) != null; ) {
            out.add((Pdu) o);
        }
        return out;
    }

    /** Receives exactly one PDU of the given type. */
    <T extends Pdu> T receiveOne(Class<T> type) {
        List<Pdu> got = receive();
        if (got.size() != 1 || !type.isInstance(got.get(0))) {
            got.forEach(Pdu::release);
            throw new AssertionError("expected one " + type.getSimpleName() + ", got " + got);
        }
        return type.cast(got.get(0));
    }

    static ByteBuf text(TrackingAllocator alloc, String... pairs) {
        ByteBuf b = alloc.buffer();
        for (String p : pairs) {
            b.writeCharSequence(p, StandardCharsets.UTF_8);
            b.writeByte(0);
        }
        return b;
    }

    static Map<String, String> keys(Pdu pdu) {
        Map<String, String> m = new java.util.LinkedHashMap<>();
        for (TextKeys.Pair p : TextKeys.parse(pdu.data())) {
            m.put(p.key(), p.value());
        }
        return m;
    }

    /** Logs in straight to full-feature phase with these operational keys; returns the response keys. */
    Map<String, String> login(String... operational) {
        return loginAs(INITIATOR, 0x400001370000L, operational);
    }

    /** Logs in as initiator {@code initiatorName} with ISID {@code isid}, like {@link #login}. */
    Map<String, String> loginAs(String initiatorName, long isid, String... operational) {
        List<String> all = new ArrayList<>(List.of("InitiatorName=" + initiatorName, "TargetName=" + TARGET, "SessionType=Normal"));
        all.addAll(List.of(operational));
        send(new LoginRequest(new LoginStage(true, false, 1, 3), 0, 0, new SessionId(isid, 0), itt++, 0, cmdSn, 0,
                text(alloc, all.toArray(String[]::new))));
        LoginResponse r = receiveOne(LoginResponse.class);
        try {
            if (!r.status().success() || !r.stage().transit() || r.stage().nsg() != LoginStage.FULL_FEATURE) {
                throw new AssertionError("login failed: " + r);
            }
            Map<String, String> keys = keys(r);
            boolean hd = "CRC32C".equals(keys.get("HeaderDigest"));
            boolean dd = "CRC32C".equals(keys.get("DataDigest"));
            headerDigest = hd;
            dataDigest = dd;
            responseDecoder.enableDigests(hd, dd);
            return keys;
        } finally {
            r.release();
        }
    }

    @Override
    public void close() {
        channel.finishAndReleaseAll();
        inbound.finishAndReleaseAll();
    }
}
