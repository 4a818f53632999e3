package io.kizuna.lab;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import io.kizuna.nat.internal.StunTool;
import io.kizuna.transport.NatType;

/**
 * The lab proves itself and NAT behaviour discovery in one topology: five sites,
 * one per router behaviour, classified by coturn's {@code turnutils_natdiscovery},
 * by stun-client's {@code stun}, and by our discovery against coturn and against
 * our own STUN server, each run as a process inside the site's client namespace.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class NatLabIT {

    private static Lab lab;
    private static final Map<Lab.Nat, Lab.Site> SITES = new EnumMap<>(Lab.Nat.class);

    @BeforeAll
    static void build() {
        lab = Lab.open(Path.of(System.getProperty("lab.work", "target/lab-work"), "nat"));
        for (Lab.Nat nat : Lab.Nat.values()) {
            SITES.put(nat, lab.addSite(nat));
        }
        lab.startCoturn();
        lab.startOwnStunServer(classpath());
    }

    @AfterAll
    static void teardown() {
        if (lab != null) {
            String id = lab.id();
            lab.close();
            assertThat(Lab.namespaceNames()).noneMatch(ns -> ns.startsWith(id));
        }
    }

    static String classpath() {
        try {
            return Path.of(StunTool.class.getProtectionDomain().getCodeSource().getLocation().toURI()) + ":"
                    + Path.of(NatType.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private static final Map<Lab.Nat, String[]> COTURN = Map.of(
            Lab.Nat.NONE, new String[] {"No NAT! (Endpoint Independent Mapping)", "NAT with Endpoint Independent Filtering!"},
            Lab.Nat.FULL_CONE, new String[] {"NAT with Endpoint Independent Mapping!", "NAT with Endpoint Independent Filtering!"},
            Lab.Nat.RESTRICTED_CONE, new String[] {"NAT with Endpoint Independent Mapping!", "NAT with Address Dependent Filtering!"},
            Lab.Nat.PORT_RESTRICTED_CONE, new String[] {"NAT with Endpoint Independent Mapping!",
                "NAT with Address and Port Dependent Filtering!"},
            Lab.Nat.SYMMETRIC, new String[] {"NAT with Address and Port Dependent Mapping!"});

    private static final Map<Lab.Nat, String> STUN_CLIENT = Map.of(
            Lab.Nat.NONE, "Primary: Open",
            Lab.Nat.FULL_CONE, "Primary: Independent Mapping, Independent Filter",
            Lab.Nat.RESTRICTED_CONE, "Primary: Independent Mapping, Address Dependent Filter",
            Lab.Nat.PORT_RESTRICTED_CONE, "Primary: Independent Mapping, Port Dependent Filter",
            Lab.Nat.SYMMETRIC, "Primary: Dependent Mapping");

    private static final Map<Lab.Nat, NatType> EXPECTED = Map.of(
            Lab.Nat.NONE, NatType.OPEN,
            Lab.Nat.FULL_CONE, NatType.FULL_CONE,
            Lab.Nat.RESTRICTED_CONE, NatType.RESTRICTED_CONE,
            Lab.Nat.PORT_RESTRICTED_CONE, NatType.PORT_RESTRICTED_CONE,
            Lab.Nat.SYMMETRIC, NatType.SYMMETRIC);

    @Test
    void coturnAndStunClientClassifyEachRouterAsBuiltAlsoAgainstOurServer() {
        List<String> wrong = new ArrayList<>();
        for (Lab.Site site : SITES.values()) {
            lab.run(site.router(), "conntrack", "-F");
            // bound to the client's address, so coturn can compare it with the reflexive one
            // against coturn, and against our server: coturn's classifier must read our answers the same way
            for (String server : List.of(Lab.STUN_1, Lab.STUN_3)) {
                lab.run(site.router(), "conntrack", "-F");
                Lab.Result coturn = lab.tryRun(site.client(), "turnutils_natdiscovery", "-m", "-f", "-L", site.clientIp(), server);
                for (String expected : COTURN.get(site.nat())) {
                    if (!coturn.output().contains(expected)) {
                        wrong.add(site.nat() + ": turnutils_natdiscovery against " + server + " lacks '" + expected
                                + "':\n" + coturn.output());
                    }
                }
            }
            lab.run(site.router(), "conntrack", "-F");
            Lab.Result stun = lab.tryRun(site.client(), "stun", Lab.STUN_1);
            if (!stun.output().contains(STUN_CLIENT.get(site.nat()))) {
                wrong.add(site.nat() + ": stun lacks '" + STUN_CLIENT.get(site.nat()) + "':\n" + stun.output());
            }
        }
        assertThat(wrong).isEmpty();
    }

    @Test
    void ourDiscoveryClassifiesEachRouterAgainstCoturnAndAgainstOurServer() {
        List<String> wrong = new ArrayList<>();
        for (Lab.Site site : SITES.values()) {
            for (String server : List.of(Lab.STUN_1 + ":3478", Lab.STUN_3 + ":3478")) {
                lab.run(site.router(), "conntrack", "-F");
                Lab.Result r = lab.tryRun(site.client(), Lab.javaCommand(classpath(), "discover", server));
                if (!r.output().contains("type=" + EXPECTED.get(site.nat()) + "\n")) {
                    wrong.add(site.nat() + " against " + server + ":\n" + r.output());
                }
                String reflexiveIp = site.nat() == Lab.Nat.NONE ? site.clientIp() : site.wanIp();
                if (!r.output().contains("reflexive=/" + reflexiveIp + ":")) {
                    wrong.add(site.nat() + " against " + server + ": reflexive address is not " + reflexiveIp + ":\n" + r.output());
                }
            }
        }
        assertThat(wrong).isEmpty();
    }

    @Test
    void coturnToolsGetCorrectAnswersFromOurServer() {
        Lab.Site open = SITES.get(Lab.Nat.NONE);
        Lab.Result client = lab.tryRun(open.client(), "timeout", "20", "turnutils_stunclient", Lab.STUN_3);
        assertThat(client.output()).as(client.output())
                .contains("UDP reflexive addr: " + open.clientIp() + ":", "Other addr: : " + Lab.STUN_4 + ":3479",
                        "Response origin: : " + Lab.STUN_3 + ":3478");
        Lab.Site site = SITES.get(Lab.Nat.PORT_RESTRICTED_CONE);
        lab.run(site.router(), "conntrack", "-F");
        Lab.Result discovery = lab.tryRun(site.client(), "turnutils_natdiscovery", "-m", "-f", Lab.STUN_3);
        assertThat(discovery.output()).as(discovery.output())
                .contains(COTURN.get(Lab.Nat.PORT_RESTRICTED_CONE)[0], COTURN.get(Lab.Nat.PORT_RESTRICTED_CONE)[1]);
        Lab.Site full = SITES.get(Lab.Nat.FULL_CONE);
        lab.run(full.router(), "conntrack", "-F");
        Lab.Result fullDiscovery = lab.tryRun(full.client(), "turnutils_natdiscovery", "-m", "-f", Lab.STUN_3);
        assertThat(fullDiscovery.output()).as(fullDiscovery.output())
                .contains(COTURN.get(Lab.Nat.FULL_CONE)[0], COTURN.get(Lab.Nat.FULL_CONE)[1]);
    }

    @Test
    void netcheckReportsASymmetricNatAgainstCoturnAndOurServer() {
        Lab.Site site = SITES.get(Lab.Nat.SYMMETRIC);
        lab.run(site.router(), "conntrack", "-F");
        Lab.Result r = lab.tryRun(site.client(), Lab.javaCommand(classpath(), "netcheck",
                Lab.STUN_1 + ":3478", Lab.STUN_3 + ":3478"));
        System.out.println(r.output());
        assertThat(r.output()).as(r.output()).contains("UDP: reachable", "NAT type: SYMMETRIC (NAT, mapping "
                + "address-and-port-dependent, filtering address-and-port-dependent)",
                "mapping varies by destination: yes", "hairpinning: no", "binding lifetime: not measured",
                "server " + Lab.STUN_1 + ":3478: latency ", "server " + Lab.STUN_3 + ":3478: latency ");
        assertThat(r.output()).contains("reflexive addresses: " + site.wanIp() + ":");
    }

    @Test
    void netcheckSeesHairpinningWhereTheRouterDoesIt() {
        Lab.Site site = SITES.get(Lab.Nat.FULL_CONE);
        lab.run(site.router(), "conntrack", "-F");
        Lab.Result r = lab.tryRun(site.client(), Lab.javaCommand(classpath(), "netcheck", Lab.STUN_3 + ":3478"));
        System.out.println(r.output());
        assertThat(r.output()).as(r.output()).contains("NAT type: FULL_CONE (NAT, mapping endpoint-independent, "
                + "filtering endpoint-independent)", "mapping varies by destination: no", "hairpinning: yes");
    }

    @Test
    void netcheckMeasuresTheBindingLifetimeOfAPortRestrictedNat() {
        Lab.Site site = SITES.get(Lab.Nat.PORT_RESTRICTED_CONE);
        lab.run(site.router(), "conntrack", "-F");
        // a short conntrack timeout on this router, so the lifetime test is quick
        lab.run(site.router(), "sysctl", "-qw", "net.netfilter.nf_conntrack_udp_timeout=3");
        lab.run(site.router(), "sysctl", "-qw", "net.netfilter.nf_conntrack_udp_timeout_stream=3");
        List<String> cmd = new ArrayList<>(List.of(Lab.javaCommand(classpath(), "netcheck", Lab.STUN_3 + ":3478")));
        cmd.add(1, "-Dnetcheck.lifetimeSeconds=6");
        Lab.Result r = lab.tryRun(site.client(), cmd.toArray(String[]::new));
        System.out.println(r.output());
        assertThat(r.output()).as(r.output()).contains("NAT type: PORT_RESTRICTED_CONE", "hairpinning: no");
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("binding lifetime: survives (\\d+) s idle").matcher(r.output());
        assertThat(m.find()).as(r.output()).isTrue();
        assertThat(Integer.parseInt(m.group(1))).as(r.output()).isBetween(2, 3);
    }
}
