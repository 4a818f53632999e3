package io.kizuna.runtime;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Dictionary;
import java.util.HashMap;
import java.util.Hashtable;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.jar.JarFile;
import java.util.logging.Level;
import java.util.logging.Logger;

import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleException;
import org.osgi.framework.Constants;
import org.osgi.framework.FrameworkEvent;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceListener;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.launch.Framework;
import org.osgi.framework.launch.FrameworkFactory;

/**
 * Starts Apache Felix with the distribution's bundles and the node's
 * configuration, waits until the connection manager is up and listening, then
 * runs commands, a shell or a daemon.
 */
final class Launcher {

    /** How the launcher runs once the node is up. */
    enum Mode {
        /** {@code -c}: run the commands, then stop. */
        COMMANDS,
        /** A terminal is attached: the Gogo shell, until it exits. */
        SHELL,
        /** No terminal: run until SIGTERM. */
        DAEMON
    }

    static final String HOME_PROPERTY = "kizuna.home";
    static final String LISTEN_PROPERTY = "kizuna.listen";
    /** The framework property that turns the relay service on (read by io.kizuna.relay). */
    static final String RELAY_PROPERTY = "kizuna.relay";
    static final String CORE_PID = "io.kizuna.core";
    /** The core configuration's listen endpoints, read to know what "listening" means. */
    static final String CORE_LISTEN_KEY = "listen";
    static final String CONNECTION_MANAGER = "io.kizuna.transport.ConnectionManager";
    static final String TRANSPORT = "io.kizuna.transport.Transport";
    static final String TRANSPORT_PROTOCOL = "kizuna.transport.protocol";
    static final String CONFIGURATION_ADMIN = "org.osgi.service.cm.ConfigurationAdmin";
    static final String CONFIGURATION = "org.osgi.service.cm.Configuration";
    static final String CONFIG_ADMIN_BUNDLE = "org.apache.felix.configadmin";
    static final String GOGO_SHELL_BUNDLE = "org.apache.felix.gogo.shell";
    static final String LOG_BUNDLE = "org.apache.felix.log";
    /** The home's folder FileInstall installs plug-in bundles from (and uninstalls them when they go). */
    static final String DEPLOY = "deploy";
    /** The factory PID of FileInstall's watchers: one more watches {@code <home>/etc}. */
    static final String FILEINSTALL_PID = "org.apache.felix.fileinstall";
    /** The property FileInstall finds the configuration of a file by. */
    static final String FILEINSTALL_FILENAME = "felix.fileinstall.filename";
    /** How often FileInstall looks at deploy/ and etc/ (ms). */
    static final String FILEINSTALL_POLL = "1000";
    static final Duration STOP_TIMEOUT = Duration.ofSeconds(20);

    private static final Logger LOG = Logger.getLogger("io.kizuna.runtime");

    private final Options options;
    private final Path dist;
    private final Mode mode;
    private final PrintStream out;
    private final PrintStream err;
    private final Object changes = new Object();
    private boolean changed;
    private volatile Framework framework;
    /** Set by SIGTERM/SIGINT: a node still starting stops once it can. */
    private volatile boolean terminated;
    /** The connection manager the launcher holds while it runs, so a lazy component stays active. */
    private ServiceReference<?> managerRef;
    private Object manager;
    private FileChannel lockChannel;

    /**
     * @param options the command line
     * @param dist    the distribution folder (bundle/, etc/)
     * @param mode    what to do once the node is up
     * @param out     the process's real stdout (Gogo replaces System.out)
     * @param err     the process's real stderr
     */
    Launcher(Options options, Path dist, Mode mode, PrintStream out, PrintStream err) {
        this.options = options;
        this.dist = dist;
        this.mode = mode;
        this.out = out;
        this.err = err;
    }

    /**
     * @return the exit status
     * @throws LaunchException when the node cannot start
     */
    int run() throws LaunchException {
        Path home = options.home();
        try {
            Files.createDirectories(home.resolve("etc"));
        } catch (IOException e) {
            throw new LaunchException("cannot create the home folder " + home + ": " + e.getMessage(), e);
        }
        lockHome(home);
        try {
            Logs.setUp(home.resolve("logs"), mode == Mode.DAEMON ? Level.INFO : Level.WARNING, mode == Mode.DAEMON);
        } catch (IOException e) {
            throw new LaunchException("cannot open the log file in " + home.resolve("logs") + ": " + e.getMessage(), e);
        }
        List<Configs.Config> configs;
        List<Configs.Config> defaults;
        List<Configs.Config> own;
        try {
            Files.createDirectories(home.resolve(DEPLOY));
            configs = Configs.read(dist.resolve("etc"), home.resolve("etc"));
            defaults = Configs.read(dist.resolve("etc"));
            own = Configs.readEach(home.resolve("etc"));
        } catch (IOException e) {
            throw new LaunchException("cannot read the configuration: " + e.getMessage(), e);
        }
        LOG.info(() -> "starting node, home " + home + (options.listen().isEmpty() ? ""
                : ", listen " + String.join(",", options.listen())));
        Runtime.getRuntime().addShutdownHook(new Thread(this::stopAndWait, "kizuna-shutdown"));
        Signals.onTermination(this::stopInBackground);
        try {
            BundleContext context = startFramework(home);
            List<Bundle> bundles = install(context);
            framework.start();
            context.addServiceListener(event -> signalChange());
            startBundle(find(bundles, CONFIG_ADMIN_BUNDLE));
            startBundle(find(bundles, LOG_BUNDLE));
            bridgeLog(context);
            applyConfiguration(context, defaults, own);
            for (Bundle b : bundles) {
                if (!GOGO_SHELL_BUNDLE.equals(b.getSymbolicName()) || mode != Mode.SHELL) {
                    startBundle(b);
                }
            }
            return runMode(context, bundles, configs);
        } catch (LaunchException e) {
            stopAndWait();
            throw e;
        } catch (BundleException | RuntimeException e) {
            stopAndWait();
            LOG.log(Level.SEVERE, "the framework failed", e);
            throw new LaunchException("the framework failed: " + e.getMessage(), e);
        }
    }

    private int runMode(BundleContext context, List<Bundle> bundles, List<Configs.Config> configs)
            throws LaunchException {
        String address;
        switch (mode) {
            case COMMANDS -> {
                address = awaitReady(context, bundles, configs);
                LOG.info(() -> "node ready: " + address);
                int status = runCommands(context, Scripts.split(options.commands().orElseThrow()));
                stopAndWait();
                return status;
            }
            case SHELL -> {
                try {
                    address = awaitReady(context, bundles, configs);
                    out.println("Kizuna node " + address);
                } catch (LaunchException e) {
                    err.println("warning: " + e.getMessage());
                }
                out.println("Type kizuna:id, kizuna:transports, kizuna:connect <address>, help; Ctrl-D to stop.");
                out.flush();
                startBundle(find(bundles, GOGO_SHELL_BUNDLE));
                if (terminated) {
                    stopAndWait();
                }
                return awaitStop();
            }
            default -> {
                try {
                    address = awaitReady(context, bundles, configs);
                    LOG.info(() -> "node ready: " + address);
                } catch (LaunchException e) {
                    LOG.severe("the node is not ready: " + e.getMessage() + "; it keeps running");
                }
                if (terminated) {
                    stopAndWait();
                }
                return awaitStop();
            }
        }
    }

    private void lockHome(Path home) throws LaunchException {
        Path lock = home.resolve(".lock");
        try {
            lockChannel = FileChannel.open(lock, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock l = lockChannel.tryLock();
            if (l == null) {
                throw new LaunchException("another node is running with home " + home
                        + "; give each node its own --home");
            }
        } catch (OverlappingFileLockException e) {
            throw new LaunchException("another node is running with home " + home + "; give each node its own --home");
        } catch (IOException e) {
            throw new LaunchException("cannot lock " + lock + ": " + e.getMessage(), e);
        }
    }

    private BundleContext startFramework(Path home) throws BundleException, LaunchException {
        Map<String, Object> props = new HashMap<>();
        props.put(Constants.FRAMEWORK_STORAGE, home.resolve("cache").toString());
        // Bundles come from the distribution and configuration from etc/ at every start: nothing stale survives.
        props.put(Constants.FRAMEWORK_STORAGE_CLEAN, Constants.FRAMEWORK_STORAGE_CLEAN_ONFIRSTINIT);
        // Netty reaches sun.misc.Unsafe for its fast paths.
        props.put(Constants.FRAMEWORK_BOOTDELEGATION, "sun.*,com.sun.*");
        props.put(HOME_PROPERTY, home.toString());
        if (!options.listen().isEmpty()) {
            props.put(LISTEN_PROPERTY, String.join(",", options.listen()));
        }
        if (options.relay()) {
            props.put(RELAY_PROPERTY, "true");
        }
        // FileInstall: plug-in bundles in <home>/deploy are installed and started, and uninstalled when
        // deleted; its second watcher (applyConfiguration) applies changes to <home>/etc/*.cfg.
        props.put("felix.fileinstall.dir", home.resolve(DEPLOY).toString());
        props.put("felix.fileinstall.filter", ".*\\.jar");
        props.put("felix.fileinstall.poll", FILEINSTALL_POLL);
        props.put("felix.fileinstall.noInitialDelay", "true");
        props.put("felix.fileinstall.bundles.new.start", "true");
        // the files are the user's: never written back from ConfigAdmin
        props.put("felix.fileinstall.enableConfigSave", "false");
        props.put("felix.fileinstall.log.level", "2"); // warnings and errors: the launcher copies only those to the log
        props.put("gosh.home", dist.toString());
        props.put("gosh.args", mode == Mode.SHELL ? "--quiet" : "--nointeractive");
        props.put("felix.log.logger", new Logs.FrameworkLogger());
        props.put("felix.log.level", "2");
        FrameworkFactory factory = ServiceLoader.load(FrameworkFactory.class, Launcher.class.getClassLoader())
                .findFirst().orElseThrow(() -> new LaunchException("no OSGi framework on the class path: "
                        + "the distribution's lib/ folder is incomplete; rebuild it"));
        @SuppressWarnings({"unchecked", "rawtypes"})
        Map<String, String> raw = (Map) props;
        Framework f = factory.newFramework(raw);
        f.init();
        framework = f;
        return f.getBundleContext();
    }

    private List<Bundle> install(BundleContext context) throws LaunchException {
        Path folder = dist.resolve("bundle");
        Set<Path> jars = new TreeSet<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(folder, "*.jar")) {
            s.forEach(jars::add);
        } catch (IOException e) {
            throw new LaunchException("cannot read the distribution's bundles in " + folder + ": " + e.getMessage(), e);
        }
        List<Bundle> bundles = new ArrayList<>();
        for (Path jar : jars) {
            try (JarFile j = new JarFile(jar.toFile())) {
                if (j.getManifest() == null
                        || j.getManifest().getMainAttributes().getValue(Constants.BUNDLE_SYMBOLICNAME) == null) {
                    LOG.warning(() -> "skipping " + jar.getFileName() + ": not an OSGi bundle");
                    continue;
                }
            } catch (IOException e) {
                throw new LaunchException("cannot read " + jar + ": " + e.getMessage(), e);
            }
            try {
                bundles.add(context.installBundle(jar.toUri().toString()));
            } catch (BundleException e) {
                throw new LaunchException("cannot install " + jar.getFileName() + ": " + e.getMessage(), e);
            }
        }
        if (bundles.isEmpty()) {
            throw new LaunchException("no bundles in " + folder + ": rebuild the distribution");
        }
        return bundles;
    }

    private static Bundle find(List<Bundle> bundles, String symbolicName) throws LaunchException {
        return bundles.stream().filter(b -> symbolicName.equals(b.getSymbolicName())).findFirst()
                .orElseThrow(() -> new LaunchException("the distribution lacks the bundle " + symbolicName));
    }

    private static void startBundle(Bundle b) {
        if (b.getHeaders().get(Constants.FRAGMENT_HOST) != null || b.getState() == Bundle.ACTIVE) {
            return;
        }
        try {
            b.start();
        } catch (BundleException | RuntimeException e) {
            LOG.log(Level.SEVERE, "bundle " + b.getSymbolicName() + " did not start: " + e.getMessage(), e);
        }
    }

    private static void bridgeLog(BundleContext context) {
        ServiceReference<?> ref = reference(context, LogBridge.READER);
        if (ref == null) {
            LOG.warning("no OSGi log service: component errors go to the console only");
            return;
        }
        try {
            LogBridge.attach(context, ref);
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.log(Level.WARNING, "cannot read the OSGi log: component errors go to the console only", e);
        }
    }

    /**
     * Creates the configurations before the bundles that read them start, so
     * components activate once, in the form FileInstall gives them: each file of
     * {@code <home>/etc} as it is (named by {@value #FILEINSTALL_FILENAME}, so
     * FileInstall finds it unchanged and leaves it), each configuration only the
     * distribution has as the distribution has it. The {@link DefaultsPlugin}
     * layers the distribution's values under both. Then it asks FileInstall to
     * watch {@code <home>/etc}.
     */
    private void applyConfiguration(BundleContext context, List<Configs.Config> defaults, List<Configs.Config> own)
            throws LaunchException {
        ServiceReference<?> ref = reference(context, CONFIGURATION_ADMIN);
        if (ref == null) {
            throw new LaunchException("ConfigAdmin did not start, so the configuration in etc/ cannot be applied; "
                    + "see " + options.home().resolve("logs").resolve(Logs.FILE));
        }
        Object admin = context.getService(ref);
        try {
            new DefaultsPlugin(defaults).register(context, ref.getBundle());
            Class<?> ca = ref.getBundle().loadClass(CONFIGURATION_ADMIN);
            Class<?> c = ref.getBundle().loadClass(CONFIGURATION);
            Method get = ca.getMethod("getConfiguration", String.class, String.class);
            Method getFactory = ca.getMethod("getFactoryConfiguration", String.class, String.class, String.class);
            Method update = c.getMethod("update", Dictionary.class);
            Set<String> owned = new java.util.HashSet<>();
            List<Configs.Config> all = new ArrayList<>(own);
            own.forEach(o -> owned.add(o.label()));
            defaults.stream().filter(d -> !owned.contains(d.label())).forEach(all::add);
            for (Configs.Config config : all) {
                Dictionary<String, Object> d = new Hashtable<>(config.properties());
                if (owned.contains(config.label())) {
                    d.put(FILEINSTALL_FILENAME, config.sources().get(0).toFile().getAbsoluteFile().toURI().toString());
                }
                // "?" binds the configuration to whichever bundle asks for the PID first.
                Object target = config.name() == null ? get.invoke(admin, config.pid(), "?")
                        : getFactory.invoke(admin, config.pid(), config.name(), "?");
                update.invoke(target, d);
                LOG.info(() -> "configuration " + config.label() + " from " + sources(config, defaults));
            }
            Dictionary<String, Object> watcher = new Hashtable<>();
            watcher.put("felix.fileinstall.dir", options.home().resolve("etc").toString());
            watcher.put("felix.fileinstall.filter", ".*\\.cfg");
            watcher.put("felix.fileinstall.poll", FILEINSTALL_POLL);
            watcher.put("felix.fileinstall.noInitialDelay", "true");
            update.invoke(getFactory.invoke(admin, FILEINSTALL_PID, "etc", "?"), watcher);
        } catch (InvocationTargetException e) {
            throw new LaunchException("ConfigAdmin refused the configuration: " + e.getCause().getMessage(), e);
        } catch (ReflectiveOperationException e) {
            throw new LaunchException("ConfigAdmin is not the expected version: " + e, e);
        } finally {
            context.ungetService(ref);
        }
    }

    /** @return the files a configuration comes from: the distribution's, then the home's */
    private static List<Path> sources(Configs.Config config, List<Configs.Config> defaults) {
        List<Path> out = new ArrayList<>();
        defaults.stream().filter(d -> d.label().equals(config.label())).forEach(d -> out.addAll(d.sources()));
        config.sources().stream().filter(p -> !out.contains(p)).forEach(out::add);
        return out;
    }

    /**
     * Waits until the connection manager is registered and listens on every
     * transport it is asked to (--listen, else the configuration; when neither
     * names endpoints, the manager's own default: at least one endpoint).
     *
     * @return the node's address, in the text form peers dial
     */
    private String awaitReady(BundleContext context, List<Bundle> bundles, List<Configs.Config> configs)
            throws LaunchException {
        long deadline = System.nanoTime() + options.readyTimeout().toNanos();
        Optional<Set<String>> wanted = wantedProtocols(configs);
        Set<Long> transportsAsked = Set.of();
        String lastProblem = "the connection manager (bundle io.kizuna.core) is not registered";
        while (!terminated) {
            Object cm = manager(context);
            if (cm != null) {
                try {
                    Class<?> api = managerRef.getBundle().loadClass(CONNECTION_MANAGER);
                    Object local = api.getMethod("localAddress").invoke(cm);
                    Set<String> listening = protocolsOf(local);
                    Map<String, Long> transports = transports(context);
                    Set<String> missing = new LinkedHashSet<>(wanted.orElse(Set.of()));
                    missing.removeAll(listening);
                    boolean ready = wanted.isPresent() ? missing.isEmpty() : !listening.isEmpty();
                    if (ready) {
                        return String.valueOf(local);
                    }
                    Set<Long> ids = new TreeSet<>(transports.values());
                    if (!transports.isEmpty() && transports.keySet().containsAll(missing)
                            && !ids.equals(transportsAsked)) {
                        // The manager may have activated before a transport arrived: ask it to listen now.
                        transportsAsked = ids;
                        listen(api, cm, deadline);
                        continue;
                    }
                    Set<String> noTransport = new LinkedHashSet<>(missing);
                    noTransport.removeAll(transports.keySet());
                    if (transports.isEmpty()) {
                        lastProblem = "no transport is registered (bundle io.kizuna.tcp)";
                    } else if (!noTransport.isEmpty()) {
                        lastProblem = "no transport registered for " + String.join(", ", noTransport);
                    } else {
                        lastProblem = "the connection manager does not listen on "
                                + (missing.isEmpty() ? "any endpoint" : String.join(", ", missing))
                                + " although the transport is registered (is it available? see kizuna:transports)";
                    }
                } catch (ReflectiveOperationException e) {
                    throw new LaunchException("the connection manager does not have the expected API: " + e, e);
                }
            } else if (managerRef != null) {
                lastProblem = "the connection manager failed to activate"
                        + LogBridge.lastError(managerRef.getBundle().getSymbolicName()).map(e -> " (" + e + ")")
                                .orElse("");
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new LaunchException("the node was not ready within " + options.readyTimeout().toSeconds()
                        + " s: " + lastProblem + notActive(bundles) + "; see "
                        + options.home().resolve("logs").resolve(Logs.FILE));
            }
            awaitChange(Math.min(left, TimeUnit.MILLISECONDS.toNanos(100)));
        }
        throw new LaunchException("stopped by a signal while starting");
    }

    /**
     * @return the connection manager, held until the framework stops; null while
     *         there is none or it failed to activate (tried again when it is re-registered)
     */
    private Object manager(BundleContext context) {
        ServiceReference<?> ref = reference(context, CONNECTION_MANAGER);
        if (ref == null) {
            managerRef = null;
            manager = null;
            return null;
        }
        if (!ref.equals(managerRef)) {
            managerRef = ref;
            // A lazy (delayed) component activates here; if it throws, SCR logs why and this returns null.
            manager = context.getService(ref);
        }
        return manager;
    }

    private void listen(Class<?> api, Object cm, long deadline) throws ReflectiveOperationException, LaunchException {
        Object stage = api.getMethod("startListening").invoke(cm);
        try {
            ((CompletionStage<?>) stage).toCompletableFuture()
                    .get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause() instanceof java.util.concurrent.CompletionException c && c.getCause() != null
                    ? c.getCause() : e.getCause();
            throw new LaunchException("the node cannot listen: " + Gogo.oneLine(cause), e);
        } catch (TimeoutException e) {
            throw new LaunchException("the node did not start listening within " + options.readyTimeout().toSeconds() + " s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LaunchException("interrupted while waiting for the node to listen");
        }
    }

    /**
     * @return the protocols the node is asked to listen on: --listen, else the
     *         {@code listen} key of the core configuration; empty when neither says
     */
    private Optional<Set<String>> wantedProtocols(List<Configs.Config> configs) {
        List<String> endpoints = new ArrayList<>(options.listen());
        if (endpoints.isEmpty()) {
            Optional<String> configured = configs.stream()
                    .filter(c -> c.name() == null && CORE_PID.equals(c.pid()))
                    .map(c -> c.properties().get(CORE_LISTEN_KEY)).filter(v -> v != null).findFirst();
            if (configured.isEmpty()) {
                return Optional.empty();
            }
            endpoints.addAll(List.of(configured.get().split(",")));
        }
        Set<String> protocols = new LinkedHashSet<>();
        for (String e : endpoints) {
            int i = e.indexOf("://");
            if (i > 0) {
                protocols.add(e.substring(0, i).trim());
            }
        }
        return Optional.of(protocols);
    }

    @SuppressWarnings("unchecked")
    private static Set<String> protocolsOf(Object peerAddress) throws ReflectiveOperationException {
        return new LinkedHashSet<>((Collection<String>) peerAddress.getClass().getMethod("transportHints")
                .invoke(peerAddress));
    }

    /** @return protocol name to service id of the registered transports */
    private static Map<String, Long> transports(BundleContext context) {
        Map<String, Long> out = new HashMap<>();
        try {
            ServiceReference<?>[] refs = context.getAllServiceReferences(TRANSPORT, null);
            if (refs != null) {
                for (ServiceReference<?> r : refs) {
                    if (r.getProperty(TRANSPORT_PROTOCOL) instanceof String p) {
                        out.put(p, (Long) r.getProperty(Constants.SERVICE_ID));
                    }
                }
            }
        } catch (InvalidSyntaxException e) {
            throw new IllegalStateException(e);
        }
        return out;
    }

    private static String notActive(List<Bundle> bundles) {
        List<String> names = new ArrayList<>();
        for (Bundle b : bundles) {
            if (b.getState() != Bundle.ACTIVE && b.getHeaders().get(Constants.FRAGMENT_HOST) == null
                    && !GOGO_SHELL_BUNDLE.equals(b.getSymbolicName())) {
                names.add(b.getSymbolicName() + " (" + state(b.getState()) + ")");
            }
        }
        return names.isEmpty() ? "" : "; bundles not active: " + String.join(", ", names);
    }

    private static String state(int state) {
        return switch (state) {
            case Bundle.INSTALLED -> "installed, not resolved";
            case Bundle.RESOLVED -> "resolved, not started";
            case Bundle.STARTING -> "starting";
            case Bundle.STOPPING -> "stopping";
            case Bundle.UNINSTALLED -> "uninstalled";
            default -> "active";
        };
    }

    private static ServiceReference<?> reference(BundleContext context, String clazz) {
        try {
            // getAll...: the launcher cannot load the service's class, so the class-space check must not apply.
            ServiceReference<?>[] refs = context.getAllServiceReferences(clazz, null);
            if (refs == null || refs.length == 0) {
                return null;
            }
            ServiceReference<?> best = refs[0];
            for (ServiceReference<?> r : refs) {
                if (r.compareTo(best) > 0) {
                    best = r;
                }
            }
            return best;
        } catch (InvalidSyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private void signalChange() {
        synchronized (changes) {
            changed = true;
            changes.notifyAll();
        }
    }

    private void awaitChange(long nanos) throws LaunchException {
        synchronized (changes) {
            try {
                if (!changed) {
                    TimeUnit.NANOSECONDS.timedWait(changes, nanos);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new LaunchException("interrupted while waiting for the node");
            }
            changed = false;
        }
    }

    /** Runs the commands in one Gogo session, stopping at the first that fails. */
    private int runCommands(BundleContext context, List<String> commands) throws LaunchException {
        long deadline = System.nanoTime() + options.readyTimeout().toNanos();
        ServiceReference<?> ref;
        while ((ref = reference(context, Gogo.COMMAND_PROCESSOR)) == null) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new LaunchException("the Gogo command processor did not start (bundle "
                        + "org.apache.felix.gogo.runtime)" + " within " + options.readyTimeout().toSeconds() + " s");
            }
            awaitChange(Math.min(left, TimeUnit.MILLISECONDS.toNanos(100)));
        }
        Object processor = context.getService(ref);
        try (Gogo gogo = new Gogo(processor, ref.getBundle(), out, err)) {
            // Unqualified names find the kizuna commands first: "ping" is kizuna:ping.
            gogo.put("SCOPE", "kizuna:gogo:*");
            for (String command : commands) {
                try {
                    String result = gogo.execute(command);
                    if (result != null) {
                        out.println(result);
                    }
                    out.flush();
                } catch (Exception e) {
                    out.flush();
                    err.println("error: " + Gogo.oneLine(e));
                    err.flush();
                    LOG.log(Level.FINE, "command failed: " + command, e);
                    return 1;
                }
            }
            return 0;
        } catch (ReflectiveOperationException e) {
            throw new LaunchException("the Gogo runtime is not the expected version: " + e, e);
        } finally {
            context.ungetService(ref);
        }
    }

    private int awaitStop() {
        Framework f = framework;
        try {
            FrameworkEvent e = f.waitForStop(0);
            LOG.info("node stopped");
            return e.getType() == FrameworkEvent.ERROR ? 1 : 0;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        }
    }

    /** From a signal handler: stop on another thread, the main thread then exits. */
    private void stopInBackground() {
        terminated = true;
        signalChange();
        Thread t = new Thread(this::stopAndWait, "kizuna-stop");
        t.setDaemon(true);
        t.start();
    }

    /**
     * Stops the connection manager's bundle before the framework stops the rest
     * (in reverse install order, transports first), so peers are told the node
     * is stopping rather than that a transport is leaving.
     */
    private static void stopManagerFirst(Framework f) {
        ServiceReference<?> ref = reference(f.getBundleContext(), CONNECTION_MANAGER);
        if (ref == null || ref.getBundle() == null) {
            return;
        }
        try {
            ref.getBundle().stop(Bundle.STOP_TRANSIENT);
        } catch (BundleException | RuntimeException e) {
            LOG.log(Level.FINE, "stopping the connection manager first failed; the framework stops it", e);
        }
    }

    /** Stops the framework (components deactivate, connections close) and waits a bounded time. */
    private void stopAndWait() {
        Framework f = framework;
        if (f == null) {
            return;
        }
        synchronized (this) {
            if ((f.getState() & (Bundle.ACTIVE | Bundle.STARTING)) != 0) {
                LOG.info("stopping node");
                stopManagerFirst(f);
                try {
                    f.stop();
                    FrameworkEvent e = f.waitForStop(STOP_TIMEOUT.toMillis());
                    if (e.getType() == FrameworkEvent.WAIT_TIMEDOUT) {
                        LOG.warning("the framework did not stop within " + STOP_TIMEOUT.toSeconds() + " s");
                    }
                } catch (BundleException | RuntimeException e) {
                    LOG.log(Level.WARNING, "stopping the framework failed", e);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }
}
