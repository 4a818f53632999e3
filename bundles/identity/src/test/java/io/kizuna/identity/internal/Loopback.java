package io.kizuna.identity.internal;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.security.KeyManagementException;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;

/**
 * A TLS 1.3 listener on 127.0.0.1 that requires a client certificate, and a
 * dialer, both plain JDK sockets. The listener hands one byte to a dialer it
 * accepted, so the dialer knows the listener accepted its certificate.
 */
final class Loopback implements AutoCloseable {

    static final String[] TLS13 = {"TLSv1.3"};
    static final int SOCKET_TIMEOUT_MILLIS = 10_000;

    private final ExecutorService executor = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "loopback-listener");
        t.setDaemon(true);
        return t;
    });
    private final SSLServerSocket server;

    /** What the listener saw: the session of an accepted dialer. */
    final CompletableFuture<SSLSession> accepted;

    Loopback(SSLContext listenerContext) throws IOException {
        server = (SSLServerSocket) listenerContext.getServerSocketFactory()
                .createServerSocket(0, 4, InetAddress.getLoopbackAddress());
        server.setNeedClientAuth(true);
        server.setEnabledProtocols(TLS13);
        server.setSoTimeout(SOCKET_TIMEOUT_MILLIS);
        accepted = CompletableFuture.supplyAsync(this::acceptOne, executor);
    }

    private SSLSession acceptOne() {
        try (SSLSocket socket = (SSLSocket) server.accept()) {
            socket.setSoTimeout(SOCKET_TIMEOUT_MILLIS);
            socket.startHandshake();
            SSLSession session = socket.getSession();
            socket.getOutputStream().write(42);
            socket.getOutputStream().flush();
            // Wait for the dialer to close, so it reads the byte before the socket goes.
            socket.getInputStream().read();
            return session;
        } catch (IOException e) {
            throw new CompletionException(e);
        }
    }

    /**
     * Dials the listener, completes the handshake and reads the listener's byte.
     *
     * @return the dialer's socket (open; the caller closes it)
     * @throws IOException when the handshake fails or the listener refused the dialer
     */
    SSLSocket dial(SSLContext dialerContext) throws IOException {
        SSLSocket socket = (SSLSocket) dialerContext.getSocketFactory()
                .createSocket(InetAddress.getLoopbackAddress(), server.getLocalPort());
        try {
            socket.setSoTimeout(SOCKET_TIMEOUT_MILLIS);
            socket.setEnabledProtocols(TLS13);
            socket.startHandshake();
            // In TLS 1.3 the listener checks the dialer's certificate after the dialer's
            // handshake is done: the listener's verdict arrives with the first read.
            InputStream in = socket.getInputStream();
            int b = in.read();
            if (b != 42) {
                throw new IOException("the listener closed the connection (read " + b + ")");
            }
            return socket;
        } catch (IOException | RuntimeException e) {
            socket.close();
            throw e;
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
        executor.shutdownNow();
    }

    /** @return a TLS 1.3 context from the given managers */
    static SSLContext context(KeyManager keyManager, TrustManager trustManager) {
        try {
            SSLContext context = SSLContext.getInstance("TLSv1.3");
            context.init(keyManager == null ? null : new KeyManager[] {keyManager},
                    new TrustManager[] {trustManager}, new SecureRandom());
            return context;
        } catch (NoSuchAlgorithmException | KeyManagementException e) {
            throw new IllegalStateException(e);
        }
    }
}
