package io.kizuna.websocket.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import javax.net.ssl.SSLException;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import io.kizuna.identity.Identities;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.Transport;
import io.kizuna.transport.testing.TransportContractTest;

/** The transport contract over wss with permessage-deflate negotiated on every connection. */
class WebSocketDeflateContractTest extends TransportContractTest {

    @Override
    protected Transport newNode() {
        try {
            return new WebSocketTransport(Identities.generate(), WebSocketSettings.defaults().withDeflate(true));
        } catch (SSLException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Compressed messages that wait for the reader when the peer's Close arrives are still inflated and read,
     * then the end: the engine resets its draft on close, which forgets the negotiated extension (the reader
     * hung on a failed task once, in one CI run of writerClosingDuringTransferIsSeenByTheReader).
     */
    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void compressedMessagesQueuedWhenThePeerClosesAreStillRead() throws Exception {
        Pair p = connectPair();
        byte[] sent = new byte[100 * 1024];
        for (int i = 0; i < sent.length; i++) {
            sent[i] = (byte) (i % 251 < 200 ? 0 : i);
        }
        for (int off = 0; off < sent.length; off += 10 * 1024) {
            await(p.dialer().write(ByteBuffer.wrap(sent, off, 10 * 1024)));
        }
        await(p.dialer().flush());
        await(p.dialer().close());
        // the accepting side has taken the Close, with every message still unread
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> !p.accepted().isConnected());

        assertThat(readToEnd(p.accepted())).isEqualTo(sent);
    }

    @Override
    protected PeerId peerIdOf(Transport transport) {
        return ((WebSocketTransport) transport).identity().peerId();
    }

    @Override
    protected void disposeNode(Transport transport) {
        ((WebSocketTransport) transport).deactivate();
    }
}
