package io.basalt.iscsi;

import java.util.Map;
import java.util.concurrent.Executors;

/** Manual runner for measuring: serves a memory LUN until killed. Not a test. */
public final class RunTarget {

    private RunTarget() {
    }

    public static void main(String[] args) throws InterruptedException {
        int port = args.length > 0 ? Integer.parseInt(args[0]) : 3260;
        int blockSize = args.length > 1 ? Integer.parseInt(args[1]) : 512;
        long size = args.length > 2 ? Long.parseLong(args[2]) : 256L << 20;
        java.util.concurrent.Executor pool = args.length > 3 && args[3].equals("direct") ? Runnable::run : Executors.newFixedThreadPool(4);
        var dev = new MemoryBlockDevice("mem0", blockSize, size, pool);
        var dev2 = new MemoryBlockDevice("mem1", blockSize, size, pool);
        try (IscsiTarget t = IscsiTarget.builder().portal("127.0.0.1", port)
                .addTarget("iqn.2026-11.io.basalt:disk0", Map.of(0, dev, 1, dev2)).start()) {
            System.out.println("listening on " + t.localAddress());
            Thread.sleep(Long.MAX_VALUE);
        }
    }
}
