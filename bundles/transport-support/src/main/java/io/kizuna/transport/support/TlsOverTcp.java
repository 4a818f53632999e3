package io.kizuna.transport.support;

import java.net.ConnectException;
import java.time.Duration;
import java.util.Locale;

import io.kizuna.transport.Endpoint;
import io.kizuna.transport.TransportException;
import io.netty.channel.Channel;
import io.netty.channel.ConnectTimeoutException;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;

/** What the transports that run TLS over a TCP socket (tcp, websocket) set up alike. */
public final class TlsOverTcp {

    private TlsOverTcp() {
    }

    /**
     * @param context           the TLS context
     * @param ch                the channel
     * @param handshakeMillis   the most the TLS handshake may take
     * @param closeNotifyMillis the most flushing close_notify may take
     * @return the channel's TLS handler
     */
    public static SslHandler handler(SslContext context, Channel ch, int handshakeMillis, int closeNotifyMillis) {
        // No peer host: no session resumption, so every handshake proves the keys again.
        SslHandler tls = context.newHandler(ch.alloc());
        tls.setHandshakeTimeoutMillis(handshakeMillis);
        tls.setCloseNotifyFlushTimeoutMillis(closeNotifyMillis);
        tls.setCloseNotifyReadTimeoutMillis(0);
        return tls;
    }

    /**
     * @param endpoint             where the TCP connect went
     * @param connectTimeoutMillis its timeout
     * @param cause                why it failed
     * @param blockers             what may block it, for the hint (e.g. {@code firewall})
     * @return the error the dial records for this endpoint
     */
    public static TransportException connectError(Endpoint endpoint, int connectTimeoutMillis, Throwable cause,
            String blockers) {
        if (cause instanceof ConnectTimeoutException) {
            return new TransportException.ConnectionTimeout("TCP connect to " + endpoint,
                    Duration.ofMillis(connectTimeoutMillis));
        }
        String reason = cause instanceof ConnectException && cause.getMessage() != null
                && cause.getMessage().toLowerCase(Locale.ROOT).contains("refused")
                ? "connection refused" : Causes.describe(cause);
        return new TransportException.ConnectionFailed("TCP connect to " + endpoint + " failed: " + reason
                + "; check that the peer is running and listens there, and that no " + blockers + " blocks it",
                cause);
    }
}
