package io.kizuna.webrtc.internal;

import java.util.Locale;

import dev.onvoid.webrtc.PeerConnectionFactory;
import dev.onvoid.webrtc.internal.NativeLoader;
import dev.onvoid.webrtc.media.audio.HeadlessAudioDeviceModule;

/**
 * libwebrtc, through webrtc-java's JNI library: loads it and makes the one
 * {@link PeerConnectionFactory} a transport uses, or says why it cannot.
 */
final class NativeWebRtc {

    /** The Debian packages the JNI library links against, beyond the C and C++ runtimes. */
    static final String DEBIAN_PACKAGES = "libpulse0 libudev1 libx11-6 libxfixes3 libxrandr2 libxcomposite1 "
            + "libdbus-1-3";

    private final PeerConnectionFactory factory;
    private final HeadlessAudioDeviceModule audio;
    private final String problem;

    private NativeWebRtc(PeerConnectionFactory factory, HeadlessAudioDeviceModule audio, String problem) {
        this.factory = factory;
        this.audio = audio;
        this.problem = problem;
    }

    /**
     * @param library the JNI library's name, as webrtc-java's loader takes it
     * @return the loaded library with its factory, or the reason it is unusable
     */
    static NativeWebRtc load(String library) {
        String os = System.getProperty("os.name", "?").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "?").toLowerCase(Locale.ROOT);
        if (!os.startsWith("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) {
            return new NativeWebRtc(null, null, "this bundle embeds libwebrtc for linux-x86_64 only, and this is "
                    + os + "/" + arch);
        }
        try {
            NativeLoader.loadLibrary(library);
        } catch (Throwable e) {
            return new NativeWebRtc(null, null, "libwebrtc (JNI library '" + library + "') did not load: "
                    + describe(e) + "; on Debian it needs " + DEBIAN_PACKAGES);
        }
        try {
            HeadlessAudioDeviceModule audio = new HeadlessAudioDeviceModule();
            return new NativeWebRtc(new PeerConnectionFactory(audio), audio, null);
        } catch (Throwable e) {
            return new NativeWebRtc(null, null, "libwebrtc loaded but could not start: " + describe(e));
        }
    }

    private static String describe(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String m = root.getMessage();
        if (root instanceof NullPointerException) {
            return "the bundle holds no such library";
        }
        return root.getClass().getSimpleName() + (m == null ? "" : ": " + m);
    }

    /** @return the factory; only when {@link #problem()} is null */
    PeerConnectionFactory factory() {
        return factory;
    }

    /** @return why libwebrtc is unusable here, or null */
    String problem() {
        return problem;
    }

    /** Releases the factory's threads and native memory. */
    void dispose() {
        if (factory != null) {
            factory.dispose();
            audio.dispose();
        }
    }
}
