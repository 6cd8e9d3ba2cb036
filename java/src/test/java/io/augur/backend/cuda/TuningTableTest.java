package io.augur.backend.cuda;

import io.augur.backend.Activation;
import io.augur.config.ModelConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The tuning table (no GPU needed): its file read and written, which entry a run gets, the command line's settings
 * winning over the table's, and clear errors for a file that is not a table. End to end on the emulator:
 * BenchCudaSmokeTest (bench --autotune --save-tuning, then train and bench --tuning).
 */
class TuningTableTest {
    private static final String DIN = TuningTable.shapeOf(ModelConfig.defaults(ModelConfig.Kind.DIN));

    private static TuningTable.Key key(String device, String precision, int B) {
        return new TuningTable.Key(device, "9.0", "built-in gemm_kernel", precision, "din", DIN, B);
    }

    private static TuningTable.Entry entry(TuningTable.Key k, String... settings) {
        return new TuningTable.Entry(k, List.of(settings), Map.of("train_samples_per_s", 1234.5));
    }

    private static TuningTable table() {
        return TuningTable.empty("t.json")
                .with(entry(key("NVIDIA H200", "fp32", 128), "-Daugur.attention.rowsBackward=16", "-Daugur.tower.cols=8"))
                .with(entry(key("NVIDIA H200", "fp32", 2048), "-Daugur.attention.fused=off"))
                .with(entry(key("NVIDIA H200", "tf32", 2048)))
                .with(entry(key("NVIDIA A100-SXM4-80GB", "fp32", 1024), "-Daugur.tower.cols=2"));
    }

    @Test
    void theModelsShapeIsItsWidthsLayersAndActivationsNotItsInitialisation() {
        assertEquals("D18 att80-40 sigmoid softmax mlp200-80 dice", DIN);
        assertEquals("D18 mlp200-80 prelu", TuningTable.shapeOf(ModelConfig.defaults(ModelConfig.Kind.BASE)));
        assertEquals("D18 att80-40 sigmoid softmax mlp200-80 dice H36 augru aux100-50",
                TuningTable.shapeOf(ModelConfig.defaults(ModelConfig.Kind.DIEN)));
        assertEquals("D18 att80-40 sigmoid softmax mlp200-80 prelu H36", TuningTable.shapeOf(ModelConfig.defaults(ModelConfig.Kind.GRU_ATT)));
        ModelConfig d = ModelConfig.defaults(ModelConfig.Kind.DIN);
        ModelConfig otherInit = new ModelConfig(d.kind(), d.embDim(), d.attHidden(), d.attActivation(), d.attSoftmax(), d.mlpHidden(),
                d.mlpActivation(), 1e-3f, 1e-6f, 0.9f, 0.05f, d.sequence());
        assertEquals(DIN, TuningTable.shapeOf(otherInit));
        ModelConfig prelu = new ModelConfig(d.kind(), 16, List.of(64, 32), Activation.PRELU, false, List.of(200, 80), Activation.PRELU,
                d.bnEps(), d.diceEps(), d.momentum(), d.embInitStd(), d.sequence());
        assertEquals("D16 att64-32 prelu nosoftmax mlp200-80 prelu", TuningTable.shapeOf(prelu));
        ModelConfig dien = ModelConfig.defaults(ModelConfig.Kind.DIEN);
        ModelConfig noAux = dien.withSequence(new ModelConfig.Sequence(24, ModelConfig.Evolution.AGRU, 0f, List.of(100, 50)));
        assertEquals("D18 att80-40 sigmoid softmax mlp200-80 dice H24 agru noaux", TuningTable.shapeOf(noAux));
    }

    @Test
    void aRunGetsTheEntryOfItsDeviceModelShapeAndPrecisionAtTheNearestBatchSize() {
        TuningTable t = table();
        assertEquals(List.of("-Daugur.attention.rowsBackward=16", "-Daugur.tower.cols=8"),
                t.lookup(key("NVIDIA H200", "fp32", 128)).orElseThrow().settings(), "its own batch size");
        assertEquals(128, t.lookup(key("NVIDIA H200", "fp32", 64)).orElseThrow().key().batchSize());
        assertEquals(128, t.lookup(key("NVIDIA H200", "fp32", 400)).orElseThrow().key().batchSize(), "400/128 < 2048/400");
        assertEquals(2048, t.lookup(key("NVIDIA H200", "fp32", 600)).orElseThrow().key().batchSize(), "2048/600 < 600/128");
        assertEquals(128, t.lookup(key("NVIDIA H200", "fp32", 512)).orElseThrow().key().batchSize(), "a tie goes to the smaller");
        assertEquals(2048, t.lookup(key("NVIDIA H200", "fp32", 65536)).orElseThrow().key().batchSize());
        assertEquals(2048, t.lookup(key("NVIDIA H200", "tf32", 128)).orElseThrow().key().batchSize(), "tf32 has its own entries");
        // nothing measured for this device, this compute capability, this GEMM, this model or this shape
        assertTrue(t.lookup(key("NVIDIA H100 80GB HBM3", "fp32", 128)).isEmpty());
        assertTrue(t.lookup(new TuningTable.Key("NVIDIA H200", "8.0", "built-in gemm_kernel", "fp32", "din", DIN, 128)).isEmpty());
        assertTrue(t.lookup(new TuningTable.Key("NVIDIA H200", "9.0", "cuBLAS 12 (JCublas2)", "fp32", "din", DIN, 128)).isEmpty());
        assertTrue(t.lookup(new TuningTable.Key("NVIDIA H200", "9.0", "built-in gemm_kernel", "fp32", "dien", DIN, 128)).isEmpty());
        assertTrue(t.lookup(new TuningTable.Key("NVIDIA H200", "9.0", "built-in gemm_kernel", "fp32", "din", "D8 att80-40 sigmoid softmax mlp200-80 dice", 128))
                .isEmpty());
    }

    @Test
    void theChoiceIsTheEntrysSettingsWithTheCommandLinesOnTop() {
        TuningTable t = table();
        TuningTable.Choice c = t.choose(key("NVIDIA H200", "fp32", 100));
        assertEquals(16, c.tuning().attentionRowsBackward());
        assertEquals(8, c.tuning().towerCols());
        assertEquals(List.of("-Daugur.attention.rowsBackward=16", "-Daugur.tower.cols=8"), c.tuning().changes(KernelTuning.builtIn()));
        assertEquals(128, c.entry().key().batchSize());
        assertEquals("from t.json, din measured at batch 128, the nearest to 100", c.from());
        assertEquals("from t.json, din measured at batch 128", t.choose(key("NVIDIA H200", "fp32", 128)).from());

        TuningTable.Choice none = t.choose(key("NVIDIA H100 80GB HBM3", "fp32", 128));
        assertNull(none.entry());
        assertEquals(KernelTuning.builtIn(), none.tuning());
        assertEquals("no entry in t.json for din of this shape on NVIDIA H100 80GB HBM3 with built-in gemm_kernel in fp32", none.from());

        System.setProperty(KernelTuning.TOWER_COLS, "2");
        System.setProperty(KernelTuning.PDL, "off");
        try {
            TuningTable.Choice mine = t.choose(key("NVIDIA H200", "fp32", 128));
            assertEquals(2, mine.tuning().towerCols(), "the command line's value wins");
            assertEquals(16, mine.tuning().attentionRowsBackward(), "the table's other settings stay");
            assertFalse(mine.tuning().pdl());
            assertTrue(mine.from().endsWith("; -Daugur.tower.cols, -Daugur.cuda.pdl given, which win over any table"), mine.from());
            assertEquals(2, t.choose(key("NVIDIA H100 80GB HBM3", "fp32", 128)).tuning().towerCols(), "and without an entry");
        } finally {
            System.clearProperty(KernelTuning.TOWER_COLS);
            System.clearProperty(KernelTuning.PDL);
        }
    }

    @Test
    void anEntryForTheSameKeyReplacesTheOldOne() {
        TuningTable t = table().with(entry(key("NVIDIA H200", "fp32", 2048), "-Daugur.attention.threads=128"));
        assertEquals(4, t.entries().size());
        assertEquals(List.of("-Daugur.attention.threads=128"), t.entries().get(1).settings(), "in the old one's place");
        assertEquals(5, t.with(entry(key("NVIDIA H200", "fp32", 256))).entries().size());
    }

    @Test
    void theFileReadsBackAsWritten(@TempDir Path tmp) throws IOException {
        TuningTable t = table();
        Path f = tmp.resolve("sub").resolve("tuning.json");
        t.write(f);
        TuningTable back = TuningTable.read(f);
        assertEquals(f.toString(), back.source());
        assertEquals(t.entries(), back.entries());
        assertEquals(t.toJson(), Files.readString(f));
        try (var files = Files.list(f.getParent())) {
            assertEquals(List.of(f), files.toList(), "no temporary file left beside it");
        }
        // writing again replaces the file whole
        t.with(entry(key("NVIDIA H200", "fp32", 4096))).write(f);
        assertEquals(5, TuningTable.read(f).entries().size());
        assertTrue(TuningTable.readOrEmpty(tmp.resolve("none.json")).entries().isEmpty());
    }

    @Test
    void theShippedTableIsATable() {
        TuningTable t = TuningTable.shipped();
        assertEquals(TuningTable.SHIPPED, t.source());
        for (TuningTable.Entry e : t.entries()) assertFalse(e.key().device().isBlank(), e.toString());   // parse checked every setting
    }

    @Test
    void aFileThatIsNotATableSaysWhereAndWhy(@TempDir Path tmp) throws IOException {
        assertEquals("tuning table " + tmp.resolve("missing.json") + ": no such file",
                assertThrows(IllegalArgumentException.class, () -> TuningTable.read(tmp.resolve("missing.json"))).getMessage());
        String ok = table().toJson();
        assertError(tmp, "{ \"schema\": ", "not JSON");
        assertError(tmp, "[1, 2]", ": expected a JSON object");
        assertError(tmp, ok.replace(TuningTable.SCHEMA, "augur-tuning/0"), "field 'schema' is 'augur-tuning/0', expected 'augur-tuning/1'");
        assertError(tmp, "{\"schema\": \"augur-tuning/1\"}", "field 'entries' must be an array");
        assertError(tmp, ok.replaceFirst("\"batch_size\" : 128", "\"batch_size\" : 0"), "entry 1: field 'batch_size' must be an integer >= 1, got 0");
        assertError(tmp, ok.replaceFirst("\"batch_size\" : 2048", "\"batch_size\" : 20.5"), "entry 2: field 'batch_size' must be an integer >= 1, got 20.5");
        assertError(tmp, ok.replaceFirst("\"device\" : \"NVIDIA A100-SXM4-80GB\"", "\"device\" : \"\""), "entry 4: field 'device' must be a non-empty string");
        assertError(tmp, ok.replaceFirst("\"model\" : \"din\",", ""), "entry 1: field 'model' must be a non-empty string, got nothing");
        assertError(tmp, ok.replace("-Daugur.tower.cols=8", "-Daugur.tower.cols=3"),
                "entry 1 (din batch 128 (" + DIN + "; NVIDIA H200, compute capability 9.0, built-in gemm_kernel, fp32)): "
                        + "-Daugur.tower.cols=3: expected auto, 1, 2, 4, 8, 16 or 32 (channels a tower block; default auto)");
        assertError(tmp, ok.replace("-Daugur.tower.cols=8", "-Daugur.tower.colz=8"), "entry 1 (din batch 128 (");
        assertError(tmp, ok.replace("-Daugur.tower.cols=8", "-Daugur.tower.colz=8"), "unknown kernel setting 'augur.tower.colz'");
        assertError(tmp, ok.replace("-Daugur.tower.cols=8", "towercols"), "'towercols': expected -Dproperty=value");
        assertError(tmp, ok.replace("\"-Daugur.attention.fused=off\"", "3"), "entry 2 (din batch 2048 (");
        assertError(tmp, ok.replace("\"batch_size\" : 1024", "\"batch_size\" : 128").replace("A100-SXM4-80GB", "H200"),
                "entry 4: a second entry for din batch 128");
    }

    private static void assertError(Path tmp, String text, String expected) throws IOException {
        Path f = tmp.resolve("bad.json");
        Files.writeString(f, text);
        String msg = assertThrows(IllegalArgumentException.class, () -> TuningTable.read(f)).getMessage();
        assertTrue(msg.startsWith("tuning table " + f), msg);
        assertTrue(msg.contains(expected), "expected '" + expected + "' in: " + msg);
    }

    @Test
    void aChangeIsReadAsChangesWritesIt() {
        KernelTuning t = KernelTuning.builtIn().withChange("-Daugur.attention.rowsBackward=16").withChange("augur.tower.fused=off");
        assertEquals(List.of("-Daugur.attention.rowsBackward=16", "-Daugur.tower.fused=off"), t.changes(KernelTuning.builtIn()));
        for (String c : t.changes(KernelTuning.builtIn())) assertEquals(t, t.withChange(c));
        assertEquals("'=16': expected -Dproperty=value, e.g. -Daugur.tower.cols=8",
                assertThrows(IllegalArgumentException.class, () -> KernelTuning.builtIn().withChange("=16")).getMessage());
    }
}
