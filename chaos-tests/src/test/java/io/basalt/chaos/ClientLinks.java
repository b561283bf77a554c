package io.basalt.chaos;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import io.basalt.cluster.ClusterConfig;

/**
 * The network between one client (a host) and the nodes, as TCP proxies on loopback, so a test
 * can cut that host off from a node while the nodes still hear each other (and other hosts
 * still reach it): the partition {@link Partitions} cannot make, since it acts inside the
 * servers. The client gets {@link #clientConfig} — the cluster's config with every node at its
 * proxy — and reaches the nodes only through them (its Ratis clients keep the addresses of its
 * own config: {@code GroupClient}).
 *
 * <p>A cut is a black hole: the connections open through that proxy are closed and new ones are
 * accepted but never answered (as SYNs answered by a middlebox that drops the rest), until
 * {@link #heal}. Everything runs on virtual threads; {@link #close} stops them.
 */
final class ClientLinks implements AutoCloseable {
    private final ClusterConfig clientConfig;
    private final Map<Integer, Link> links = new ConcurrentHashMap<>();
    /** Connections a cut closed or held, for the test's report (a cut that touched nothing proves nothing). */
    final AtomicLong cutConnections = new AtomicLong();
    /** Bytes carried either way: proof the client's I/O went through the proxies, not around them. */
    final AtomicLong forwardedBytes = new AtomicLong();

    ClientLinks(ClusterConfig cluster) throws IOException {
        ClusterConfig out = cluster;
        for (ClusterConfig.NodeAddress node : cluster.nodes()) {
            Link link = new Link(new InetSocketAddress(node.host(), node.port()));
            links.put(node.id(), link);
            out = out.withNode(new ClusterConfig.NodeAddress(node.id(), "127.0.0.1", link.server.getLocalPort()));
        }
        clientConfig = out;
    }

    /** The cluster's config with every node at its proxy: what the client opens with. */
    ClusterConfig clientConfig() {
        return clientConfig;
    }

    /** Cuts the client off from node {@code id}. */
    void cut(int id) {
        links.get(id).cut();
    }

    void heal() {
        links.values().forEach(Link::heal);
    }

    @Override
    public void close() {
        links.values().forEach(Link::close);
    }

    /** One node's proxy. */
    private final class Link {
        final InetSocketAddress target;
        final ServerSocket server;
        final Set<Socket> open = ConcurrentHashMap.newKeySet();
        /** Accepted while cut: never answered, closed by the heal. */
        final Set<Socket> held = ConcurrentHashMap.newKeySet();
        volatile boolean cut;
        volatile boolean closed;

        Link(InetSocketAddress target) throws IOException {
            this.target = target;
            this.server = new ServerSocket(0, 64, InetAddress.getLoopbackAddress());
            Thread.ofVirtual().name("client-link-" + target.getPort()).start(this::accept);
        }

        private void accept() {
            while (!closed) {
                Socket in;
                try {
                    in = server.accept();
                } catch (IOException e) {
                    return; // closed
                }
                if (cut) {
                    cutConnections.incrementAndGet();
                    held.add(in);
                    continue;
                }
                open.add(in);
                Thread.ofVirtual().start(() -> connect(in));
            }
        }

        private void connect(Socket in) {
            Socket out = new Socket();
            try {
                out.connect(target, 2000);
                out.setTcpNoDelay(true);
                in.setTcpNoDelay(true);
            } catch (IOException e) {
                closeQuietly(in);
                closeQuietly(out);
                open.remove(in);
                return;
            }
            open.add(out);
            Thread.ofVirtual().start(() -> pump(in, out));
            pump(out, in);
        }

        /** Copies {@code from} to {@code to} until either ends; then closes both. */
        private void pump(Socket from, Socket to) {
            byte[] buffer = new byte[64 << 10];
            try (InputStream i = from.getInputStream(); OutputStream o = to.getOutputStream()) {
                for (int n; (n = i.read(buffer)) >= 0; ) {
                    o.write(buffer, 0, n);
                    forwardedBytes.addAndGet(n);
                }
            } catch (IOException e) {
                // one side closed or was cut
            } finally {
                closeQuietly(from);
                closeQuietly(to);
                open.remove(from);
                open.remove(to);
            }
        }

        void cut() {
            cut = true;
            for (Socket s : open) {
                cutConnections.incrementAndGet();
                closeQuietly(s);
            }
        }

        void heal() {
            cut = false;
            // The held connections were never answered; the client opens new ones.
            held.forEach(ClientLinks::closeQuietly);
            held.clear();
        }

        void close() {
            closed = true;
            closeQuietly(server);
            open.forEach(ClientLinks::closeQuietly);
            held.forEach(ClientLinks::closeQuietly);
        }
    }

    private static void closeQuietly(java.io.Closeable c) {
        try {
            c.close();
        } catch (IOException e) {
            // closing a proxy's socket: nothing to do
        }
    }
}
