package io.kizuna.transport;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Coverage-guided fuzzing (Jazzer) of the text forms of {@link PeerId},
 * {@link Endpoint} and {@link PeerAddress}, which arrive from configuration,
 * the shell and peers. The contract: only {@link IllegalArgumentException}
 * escapes, and what parses prints to a text that parses back to an equal value
 * and prints the same again (the printed form is canonical). Without
 * {@code JAZZER_FUZZ} the inputs under {@code AddressParsingJazzerTestInputs} are
 * replayed; docs/reliability.md has the command of a fuzzing run.
 */
class AddressParsingJazzerTest {

    @FuzzTest
    void peerId(String text) {
        PeerId id;
        try {
            id = PeerId.parse(text);
        } catch (IllegalArgumentException expected) {
            assertThat(expected.getMessage()).isNotBlank();
            return;
        }
        assertThat(PeerId.parse(id.toString())).isEqualTo(id);
        assertThat(PeerId.of(id.bytes())).isEqualTo(id);
        assertThat(id.toString()).isEqualToIgnoringCase(text);
    }

    @FuzzTest
    void endpoint(String text) {
        Endpoint e;
        try {
            e = Endpoint.parse(text);
        } catch (IllegalArgumentException expected) {
            assertThat(expected.getMessage()).isNotBlank();
            return;
        }
        Endpoint again = Endpoint.parse(e.toString());
        assertThat(again).isEqualTo(e);
        assertThat(again.toString()).isEqualTo(e.toString());
    }

    @FuzzTest
    void peerAddress(String text) {
        PeerAddress a;
        try {
            a = PeerAddress.parse(text);
        } catch (IllegalArgumentException expected) {
            assertThat(expected.getMessage()).isNotBlank();
            return;
        }
        PeerAddress again = PeerAddress.parse(a.toString());
        assertThat(again).isEqualTo(a);
        assertThat(again.toString()).isEqualTo(a.toString());
    }
}
