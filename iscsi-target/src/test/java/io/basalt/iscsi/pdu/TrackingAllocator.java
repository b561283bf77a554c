package io.basalt.iscsi.pdu;

import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.UnpooledHeapByteBuf;
import java.util.ArrayList;
import java.util.List;

/**
 * A heap allocator that remembers every buffer it hands out, so a test can assert that all of
 * them were released (a leak check that does not depend on the garbage collector).
 */
public final class TrackingAllocator extends AbstractByteBufAllocator {

    private final List<ByteBuf> buffers = new ArrayList<>();

    public TrackingAllocator() {
        super(false);
    }

    @Override
    protected synchronized ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
        ByteBuf b = new UnpooledHeapByteBuf(this, initialCapacity, maxCapacity);
        buffers.add(b);
        return b;
    }

    @Override
    protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
        return newHeapBuffer(initialCapacity, maxCapacity);
    }

    @Override
    public boolean isDirectBufferPooled() {
        return false;
    }

    /** Also tracks a buffer allocated elsewhere (test input). */
    public synchronized ByteBuf track(ByteBuf b) {
        buffers.add(b);
        return b;
    }

    public synchronized ByteBuf copyOf(byte[] bytes, int from, int to) {
        ByteBuf b = heapBuffer(Math.max(to - from, 1));
        b.writeBytes(bytes, from, to - from);
        return b;
    }

    /** Buffers still holding a reference. */
    public synchronized long unreleased() {
        return buffers.stream().filter(b -> b.refCnt() > 0).count();
    }
}
