package io.augur.backend.cuda;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The kernels' settings: the built-in ones, the system properties, one setting changed by name, and clear errors. */
class KernelTuningTest {

    @Test
    void theBuiltInSettingsAreThePlannedShape() {
        KernelTuning t = KernelTuning.builtIn();
        assertEquals(0, t.attentionRowsForward(), "automatic");
        assertEquals(0, t.attentionRowsBackward());
        assertEquals(0, t.attentionBlocksPerSm());
        assertEquals(256, t.attentionThreads());
        assertTrue(t.attentionFused() && t.attentionPartialsOnChip() && t.attentionDm3OnChip() && t.towerFused() && t.pdl());
        assertEquals(0, t.towerCols(), "automatic, per launch");
        assertEquals(0, t.towerChunk(), "automatic, per launch");
        assertEquals(0, t.towerCluster());
        assertEquals(BuiltinGemm.Small.AUTO, t.gemmSmall());
        assertEquals("built-in settings", t.toString());
        // no augur.* tuning property is set in the test JVMs
        assertEquals(t, KernelTuning.fromProperties());
    }

    @Test
    void aPropertyThatIsSetIsTakenAndABlankOneIsNot() {
        System.setProperty(KernelTuning.ROWS_BACKWARD, " 24 ");
        System.setProperty(KernelTuning.TOWER_FUSED, " ");
        try {
            KernelTuning t = KernelTuning.fromProperties();
            assertEquals(24, t.attentionRowsBackward());
            assertTrue(t.towerFused());
            assertEquals(List.of("-Daugur.attention.rowsBackward=24"), t.changes(KernelTuning.builtIn()));
        } finally {
            System.clearProperty(KernelTuning.ROWS_BACKWARD);
            System.clearProperty(KernelTuning.TOWER_FUSED);
        }
    }

    @Test
    void everySettingTakesItsOwnValueBackByName() {
        String[][] cases = {
                {KernelTuning.FUSED, "off"}, {KernelTuning.ROWS_FORWARD, "32"}, {KernelTuning.ROWS_BACKWARD, "16"}, {KernelTuning.THREADS, "128"},
                {KernelTuning.BLOCKS_PER_SM, "2"}, {KernelTuning.PARTIALS_ON_CHIP, "false"}, {KernelTuning.DM3_ON_CHIP, "false"},
                {KernelTuning.TOWER_FUSED, "off"}, {KernelTuning.TOWER_COLS, "8"}, {KernelTuning.TOWER_CHUNK, "48"},
                {KernelTuning.TOWER_CLUSTER, "2"}, {KernelTuning.GEMM_SMALL, "always"}, {KernelTuning.PDL, "off"}, {KernelTuning.VECTOR_TILES, "off"},
                {KernelTuning.ROW_GROUPS, "1"}, {KernelTuning.QUERY_SUMS, "auto"},
                {KernelTuning.REDUCE_GATHERS, "off"}, {KernelTuning.SPLIT_K, "off"}};
        assertEquals(KernelTuning.PROPERTIES.size(), cases.length, "a case for every setting");
        KernelTuning base = KernelTuning.builtIn();
        for (String[] c : cases) {
            KernelTuning t = base.with(c[0], c[1]);
            assertEquals(c[1], t.value(c[0]), c[0]);
            assertEquals(List.of("-D" + c[0] + "=" + c[1]), t.changes(base), "only " + c[0] + " changed");
            assertEquals(base, t.with(c[0], base.value(c[0])), c[0] + " back to its built-in value");
        }
        KernelTuning two = base.with(KernelTuning.PDL, "off").with(KernelTuning.ROWS_FORWARD, "16");
        assertEquals("-Daugur.attention.rowsForward=16 -Daugur.cuda.pdl=off", two.toString(), "in the properties' order");
        assertEquals(0, two.with(KernelTuning.ROWS_FORWARD, "auto").attentionRowsForward());
        assertEquals(96, base.with(KernelTuning.THREADS, "100").attentionThreads(), "threads round down to a warp");
        KernelTuning all = base.with(KernelTuning.TOWER_CHUNK, "all");
        assertEquals(KernelTuning.TOWER_CHUNK_ALL, all.towerChunk());
        assertEquals("-Daugur.tower.chunk=all", all.toString());
        assertEquals(base, all.with(KernelTuning.TOWER_CHUNK, "auto"));
    }

    @Test
    void badValuesNameThePropertyAndWhatItTakes() {
        String[][] bad = {
                {KernelTuning.FUSED, "false", "auto or off"},
                {KernelTuning.ROWS_BACKWARD, "1025", "from 0 to 1024"}, {KernelTuning.ROWS_BACKWARD, "sixteen", "from 0 to 1024"},
                {KernelTuning.THREADS, "16", "from 32 to 256"}, {KernelTuning.BLOCKS_PER_SM, "1.5", "from 0 to 64"},
                {KernelTuning.PARTIALS_ON_CHIP, "no", "true or false"}, {KernelTuning.DM3_ON_CHIP, "yes", "true or false"},
                {KernelTuning.TOWER_FUSED, "on", "auto"}, {KernelTuning.TOWER_COLS, "3", "auto, 1, 2, 4, 8, 16 or 32"},
                {KernelTuning.TOWER_COLS, "64", "auto, 1, 2, 4, 8, 16 or 32"}, {KernelTuning.TOWER_COLS, "0", "auto, 1, 2, 4, 8, 16 or 32"}, {KernelTuning.TOWER_CLUSTER, "32", "auto, 1, 2, 4, 8 or 16"},
                {KernelTuning.TOWER_CLUSTER, "0", "auto, 1, 2, 4, 8 or 16"}, {KernelTuning.GEMM_SMALL, "never", "auto, off or always"},
                {KernelTuning.PDL, "yes", "auto"}, {KernelTuning.TOWER_CHUNK, "0", "auto, all or a number of columns from 1 to 4096"},
                {KernelTuning.TOWER_CHUNK, "4097", "from 1 to 4096"}, {KernelTuning.TOWER_CHUNK, "half", "auto, all or a number"},
                {KernelTuning.ROW_GROUPS, "-1", "from 0 to 256"}, {KernelTuning.ROW_GROUPS, "all", "from 0 to 256"},
                {KernelTuning.QUERY_SUMS, "rows", "auto or off"}, {KernelTuning.REDUCE_GATHERS, "on", "auto or off"}};
        for (String[] c : bad) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> KernelTuning.builtIn().with(c[0], c[1]), c[0] + "=" + c[1]);
            assertTrue(e.getMessage().contains("-D" + c[0] + "=" + c[1]) && e.getMessage().contains(c[2]), e.getMessage());
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> KernelTuning.builtIn().with("augur.tower.colz", "4"));
        assertTrue(e.getMessage().contains("augur.tower.colz") && e.getMessage().contains(KernelTuning.TOWER_COLS), e.getMessage());
        System.setProperty(KernelTuning.TOWER_CLUSTER, "3");
        try {
            e = assertThrows(IllegalArgumentException.class, KernelTuning::fromProperties);
            assertTrue(e.getMessage().contains("-Daugur.tower.cluster=3"), e.getMessage());
        } finally {
            System.clearProperty(KernelTuning.TOWER_CLUSTER);
        }
    }

    @Test
    void theRecordChecksWhatItIsGiven() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new KernelTuning(true, 0, 0, 100, 0, true, true, true, 4, 0, 0, BuiltinGemm.Small.AUTO, true, true, 0, true, true, true));
        assertTrue(e.getMessage().contains("multiple of 32"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> new KernelTuning(true, 0, 0, 256, 0, true, true, true, 4, -1, 0, BuiltinGemm.Small.AUTO, true, true, 0, true, true, true));
        assertTrue(e.getMessage().contains(KernelTuning.TOWER_CHUNK + "=-1"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> new KernelTuning(true, 0, 0, 256, 0, true, true, true, 4, 0, 0, BuiltinGemm.Small.AUTO, true, true, 257, true, true, true));
        assertTrue(e.getMessage().contains(KernelTuning.ROW_GROUPS + "=257"), e.getMessage());
        assertFalse(KernelTuning.builtIn().equals(KernelTuning.builtIn().with(KernelTuning.TOWER_COLS, "2")));
    }
}
