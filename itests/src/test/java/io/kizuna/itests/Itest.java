package io.kizuna.itests;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Collection;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;

import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;

/** What the integration tests share: their settings, folders, and waiting for services and futures. */
final class Itest {

    /** System property: a folder under target/ for nodes' homes and copies of distributions. */
    static final String WORK = "itest.work";
    /** System property: the runtime's Felix distribution (runtime/target/kizuna). */
    static final String DIST = "itest.dist";
    /** System property: the echo test bundle built by this module. */
    static final String ECHO_BUNDLE = "itest.echoBundle";
    /** System property: the example Unix domain socket transport's jar (examples/unix). */
    static final String UNIX_BUNDLE = "itest.unixBundle";
    /** System property: the example file transfer's jar (examples/files). */
    static final String FILES_BUNDLE = "itest.filesBundle";
    /** System property: the local Maven repository, the only place bundles come from. */
    static final String LOCAL_REPOSITORY = "itest.localRepository";
    /** System property: apache-karaf-VERSION.tar.gz. */
    static final String KARAF_ARCHIVE = "itest.karaf.archive";
    /** System property: this project's version. */
    static final String PROJECT_VERSION = "itest.projectVersion";

    /** The application protocol of the echo test bundle (io.kizuna.itests.echo.EchoHandler). */
    static final String ECHO = "itest/echo/1";

    private static final AtomicLong FOLDERS = new AtomicLong();

    private Itest() {
    }

    /**
     * @param name a system property set by the build
     * @return its value
     * @throws IllegalStateException when the tests were not started by Maven
     */
    static String property(String name) {
        String v = System.getProperty(name);
        if (v == null || v.isBlank()) {
            throw new IllegalStateException("system property " + name + " is not set: run these tests with Maven "
                    + "(cd itests && mvn verify), which sets it");
        }
        return v;
    }

    /**
     * @param name what the folder is for
     * @return a new, empty folder under the work folder
     */
    static Path workFolder(String name) {
        Path p = Path.of(property(WORK)).toAbsolutePath()
                .resolve(name + "-" + ProcessHandle.current().pid() + "-" + System.currentTimeMillis() + "-"
                        + FOLDERS.incrementAndGet());
        try {
            Files.createDirectories(p);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + p, e);
        }
        return p;
    }

    /**
     * Waits for a stage, failing the test with what it was waiting for.
     *
     * @param stage   the stage
     * @param timeout how long to wait
     * @param what    what is awaited, for the failure message
     * @return the stage's value
     */
    static <T> T join(CompletionStage<T> stage, Duration timeout, String what) {
        try {
            return stage.toCompletableFuture().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw new AssertionError(what + " failed: " + cause(e), cause(e));
        } catch (TimeoutException e) {
            throw new AssertionError(what + " did not complete within " + timeout.toMillis() + " ms");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while waiting for " + what);
        }
    }

    /**
     * Waits for a stage that must fail.
     *
     * @return the failure's cause (unwrapped from the stage's wrappers)
     */
    static Throwable failure(CompletionStage<?> stage, Duration timeout, String what) {
        try {
            Object value = stage.toCompletableFuture().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            throw new AssertionError(what + " should have failed but gave " + value);
        } catch (ExecutionException e) {
            return cause(e);
        } catch (TimeoutException e) {
            throw new AssertionError(what + " did neither succeed nor fail within " + timeout.toMillis() + " ms");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while waiting for " + what);
        }
    }

    static Throwable cause(Throwable t) {
        Throwable c = t;
        while ((c instanceof ExecutionException || c instanceof CompletionException) && c.getCause() != null) {
            c = c.getCause();
        }
        return c;
    }

    /**
     * Waits until a service is registered.
     *
     * @param context the bundle context
     * @param type    the service interface
     * @param filter  an LDAP filter on its properties, or null
     * @param timeout how long to wait
     * @return the service's reference
     */
    static <T> ServiceReference<T> awaitService(BundleContext context, Class<T> type, String filter,
            Duration timeout) {
        return await("service " + type.getName() + (filter == null ? "" : " " + filter)).atMost(timeout)
                .pollInterval(Duration.ofMillis(20)).until(() -> reference(context, type, filter), r -> r != null);
    }

    /** @return the best matching reference now, or null */
    static <T> ServiceReference<T> reference(BundleContext context, Class<T> type, String filter) {
        try {
            Collection<ServiceReference<T>> refs = context.getServiceReferences(type, filter);
            return refs.stream().max(ServiceReference::compareTo).orElse(null);
        } catch (InvalidSyntaxException e) {
            throw new IllegalArgumentException(filter, e);
        }
    }

    /**
     * @param context        the bundle context
     * @param symbolicName   a bundle's symbolic name
     * @return the bundle
     */
    static Bundle bundle(BundleContext context, String symbolicName) {
        return Arrays.stream(context.getBundles()).filter(b -> symbolicName.equals(b.getSymbolicName())).findFirst()
                .orElseThrow(() -> new AssertionError("no bundle " + symbolicName + " installed; installed: "
                        + Arrays.stream(context.getBundles()).map(Bundle::getSymbolicName)
                                .collect(Collectors.joining(", "))));
    }

    /** @return the name of a bundle state */
    static String state(int state) {
        return switch (state) {
            case Bundle.UNINSTALLED -> "UNINSTALLED";
            case Bundle.INSTALLED -> "INSTALLED (not resolved)";
            case Bundle.RESOLVED -> "RESOLVED (not started)";
            case Bundle.STARTING -> "STARTING";
            case Bundle.STOPPING -> "STOPPING";
            case Bundle.ACTIVE -> "ACTIVE";
            default -> "state " + state;
        };
    }
}
