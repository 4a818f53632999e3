package io.kizuna.nat.internal;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;

import io.kizuna.nat.internal.command.NetcheckCommand;

/**
 * A command-line entry to the STUN code, for the network lab, where it runs as a
 * plain JVM inside a network namespace:
 * <pre>
 * java -cp nat.jar:api.jar io.kizuna.nat.internal.StunTool server IP PORT [ALT-IP ALT-PORT]
 * java -cp nat.jar:api.jar io.kizuna.nat.internal.StunTool discover HOST:PORT [RTO-MS]
 * java -cp nat.jar:api.jar [-Dnetcheck.lifetimeSeconds=N] io.kizuna.nat.internal.StunTool netcheck HOST:PORT...
 * </pre>
 * {@code discover} prints one {@code key=value} line per finding.
 */
public final class StunTool {

    private StunTool() {
    }

    /**
     * @param args the mode and its arguments
     * @throws Exception when the arguments are wrong or a socket cannot be bound
     */
    public static void main(String[] args) throws Exception {
        if (args.length >= 3 && args[0].equals("server")) {
            InetSocketAddress primary = new InetSocketAddress(InetAddress.getByName(args[1]), Integer.parseInt(args[2]));
            InetAddress alt = args.length >= 5 ? InetAddress.getByName(args[3]) : null;
            int altPort = args.length >= 5 ? Integer.parseInt(args[4]) : 0;
            StunServer server = new StunServer(primary, alt, altPort);
            System.out.println("listening " + server.primary() + (server.behaviourDiscovery() ? " rfc5780" : ""));
            System.out.flush();
            new CountDownLatch(1).await();
        } else if (args.length >= 2 && args[0].equals("discover")) {
            int colon = args[1].lastIndexOf(':');
            InetSocketAddress server = new InetSocketAddress(InetAddress.getByName(args[1].substring(0, colon)),
                    Integer.parseInt(args[1].substring(colon + 1)));
            long rto = args.length >= 3 ? Long.parseLong(args[2]) : 100;
            NatDiscovery.Report r = new NatDiscovery(new StunClient.Timing(Duration.ofMillis(rto), 3, 4))
                    .discover(new InetSocketAddress(0), server, null);
            System.out.println("type=" + r.type());
            System.out.println("mapping=" + r.mapping());
            System.out.println("filtering=" + r.filtering());
            System.out.println("reflexive=" + r.reflexive().map(InetSocketAddress::toString).orElse("-"));
            System.out.println("hairpinning=" + r.hairpinning().map(String::valueOf).orElse("-"));
            r.failures().forEach(f -> System.out.println("failure=" + f));
        } else if (args.length >= 2 && args[0].equals("netcheck")) {
            int lifetime = Integer.getInteger("netcheck.lifetimeSeconds", 0);
            NatService nat = new NatService(List.of(), new StunClient.Timing(Duration.ofMillis(100), 3, 4),
                    lifetime > 0 ? Duration.ofSeconds(lifetime) : null, null);
            try {
                System.out.print(new NetcheckCommand(nat).netcheck(Arrays.copyOfRange(args, 1, args.length)));
            } finally {
                nat.deactivate();
            }
        } else {
            System.err.println("usage: server IP PORT [ALT-IP ALT-PORT] | discover HOST:PORT [RTO-MS] | netcheck HOST:PORT...");
            System.exit(2);
        }
    }
}
