package io.kizuna.core.internal.mux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.HexFormat;

import io.kizuna.transport.TransportException;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class MuxFrameTest {

    @Test
    void everyTypeAndFlagCombinationRoundTrips() throws Exception {
        int[][] cases = {
            {MuxFrame.DATA, 0, 1, 16384}, {MuxFrame.DATA, MuxFrame.SYN | MuxFrame.FIN, 3, 0},
            {MuxFrame.DATA, MuxFrame.ACK | MuxFrame.RST, 2, 7}, {MuxFrame.WINDOW_UPDATE, MuxFrame.SYN, 5, 0},
            {MuxFrame.WINDOW_UPDATE, MuxFrame.ACK, 4, 1 << 20}, {MuxFrame.WINDOW_UPDATE, MuxFrame.FIN, 9, 0},
            {MuxFrame.WINDOW_UPDATE, MuxFrame.RST, Integer.MAX_VALUE, 0}, {MuxFrame.PING, MuxFrame.SYN, 0, 42},
            {MuxFrame.PING, MuxFrame.ACK, 0, -1}, {MuxFrame.GO_AWAY, 0, 0, MuxFrame.GO_AWAY_NORMAL},
            {MuxFrame.GO_AWAY, 0, 0, MuxFrame.GO_AWAY_PROTOCOL_ERROR},
            {MuxFrame.GO_AWAY, 0, 0, MuxFrame.GO_AWAY_INTERNAL_ERROR},
        };
        for (int[] c : cases) {
            MuxFrame f = new MuxFrame(c[0], c[1], c[2], c[3] & 0xFFFF_FFFFL);
            ByteBuffer b = f.encode();
            assertThat(b.remaining()).isEqualTo(MuxFrame.HEADER_BYTES);
            assertThat(MuxFrame.decode(b)).as("%s", f).isEqualTo(f);
            assertThat(b.hasRemaining()).isFalse();
        }
    }

    @Test
    void theHeaderIsYamuxsLayout() {
        ByteBuffer b = new MuxFrame(MuxFrame.WINDOW_UPDATE, MuxFrame.SYN, 3, 0x10000).encode();
        assertThat(HexFormat.of().formatHex(b.array())).isEqualTo("000100010000000300010000");
    }

    @ParameterizedTest(name = "{1}")
    @CsvSource({
        "010000000000000100000000, version 1",
        "000400000000000000000000, unknown frame type 4",
        "000000100000000100000000, unknown flag bits 0x10",
        "000000000000000000000005, DATA for stream 0",
        "000100000000000000000000, WINDOW_UPDATE for stream 0",
        "000000030000000100000000, both SYN and ACK",
        "000000008000000000000000, above the largest stream id",
        "000200010000000100000000, PING for stream 1",
        "000200000000000000000000, must be SYN or ACK",
        "000200030000000000000000, must be SYN or ACK",
        "000200040000000000000000, must be SYN or ACK",
        "000300000000000100000000, GO_AWAY for stream 1",
        "000300040000000000000000, GO_AWAY with flags 0x4",
        "000300000000000000000003, unknown error code 3",
    })
    void aBadFieldIsAViolationNamingIt(String hex, String expected) {
        ByteBuffer b = ByteBuffer.wrap(HexFormat.of().parseHex(hex));
        assertThatThrownBy(() -> MuxFrame.decode(b)).isInstanceOf(TransportException.ProtocolViolation.class)
                .hasMessageContaining(expected);
    }
}
