package io.kizuna.nat.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.util.concurrent.atomic.AtomicLong;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;

/**
 * Property-based fuzzing of the parser and of the client's receive path: any
 * bytes, and valid messages with random mutations, either parse or fail with
 * {@link StunMessage.MalformedException}; the client never throws and counts
 * every datagram it drops. The run count is printed after the container.
 */
class StunParserFuzzTest {

    static final AtomicLong RUNS = new AtomicLong();
    private static final StunClient CLIENT;

    static {
        try {
            CLIENT = new StunClient(new InetSocketAddress("127.0.0.1", 0), StunClient.Timing.RFC);
        } catch (java.io.IOException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @Property(tries = 20_000)
    void randomBytesNeverEscapeAsAnythingButMalformed(@ForAll("datagrams") byte[] data) {
        check(data);
    }

    @Property(tries = 20_000)
    void mutatedValidMessagesNeverEscapeAsAnythingButMalformed(@ForAll("mutated") byte[] data) {
        check(data);
    }

    private static void check(byte[] data) {
        RUNS.incrementAndGet();
        try {
            StunMessage m = StunMessage.parse(data, 0, data.length);
            byte[] again = m.encode();
            assertThat(StunMessage.parse(again, 0, again.length)).isEqualTo(m);
        } catch (StunMessage.MalformedException e) {
            assertThat(e.reason()).isNotNull();
        }
        long before = CLIENT.dropped();
        CLIENT.accept(data, data.length, new InetSocketAddress("127.0.0.1", 3478));
        // no transaction is outstanding, so every datagram must be dropped and counted
        assertThat(CLIENT.dropped()).isEqualTo(before + 1);
    }

    @Provide
    Arbitrary<byte[]> datagrams() {
        return Arbitraries.bytes().array(byte[].class).ofMinSize(0).ofMaxSize(300);
    }

    @Provide
    Arbitrary<byte[]> mutated() {
        Arbitrary<byte[]> ids = Arbitraries.bytes().array(byte[].class).ofSize(12);
        Arbitrary<Integer> types = Arbitraries.of(StunMessage.XOR_MAPPED_ADDRESS, StunMessage.MAPPED_ADDRESS,
                StunMessage.OTHER_ADDRESS, StunMessage.ERROR_CODE, StunMessage.SOFTWARE, 0x7777, 0xC001);
        Arbitrary<byte[]> values = Arbitraries.bytes().array(byte[].class).ofMaxSize(24);
        Arbitrary<StunMessage.Attribute> attributes = net.jqwik.api.Combinators.combine(types, values)
                .as(StunMessage.Attribute::new);
        return net.jqwik.api.Combinators.combine(ids, attributes.list().ofMaxSize(5), Arbitraries.of(true, false),
                Arbitraries.integers().between(0, 400), Arbitraries.bytes())
                .as((id, attrs, fp, position, value) -> {
                    byte[] wire = new StunMessage(StunMessage.BINDING_SUCCESS, id, attrs, fp).encode();
                    if (position < wire.length) {
                        wire[position] = value;
                    }
                    return wire;
                });
    }

    @AfterContainer
    static void report() {
        System.out.println("STUN parser fuzz: " + RUNS.get() + " inputs, client drop counters " + CLIENT.drops());
        CLIENT.close();
    }
}
