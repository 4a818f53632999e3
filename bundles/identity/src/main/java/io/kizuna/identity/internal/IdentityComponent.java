package io.kizuna.identity.internal;

import java.io.File;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.util.function.Supplier;

import javax.net.ssl.SSLContext;
import javax.net.ssl.X509ExtendedKeyManager;
import javax.net.ssl.X509ExtendedTrustManager;

import io.kizuna.identity.NodeIdentity;
import io.kizuna.identity.TlsEngine;
import io.kizuna.transport.PeerId;

import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.metatype.annotations.Designate;

/**
 * Registers this node's {@link NodeIdentity}, loading the key file or creating it
 * on first start. A changed configuration reactivates the component, so the
 * service is re-registered with the new key and its users rebind.
 *
 * <p>Public only because the component runtime instantiates it reflectively; the
 * package is not exported.
 */
@Component(service = NodeIdentity.class, configurationPid = IdentityComponent.PID)
@Designate(ocd = IdentityConfig.class)
public final class IdentityComponent implements NodeIdentity {

    /** The configuration PID. */
    static final String PID = "io.kizuna.identity";

    /** Framework property naming the node's home folder. */
    static final String HOME_PROPERTY = "kizuna.home";

    /** Where the key lives under the home folder. */
    static final String KEY_UNDER_HOME = "identity/node.key";

    /** Where the key lives in the bundle's data area when there is no home folder. */
    static final String KEY_IN_DATA_AREA = "node.key";

    private static final System.Logger LOG = System.getLogger(IdentityComponent.class.getName());

    private final LocalIdentity identity;
    private final Path keyFile;
    private final TlsEngine tlsEngine;

    /**
     * @param config  the configuration
     * @param context the bundle context, for {@code kizuna.home} and the data area
     * @throws IOException when the key file cannot be read or created (the message says why and what to do)
     * @throws IllegalArgumentException when {@code tlsEngine} names no engine
     */
    @Activate
    public IdentityComponent(IdentityConfig config, BundleContext context) throws IOException {
        try {
            this.tlsEngine = TlsEngine.parse(config.tlsEngine());
        } catch (IllegalArgumentException e) {
            LOG.log(Level.ERROR, "node identity not available: {0} (PID {1})", e.getMessage(), PID);
            throw new IllegalArgumentException(e.getMessage() + " (PID " + PID + ")", e);
        }
        this.keyFile = keyFile(config.keyFile(), context.getProperty(HOME_PROPERTY),
                () -> context.getDataFile(KEY_IN_DATA_AREA));
        try {
            this.identity = LocalIdentity.of(KeyFile.loadOrCreate(keyFile));
        } catch (IOException e) {
            LOG.log(Level.ERROR, "node identity not available: {0}", e.getMessage());
            throw e;
        }
        LOG.log(Level.INFO, "node identity {0} (key file {1})", identity.peerId(), keyFile);
    }

    /**
     * Chooses the key file.
     *
     * @param configured the configured keyFile, possibly empty
     * @param home       the kizuna.home framework property, or null
     * @param dataArea   the bundle's data file for the key, may give null without a file system
     * @return the key file
     * @throws IOException when there is neither a configured file, a home nor a data area
     */
    static Path keyFile(String configured, String home, Supplier<File> dataArea) throws IOException {
        String trimmed = configured == null ? "" : configured.trim();
        boolean hasHome = home != null && !home.isBlank();
        if (!trimmed.isEmpty()) {
            Path path = Path.of(trimmed);
            return path.isAbsolute() || !hasHome ? path.toAbsolutePath() : Path.of(home).resolve(path).toAbsolutePath();
        }
        if (hasHome) {
            return Path.of(home).resolve(KEY_UNDER_HOME).toAbsolutePath();
        }
        File data = dataArea.get();
        if (data == null) {
            throw new IOException("no place for the node key: configure keyFile in " + PID
                    + ", or set the framework property " + HOME_PROPERTY
                    + " (the framework has no bundle data area)");
        }
        return data.toPath().toAbsolutePath();
    }

    /** @return the key file in use */
    Path keyFile() {
        return keyFile;
    }

    @Override
    public PeerId peerId() {
        return identity.peerId();
    }

    @Override
    public byte[] sign(byte[] data) {
        return identity.sign(data);
    }

    @Override
    public X509ExtendedKeyManager keyManager() {
        return identity.keyManager();
    }

    @Override
    public X509ExtendedTrustManager trustManager() {
        return identity.trustManager();
    }

    @Override
    public SSLContext sslContext() {
        return identity.sslContext();
    }

    @Override
    public TlsEngine tlsEngine() {
        return tlsEngine;
    }

    @Override
    public String toString() {
        return identity + " from " + keyFile;
    }
}
