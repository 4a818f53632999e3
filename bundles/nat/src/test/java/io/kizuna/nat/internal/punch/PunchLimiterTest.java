package io.kizuna.nat.internal.punch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;

import io.kizuna.identity.Identities;
import io.kizuna.nat.internal.punch.PunchLimiter.Permit;
import io.kizuna.nat.internal.punch.PunchLimiter.Refusal;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.TransportException;

class PunchLimiterTest {

    final AtomicLong clock = new AtomicLong(123_456_789L);
    final PeerId alice = Identities.generate().peerId();
    final PeerId bob = Identities.generate().peerId();

    void advanceSeconds(long s) {
        clock.addAndGet(TimeUnit.SECONDS.toNanos(s));
    }

    @Test
    void oneSessionAtATimePerPeer() throws Exception {
        PunchLimiter l = new PunchLimiter(6, 16, clock::get);
        Permit p = l.acquire(alice);
        assertThatThrownBy(() -> l.acquire(alice)).isInstanceOfSatisfying(TransportException.LimitExceeded.class,
                e -> assertThat(e.limit()).isEqualTo("maxPunchSessionsPerPeer"))
                .hasMessageContaining("PEER_BUSY").hasMessageContaining("is running");
        l.acquire(bob).close();
        p.close();
        p.close(); // twice does nothing
        l.acquire(alice).close();
        assertThat(l.refused(Refusal.PEER_BUSY)).isEqualTo(1);
        assertThat(l.granted()).isEqualTo(3);
        assertThat(l.running()).isZero();
    }

    @Test
    void aPeerGetsItsSessionsPerMinuteRefilledEvenly() throws Exception {
        PunchLimiter l = new PunchLimiter(6, 16, clock::get);
        for (int i = 0; i < 6; i++) {
            l.acquire(alice).close();
        }
        assertThatThrownBy(() -> l.acquire(alice)).isInstanceOfSatisfying(TransportException.LimitExceeded.class,
                e -> assertThat(e.limit()).isEqualTo("punchSessionsPerPeerPerMinute"))
                .hasMessageContaining("the next in 10001 ms");
        l.acquire(bob).close(); // another peer has its own bucket
        advanceSeconds(9);
        assertThatThrownBy(() -> l.acquire(alice)).hasMessageContaining("the next in 1001 ms");
        advanceSeconds(1);
        l.acquire(alice).close(); // one token every 10 s
        assertThatThrownBy(() -> l.acquire(alice)).hasMessageContaining("PEER_RATE");
        // A long silence refills the bucket, no more than full.
        advanceSeconds(365L * 24 * 3600 * 100);
        for (int i = 0; i < 6; i++) {
            l.acquire(alice).close();
        }
        assertThatThrownBy(() -> l.acquire(alice)).hasMessageContaining("PEER_RATE");
        assertThat(l.refused(Refusal.PEER_RATE)).isEqualTo(4);
    }

    @Test
    void theTotalCapsSessionsAcrossPeers() throws Exception {
        PunchLimiter l = new PunchLimiter(6, 2, clock::get);
        Permit a = l.acquire(alice);
        l.acquire(bob);
        PeerId carol = Identities.generate().peerId();
        assertThatThrownBy(() -> l.acquire(carol)).isInstanceOfSatisfying(TransportException.LimitExceeded.class,
                e -> assertThat(e.limit()).isEqualTo("maxPunchSessions"))
                .hasMessageContaining("TOTAL").hasMessageContaining("2 punch sessions are running");
        a.close();
        l.acquire(carol);
        assertThat(l.refused(Refusal.TOTAL)).isEqualTo(1);
        // A refusal for the total spent none of carol's tokens: five more this minute after the one granted.
        assertThat(l.running()).isEqualTo(2);
    }

    @Test
    void limitsOutOfRangeAreRefused() {
        assertThatThrownBy(() -> new PunchLimiter(0, 16, clock::get)).hasMessageContaining("must be 1 to 1000");
        assertThatThrownBy(() -> new PunchLimiter(6, 1001, clock::get)).hasMessageContaining("must be 1 to 1000");
    }
}
