package io.kizuna.lab;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Link emulation proves itself: a delayed link shows the configured round trip
 * within 2 ms, a rate-limited link carries iperf3 at the configured rate within
 * 10%; and the lab cleans up after itself and after killed runs.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class LinkLabIT {

    private static final Pattern LOSS = Pattern.compile("([\\d.]+)% packet loss");
    private static final Pattern TIME = Pattern.compile("time=([\\d.]+) ms");
    private static final Pattern BPS = Pattern.compile("\"sum_received\":\\s*\\{[^}]*?\"bits_per_second\":\\s*([\\d.e+]+)");

    private static Path work(String name) {
        return Path.of(System.getProperty("lab.work", "target/lab-work"), name);
    }

    @Test
    void delayedLinkShowsTheConfiguredRoundTrip() {
        try (Lab lab = Lab.open(work("delay"))) {
            Lab.Site plain = lab.addSite(Lab.Nat.NONE);
            Lab.Site delayed = lab.addSite(Lab.Nat.PORT_RESTRICTED_CONE);
            lab.shape(delayed, 0, 0, 10);
            double base = medianRtt(lab, plain);
            double rtt = medianRtt(lab, delayed);
            System.out.printf("median RTT undelayed %.3f ms, delayed 2 x 10 ms: %.3f ms%n", base, rtt);
            assertThat(base).isLessThan(2.0);
            assertThat(rtt).isBetween(18.0, 22.0);
        }
    }

    /** The median round trip of 30 pings: robust to the odd scheduling hiccup on a shared machine. */
    private static double medianRtt(Lab lab, Lab.Site site) {
        Lab.Result ping = lab.run(site.client(), "ping", "-n", "-c", "30", "-i", "0.05", Lab.STUN_1);
        Matcher m = TIME.matcher(ping.output());
        List<Double> times = new java.util.ArrayList<>();
        while (m.find()) {
            times.add(Double.parseDouble(m.group(1)));
        }
        assertThat(times).as(ping.output()).hasSizeGreaterThan(25);
        java.util.Collections.sort(times);
        return times.get(times.size() / 2);
    }

    @Test
    void shapedLinkCarriesTheConfiguredRate() {
        try (Lab lab = Lab.open(work("rate"))) {
            Lab.Site site = lab.addSite(Lab.Nat.PORT_RESTRICTED_CONE);
            lab.shape(site, 50, 0, 0);
            lab.start(lab.pub(), lab.work().resolve("iperf3-server.log"), "iperf3", "-s", "-1", "-B", Lab.STUN_1);
            for (int i = 0; i < 100 && !lab.run(lab.pub(), "ss", "-tln").output().contains(Lab.STUN_1 + ":5201"); i++) {
                sleep(50);
            }
            Lab.Result r = lab.run(site.client(), "iperf3", "-c", Lab.STUN_1, "-t", "4", "-O", "1", "-J");
            Matcher m = BPS.matcher(r.output());
            assertThat(m.find()).as(r.output()).isTrue();
            double mbit = Double.parseDouble(m.group(1)) / 1e6;
            System.out.printf("iperf3 TCP over tbf 50 Mbit/s: %.1f Mbit/s%n", mbit);
            assertThat(mbit).isBetween(45.0, 55.0);
        }
    }

    @Test
    void lossyLinkDropsTheConfiguredShare() {
        try (Lab lab = Lab.open(work("loss"))) {
            Lab.Site site = lab.addSite(Lab.Nat.NONE);
            lab.shape(site, 0, 10, 0);
            // 10% per direction: a ping round trip survives with 0.9 x 0.9, so about 19% are lost
            Lab.Result ping = lab.tryRun(site.client(), "ping", "-n", "-q", "-c", "400", "-i", "0.005", Lab.STUN_1);
            Matcher m = LOSS.matcher(ping.output());
            assertThat(m.find()).as(ping.output()).isTrue();
            double loss = Double.parseDouble(m.group(1));
            System.out.printf("ping loss over 2 x 10%% random drop: %.1f%%%n", loss);
            assertThat(loss).isBetween(12.0, 26.0);
        }
    }

    @Test
    void leftoversOfAKilledRunAreRemovedAndCloseRemovesEverything() {
        // no process has this id (above the kernel's largest pid), as for a run that was killed
        String stale = Lab.PREFIX + "4194999" + "r1";
        Lab.exec(List.of("ip", "netns", "add", stale), true);
        String id;
        try (Lab lab = Lab.open(work("cleanup"))) {
            assertThat(Lab.namespaceNames()).doesNotContain(stale);
            lab.addSite(Lab.Nat.SYMMETRIC);
            id = lab.id();
            assertThat(Lab.namespaceNames()).filteredOn(ns -> ns.startsWith(id)).hasSize(3);
        }
        assertThat(Lab.namespaceNames()).noneMatch(ns -> ns.startsWith(id));
    }

    @Test
    void missingCommandsAreNamed() {
        assertThat(Lab.missingCommands(List.of("ip", "kizuna-no-such-command"))).containsExactly("kizuna-no-such-command");
        Lab.LabException e = new Lab.LabException("x");
        assertThat(e).hasMessage("x");
        assertThatThrownBy(() -> Lab.exec(List.of("ip", "netns", "del", "kzl-no-such-namespace"), true))
                .isInstanceOf(Lab.LabException.class).hasMessageContaining("exited with");
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
