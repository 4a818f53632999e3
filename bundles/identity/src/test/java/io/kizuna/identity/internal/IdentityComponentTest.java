package io.kizuna.identity.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.File;
import java.io.IOException;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;

import io.kizuna.identity.Identities;
import io.kizuna.identity.TlsEngine;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.osgi.framework.BundleContext;

class IdentityComponentTest {

    @TempDir
    Path tmp;

    @Test
    void theKeyLivesUnderKizunaHomeByDefault() throws Exception {
        Path home = tmp.resolve("home");
        IdentityComponent component = new IdentityComponent(config(""), context(Map.of("kizuna.home", home.toString()),
                tmp.resolve("data")));
        Path key = home.resolve("identity/node.key");
        assertThat(component.keyFile()).isEqualTo(key.toAbsolutePath());
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(key))).isEqualTo("rw-------");
        assertThat(Files.exists(tmp.resolve("data"))).isFalse();

        // Reactivation (a restart) keeps the identity.
        IdentityComponent again = new IdentityComponent(config(""), context(Map.of("kizuna.home", home.toString()),
                tmp.resolve("data")));
        assertThat(again.peerId()).isEqualTo(component.peerId());
        assertThat(Identities.loadOrCreate(key).peerId()).isEqualTo(component.peerId());
    }

    @Test
    void withoutHomeTheKeyLivesInTheBundleDataArea() throws Exception {
        IdentityComponent component = new IdentityComponent(config(""), context(Map.of(), tmp.resolve("data")));
        assertThat(component.keyFile()).isEqualTo(tmp.resolve("data/node.key").toAbsolutePath());
        assertThat(Files.isRegularFile(tmp.resolve("data/node.key"))).isTrue();
    }

    @Test
    void aConfiguredKeyFileWins() throws Exception {
        Path configured = tmp.resolve("elsewhere/my.key");
        IdentityComponent component = new IdentityComponent(config(configured.toString()),
                context(Map.of("kizuna.home", tmp.resolve("home").toString()), tmp.resolve("data")));
        assertThat(component.keyFile()).isEqualTo(configured);
        assertThat(Files.exists(configured)).isTrue();
        assertThat(Files.exists(tmp.resolve("home"))).isFalse();
    }

    @Test
    void aRelativeKeyFileIsResolvedAgainstHome() throws IOException {
        assertThat(IdentityComponent.keyFile("keys/a.key", "/srv/node", () -> null))
                .isEqualTo(Path.of("/srv/node/keys/a.key"));
        assertThat(IdentityComponent.keyFile("  ", "/srv/node", () -> null))
                .isEqualTo(Path.of("/srv/node/identity/node.key"));
        assertThat(IdentityComponent.keyFile("/abs/a.key", "/srv/node", () -> null)).isEqualTo(Path.of("/abs/a.key"));
    }

    @Test
    void withNeitherHomeNorDataAreaActivationFailsClearly() {
        assertThatThrownBy(() -> IdentityComponent.keyFile("", null, () -> null)).isInstanceOf(IOException.class)
                .hasMessageContaining("configure keyFile in io.kizuna.identity")
                .hasMessageContaining("kizuna.home");
    }

    @Test
    void aBadKeyFileFailsActivation() throws Exception {
        Path key = tmp.resolve("bad.key");
        Files.writeString(key, "garbage");
        Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-------"));
        assertThatThrownBy(() -> new IdentityComponent(config(key.toString()), context(Map.of(), tmp)))
                .isInstanceOf(IOException.class).hasMessageContaining(key.toString());
    }

    @Test
    void theServiceDelegatesToTheLoadedIdentity() throws Exception {
        IdentityComponent component = new IdentityComponent(config(""), context(Map.of(), tmp.resolve("data")));
        byte[] data = {1, 2, 3};
        assertThat(Identities.verify(component.peerId(), data, component.sign(data))).isTrue();
        assertThat(component.sslContext().getProtocol()).isEqualTo("TLSv1.3");
        assertThat(component.keyManager().getCertificateChain(IdentityKeyManager.ALIAS)).hasSize(1);
        assertThat(io.kizuna.identity.PeerCertificates.verify(
                component.keyManager().getCertificateChain(IdentityKeyManager.ALIAS))).isEqualTo(component.peerId());
        assertThat(component.trustManager()).isNotNull();
        assertThat(component.toString()).contains(component.peerId().toString());
    }

    @Test
    void theTlsEngineIsAutoUnlessConfigured() throws Exception {
        Map<String, String> noHome = Map.of();
        assertThat(new IdentityComponent(config(""), context(noHome, tmp.resolve("d1"))).tlsEngine())
                .isEqualTo(TlsEngine.AUTO);
        assertThat(new IdentityComponent(config("", " JDK "), context(noHome, tmp.resolve("d2"))).tlsEngine())
                .isEqualTo(TlsEngine.JDK);
        assertThat(new IdentityComponent(config("", "openssl"), context(noHome, tmp.resolve("d3"))).tlsEngine())
                .isEqualTo(TlsEngine.OPENSSL);
        // What tests and tools make outside the framework asks for the default as well.
        assertThat(Identities.generate().tlsEngine()).isEqualTo(TlsEngine.AUTO);
    }

    @Test
    void anUnknownTlsEngineFailsActivationNamingTheKeyAndTheChoices() {
        assertThatThrownBy(() -> new IdentityComponent(config("", "boringssl"), context(Map.of(), tmp)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("tlsEngine 'boringssl'")
                .hasMessageContaining("auto, openssl or jdk")
                .hasMessageContaining("io.kizuna.identity");
        assertThat(Files.exists(tmp.resolve("node.key"))).as("no key is made for a bad configuration").isFalse();
    }

    private static IdentityConfig config(String keyFile) {
        return config(keyFile, "auto");
    }

    private static IdentityConfig config(String keyFile, String tlsEngine) {
        return (IdentityConfig) Proxy.newProxyInstance(IdentityConfig.class.getClassLoader(),
                new Class<?>[] {IdentityConfig.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "keyFile" -> keyFile;
                    case "tlsEngine" -> tlsEngine;
                    case "annotationType" -> IdentityConfig.class;
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }

    private static BundleContext context(Map<String, String> properties, Path dataArea) {
        return (BundleContext) Proxy.newProxyInstance(BundleContext.class.getClassLoader(),
                new Class<?>[] {BundleContext.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "getProperty" -> properties.get((String) args[0]);
                    case "getDataFile" -> new File(dataArea.toFile(), (String) args[0]);
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }
}
