package io.augur.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.augur.data.Dataset;
import io.augur.data.SampleFile;
import io.augur.data.SyntheticWorld;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.augur.cli.CliTest.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code augur export --format npy}: every column, row for row, as numpy.load would read it. */
class ExportCommandTest {

    /** A parsed .npy file: its dtype, its shape and its bytes. */
    record Npy(String descr, long[] shape, ByteBuffer data) {
        int[] ints() {
            assertEquals("<i4", descr);
            int[] v = new int[data.remaining() / 4];
            data.duplicate().order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().get(v);
            return v;
        }
    }

    static Npy read(Path file) throws IOException {
        byte[] all = Files.readAllBytes(file);
        assertEquals((byte) 0x93, all[0]);
        assertEquals("NUMPY", new String(all, 1, 5, StandardCharsets.US_ASCII));
        assertEquals(1, all[6], "version 1.0");
        int hlen = (all[8] & 0xff) | (all[9] & 0xff) << 8;
        assertEquals(0, (10 + hlen) % 64, "data aligned to 64 bytes");
        String header = new String(all, 10, hlen, StandardCharsets.US_ASCII);
        assertTrue(header.endsWith("\n") && header.contains("'fortran_order': False"), header);
        Matcher d = Pattern.compile("'descr': '([^']+)'").matcher(header);
        Matcher s = Pattern.compile("'shape': \\(([^)]*)\\)").matcher(header);
        assertTrue(d.find() && s.find(), header);
        String[] dims = s.group(1).replace(" ", "").split(",");
        long[] shape = java.util.Arrays.stream(dims).filter(x -> !x.isEmpty()).mapToLong(Long::parseLong).toArray();
        return new Npy(d.group(1), shape, ByteBuffer.wrap(all, 10 + hlen, all.length - 10 - hlen).slice());
    }

    @Test
    void exportsEveryColumnRowForRow(@TempDir Path tmp) throws IOException {
        Path world = tmp.resolve("world"), out = tmp.resolve("npy");
        SyntheticWorld.generate(BenchCommand.SMOKE_WORLD, world);
        CliTest.Result r = run("export", "--format", "npy", "--data", world.toString(), "--out", out.toString());
        assertEquals(0, r.code(), r.toString());

        Dataset ds = Dataset.open(world);
        JsonNode meta = new ObjectMapper().readTree(out.resolve("meta.json").toFile());
        assertEquals(ds.schema().historyLength(), meta.path("T").asInt());
        assertTrue(meta.path("has_neg_hist").asBoolean());
        assertEquals(ds.schema().itemVocab(), meta.path("vocab").path("item").asInt());
        for (String split : new String[] {"train", "valid", "test"}) {
            SampleFile f = ds.split(io.augur.data.Split.valueOf(split.toUpperCase(java.util.Locale.ROOT)));
            int n = f.rows();
            assertEquals(n, meta.path("rows").path(split).asInt());
            Path d = out.resolve(split);
            Npy label = read(d.resolve("label.npy"));
            assertEquals("|i1", label.descr());
            assertArrayEquals(new long[] {n}, label.shape());
            int[] users = read(d.resolve("user_id.npy")).ints(), items = read(d.resolve("item_id.npy")).ints();
            int[] cates = read(d.resolve("cate_id.npy")).ints(), lens = read(d.resolve("hist_len.npy")).ints();
            int[] hi = read(d.resolve("hist_item_ids.npy")).ints(), hc = read(d.resolve("hist_cate_ids.npy")).ints();
            int[] ni = read(d.resolve("neg_hist_item_ids.npy")).ints(), nc = read(d.resolve("neg_hist_cate_ids.npy")).ints();
            assertEquals(f.historyValues(), hi.length);
            int o = 0;
            for (int row = 0; row < n; row++) {
                assertEquals(f.label(row), label.data().get(row), split + " row " + row);
                assertEquals(f.userId(row), users[row]);
                assertEquals(f.itemId(row), items[row]);
                assertEquals(f.cateId(row), cates[row]);
                assertEquals(f.historyLength(row), lens[row]);
                for (int t = 0; t < lens[row]; t++, o++) {
                    assertEquals(f.histItem(row, t), hi[o]);
                    assertEquals(f.histCate(row, t), hc[o]);
                    assertEquals(f.negItem(row, t), ni[o]);
                    assertEquals(f.negCate(row, t), nc[o]);
                }
            }
        }
        Npy counts = read(out.resolve("counts").resolve("item.npy"));
        assertArrayEquals(ds.counts("item"), counts.ints());
    }

    @Test
    void unknownFormatFailsWithOneLine(@TempDir Path tmp) {
        CliTest.Result r = run("export", "--format", "parquet", "--data", tmp.toString(), "--out", tmp.resolve("o").toString());
        assertEquals(2, r.code(), r.toString());
        assertTrue(r.err().contains("parquet"), r.toString());
    }
}
