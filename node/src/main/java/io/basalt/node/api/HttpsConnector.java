package io.basalt.node.api;

import javax.net.ssl.SSLContext;

import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.util.ssl.SslContextFactory;

/**
 * The management API's HTTPS connector: Jetty's TLS over HTTP/1.1 with the node's certificate.
 * It is the server's only connector (Javalin adds its plaintext one only when none is given).
 * Client certificates are not asked for: API callers authenticate with bearer tokens.
 */
final class HttpsConnector {
    private HttpsConnector() {}

    static ServerConnector create(Server server, HttpConfiguration http, SSLContext context, String host, int port) {
        SslContextFactory.Server ssl = new SslContextFactory.Server();
        ssl.setSslContext(context);
        HttpConfiguration https = new HttpConfiguration(http);
        // No SNI host check: clients reach a node by IP address (no SNI sent); the names are checked by the client.
        https.addCustomizer(new SecureRequestCustomizer(false));
        ServerConnector connector = new ServerConnector(server, new SslConnectionFactory(ssl, HttpVersion.HTTP_1_1.asString()),
                new HttpConnectionFactory(https));
        connector.setHost(host);
        connector.setPort(port);
        return connector;
    }
}
