package io.kizuna.identity.internal;

import java.io.ByteArrayOutputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.Instant;

/**
 * The few DER encodings an X.509 certificate and the binding extension need, and
 * a reader for the binding extension. No general ASN.1 support on purpose: the
 * less we parse, the less can go wrong.
 */
final class Der {

    static final int BOOLEAN = 0x01;
    static final int INTEGER = 0x02;
    static final int BIT_STRING = 0x03;
    static final int OCTET_STRING = 0x04;
    static final int OID = 0x06;
    static final int UTF8_STRING = 0x0c;
    static final int UTC_TIME = 0x17;
    static final int GENERALIZED_TIME = 0x18;
    static final int SEQUENCE = 0x30;
    static final int SET = 0x31;

    private static final DateTimeFormatter UTC_TIME_FORMAT = DateTimeFormatter.ofPattern("yyMMddHHmmss'Z'");
    private static final DateTimeFormatter GENERALIZED_TIME_FORMAT =
            DateTimeFormatter.ofPattern("yyyyMMddHHmmss'Z'");

    private Der() {
    }

    /** @return tag, definite length, content */
    static byte[] tlv(int tag, byte[] content) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(content.length + 6);
        out.write(tag);
        int n = content.length;
        if (n < 0x80) {
            out.write(n);
        } else {
            int bytes = (32 - Integer.numberOfLeadingZeros(n) + 7) / 8;
            out.write(0x80 | bytes);
            for (int i = bytes - 1; i >= 0; i--) {
                out.write(n >>> (8 * i));
            }
        }
        out.writeBytes(content);
        return out.toByteArray();
    }

    static byte[] sequence(byte[]... elements) {
        return tlv(SEQUENCE, concat(elements));
    }

    static byte[] set(byte[]... elements) {
        return tlv(SET, concat(elements));
    }

    /** Context-specific, constructed, explicit tag {@code [n]}. */
    static byte[] explicit(int n, byte[] content) {
        return tlv(0xa0 | n, content);
    }

    static byte[] integer(BigInteger value) {
        return tlv(INTEGER, value.toByteArray());
    }

    static byte[] octetString(byte[] content) {
        return tlv(OCTET_STRING, content);
    }

    static byte[] bitString(byte[] content) {
        byte[] withUnusedBits = new byte[content.length + 1];
        System.arraycopy(content, 0, withUnusedBits, 1, content.length);
        return tlv(BIT_STRING, withUnusedBits);
    }

    static byte[] bool(boolean value) {
        return tlv(BOOLEAN, new byte[] {(byte) (value ? 0xff : 0x00)});
    }

    static byte[] utf8String(String s) {
        return tlv(UTF8_STRING, s.getBytes(StandardCharsets.UTF_8));
    }

    /** RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050. */
    static byte[] time(Instant instant) {
        ZonedDateTime t = instant.atZone(ZoneOffset.UTC).withNano(0);
        if (t.getYear() >= 1950 && t.getYear() < 2050) {
            return tlv(UTC_TIME, UTC_TIME_FORMAT.format(t).getBytes(StandardCharsets.US_ASCII));
        }
        return tlv(GENERALIZED_TIME, GENERALIZED_TIME_FORMAT.format(t).getBytes(StandardCharsets.US_ASCII));
    }

    /** @param dotted an object identifier such as {@code 1.2.840.10045.4.3.2} */
    static byte[] oid(String dotted) {
        String[] arcs = dotted.split("\\.");
        if (arcs.length < 2) {
            throw new IllegalArgumentException("an OID has at least two arcs: " + dotted);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        BigInteger first = BigInteger.valueOf(Integer.parseInt(arcs[0]) * 40L).add(new BigInteger(arcs[1]));
        base128(out, first);
        for (int i = 2; i < arcs.length; i++) {
            base128(out, new BigInteger(arcs[i]));
        }
        return tlv(OID, out.toByteArray());
    }

    private static void base128(ByteArrayOutputStream out, BigInteger value) {
        int groups = Math.max(1, (value.bitLength() + 6) / 7);
        for (int i = groups - 1; i >= 0; i--) {
            int b = value.shiftRight(7 * i).intValue() & 0x7f;
            out.write(i > 0 ? b | 0x80 : b);
        }
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    /**
     * A reader over DER bytes that accepts only definite, minimal lengths and
     * never reads past the end it was given.
     */
    static final class Reader {
        private final byte[] data;
        private int pos;
        private final int end;

        Reader(byte[] data) {
            this(data, 0, data.length);
        }

        private Reader(byte[] data, int from, int end) {
            this.data = data;
            this.pos = from;
            this.end = end;
        }

        boolean atEnd() {
            return pos == end;
        }

        /** @return the content of the next element, which must carry {@code tag} */
        byte[] read(int tag) throws DerException {
            int[] bounds = next(tag);
            byte[] content = new byte[bounds[1] - bounds[0]];
            System.arraycopy(data, bounds[0], content, 0, content.length);
            return content;
        }

        /** @return the whole next element (tag, length and content), which must carry {@code tag} */
        byte[] readElement(int tag) throws DerException {
            int start = pos;
            next(tag);
            byte[] element = new byte[pos - start];
            System.arraycopy(data, start, element, 0, element.length);
            return element;
        }

        /** Skips the next element, which must carry {@code tag}. */
        void skip(int tag) throws DerException {
            next(tag);
        }

        /** @return a reader over the content of the next element, which must carry {@code tag} */
        Reader enter(int tag) throws DerException {
            int[] bounds = next(tag);
            return new Reader(data, bounds[0], bounds[1]);
        }

        private int[] next(int tag) throws DerException {
            if (end - pos < 2) {
                throw new DerException("truncated: expected tag 0x" + Integer.toHexString(tag));
            }
            int actual = data[pos++] & 0xff;
            if (actual != tag) {
                throw new DerException("expected tag 0x" + Integer.toHexString(tag) + ", found 0x"
                        + Integer.toHexString(actual));
            }
            int first = data[pos++] & 0xff;
            int length;
            if (first < 0x80) {
                length = first;
            } else {
                int bytes = first & 0x7f;
                if (bytes == 0 || bytes > 3) {
                    throw new DerException("unsupported length encoding 0x" + Integer.toHexString(first));
                }
                if (end - pos < bytes) {
                    throw new DerException("truncated length");
                }
                length = 0;
                for (int i = 0; i < bytes; i++) {
                    length = (length << 8) | (data[pos++] & 0xff);
                }
                if (length < 0x80 || (bytes > 1 && length < (1 << (8 * (bytes - 1))))) {
                    throw new DerException("non-minimal length encoding");
                }
            }
            if (length > end - pos) {
                throw new DerException("length " + length + " runs past the end (" + (end - pos) + " bytes left)");
            }
            int from = pos;
            pos += length;
            return new int[] {from, pos};
        }
    }

    /** Malformed DER. */
    static final class DerException extends Exception {
        private static final long serialVersionUID = 1L;

        DerException(String message) {
            super(message);
        }
    }
}
