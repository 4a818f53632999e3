package io.kizuna.runtime;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceRegistration;

/**
 * A ConfigAdmin {@code ConfigurationPlugin} that puts the distribution's
 * {@code etc/} values under every configuration of the same PID and turns lists
 * of endpoints into arrays ({@link Configs#layer}), whoever wrote the
 * configuration: the launcher at start, or FileInstall when a file in
 * {@code <home>/etc/} changes. So a home file names only the keys it changes,
 * at start and live alike.
 *
 * <p>The launcher is not a bundle and cannot see {@code org.osgi.service.cm}
 * at compile time: the plugin is a proxy of the interface as ConfigAdmin's
 * bundle loads it, registered by the system bundle.
 */
final class DefaultsPlugin implements InvocationHandler {

    static final String PLUGIN = "org.osgi.service.cm.ConfigurationPlugin";

    private final Map<String, Map<String, String>> defaults = new TreeMap<>();

    /** @param defaults the distribution's configurations, by PID ({@code factoryPid~name} for a factory one) */
    DefaultsPlugin(List<Configs.Config> defaults) {
        for (Configs.Config c : defaults) {
            this.defaults.put(c.label(), Map.copyOf(c.properties()));
        }
    }

    /**
     * @param context     the system bundle's context
     * @param configAdmin ConfigAdmin's bundle, whose class loader has the plugin interface
     * @return the registration
     * @throws ClassNotFoundException when ConfigAdmin has no plugin interface
     */
    ServiceRegistration<?> register(BundleContext context, org.osgi.framework.Bundle configAdmin)
            throws ClassNotFoundException {
        Class<?> api = configAdmin.loadClass(PLUGIN);
        Object proxy = Proxy.newProxyInstance(api.getClassLoader(), new Class<?>[] {api}, this);
        Dictionary<String, Object> props = new Hashtable<>();
        props.put(Constants.SERVICE_DESCRIPTION, "the distribution's etc/ values under every configuration");
        return context.registerService(PLUGIN, proxy, props);
    }

    /**
     * @param properties a configuration's properties; changed in place
     */
    void modify(Dictionary<String, Object> properties) {
        Object pid = properties.get(Constants.SERVICE_PID);
        Map<String, String> d = pid instanceof String p ? defaults.getOrDefault(p, Map.of()) : Map.of();
        Configs.layer(properties, d);
    }

    @Override
    @SuppressWarnings("unchecked")
    public Object invoke(Object proxy, Method method, Object[] args) {
        switch (method.getName()) {
            case "modifyConfiguration" -> {
                if (args != null && args.length == 2 && args[1] instanceof Dictionary<?, ?> d) {
                    modify((Dictionary<String, Object>) d);
                }
                return null;
            }
            case "equals" -> {
                return proxy == args[0];
            }
            case "hashCode" -> {
                return System.identityHashCode(proxy);
            }
            case "toString" -> {
                return "kizuna distribution defaults for " + defaults.keySet();
            }
            default -> throw new UnsupportedOperationException(method.getName());
        }
    }
}
