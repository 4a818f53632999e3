package io.kizuna.relay.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.time.Instant;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

import io.kizuna.identity.Identities;
import io.kizuna.identity.NodeIdentity;
import io.kizuna.transport.TransportException.RelayFailed.Reason;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The relay's small parts: tokens, admission, address policy, rate limiter, token bucket. */
class UnitPartsTest {

    @Test
    void tokensRoundTripAndRefuseTampering() throws Exception {
        NodeIdentity issuer = Identities.generate();
        NodeIdentity peer = Identities.generate();
        RelayToken t = RelayToken.issue(issuer, peer.peerId(), Instant.parse("2030-01-01T00:00:00Z"), 1 << 20, 60,
                1000);
        RelayToken back = RelayToken.parse(t.text());
        assertThat(back.issuer()).isEqualTo(issuer.peerId());
        assertThat(back.subject()).isEqualTo(peer.peerId());
        assertThat(back.maxBytes()).isEqualTo(1 << 20);
        byte[] raw = t.encode();
        assertThat(raw).hasSize(RelayToken.LENGTH);
        raw[70] ^= 1;
        assertThatThrownBy(() -> RelayToken.decode(raw)).hasMessageContaining("signature");
        assertThatThrownBy(() -> RelayToken.parse("!!")).hasMessageContaining("base64url");
        assertThatThrownBy(() -> RelayToken.decode(new byte[3])).hasMessageContaining("bytes");
    }

    @Test
    void admissionPolicies() {
        NodeIdentity issuer = Identities.generate();
        NodeIdentity listed = Identities.generate();
        NodeIdentity other = Identities.generate();
        Instant now = Instant.now();
        byte[] token = RelayToken.issue(issuer, other.peerId(), now.plusSeconds(60), 0, 30, 0).encode();
        byte[] forListed = RelayToken.issue(issuer, listed.peerId(), now.plusSeconds(60), 0, 0, 0).encode();

        assertThat(new Admission(Admission.Policy.OPEN, Set.of(), Set.of()).check(other.peerId(), new byte[0], now)
                .admitted()).isTrue();
        Admission allow = new Admission(Admission.Policy.ALLOWLIST, Set.of(listed.peerId()), Set.of());
        assertThat(allow.check(listed.peerId(), new byte[0], now).admitted()).isTrue();
        assertThat(allow.check(other.peerId(), new byte[0], now).refusal()).isEqualTo(Reason.NOT_ADMITTED);

        Admission tokens = new Admission(Admission.Policy.TOKEN, Set.of(), Set.of(issuer.peerId()));
        Admission.Decision ok = tokens.check(other.peerId(), token, now);
        assertThat(ok.admitted()).isTrue();
        assertThat(ok.quota()).isEqualTo(new Quota(0, 30, 0));
        assertThat(tokens.check(listed.peerId(), token, now).why()).contains("issued to");
        assertThat(tokens.check(other.peerId(), token, now.plusSeconds(61)).why()).contains("expired");
        assertThat(tokens.check(listed.peerId(), forListed, now).admitted()).isTrue();
        assertThat(tokens.check(other.peerId(), new byte[0], now).refusal()).isEqualTo(Reason.NOT_ADMITTED);
        assertThat(new Admission(Admission.Policy.TOKEN, Set.of(), Set.of()).check(other.peerId(), token, now).why())
                .contains("not trusted");
        assertThatThrownBy(() -> Admission.Policy.parse("maybe")).hasMessageContaining("open, allowlist, token");
    }

    @Test
    void quotasTakeTheStricterLimit() {
        assertThat(new Quota(100, 0, 5).and(new Quota(0, 10, 7))).isEqualTo(new Quota(100, 10, 5));
    }

    @Test
    void privateAddresses() throws Exception {
        for (String a : new String[] {"127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1",
                "169.254.1.1", "0.0.0.0", "::1", "fd00::1", "fe80::1", "::ffff:10.0.0.1"}) {
            assertThat(AddressPolicy.isPrivate(InetAddress.getByName(a))).as(a).isTrue();
        }
        for (String a : new String[] {"203.0.113.7", "198.51.100.1", "100.128.0.1", "2001:db8::1"}) {
            assertThat(AddressPolicy.isPrivate(InetAddress.getByName(a))).as(a).isFalse();
        }
    }

    @Test
    void rateLimiterCountsPerSourceAndSecond() throws Exception {
        SourceRateLimiter r = new SourceRateLimiter(2);
        InetAddress a = InetAddress.getByName("203.0.113.1");
        InetAddress b = InetAddress.getByName("203.0.113.2");
        long t = 5_000_000_000L;
        assertThat(r.allow(a, t)).isTrue();
        assertThat(r.allow(a, t + 1)).isTrue();
        assertThat(r.allow(a, t + 2)).isFalse();
        assertThat(r.allow(b, t + 3)).isTrue();
        assertThat(r.allow(a, t + 1_000_000_000L)).as("next second").isTrue();
        assertThat(new SourceRateLimiter(0).allow(a, t)).isTrue();
    }

    @Test
    @Timeout(10)
    void tokenBucketPacesAndServesInOrder() throws Exception {
        ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1);
        try {
            TokenBucket bucket = new TokenBucket(1024 * 1024, timer);
            long start = System.nanoTime();
            CompletableFuture<Void> last = null;
            java.util.List<Integer> order = new java.util.concurrent.CopyOnWriteArrayList<>();
            for (int i = 0; i < 32; i++) {
                int n = i;
                last = bucket.acquire(Splice.CHUNK).thenRun(() -> order.add(n));
            }
            last.get(5, TimeUnit.SECONDS);
            double seconds = (System.nanoTime() - start) / 1e9;
            // 2 MiB at 1 MiB/s with a 64 KiB burst.
            assertThat(seconds).isBetween(1.8, 3.0);
            assertThat(order).isSorted().hasSize(32);
            assertThat(new TokenBucket(0, timer).acquire(1 << 30)).isDone();
        } finally {
            timer.shutdownNow();
        }
    }
}
