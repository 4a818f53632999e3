package io.kizuna.core.internal;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;

import io.kizuna.core.internal.protocol.ControlCodec;
import io.kizuna.transport.StreamHandler;

/**
 * The {@link StreamHandler} whiteboard: which handler serves which application
 * protocol. When several serve one name, the highest service ranking wins, then
 * the oldest registration. Names starting with {@code kizuna/} are reserved for
 * the platform and ignored with a warning, except those under
 * {@code kizuna/relay/}, which the relay bundle serves here.
 */
final class HandlerRegistry {

    private static final System.Logger LOG = System.getLogger(HandlerRegistry.class.getName());

    private record Registration(StreamHandler handler, List<String> names, int ranking, long serviceId) {
    }

    private final List<Registration> registrations = new ArrayList<>();

    synchronized void add(StreamHandler handler, Map<String, ?> properties) {
        registrations.removeIf(r -> r.handler() == handler);
        List<String> names = names(handler, properties);
        if (names.isEmpty()) {
            LOG.log(System.Logger.Level.WARNING, "stream handler " + handler + " names no usable protocol in its "
                    + StreamHandler.PROTOCOL + " service property; it receives no streams");
        }
        registrations.add(new Registration(handler, names, intProperty(properties, "service.ranking", 0),
                longProperty(properties, "service.id", Long.MAX_VALUE)));
    }

    synchronized void remove(StreamHandler handler) {
        registrations.removeIf(r -> r.handler() == handler);
    }

    synchronized Optional<StreamHandler> find(String protocol) {
        return registrations.stream().filter(r -> r.names().contains(protocol))
                .min(Comparator.comparingInt(Registration::ranking).reversed()
                        .thenComparingLong(Registration::serviceId))
                .map(Registration::handler);
    }

    synchronized List<String> served() {
        TreeSet<String> all = new TreeSet<>();
        registrations.forEach(r -> all.addAll(r.names()));
        return List.copyOf(all);
    }

    private static List<String> names(StreamHandler handler, Map<String, ?> properties) {
        Object v = properties == null ? null : properties.get(StreamHandler.PROTOCOL);
        List<String> raw = new ArrayList<>();
        if (v instanceof String s) {
            raw.add(s);
        } else if (v instanceof String[] a) {
            raw.addAll(List.of(a));
        } else if (v instanceof Collection<?> c) {
            c.forEach(o -> raw.add(String.valueOf(o)));
        }
        List<String> names = new ArrayList<>();
        for (String n : raw) {
            String name = n == null ? "" : n.trim();
            if (ConnectionManagerImpl.reserved(name)) {
                LOG.log(System.Logger.Level.WARNING, "stream handler " + handler + " asks for protocol '" + name
                        + "': names starting with " + ConnectionManagerImpl.RESERVED_PREFIX
                        + " are reserved; ignored");
                continue;
            }
            try {
                ControlCodec.checkProtocolName(name);
            } catch (IllegalArgumentException e) {
                LOG.log(System.Logger.Level.WARNING, "stream handler " + handler + ": " + e.getMessage()
                        + "; ignored");
                continue;
            }
            names.add(name);
        }
        return names;
    }

    private static int intProperty(Map<String, ?> p, String key, int fallback) {
        Object v = p == null ? null : p.get(key);
        return v instanceof Number n ? n.intValue() : fallback;
    }

    private static long longProperty(Map<String, ?> p, String key, long fallback) {
        Object v = p == null ? null : p.get(key);
        return v instanceof Number n ? n.longValue() : fallback;
    }
}
