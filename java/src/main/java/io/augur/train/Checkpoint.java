package io.augur.train;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.augur.backend.DType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.zip.CRC32;

/**
 * Checkpoint files: run metadata (JSON) and named fp32/int32 tensors in one small binary format.
 *
 * <pre>
 * All integers little-endian. Format version 1.
 *
 *   offset size  field
 *   0      8     magic "AUGURCKP" (ASCII)
 *   8      4     u32 format version = 1
 *   12     4     u32 CRC32 of the payload (java.util.zip.CRC32, the zlib polynomial)
 *   16     8     u64 payload length in bytes
 *   24     ...   payload:
 *                  u32 meta length M, then M bytes of UTF-8 JSON (run config and metadata)
 *                  u32 tensor count
 *                  per tensor, in the order written:
 *                    u16 name length L, then L bytes of UTF-8 name (unique within the file)
 *                    u8  dtype: 0 = f32, 1 = i32
 *                    u8  rank R (0..8; rank 0 is a scalar of one element)
 *                    R × i32 dimensions, row-major, each >= 0
 *                    product(dims) × 4 bytes of data (IEEE-754 binary32 or two's-complement int32)
 * </pre>
 *
 * <p>Writes are atomic: the bytes go to a temporary file in the target's folder, are forced to disk
 * ({@link FileChannel#force}), and the temporary file is then renamed over the target with
 * {@code ATOMIC_MOVE}. A reader therefore sees the previous checkpoint or the new one, never a half
 * written file; if the write fails, the previous checkpoint is untouched and the temporary file is
 * removed. After the rename the folder is forced too (best effort), so the rename survives a crash.
 *
 * <p>Reads check the magic, the version, the length (a truncated file is named as such), every
 * size against the bytes that remain, and the CRC, and fail with a {@link CorruptCheckpointException}
 * that names the file and what was wrong. The whole file is streamed once through a 1 MiB buffer.
 */
public final class Checkpoint {

    public static final int VERSION = 1;
    static final byte[] MAGIC = "AUGURCKP".getBytes(StandardCharsets.US_ASCII);
    static final int HEADER_BYTES = 24;
    static final int MAX_RANK = 8;
    private static final int BUFFER_BYTES = 1 << 20;
    private static final ObjectMapper JSON = new ObjectMapper();

    private Checkpoint() {}

    /** A checkpoint that cannot be read: truncated, not a checkpoint, unknown version, bad CRC, bad structure. */
    public static final class CorruptCheckpointException extends IOException {
        private static final long serialVersionUID = 1L;

        CorruptCheckpointException(Path file, String what) {
            super("checkpoint " + file + ": " + what);
        }

        CorruptCheckpointException(Path file, String what, Throwable cause) {
            super("checkpoint " + file + ": " + what, cause);
        }
    }

    /** What a checkpoint holds: its metadata and its tensors by name, in file order. */
    public record Contents(Path file, JsonNode meta, Map<String, NamedArray> tensors) {

        /** The tensor of that name; fails naming the file and the names it has. */
        public NamedArray tensor(String name) {
            NamedArray a = tensors.get(name);
            if (a == null) throw new IllegalArgumentException("checkpoint " + file + " has no tensor '" + name + "'; it has " + tensors.keySet());
            return a;
        }
    }

    /** Writes {@code meta} (turned into JSON by Jackson) and the tensors atomically to {@code file}. */
    public static void write(Path file, Map<String, ?> meta, List<NamedArray> tensors) throws IOException {
        JsonNode tree = JSON.valueToTree(meta);
        write(file, tree, tensors);
    }

    /**
     * Writes the metadata and the tensors atomically to {@code file}, replacing any previous file
     * there only once the new one is complete and on disk. Creates the folder if needed.
     *
     * @throws IllegalArgumentException for duplicate names, a name over 65,535 UTF-8 bytes, rank over 8
     */
    public static void write(Path file, JsonNode meta, List<NamedArray> tensors) throws IOException {
        Path target = file.toAbsolutePath();
        Path dir = target.getParent();
        Files.createDirectories(dir);
        byte[] metaBytes = JSON.writeValueAsBytes(meta == null ? JSON.nullNode() : meta);
        Path tmp = dir.resolve("." + target.getFileName() + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
        FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        try {
            try (ch) {
                ch.position(HEADER_BYTES);
                Out out = new Out(ch);
                out.putInt(metaBytes.length);
                out.putBytes(metaBytes);
                out.putInt(tensors.size());
                Set<String> seen = new HashSet<>();
                for (NamedArray a : tensors) {
                    if (!seen.add(a.name())) throw new IllegalArgumentException("duplicate tensor name '" + a.name() + "'");
                    writeTensor(out, a);
                }
                out.flush();
                ByteBuffer header = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
                header.put(MAGIC).putInt(VERSION).putInt((int) out.crc.getValue()).putLong(out.written).flip();
                while (header.hasRemaining()) ch.write(header, header.position());
                ch.force(true);
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (Throwable t) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException e) {
                t.addSuppressed(e);
            }
            throw t;
        }
        forceDirectory(dir);
    }

    private static void writeTensor(Out out, NamedArray a) throws IOException {
        byte[] name = a.name().getBytes(StandardCharsets.UTF_8);
        if (name.length > 0xFFFF) throw new IllegalArgumentException("tensor name over 65,535 bytes: " + a.name().substring(0, 40) + "...");
        int[] shape = a.shape();
        if (shape.length > MAX_RANK) throw new IllegalArgumentException(a.name() + ": rank " + shape.length + " > " + MAX_RANK);
        out.putShort(name.length);
        out.putBytes(name);
        out.putByte(a.dtype() == DType.F32 ? 0 : 1);
        out.putByte(shape.length);
        for (int d : shape) out.putInt(d);
        if (a.dtype() == DType.F32) out.putFloats(a.floats()); else out.putInts(a.ints());
    }

    /** Makes a completed rename durable on Linux; folders cannot be opened for this everywhere, so best effort. */
    private static void forceDirectory(Path dir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // Not supported on this platform or file system: the file itself is already forced.
        }
    }

    /** Reads and checks a whole checkpoint. */
    public static Contents read(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            In in = openPayload(file, ch);
            JsonNode meta = readMeta(file, in);
            long count = in.getUInt();
            Map<String, NamedArray> tensors = new LinkedHashMap<>();
            for (long i = 0; i < count; i++) {
                NamedArray a = readTensor(file, in, i);
                if (tensors.put(a.name(), a) != null) throw new CorruptCheckpointException(file, "duplicate tensor name '" + a.name() + "'");
            }
            if (in.remaining != 0)
                throw new CorruptCheckpointException(file, in.remaining + " unread bytes after the last of " + count + " tensors");
            if ((int) in.crc.getValue() != in.expectedCrc)
                throw new CorruptCheckpointException(file, String.format("CRC mismatch (header %08x, payload %08x): the data is damaged",
                        in.expectedCrc, (int) in.crc.getValue()));
            return new Contents(file, meta, Collections.unmodifiableMap(tensors));
        }
    }

    /**
     * Reads only the header and the metadata, for a quick look (the `info` command, a resume check).
     * The CRC covers the whole payload, so it is not checked here; {@link #read} checks it.
     */
    public static JsonNode readMeta(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return readMeta(file, openPayload(file, ch));
        }
    }

    private static In openPayload(Path file, FileChannel ch) throws IOException {
        long size = ch.size();
        if (size < HEADER_BYTES)
            throw new CorruptCheckpointException(file, "truncated: " + size + " bytes, shorter than the " + HEADER_BYTES + "-byte header");
        ByteBuffer h = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        while (h.hasRemaining()) if (ch.read(h, h.position()) < 0) throw new CorruptCheckpointException(file, "truncated header");
        h.flip();
        byte[] magic = new byte[MAGIC.length];
        h.get(magic);
        if (!Arrays.equals(magic, MAGIC))
            throw new CorruptCheckpointException(file, "not an Augur checkpoint (magic " + printable(magic) + ", expected AUGURCKP)");
        int version = h.getInt();
        if (version != VERSION)
            throw new CorruptCheckpointException(file, "format version " + Integer.toUnsignedString(version) + " is not supported (this build reads " + VERSION + ")");
        int crc = h.getInt();
        long payload = h.getLong();
        long have = size - HEADER_BYTES;
        if (payload < 0 || have < payload)
            throw new CorruptCheckpointException(file, "truncated: the header announces " + Long.toUnsignedString(payload)
                    + " payload bytes, the file holds " + have);
        if (have > payload)
            throw new CorruptCheckpointException(file, (have - payload) + " unexpected bytes after the " + payload + "-byte payload");
        ch.position(HEADER_BYTES);
        return new In(ch, payload, crc);
    }

    private static JsonNode readMeta(Path file, In in) throws IOException {
        long len = in.getUInt();
        in.require(file, len, "metadata");
        byte[] bytes = new byte[(int) len];
        in.getBytes(bytes);
        try {
            return JSON.readTree(bytes);
        } catch (JsonProcessingException e) {
            throw new CorruptCheckpointException(file, "metadata is not valid JSON: " + e.getOriginalMessage(), e);
        }
    }

    private static NamedArray readTensor(Path file, In in, long index) throws IOException {
        in.require(file, 4, "tensor #" + index);
        int nameLen = in.getUShort();
        if (nameLen == 0) throw new CorruptCheckpointException(file, "tensor #" + index + " has an empty name");
        in.require(file, nameLen + 2L, "tensor #" + index + " name");
        byte[] nameBytes = new byte[nameLen];
        in.getBytes(nameBytes);
        String name = new String(nameBytes, StandardCharsets.UTF_8);
        int dtype = in.getUByte();
        int rank = in.getUByte();
        if (dtype > 1) throw new CorruptCheckpointException(file, "tensor '" + name + "': unknown dtype code " + dtype);
        if (rank > MAX_RANK) throw new CorruptCheckpointException(file, "tensor '" + name + "': rank " + rank + " > " + MAX_RANK);
        in.require(file, 4L * rank, "tensor '" + name + "' shape");
        int[] shape = new int[rank];
        long size = 1;
        for (int i = 0; i < rank; i++) {
            shape[i] = in.getInt();
            if (shape[i] < 0) throw new CorruptCheckpointException(file, "tensor '" + name + "': negative dimension " + shape[i]);
            size *= shape[i];
            if (size > Integer.MAX_VALUE) throw new CorruptCheckpointException(file, "tensor '" + name + "': over 2^31-1 elements");
        }
        in.require(file, 4 * size, "tensor '" + name + "' data");
        if (dtype == 0) {
            float[] data = new float[(int) size];
            in.getFloats(data);
            return NamedArray.f32(name, shape, data);
        }
        int[] data = new int[(int) size];
        in.getInts(data);
        return NamedArray.i32(name, shape, data);
    }

    private static String printable(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (byte x : b) s.append(x >= 32 && x < 127 ? Character.toString(x) : String.format("\\x%02x", x & 0xff));
        return s.toString();
    }

    /** Little-endian buffered writer that counts the payload and runs its CRC. */
    private static final class Out {
        final FileChannel ch;
        final ByteBuffer buf = ByteBuffer.allocate(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        final CRC32 crc = new CRC32();
        long written;

        Out(FileChannel ch) { this.ch = ch; }

        void flush() throws IOException {
            buf.flip();
            crc.update(buf.array(), 0, buf.limit());
            written += buf.limit();
            while (buf.hasRemaining()) ch.write(buf);
            buf.clear();
        }

        void room(int bytes) throws IOException { if (buf.remaining() < bytes) flush(); }

        void putByte(int v) throws IOException { room(1); buf.put((byte) v); }

        void putShort(int v) throws IOException { room(2); buf.putShort((short) v); }

        void putInt(int v) throws IOException { room(4); buf.putInt(v); }

        void putBytes(byte[] b) throws IOException {
            for (int off = 0; off < b.length; ) {
                room(1);
                int k = Math.min(buf.remaining(), b.length - off);
                buf.put(b, off, k);
                off += k;
            }
        }

        void putFloats(float[] a) throws IOException {
            for (int off = 0; off < a.length; ) {
                room(4);
                int k = Math.min(buf.remaining() / 4, a.length - off);
                buf.asFloatBuffer().put(a, off, k);
                buf.position(buf.position() + 4 * k);
                off += k;
            }
        }

        void putInts(int[] a) throws IOException {
            for (int off = 0; off < a.length; ) {
                room(4);
                int k = Math.min(buf.remaining() / 4, a.length - off);
                buf.asIntBuffer().put(a, off, k);
                buf.position(buf.position() + 4 * k);
                off += k;
            }
        }
    }

    /**
     * Little-endian buffered reader over the payload that runs its CRC. Callers check sizes with
     * {@link #require} before reading, so a damaged size never allocates more than the file holds.
     */
    private static final class In {
        final FileChannel ch;
        final ByteBuffer buf = ByteBuffer.allocate(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        final CRC32 crc = new CRC32();
        final int expectedCrc;
        long remaining; // payload bytes not yet consumed

        In(FileChannel ch, long payload, int expectedCrc) {
            this.ch = ch;
            this.remaining = payload;
            this.expectedCrc = expectedCrc;
            buf.limit(0);
        }

        void require(Path file, long bytes, String what) throws CorruptCheckpointException {
            if (bytes > remaining)
                throw new CorruptCheckpointException(file, what + " needs " + bytes + " bytes, only " + remaining
                        + " remain in the payload (damaged size field or truncated data)");
        }

        /** Makes at least {@code bytes} (<= 8) available in the buffer. */
        private void fill(int bytes) throws IOException {
            if (buf.remaining() >= bytes) return;
            buf.compact();
            while (buf.position() < bytes) {
                int start = buf.position();
                int r = ch.read(buf);
                if (r < 0) throw new IOException("unexpected end of file (it changed while being read?)");
                crc.update(buf.array(), start, r);
            }
            buf.flip();
        }

        private void consume(long bytes) throws IOException {
            if (bytes > remaining) throw new IOException("read past the payload");
            remaining -= bytes;
        }

        int getUByte() throws IOException { consume(1); fill(1); return buf.get() & 0xff; }

        int getUShort() throws IOException { consume(2); fill(2); return buf.getShort() & 0xffff; }

        int getInt() throws IOException { consume(4); fill(4); return buf.getInt(); }

        long getUInt() throws IOException { return getInt() & 0xffffffffL; }

        void getBytes(byte[] b) throws IOException {
            consume(b.length);
            for (int off = 0; off < b.length; ) {
                fill(1);
                int k = Math.min(buf.remaining(), b.length - off);
                buf.get(b, off, k);
                off += k;
            }
        }

        void getFloats(float[] a) throws IOException {
            consume(4L * a.length);
            for (int off = 0; off < a.length; ) {
                fill(4);
                int k = Math.min(buf.remaining() / 4, a.length - off);
                buf.asFloatBuffer().get(a, off, k);
                buf.position(buf.position() + 4 * k);
                off += k;
            }
        }

        void getInts(int[] a) throws IOException {
            consume(4L * a.length);
            for (int off = 0; off < a.length; ) {
                fill(4);
                int k = Math.min(buf.remaining() / 4, a.length - off);
                buf.asIntBuffer().get(a, off, k);
                buf.position(buf.position() + 4 * k);
                off += k;
            }
        }
    }
}
