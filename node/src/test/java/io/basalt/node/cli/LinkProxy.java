package io.basalt.node.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A TCP proxy on loopback between two sites' mirror links that can be cut (every connection
 * reset, new ones closed at once, as a WAN link going down) and restored. Listens on a port the
 * kernel picks; its threads and sockets end with {@link #close()}.
 */
final class LinkProxy implements AutoCloseable {
    private final int targetPort;
    private final ServerSocket listener;
    private final List<Socket> open = new ArrayList<>();
    private final AtomicLong forwardedBytes = new AtomicLong();
    private volatile boolean cut;

    LinkProxy(int targetPort) throws IOException {
        this.targetPort = targetPort;
        this.listener = new ServerSocket(0, 16, InetAddress.getLoopbackAddress());
        Thread.ofPlatform().daemon().name("link-proxy-accept").start(this::accept);
    }

    int port() {
        return listener.getLocalPort();
    }

    /** Bytes forwarded so far, both ways. */
    long forwardedBytes() {
        return forwardedBytes.get();
    }

    /** The link goes down: open connections are reset, new ones closed as they come. */
    void cut() {
        cut = true;
        synchronized (open) {
            open.forEach(LinkProxy::closeQuietly);
            open.clear();
        }
    }

    void restore() {
        cut = false;
    }

    private void accept() {
        while (!listener.isClosed()) {
            try {
                Socket client = listener.accept();
                if (cut) {
                    closeQuietly(client);
                    continue;
                }
                Socket server;
                try {
                    server = new Socket(InetAddress.getLoopbackAddress(), targetPort);
                } catch (IOException e) {
                    closeQuietly(client); // the site behind is down: the client sees its connection closed
                    continue;
                }
                synchronized (open) {
                    open.add(client);
                    open.add(server);
                }
                pump(client, server);
                pump(server, client);
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    private void pump(Socket from, Socket to) {
        Thread.ofPlatform().daemon().name("link-proxy-pump").start(() -> {
            byte[] buffer = new byte[64 << 10];
            try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
                for (int n; (n = in.read(buffer)) >= 0; ) {
                    out.write(buffer, 0, n);
                    forwardedBytes.addAndGet(n);
                }
            } catch (IOException e) {
                // cut, or one side closed: the other side is closed below
            } finally {
                closeQuietly(from);
                closeQuietly(to);
            }
        });
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException e) {
            // already closed
        }
    }

    @Override
    public void close() throws IOException {
        listener.close();
        cut();
    }
}
