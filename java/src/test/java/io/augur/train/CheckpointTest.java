package io.augur.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.augur.backend.DType;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.AbstractList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointTest {

    @TempDir
    Path dir;

    private static List<NamedArray> sample(int seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        // 700k floats: larger than the 1 MiB stream buffer, so chunking is exercised.
        float[] emb = new float[7000 * 100];
        for (int i = 0; i < emb.length; i++) emb[i] = (float) rnd.nextGaussian();
        emb[3] = Float.NaN;
        emb[4] = -0.0f;
        emb[5] = Float.NEGATIVE_INFINITY;
        return List.of(
                NamedArray.f32("item_emb", new int[] {7000, 100}, emb),
                NamedArray.f32("top.bn.γ", new int[] {200}, new float[200]),
                NamedArray.i32("step", new int[] {}, new int[] {123456}),
                NamedArray.i32("ids", new int[] {2, 3}, new int[] {1, -2, 3, Integer.MAX_VALUE, Integer.MIN_VALUE, 0}),
                NamedArray.f32("empty", new int[] {0, 18}, new float[0]));
    }

    private static JsonNode meta() {
        ObjectNode m = new ObjectMapper().createObjectNode();
        m.put("model", "din");
        m.put("epoch", 3);
        m.putObject("config").put("lr", 1e-3).put("batch", 128);
        return m;
    }

    @Test
    void roundTripKeepsMetaTensorsAndOrder() throws IOException {
        Path f = dir.resolve("ckpt/epoch-3.ckpt"); // the folder is created
        List<NamedArray> tensors = sample(1);
        Checkpoint.write(f, meta(), tensors);

        Checkpoint.Contents c = Checkpoint.read(f);
        assertEquals(meta(), c.meta());
        assertEquals(List.of("item_emb", "top.bn.γ", "step", "ids", "empty"), List.copyOf(c.tensors().keySet()));
        for (NamedArray a : tensors) assertEquals(a, c.tensor(a.name()));
        // Bit-exact floats, NaN and −0 included.
        float[] back = c.tensor("item_emb").floats();
        float[] orig = tensors.get(0).floats();
        for (int i = 0; i < orig.length; i += 997) assertEquals(Float.floatToRawIntBits(orig[i]), Float.floatToRawIntBits(back[i]));
        assertEquals(Float.floatToRawIntBits(-0.0f), Float.floatToRawIntBits(back[4]));
        assertEquals(DType.I32, c.tensor("step").dtype());
        assertEquals(0, c.tensor("step").rank());
        assertEquals(123456, c.tensor("step").ints()[0]);
        assertArrayEquals(new int[] {0, 18}, c.tensor("empty").shape());
        assertEquals(meta(), Checkpoint.readMeta(f));
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class, () -> c.tensor("user_emb"));
        assertTrue(missing.getMessage().contains("user_emb") && missing.getMessage().contains("item_emb"), missing.getMessage());
        assertEquals(List.of(f.getFileName()), listing(f.getParent()), "no temporary files left");
    }

    @Test
    void headerLaysOutAsDocumented() throws IOException {
        Path f = dir.resolve("tiny.ckpt");
        Checkpoint.write(f, Map.of("k", "v"), List.of(NamedArray.f32("w", new int[] {2}, new float[] {1f, -2f})));
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(f)).order(ByteOrder.LITTLE_ENDIAN);
        byte[] magic = new byte[8];
        b.get(magic);
        assertEquals("AUGURCKP", new String(magic, StandardCharsets.US_ASCII));
        assertEquals(1, b.getInt());
        b.getInt(); // CRC
        long payload = b.getLong();
        assertEquals(b.capacity() - 24, payload);
        int metaLen = b.getInt();
        byte[] json = new byte[metaLen];
        b.get(json);
        assertEquals("{\"k\":\"v\"}", new String(json, StandardCharsets.UTF_8));
        assertEquals(1, b.getInt());            // tensor count
        assertEquals(1, b.getShort());          // name length
        assertEquals('w', b.get());
        assertEquals(0, b.get());               // f32
        assertEquals(1, b.get());               // rank
        assertEquals(2, b.getInt());            // dim
        assertEquals(1f, b.getFloat());
        assertEquals(-2f, b.getFloat());
        assertFalse(b.hasRemaining());
    }

    @Test
    void failureMidWriteLeavesThePreviousCheckpointIntact() throws IOException {
        Path f = dir.resolve("last.ckpt");
        Checkpoint.write(f, meta(), sample(1));
        byte[] before = Files.readAllBytes(f);

        // A tensor list that fails on its third element, after two tensors (2.8 MB) are written.
        List<NamedArray> good = sample(2);
        List<NamedArray> failing = new AbstractList<>() {
            @Override
            public NamedArray get(int i) {
                if (i == 2) throw new IllegalStateException("injected: device copy failed");
                return good.get(i);
            }

            @Override
            public int size() { return good.size(); }
        };
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Checkpoint.write(f, meta(), failing));
        assertEquals("injected: device copy failed", e.getMessage());

        assertArrayEquals(before, Files.readAllBytes(f));
        assertEquals(List.of(f.getFileName()), listing(dir), "the temporary file is removed");
        assertEquals(sample(1).get(0), Checkpoint.read(f).tensor("item_emb"));

        // Duplicate names are caught before anything replaces the old file, too.
        List<NamedArray> dup = List.of(NamedArray.i32("a", new int[] {1}, new int[] {1}), NamedArray.i32("a", new int[] {1}, new int[] {2}));
        assertThrows(IllegalArgumentException.class, () -> Checkpoint.write(f, meta(), dup));
        assertArrayEquals(before, Files.readAllBytes(f));
        assertEquals(List.of(f.getFileName()), listing(dir));
    }

    @Test
    void overwriteReplacesTheOldCheckpoint() throws IOException {
        Path f = dir.resolve("last.ckpt");
        Checkpoint.write(f, Map.of("epoch", 1), List.of(NamedArray.i32("x", new int[] {1}, new int[] {1})));
        Checkpoint.write(f, Map.of("epoch", 2), List.of(NamedArray.i32("x", new int[] {1}, new int[] {2})));
        Checkpoint.Contents c = Checkpoint.read(f);
        assertEquals(2, c.meta().get("epoch").asInt());
        assertEquals(2, c.tensor("x").ints()[0]);
    }

    @Test
    void truncatedFileSaysSoAndNamesTheFile() throws IOException {
        Path f = dir.resolve("cut.ckpt");
        Checkpoint.write(f, meta(), sample(1));
        long full = Files.size(f);
        for (long keep : new long[] {full - 1, full / 2, 30, 10, 0}) {
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
                ch.truncate(keep);
            }
            IOException e = assertThrows(Checkpoint.CorruptCheckpointException.class, () -> Checkpoint.read(f));
            assertTrue(e.getMessage().contains(f.toString()), e.getMessage());
            assertTrue(e.getMessage().contains("truncated"), e.getMessage());
        }
    }

    @Test
    void damagedDataFailsTheCrc() throws IOException {
        Path f = dir.resolve("flip.ckpt");
        Checkpoint.write(f, meta(), sample(1));
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            long at = Files.size(f) / 2; // inside item_emb's data
            raf.seek(at);
            int b = raf.read();
            raf.seek(at);
            raf.write(b ^ 0x10);
        }
        IOException e = assertThrows(Checkpoint.CorruptCheckpointException.class, () -> Checkpoint.read(f));
        assertTrue(e.getMessage().contains("CRC mismatch") && e.getMessage().contains(f.toString()), e.getMessage());
    }

    @Test
    void damagedSizeFieldIsCaughtBeforeAllocating() throws IOException {
        Path f = dir.resolve("dims.ckpt");
        Checkpoint.write(f, Map.of(), List.of(NamedArray.f32("w", new int[] {4}, new float[4])));
        byte[] bytes = Files.readAllBytes(f);
        // Layout: header 24, meta length 4, "{}" 2, count 4, name length 2, "w" 1, dtype 1, rank 1, dim.
        int dimAt = 24 + 4 + 2 + 4 + 2 + 1 + 1 + 1;
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putInt(dimAt, 1 << 30);
        Files.write(f, bytes);
        IOException e = assertThrows(Checkpoint.CorruptCheckpointException.class, () -> Checkpoint.read(f));
        assertTrue(e.getMessage().contains("tensor 'w' data needs 4294967296 bytes"), e.getMessage());
    }

    @Test
    void otherFilesAreRejectedClearly() throws IOException {
        Path f = dir.resolve("notes.txt");
        Files.writeString(f, "this is not a checkpoint, only some text");
        IOException e = assertThrows(Checkpoint.CorruptCheckpointException.class, () -> Checkpoint.read(f));
        assertTrue(e.getMessage().contains("not an Augur checkpoint") && e.getMessage().contains("notes.txt"), e.getMessage());

        Path g = dir.resolve("future.ckpt");
        Checkpoint.write(g, Map.of(), List.of());
        byte[] bytes = Files.readAllBytes(g);
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putInt(8, 2);
        Files.write(g, bytes);
        IOException v = assertThrows(Checkpoint.CorruptCheckpointException.class, () -> Checkpoint.read(g));
        assertTrue(v.getMessage().contains("format version 2"), v.getMessage());
    }

    @Test
    void namedArrayChecksItsShape() {
        assertThrows(IllegalArgumentException.class, () -> NamedArray.f32("w", new int[] {2, 3}, new float[5]));
        assertThrows(IllegalArgumentException.class, () -> NamedArray.i32("w", new int[] {-1}, new int[0]));
        assertThrows(IllegalArgumentException.class, () -> NamedArray.f32("", new int[] {0}, new float[0]));
        assertThrows(IllegalStateException.class, () -> NamedArray.i32("w", new int[] {1}, new int[1]).floats());
    }

    private static List<Path> listing(Path folder) throws IOException {
        try (Stream<Path> s = Files.list(folder)) {
            return s.map(Path::getFileName).sorted().toList();
        }
    }
}
