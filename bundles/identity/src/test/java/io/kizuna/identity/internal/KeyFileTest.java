package io.kizuna.identity.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;

import io.kizuna.identity.Identities;
import io.kizuna.identity.NodeIdentity;
import io.kizuna.transport.PeerId;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

class KeyFileTest {

    /** RFC 8032 section 7.1, test 1: secret key, public key, and the signature of the empty message. */
    private static final byte[] RFC8032_SECRET =
            HexFormat.of().parseHex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
    private static final byte[] RFC8032_PUBLIC =
            HexFormat.of().parseHex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    private static final byte[] RFC8032_SIGNATURE = HexFormat.of().parseHex(
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
    /** PrivateKeyInfo for id-Ed25519 (RFC 8410) up to the 32-byte seed. */
    private static final byte[] PKCS8_PREFIX = HexFormat.of().parseHex("302e020100300506032b657004220420");

    @TempDir
    Path tmp;

    @Test
    void theKeyIsCreatedOwnerOnlyOnFirstLoadAndTheSameOnReload() throws Exception {
        Path file = tmp.resolve("home/identity/node.key");
        NodeIdentity first = Identities.loadOrCreate(file);

        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file.getParent())))
                .isEqualTo("rwx------");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file.getParent().getParent())))
                .isEqualTo("rwx------");
        String pem = Files.readString(file, StandardCharsets.US_ASCII);
        assertThat(pem).startsWith("-----BEGIN PRIVATE KEY-----\n").endsWith("-----END PRIVATE KEY-----\n");
        // no temporary file left behind
        try (var files = Files.list(file.getParent())) {
            assertThat(files).containsExactly(file);
        }

        NodeIdentity second = Identities.loadOrCreate(file);
        assertThat(second.peerId()).isEqualTo(first.peerId());
        byte[] data = "hello".getBytes(StandardCharsets.US_ASCII);
        assertThat(Identities.verify(first.peerId(), data, second.sign(data))).isTrue();
        assertThat(Files.readString(file, StandardCharsets.US_ASCII)).isEqualTo(pem);
    }

    @Test
    void anExistingFolderKeepsItsMode() throws Exception {
        Files.createDirectories(tmp.resolve("shared"));
        Files.setPosixFilePermissions(tmp.resolve("shared"), PosixFilePermissions.fromString("rwxr-xr-x"));
        Path file = tmp.resolve("shared/node.key");
        Identities.loadOrCreate(file);
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file.getParent())))
                .isEqualTo("rwxr-xr-x");
    }

    @Test
    void aStandardPkcs8KeyLoadsToItsKnownPublicKey() throws Exception {
        Path file = tmp.resolve("rfc8032.key");
        write(file, KeyFile.encode(Der.concat(PKCS8_PREFIX, RFC8032_SECRET)));
        NodeIdentity identity = Identities.loadOrCreate(file);
        assertThat(identity.peerId()).isEqualTo(PeerId.of(RFC8032_PUBLIC));
        assertThat(identity.sign(new byte[0])).isEqualTo(RFC8032_SIGNATURE);
        assertThat(Identities.verify(PeerId.of(RFC8032_PUBLIC), new byte[0], RFC8032_SIGNATURE)).isTrue();
    }

    @Test
    void bareDerIsAcceptedToo() throws Exception {
        Path file = tmp.resolve("der.key");
        write(file, Der.concat(PKCS8_PREFIX, RFC8032_SECRET));
        assertThat(Identities.loadOrCreate(file).peerId()).isEqualTo(PeerId.of(RFC8032_PUBLIC));
    }

    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void concurrentFirstLoadsAgreeOnOneKey() throws Exception {
        Path file = tmp.resolve("race/node.key");
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Callable<PeerId>> loads = IntStream.range(0, 8)
                    .<Callable<PeerId>>mapToObj(i -> () -> Identities.loadOrCreate(file).peerId()).toList();
            List<PeerId> ids = pool.invokeAll(loads).stream().map(KeyFileTest::get).toList();
            assertThat(ids).containsOnly(Identities.loadOrCreate(file).peerId());
        } finally {
            pool.shutdownNow();
        }
        try (var files = Files.list(file.getParent())) {
            assertThat(files).containsExactly(file);
        }
    }

    @Test
    void garbageIsRefusedClearly() throws Exception {
        Path file = tmp.resolve("node.key");
        write(file, "this is not a key\n".getBytes(StandardCharsets.US_ASCII));
        assertThatThrownBy(() -> Identities.loadOrCreate(file)).isInstanceOf(IOException.class)
                .hasMessageContaining(file.toString())
                .hasMessageContaining("holds no PEM block, expected '-----BEGIN PRIVATE KEY-----'");
        // the file is left as it was: a broken key is never silently replaced
        assertThat(Files.readString(file)).isEqualTo("this is not a key\n");
    }

    @Test
    void aCorruptKeyIsRefusedClearly() throws Exception {
        Path file = tmp.resolve("node.key");
        byte[] der = Der.concat(PKCS8_PREFIX, RFC8032_SECRET);
        write(file, KeyFile.encode(java.util.Arrays.copyOf(der, der.length - 5)));
        assertThatThrownBy(() -> Identities.loadOrCreate(file)).isInstanceOf(IOException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining("holds no valid Ed25519 private key");
    }

    @Test
    void anEmptyFileIsRefusedClearly() throws Exception {
        Path file = tmp.resolve("node.key");
        write(file, new byte[0]);
        assertThatThrownBy(() -> Identities.loadOrCreate(file)).isInstanceOf(IOException.class)
                .hasMessageContaining(file + " is empty");
    }

    @Test
    void aKeyOfAnotherTypeIsRefusedClearly() throws Exception {
        Path file = tmp.resolve("node.key");
        KeyPairGenerator ec = KeyPairGenerator.getInstance("EC");
        ec.initialize(new ECGenParameterSpec("secp256r1"));
        write(file, KeyFile.encode(ec.generateKeyPair().getPrivate().getEncoded()));
        assertThatThrownBy(() -> Identities.loadOrCreate(file)).isInstanceOf(IOException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining("holds no valid Ed25519 private key");
    }

    @Test
    void aPemBlockOfAnotherKindIsRefusedClearly() throws Exception {
        Path file = tmp.resolve("node.key");
        String cert = "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n";
        write(file, cert.getBytes(StandardCharsets.US_ASCII));
        assertThatThrownBy(() -> Identities.loadOrCreate(file)).isInstanceOf(IOException.class)
                .hasMessageContaining("a PEM block of another kind (-----BEGIN CERTIFICATE-----)");
    }

    @Test
    void aKeyOthersMayReadIsRefused() throws Exception {
        Path file = tmp.resolve("node.key");
        PeerId id = Identities.loadOrCreate(file).peerId();
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        assertThatThrownBy(() -> Identities.loadOrCreate(file)).isInstanceOf(IOException.class)
                .hasMessageContaining("has mode rw-r--r--")
                .hasMessageContaining("chmod 600 " + file);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw--w----"));
        assertThatThrownBy(() -> Identities.loadOrCreate(file)).hasMessageContaining("has mode rw--w----");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("r--------"));
        assertThat(Identities.loadOrCreate(file).peerId()).isEqualTo(id);
    }

    @Test
    void aFolderInPlaceOfTheKeyIsRefused() throws Exception {
        Path file = Files.createDirectories(tmp.resolve("node.key"));
        assertThatThrownBy(() -> Identities.loadOrCreate(file)).isInstanceOf(IOException.class)
                .hasMessageContaining("is not a regular file");
    }

    @Test
    void aHugeFileIsRefusedWithoutReadingIt() throws Exception {
        Path file = tmp.resolve("node.key");
        write(file, new byte[KeyFile.MAX_SIZE + 1]);
        assertThatThrownBy(() -> Identities.loadOrCreate(file)).isInstanceOf(IOException.class)
                .hasMessageContaining("more than any key file");
    }

    private static void write(Path file, byte[] content) throws IOException {
        Files.write(file, content);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    }

    private static PeerId get(Future<PeerId> f) {
        try {
            return f.get();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
