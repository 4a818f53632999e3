package io.kizuna.itests;

import static org.ops4j.pax.exam.CoreOptions.bootDelegationPackages;
import static org.ops4j.pax.exam.CoreOptions.cleanCaches;
import static org.ops4j.pax.exam.CoreOptions.composite;
import static org.ops4j.pax.exam.CoreOptions.frameworkProperty;
import static org.ops4j.pax.exam.CoreOptions.junitBundles;
import static org.ops4j.pax.exam.CoreOptions.mavenBundle;
import static org.ops4j.pax.exam.CoreOptions.systemProperty;
import static org.ops4j.pax.exam.CoreOptions.systemTimeout;

import java.nio.file.Path;

import org.ops4j.pax.exam.Option;

/**
 * The Felix node every pax-exam test boots: the runtime's bundles (SCR,
 * ConfigAdmin, Metatype, Gogo, Netty, Kizuna), resolved offline from the local
 * Maven repository, listening on loopback only.
 */
final class KizunaOptions {

    private KizunaOptions() {
    }

    /**
     * @param name names the node's home folder (identity key, logs) under the work folder
     * @return the options of one node listening on a free loopback TCP port
     */
    static Option node(String name) {
        return node(name, "tcp://127.0.0.1:0");
    }

    /**
     * @param name   names the node's home folder (identity key, logs) under the work folder
     * @param listen the framework property kizuna.listen: the endpoints the manager binds
     *               whenever a transport for them is there
     * @return the options of one node
     */
    static Option node(String name, String listen) {
        return composite(
                offlineMaven(),
                systemTimeout(60_000),
                cleanCaches(true),
                // Netty reaches sun.misc.Unsafe for its fast paths, as in the runtime.
                bootDelegationPackages("sun.*", "com.sun.*"),
                frameworkProperty("kizuna.home").value(Itest.workFolder(name + "-home").toString()),
                // only loopback, free ports: tests run side by side with other builds
                frameworkProperty("kizuna.listen").value(listen),
                systemProperty("org.ops4j.pax.logging.DefaultServiceLog.level").value("INFO"),
                systemProperty(Itest.WORK).value(Itest.property(Itest.WORK)),
                systemProperty(Itest.DIST).value(Itest.property(Itest.DIST)),
                systemProperty(Itest.ECHO_BUNDLE).value(Itest.property(Itest.ECHO_BUNDLE)),
                systemProperty(Itest.UNIX_BUNDLE).value(Itest.property(Itest.UNIX_BUNDLE)),
                systemProperty(Itest.FILES_BUNDLE).value(Itest.property(Itest.FILES_BUNDLE)),
                systemProperty(Itest.LOCAL_REPOSITORY).value(Itest.property(Itest.LOCAL_REPOSITORY)),

                // Declarative Services and what it needs
                mavenBundle("org.osgi", "org.osgi.util.function").versionAsInProject(),
                mavenBundle("org.osgi", "org.osgi.util.promise").versionAsInProject(),
                mavenBundle("org.osgi", "org.osgi.service.component").versionAsInProject(),
                mavenBundle("org.apache.felix", "org.apache.felix.scr").versionAsInProject(),
                // configuration
                mavenBundle("org.osgi", "org.osgi.service.log").versionAsInProject(),
                mavenBundle("org.apache.felix", "org.apache.felix.configadmin").versionAsInProject(),
                mavenBundle("org.apache.felix", "org.apache.felix.metatype").versionAsInProject(),
                // Gogo (no interactive shell: the tests use the CommandProcessor)
                mavenBundle("org.apache.felix", "org.apache.felix.gogo.runtime").versionAsInProject(),
                mavenBundle("org.apache.felix", "org.apache.felix.gogo.command").versionAsInProject(),
                // Netty
                mavenBundle("io.netty", "netty-common").versionAsInProject(),
                mavenBundle("io.netty", "netty-buffer").versionAsInProject(),
                mavenBundle("io.netty", "netty-resolver").versionAsInProject(),
                mavenBundle("io.netty", "netty-transport").versionAsInProject(),
                mavenBundle("io.netty", "netty-transport-native-unix-common").versionAsInProject(),
                mavenBundle("io.netty", "netty-codec-base").versionAsInProject(),
                mavenBundle("io.netty", "netty-handler").versionAsInProject(),
                // OpenSSL for TLS: BoringSSL is a fragment of netty-tcnative-classes, installed and never started
                mavenBundle("io.netty", "netty-tcnative-classes").versionAsInProject(),
                mavenBundle("io.netty", "netty-tcnative-boringssl-static").classifier("linux-x86_64")
                        .versionAsInProject().noStart(),
                mavenBundle("io.netty", "netty-codec-classes-quic").versionAsInProject(),
                // quiche: a fragment of codec-classes-quic, installed and never started
                mavenBundle("io.netty", "netty-codec-native-quic").classifier("linux-x86_64").versionAsInProject()
                        .noStart(),
                // epoll, for QUIC's UDP segmentation offload; its native library is a fragment too
                mavenBundle("io.netty", "netty-transport-classes-epoll").versionAsInProject(),
                mavenBundle("io.netty", "netty-transport-native-epoll").classifier("linux-x86_64").versionAsInProject()
                        .noStart(),
                // the WebRTC transport's WebSocket signaling endpoint
                mavenBundle("io.netty", "netty-codec-compression").versionAsInProject(),
                mavenBundle("io.netty", "netty-codec-http").versionAsInProject(),
                // Kizuna
                mavenBundle("io.kizuna", "api").versionAsInProject(),
                mavenBundle("io.kizuna", "identity").versionAsInProject(),
                mavenBundle("io.kizuna", "core").versionAsInProject(),
                mavenBundle("io.kizuna", "tcp").versionAsInProject(),
                mavenBundle("io.kizuna", "quic").versionAsInProject(),
                mavenBundle("io.kizuna", "nat").versionAsInProject(),
                mavenBundle("io.kizuna", "websocket").versionAsInProject(),
                mavenBundle("io.kizuna", "relay").versionAsInProject(),
                mavenBundle("io.kizuna", "shell").versionAsInProject(),
                mavenBundle("io.kizuna", "webrtc").versionAsInProject(),

                junitBundles());
    }

    /** pax-url resolves from the local repository only: never the network. */
    private static Option offlineMaven() {
        String local = Path.of(Itest.property(Itest.LOCAL_REPOSITORY)).toAbsolutePath().toString();
        return composite(
                systemProperty("org.ops4j.pax.url.mvn.localRepository").value(local),
                systemProperty("org.ops4j.pax.url.mvn.offline").value("true"),
                systemProperty("org.ops4j.pax.url.mvn.useFallbackRepositories").value("false"),
                systemProperty("org.ops4j.pax.url.mvn.repositories").value(""),
                systemProperty("org.ops4j.pax.url.mvn.defaultRepositories").value(""));
    }
}
