package io.kizuna.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import io.kizuna.core.internal.protocol.ControlMessage;
import io.kizuna.core.internal.testing.TestIds;
import io.kizuna.transport.Connection;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.StreamHandler;
import io.kizuna.transport.TransportException;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Per-peer budgets: one peer at its limit of open streams, of streams naming
 * their protocol, or of perf bytes per minute is refused with OPEN_REFUSED
 * naming the limit, while another peer is still served; refusals are counted.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class PeerBudgetsTest extends ManagerTestSupport {

    private static final String HOLD = "test/hold/1";

    /** A handler that answers one byte and keeps the stream open until the opener closes it. */
    private static void serveHolding(Node n) {
        n.manager.bindStreamHandler((stream, protocol) -> {
            stream.write(ByteBuffer.wrap(new byte[] {1})).thenCompose(v -> stream.read(ByteBuffer.allocate(1)))
                    .whenComplete((r, e) -> stream.close());
        }, Map.of(StreamHandler.PROTOCOL, HOLD));
    }

    private static Connection openHeld(Node from, Node to) throws Exception {
        Connection s = get(from.manager.openStream(to.address(), HOLD));
        ByteBuffer one = ByteBuffer.allocate(1);
        assertThat(get(s.read(one))).as("the handler answered").isEqualTo(1);
        return s;
    }

    @Test
    void aPeerAtMaxStreamsPerPeerIsRefusedWhileAnotherIsServed() throws Exception {
        Node b = node(Node.settings().maxStreamsPerPeer(2), "mem-a:10");
        Node a = node("mem-a:100");
        Node c = node("mem-a:100");
        serveHolding(b);
        long refusalsBefore = b.manager.perPeerRefusals();

        List<Connection> held = new ArrayList<>();
        held.add(openHeld(a, b));
        held.add(openHeld(a, b));
        Throwable refused = failure(a.manager.openStream(b.address(), HOLD));
        assertThat(refused).isInstanceOf(TransportException.LimitExceeded.class)
                .hasMessageContaining("maxStreamsPerPeer=2").hasMessageContaining(a.id.shortForm());
        assertThat(((TransportException.LimitExceeded) refused).limit()).isEqualTo("maxStreamsPerPeer");
        assertThat(b.manager.perPeerRefusals()).isEqualTo(refusalsBefore + 1);

        // Another peer is served while the first is at its limit.
        Connection other = openHeld(c, b);
        get(other.close());

        // A closed stream gives its slot back.
        get(held.remove(0).close());
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20)).ignoreExceptions()
                .until(() -> {
                    held.add(openHeld(a, b));
                    return true;
                });
        for (Connection s : held) {
            get(s.close());
        }
    }

    @Test
    void aPeerAtMaxOpeningStreamsPerPeerIsRefusedWhileAnotherIsServed() throws Exception {
        Node b = node(Node.settings().maxOpeningStreamsPerPeer(2), "mem-a:10");
        Node c = node("mem-a:100");
        serveHolding(b);
        RawPeer raw = RawPeer.dialer(hub, "mem-a");
        try {
            // Two streams that never name their protocol hold both of the peer's opening slots.
            raw.dial(b.address());
            raw.dial(b.address());
            Connection third = raw.dial(b.address());
            ControlMessage answer = RawPeer.read(third);
            assertThat(answer).isInstanceOfSatisfying(ControlMessage.OpenRefused.class, r -> {
                assertThat(r.limit()).isEqualTo("maxOpeningStreamsPerPeer");
                assertThat(r.limitValue()).isEqualTo(2);
                assertThat(r.reason()).contains(raw.id.shortForm());
            });
            assertThat(b.manager.perPeerRefusals()).isEqualTo(1);

            Connection other = openHeld(c, b);
            get(other.close());
        } finally {
            raw.close();
        }
    }

    @Test
    void perfBeyondThePeersBudgetPerMinuteIsRefusedWhileAnotherPeerIsServed() throws Exception {
        Node b = node(Node.settings().maxPerfBytesPerPeerPerMinute(100_000), "mem-a:10");
        Node a = node("mem-a:100");
        Node c = node("mem-a:100");

        assertThat(get(a.manager.perf(b.address(), 0, 60_000, null)).downloadBytes()).isEqualTo(60_000);
        Throwable refused = failure(a.manager.perf(b.address(), 0, 60_000, null));
        assertThat(refused).isInstanceOf(TransportException.LimitExceeded.class)
                .hasMessageContaining("maxPerfBytesPerPeerPerMinute=100000").hasMessageContaining("60000");
        assertThat(b.manager.perPeerRefusals()).isEqualTo(1);
        assertThat(get(c.manager.perf(b.address(), 0, 60_000, null)).downloadBytes())
                .as("another peer has a budget of its own").isEqualTo(60_000);
        assertThat(get(a.manager.perf(b.address(), 0, 30_000, null)).downloadBytes())
                .as("what is left of the first peer's budget").isEqualTo(30_000);
        assertThat(get(a.manager.ping(PeerAddress.of(b.id))).rtt()).as("the pooled connection is unharmed")
                .isPositive();
    }

    @Test
    void theBudgetRefillsOverAMinuteAndRefusalsAreCounted() {
        AtomicLong now = new AtomicLong(1_000_000_000L);
        PeerBudgets budgets = new PeerBudgets(1, 1, 60_000, 2, now::get);
        var a = TestIds.newPeerId();
        var c = TestIds.newPeerId();
        var d = TestIds.newPeerId();

        assertThat(budgets.perf(a, 60_000)).isNull();
        assertThat(budgets.perf(a, 1)).isNotNull();
        now.addAndGet(TimeUnit.SECONDS.toNanos(30));
        assertThat(budgets.perf(a, 30_001)).as("half a minute refills half the budget").isNotNull();
        assertThat(budgets.perf(a, 30_000)).isNull();
        assertThat(budgets.perf(c, 10)).isNull();
        assertThat(budgets.perf(d, 10)).as("two peers' budgets are remembered at most").isNotNull()
                .hasMessageContaining("maxKnownPeers");
        now.addAndGet(TimeUnit.MINUTES.toNanos(1));
        assertThat(budgets.perf(d, 60_000)).as("full buckets are forgotten").isNull();

        assertThat(budgets.startOpening(a)).isNull();
        assertThat(budgets.startOpening(a)).isNotNull().hasMessageContaining("maxOpeningStreamsPerPeer=1");
        budgets.endOpening(a);
        assertThat(budgets.startOpening(a)).isNull();
        assertThat(budgets.open(a)).isNull();
        assertThat(budgets.open(a)).isNotNull().hasMessageContaining("maxStreamsPerPeer=1");
        budgets.closed(a);
        assertThat(budgets.open(a)).isNull();
        assertThat(budgets.refusals()).isEqualTo(5);
    }
}
