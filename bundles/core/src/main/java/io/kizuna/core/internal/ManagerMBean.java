package io.kizuna.core.internal;

import java.util.Map;
import java.util.TreeMap;

import io.kizuna.transport.ConnectionMetrics;

/** The MXBean behind {@code io.kizuna:type=ConnectionManager}: reads the manager's metrics on each call. */
final class ManagerMBean implements ConnectionManagerMXBean {

    private final ConnectionManagerImpl manager;

    ManagerMBean(ConnectionManagerImpl manager) {
        this.manager = manager;
    }

    private ConnectionMetrics m() {
        return manager.metrics();
    }

    @Override
    public String getPeerId() {
        return manager.localPeerId().toString();
    }

    @Override
    public long getEstablished() {
        return m().established();
    }

    @Override
    public long getFailed() {
        return m().failed();
    }

    @Override
    public long getActive() {
        return m().active();
    }

    @Override
    public long getBytesSent() {
        return m().bytesSent();
    }

    @Override
    public long getBytesReceived() {
        return m().bytesReceived();
    }

    @Override
    public double getAverageLatencyMillis() {
        return m().averageLatency().map(d -> d.toNanos() / 1e6).orElse(-1.0);
    }

    @Override
    public Map<String, Long> getProtocolUsage() {
        return new TreeMap<>(m().protocolUsage());
    }

    @Override
    public long getProtocolViolations() {
        return manager.protocolViolations();
    }

    @Override
    public long getPerPeerLimitRefusals() {
        return manager.perPeerRefusals();
    }

    @Override
    public long getAnnouncedEndpointsDropped() {
        return manager.announcedEndpointsDropped();
    }

    @Override
    public int getKnownPeers() {
        return manager.knownPeerCount();
    }

    @Override
    public String[] getListenEndpoints() {
        return manager.localAddress().endpoints().stream().map(Object::toString).toArray(String[]::new);
    }

    @Override
    public String[] getTransports() {
        return manager.transportSummaries().toArray(String[]::new);
    }
}
