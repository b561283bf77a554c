package io.basalt.replication;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A TCP proxy on loopback that forwards to {@code target} and can cut a connection after a
 * given number of bytes from the client: the peer sees a reset link mid-stream, as on a WAN.
 * Listens on a port the kernel picks at bind time and keeps it (no port is chosen and released
 * first, the race docs/decisions/test-ports-below-the-ephemeral-range.md is about). Its threads
 * and sockets end with {@link #close()}.
 */
final class FaultyProxy implements AutoCloseable {
    private final InetSocketAddress target;
    private final ServerSocket listener;
    private final Thread acceptor;
    private final List<Socket> sockets = new ArrayList<>();
    private final List<Thread> pumps = new ArrayList<>();
    private final AtomicLong cutNextAfterBytes = new AtomicLong(-1);
    private final AtomicInteger accepted = new AtomicInteger();

    FaultyProxy(InetSocketAddress target) throws IOException {
        this.target = target;
        this.listener = new ServerSocket(0, 16, InetAddress.getLoopbackAddress());
        this.acceptor = new Thread(this::accept, "faulty-proxy-accept");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    InetSocketAddress address() {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), listener.getLocalPort());
    }

    /** The next connection accepted is cut (both ways) once this many client bytes were forwarded. */
    void cutNextAfter(long clientBytes) {
        cutNextAfterBytes.set(clientBytes);
    }

    int connectionsAccepted() {
        return accepted.get();
    }

    private void accept() {
        while (!listener.isClosed()) {
            try {
                Socket client = listener.accept();
                Socket server = new Socket(target.getAddress(), target.getPort());
                accepted.incrementAndGet();
                long cut = cutNextAfterBytes.getAndSet(-1);
                synchronized (sockets) {
                    sockets.add(client);
                    sockets.add(server);
                    pumps.add(pump(client, server, cut));
                    pumps.add(pump(server, client, -1));
                }
            } catch (IOException e) {
                if (!listener.isClosed()) {
                    throw new IllegalStateException("faulty proxy: accept failed", e);
                }
            }
        }
    }

    private static Thread pump(Socket from, Socket to, long cutAfterBytes) {
        Thread t = new Thread(() -> {
            byte[] buf = new byte[16 << 10];
            long forwarded = 0;
            try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
                for (int n = in.read(buf); n >= 0; n = in.read(buf)) {
                    if (cutAfterBytes >= 0 && forwarded + n >= cutAfterBytes) {
                        out.write(buf, 0, (int) (cutAfterBytes - forwarded));
                        break;
                    }
                    out.write(buf, 0, n);
                    forwarded += n;
                }
            } catch (SocketException closed) {
                // The other direction ended the connection.
            } catch (IOException e) {
                throw new IllegalStateException("faulty proxy pump", e);
            } finally {
                closeQuietly(from);
                closeQuietly(to);
            }
        }, "faulty-proxy-pump");
        t.setDaemon(true);
        t.start();
        return t;
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // Closing a socket twice, or one already reset, fails harmlessly.
        }
    }

    @Override
    public void close() throws IOException, InterruptedException {
        listener.close();
        acceptor.join(5_000);
        synchronized (sockets) {
            sockets.forEach(FaultyProxy::closeQuietly);
        }
        for (Thread t : pumps) {
            t.join(5_000);
        }
    }
}
