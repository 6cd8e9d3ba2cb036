package io.augur.data;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * Writes NumPy's {@code .npy} format (version 1.0): the magic string, a little header dictionary
 * ({@code descr}, {@code fortran_order}, {@code shape}) padded with spaces so the data starts at a
 * multiple of 64 bytes, then the values in C order, little-endian. {@code numpy.load} reads it
 * without pickle. Only the two element types the sample format needs: int8 and int32.
 */
public final class NpyWriter {
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
    private static final int ALIGN = 64;

    private NpyWriter() {}

    /** Writes {@code values} as an int32 array of the given shape (the product of shape must be values.length). */
    public static void writeInt32(Path file, int[] values, long... shape) throws IOException {
        checkShape(values.length, shape);
        try (FileChannel ch = open(file)) {
            writeHeader(ch, "<i4", shape);
            ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
            for (int v : values) {
                if (!buf.hasRemaining()) drain(ch, buf);
                buf.putInt(v);
            }
            drain(ch, buf);
        }
    }

    /** Writes {@code values} as an int8 array of the given shape. */
    public static void writeInt8(Path file, byte[] values, long... shape) throws IOException {
        checkShape(values.length, shape);
        try (FileChannel ch = open(file)) {
            writeHeader(ch, "|i1", shape);
            ByteBuffer buf = ByteBuffer.wrap(values);
            while (buf.hasRemaining()) ch.write(buf);
        }
    }

    /** The header bytes (magic, version, length, dictionary) for an array of this type and shape. */
    static byte[] header(String descr, long... shape) {
        String dims = Arrays.stream(shape).mapToObj(Long::toString).collect(Collectors.joining(", "));
        if (shape.length == 1) dims += ",";
        String dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + dims + "), }";
        int fixed = MAGIC.length + 2;                        // magic + version, then a uint16 length
        int total = fixed + dict.length() + 1;               // + the closing newline
        int padded = (total + ALIGN - 1) / ALIGN * ALIGN;
        String text = dict + " ".repeat(padded - total) + "\n";
        ByteBuffer b = ByteBuffer.allocate(padded).order(ByteOrder.LITTLE_ENDIAN);
        b.put(MAGIC).putShort((short) text.length()).put(text.getBytes(StandardCharsets.US_ASCII));
        return b.array();
    }

    private static void writeHeader(FileChannel ch, String descr, long[] shape) throws IOException {
        ByteBuffer h = ByteBuffer.wrap(header(descr, shape));
        while (h.hasRemaining()) ch.write(h);
    }

    private static FileChannel open(Path file) throws IOException {
        return FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE);
    }

    private static void drain(FileChannel ch, ByteBuffer buf) throws IOException {
        buf.flip();
        while (buf.hasRemaining()) ch.write(buf);
        buf.clear();
    }

    private static void checkShape(int n, long[] shape) {
        long p = 1;
        for (long s : shape) {
            if (s < 0) throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
            p *= s;
        }
        if (p != n) throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " holds " + p + " values, got " + n);
    }
}
