package io.kizuna.webrtc.internal;

import java.util.Locale;
import java.util.OptionalInt;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** What the transport reads from an SDP: the DTLS fingerprint and the message size limit. */
final class Sdp {

    private static final Pattern FINGERPRINT = Pattern.compile("^a=fingerprint:(\\S+) ([0-9A-Fa-f:]+)\\s*$",
            Pattern.MULTILINE);
    private static final Pattern MAX_MESSAGE_SIZE = Pattern.compile("^a=max-message-size:(\\d{1,10})\\s*$",
            Pattern.MULTILINE);

    private Sdp() {
    }

    /**
     * The one DTLS certificate fingerprint an SDP declares.
     *
     * @param sdp the session description
     * @return {@code sha-256 AB:CD:...}, the hex in upper case
     * @throws IllegalArgumentException when there is none, several different ones,
     *         or one with another hash than SHA-256
     */
    static String fingerprint(String sdp) {
        Matcher m = FINGERPRINT.matcher(sdp);
        String found = null;
        while (m.find()) {
            String value = m.group(1).toLowerCase(Locale.ROOT) + " " + m.group(2).toUpperCase(Locale.ROOT);
            if (!value.startsWith("sha-256 ") || m.group(2).length() != 32 * 3 - 1) {
                throw new IllegalArgumentException("the SDP's DTLS fingerprint is not SHA-256: " + value);
            }
            if (found != null && !found.equals(value)) {
                throw new IllegalArgumentException("the SDP declares two DTLS fingerprints");
            }
            found = value;
        }
        if (found == null) {
            throw new IllegalArgumentException("the SDP declares no DTLS fingerprint");
        }
        return found;
    }

    /**
     * Removes the ICE candidates an SDP carries (a peer may put those it gathered
     * before sending it there) that {@code allowed} refuses, so that they get the
     * same check as trickled ones.
     *
     * @param sdp     the session description
     * @param allowed tells whether a candidate line ({@code candidate:...}) may be used
     * @return the description without the refused candidates
     */
    static String withCandidates(String sdp, java.util.function.Predicate<String> allowed) {
        StringBuilder out = new StringBuilder(sdp.length());
        for (String line : sdp.split("(?<=\n)")) {
            String content = line.strip();
            if (content.startsWith("a=candidate:") && !allowed.test(content.substring(2))) {
                continue;
            }
            out.append(line);
        }
        return out.toString();
    }

    /**
     * @param sdp the session description
     * @return the peer's {@code a=max-message-size}, when it declares one (0 means no limit)
     */
    static OptionalInt maxMessageSize(String sdp) {
        Matcher m = MAX_MESSAGE_SIZE.matcher(sdp);
        if (!m.find()) {
            return OptionalInt.empty();
        }
        long v = Long.parseLong(m.group(1));
        return OptionalInt.of((int) Math.min(Integer.MAX_VALUE, v));
    }
}
