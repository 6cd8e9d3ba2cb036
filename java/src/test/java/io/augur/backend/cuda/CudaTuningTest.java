package io.augur.backend.cuda;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The automatic choices of the activation unit's and the tower's shapes (the settings themselves: KernelTuningTest). */
class CudaTuningTest {
    @Test
    void theTilesFollowTheBatch() {
        // H200, Amazon config (T = 100): 2 backward blocks per SM planned (264), tiles of up to 32 planned
        assertEquals(16, CudaBackend.attentionRows(0, 32, 128, 100, 264));     // 400 tiles of 32 at most: under 8 a block
        assertEquals(16, CudaBackend.attentionRows(0, 32, 512, 100, 264));
        assertEquals(32, CudaBackend.attentionRows(0, 32, 2048, 100, 264));    // 6,400
        assertEquals(8, CudaBackend.attentionRows(0, 8, 2048, 100, 264));      // never more than the shared memory was sized for
        assertEquals(24, CudaBackend.attentionRows(24, 32, 128, 100, 264));    // a setting wins
        assertEquals(32, CudaBackend.attentionRows(64, 32, 128, 100, 264));
        // the backward's grid: every planned block, never more than there can be tiles
        assertEquals(264, CudaBackend.attentionBackwardBlocks(800, 264));
        assertEquals(5, CudaBackend.attentionBackwardBlocks(5, 264));
        assertEquals(1, CudaBackend.attentionBackwardBlocks(0, 264));
        // the occupancy calculator's answer where it gave one: registers can hold a block count below what shared memory allows
        assertEquals(2, CudaBackend.attentionBlocksPerSm(0, 2, 60 * 1024, 228 * 1024));
        assertEquals(3, CudaBackend.attentionBlocksPerSm(0, 8, 10 * 1024, 228 * 1024));   // never above the automatic cap
        assertEquals(1, CudaBackend.attentionBlocksPerSm(0, 1, 10 * 1024, 228 * 1024));
        assertEquals(4, CudaBackend.attentionBlocksPerSm(4, 2, 10 * 1024, 228 * 1024));   // a setting wins
        // no answer: shared memory for 1 block only, and a device that does not say either
        assertEquals(1, CudaBackend.attentionBlocksPerSm(0, 0, 150 * 1024, 228 * 1024));
        assertEquals(2, CudaBackend.attentionBlocksPerSm(0, 0, 10 * 1024, 0));
    }

    /** The unit's kernels index with ints: a workspace whose scratch arrays would pass 2^31 - 1 elements is refused by name. */
    @Test
    void aWorkspaceTooLargeForIntIndicesIsRefused() {
        assertDoesNotThrow(() -> CudaBackend.requireIntIndices("din.att", 2048, 100, 36, 80));
        // the kept hidden layers: 268,435 x 100 x 80 = 2,147,480,000, just under 2^31 - 1; one sample more passes it
        assertDoesNotThrow(() -> CudaBackend.requireIntIndices("din.att", 268_435, 100, 36, 80));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CudaBackend.requireIntIndices("din.att", 268_436, 100, 36, 80));
        assertTrue(e.getMessage().contains("din.att") && e.getMessage().contains("of kept hidden layers (batch 268436 x T 100 x 80)")
                && e.getMessage().contains("2,147,488,000"), e.getMessage());
        // a unit wider than its hidden layers: dqRows is the larger array
        e = assertThrows(IllegalArgumentException.class, () -> CudaBackend.requireIntIndices("u", 30_000_000, 1, 80, 4));
        assertTrue(e.getMessage().contains("dqRows (batch 30000000 x T 1 x W 80)") && e.getMessage().contains("2,400,000,000"), e.getMessage());
    }

    /**
     * A fused-unit launch asks for the shared memory its own tiles lay out: at batch 128 (tiles of 16 where 32 were
     * planned, above) 78,768 bytes backward and 54,592 forward in the Amazon config instead of 109,040 and 74,624,
     * which leaves an H200 multiprocessor's L1 room for the weights; -Daugur.attention.sharedAsPlanned the planned.
     */
    @Test
    void theUnitsLaunchesAskForTheSharedMemoryOfTheirTiles() {
        io.augur.backend.AttentionSpec amazon = new io.augur.backend.AttentionSpec(36, 80, 40, io.augur.backend.Activation.SIGMOID, true, 0.99f, 1e-8f);
        int chip = AttentionArgs.PARTIALS_CHIP;
        long plannedBackward = AttentionArgs.backwardSharedBytes(36, 80, 40, 32, chip), plannedForward = AttentionArgs.forwardSharedBytes(36, 80, 40, 32);
        assertEquals(109_040, plannedBackward);
        assertEquals(74_624, plannedForward);
        assertEquals(78_768, CudaBackend.attentionLaunchShared(false, true, amazon, 16, chip, plannedBackward, false));
        assertEquals(54_592, CudaBackend.attentionLaunchShared(false, false, amazon, 16, chip, plannedForward, false));
        // the split room of tiles of 16 (2 rows x 80 floats more), within the 32 rows' plan, which takes none
        assertEquals(54_592 + 10_240, CudaBackend.attentionLaunchShared(false, false, amazon, 16, chip, plannedForward, true));
        assertEquals(plannedForward, CudaBackend.attentionLaunchShared(false, false, amazon, 32, chip, plannedForward, true));
        assertEquals(plannedBackward, CudaBackend.attentionLaunchShared(false, true, amazon, 32, chip, plannedBackward, false));   // batch 2048: the plan
        assertEquals(plannedBackward, CudaBackend.attentionLaunchShared(true, true, amazon, 16, chip, plannedBackward, false));
        assertEquals(plannedForward, CudaBackend.attentionLaunchShared(true, false, amazon, 16, chip, plannedForward, false));
        // partial gradients off chip: the tile's arrays alone
        assertEquals(AttentionArgs.backwardSharedBytes(36, 80, 40, 16), CudaBackend.attentionLaunchShared(false, true, amazon, 16, AttentionArgs.PARTIALS_GLOBAL,
                AttentionArgs.backwardSharedBytes(36, 80, 40, 32), false));
        // never more than was planned (and set as the kernels' limit)
        IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                () -> CudaBackend.attentionLaunchShared(false, true, amazon, 32, chip, 78_768, false));
        assertTrue(e.getMessage().contains("a tile of 32 rows needs 109040 bytes"), e.getMessage());
    }

    @Test
    void theDenseLayersSliceByTheRowCountAlone() {
        // batch 2048: 32 slices of 64 rows (was 8 of 256); the activation unit's Dice over B T rows: at most 256 slices
        assertEquals(64, CudaBackend.sliceRows(2048));
        assertEquals(32, CudaBackend.slices(2048, CudaBackend.sliceRows(2048)));
        assertEquals(64, CudaBackend.sliceRows(257));
        assertEquals(5, CudaBackend.slices(257, 64));   // a last slice of one row
        assertEquals(800, CudaBackend.sliceRows(2048L * 100));
        assertEquals(256, CudaBackend.slices(2048L * 100, 800));
        // up to 256 rows a layer runs in one launch (batch 128 and 256 keep their launch counts)
        assertEquals(256, CudaBackend.UNSLICED_MAX_ROWS);
        // the partials of 256 slices of 2048 channels fit
        assertTrue(8L * 4 * CudaBackend.MAX_ROW_SLICES * 2048 <= CudaBackend.ROW_PARTIALS_BYTES);
    }

    /** The Amazon DIN tower (162 inputs, layers of 200 and 80, Dice): which batches the fused kernels take. */
    static io.augur.backend.Tower amazonTower() {
        java.util.List<io.augur.backend.Tower.Layer> hidden = new java.util.ArrayList<>();
        int width = 162;
        for (int h : new int[] {200, 80}) {
            hidden.add(new io.augur.backend.Tower.Layer(null, null, null, null, null, null, io.augur.backend.Activation.DICE, null, null,
                    null, null, null, null, null, null, width, h, 0.99f, 1e-8f));
            width = h;
        }
        io.augur.backend.Tower.Layer head = new io.augur.backend.Tower.Layer(null, null, null, null, null, null, null, null, null,
                null, null, null, null, null, null, 80, 1, 0f, 0f);
        return new io.augur.backend.Tower(new io.augur.backend.Tower.Norm(null, null, null, null, null, null, null, null, null, null, 162, 0.99f, 1e-5f),
                hidden, head);
    }

    @Test
    void theFusedTowerTakesTheBatchesWhoseLayersFitABlock() {
        io.augur.backend.Tower t = amazonTower();
        long h200 = 227 * 1024;
        assertTrue(CudaBackend.towerFits(t, 1, 4, 1, h200));
        assertTrue(CudaBackend.towerFits(t, 128, 4, 1, h200));
        // without clusters the BatchNorm's backward is the largest: 6,144 + 4 (201 B + 3 + 803 + 12 B) bytes (3: to a 16-byte boundary)
        assertTrue(CudaBackend.towerFits(t, 261, 4, 1, h200), "at 261 rows: " + CudaBackend.towerBackwardShared(261, 200, 4, 1, false));
        assertEquals(232_580, CudaBackend.towerBackwardShared(262, 200, 4, 1, false));
        org.junit.jupiter.api.Assertions.assertFalse(CudaBackend.towerFits(t, 262, 4, 1, h200));
        org.junit.jupiter.api.Assertions.assertFalse(CudaBackend.towerFits(t, 2048, 4, 1, h200));
        org.junit.jupiter.api.Assertions.assertFalse(CudaBackend.towerFits(t, 0, 4, 1, h200));
        org.junit.jupiter.api.Assertions.assertFalse(CudaBackend.towerFits(t, 128, 4, 1, CudaBackend.DEFAULT_SHARED), "83 KB of input without opting in");
        // in clusters of 8, 256 rows a block at batch 2048: the BatchNorm's backward adds 8 (24 cols) bytes of
        // exchange and 4 (4 x 200) of its weight-gradient share, 230,860 bytes; the top layer's also its bias's
        assertEquals(230_860, CudaBackend.towerBackwardShared(2048, 200, 4, 8, false));
        assertTrue(CudaBackend.towerFits(t, 2048, 4, 8, h200));
        org.junit.jupiter.api.Assertions.assertFalse(CudaBackend.towerFits(t, 2048, 4, 4, h200), "512 rows a block");
        org.junit.jupiter.api.Assertions.assertFalse(CudaBackend.towerFits(t, 2048, 8, 8, h200), "8 channels a block");
        assertTrue(CudaBackend.towerFits(t, 2056, 4, 8, h200), "257 rows a block");
        org.junit.jupiter.api.Assertions.assertFalse(CudaBackend.towerFits(t, 2057, 4, 8, h200), "258 rows a block");
        // a narrow tower fits many rows, but never more than TOWER_MAX_ROWS a block
        io.augur.backend.Tower.Layer one = new io.augur.backend.Tower.Layer(null, null, null, null, null, null, io.augur.backend.Activation.PRELU,
                null, null, null, null, null, null, null, null, 4, 2, 0f, 0f);
        io.augur.backend.Tower.Layer head = new io.augur.backend.Tower.Layer(null, null, null, null, null, null, null, null, null, null, null,
                null, null, null, null, 2, 1, 0f, 0f);
        io.augur.backend.Tower narrow = new io.augur.backend.Tower(
                new io.augur.backend.Tower.Norm(null, null, null, null, null, null, null, null, null, null, 4, 0.99f, 1e-5f), java.util.List.of(one), head);
        assertTrue(CudaBackend.towerFits(narrow, CudaBackend.TOWER_MAX_ROWS, 4, 1, h200));
        org.junit.jupiter.api.Assertions.assertFalse(CudaBackend.towerFits(narrow, CudaBackend.TOWER_MAX_ROWS + 1, 4, 1, h200));
        assertTrue(CudaBackend.towerFits(narrow, 8 * CudaBackend.TOWER_MAX_ROWS, 4, 8, h200));
    }

    @Test
    void theFusedTowerTakesTheSmallestClusterThatFits() {
        io.augur.backend.Tower t = amazonTower();
        long h200 = 227 * 1024;
        assertEquals(1, CudaBackend.towerClusterFor(t, 128, 4, 0, true, h200));
        assertEquals(1, CudaBackend.towerClusterFor(t, 261, 4, 0, true, h200));
        assertEquals(2, CudaBackend.towerClusterFor(t, 262, 4, 0, true, h200));
        assertEquals(4, CudaBackend.towerClusterFor(t, 1024, 4, 0, true, h200));
        assertEquals(8, CudaBackend.towerClusterFor(t, 2048, 4, 0, true, h200), "the benchmark's large batch");
        assertEquals(0, CudaBackend.towerClusterFor(t, 4096, 4, 0, true, h200), "512 rows a block: the layer-by-layer ops");
        // no clusters below compute capability 9.0
        assertEquals(0, CudaBackend.towerClusterFor(t, 2048, 4, 0, false, h200));
        assertEquals(1, CudaBackend.towerClusterFor(t, 128, 4, 0, false, h200));
        // a setting takes that size or nothing
        assertEquals(2, CudaBackend.towerClusterFor(t, 128, 4, 2, true, h200));
        assertEquals(8, CudaBackend.towerClusterFor(t, 128, 4, 8, true, h200));
        assertEquals(0, CudaBackend.towerClusterFor(t, 2048, 4, 4, true, h200));
        assertEquals(0, CudaBackend.towerClusterFor(t, 128, 4, 2, false, h200));
    }

    /**
     * An H200 as the occupancy calculator sees a tower block of 256 threads by its shared memory alone (228 KB a
     * multiprocessor, 1 KB of it reserved a block, 8 blocks by threads; registers do not bind here), 132 multiprocessors,
     * and {@code clustersOf8} clusters of 8 one-block-a-multiprocessor blocks at once (16 if a cluster could straddle GPCs;
     * a device whose GPCs hold fewer says so).
     */
    static CudaBackend.TowerOccupancy h200Occupancy(int clustersOf8) {
        return new CudaBackend.TowerOccupancy() {
            @Override
            public int blocksPerSm(String kernel, long shared) {
                return (int) Math.min(8, 233_472 / (shared + 1024));
            }

            @Override
            public int groupsAtOnce(String kernel, int groups, int S, long shared) {
                int perSm = blocksPerSm(kernel, shared);
                return S == 1 ? 132 * perSm : S == 8 && perSm == 1 ? clustersOf8 : 132 * perSm / S;
            }
        };
    }

    private static CudaBackend.TowerCols cols(int[] forward, int[] backward, int norm) {
        return new CudaBackend.TowerCols(forward, backward, norm);
    }

    @Test
    void eachTowerLaunchTakesTheChannelsThatGiveItTheFewestRounds() {
        io.augur.backend.Tower t = amazonTower();
        long h200 = 227 * 1024;
        // batch 2048 in clusters of 8 (256 rows a block): the first forward at 4 channels is 50 clusters of one block a
        // multiprocessor (182,900 bytes), 4 rounds of 16; at 8, 25 (2 rounds); at 16, 13 (one, 202,964 bytes). The second
        // (200 wide input, 80 channels, no BatchNorm, so an exchange of 2 cols doubles): 20 clusters at 4 (217,300 bytes),
        // 10 at 8 (224,660, still one a multiprocessor)
        assertEquals(202_964, CudaBackend.towerForwardShared(2048, 162, 16, 8, true));
        assertEquals(224_660, CudaBackend.towerForwardShared(2048, 200, 8, 8, false));
        // in clusters of 16 (128 rows a block) the second at 4 channels is 112,340 bytes: two blocks a multiprocessor (at
        // most 115,712 each of 228 KB, with the 1 KB a block the driver keeps), where an exchange of 2 max(K, cols) doubles
        // and 3 threads' doubles of scratch made it 117,524, one; at 8 channels 117,652, one
        assertEquals(112_340, CudaBackend.towerForwardShared(2048, 200, 4, 16, false));
        assertEquals(117_652, CudaBackend.towerForwardShared(2048, 200, 8, 16, false));
        // the backwards with d_up whole (towerChunk all): the 200-wide layer's holds 2 blocks a multiprocessor at 4 (104,140
        // bytes) and 1 at 8 (119,180): it keeps 4; the top layer's is one round at 4; the BatchNorm's fits only 4 (230,860
        // bytes; 249,740 at 8)
        assertEquals(119_180, CudaBackend.towerBackwardShared(2048, 80, 8, 8, false));
        int all = KernelTuning.TOWER_CHUNK_ALL;
        CudaBackend.TowerCols whole = CudaBackend.towerColsPlan(t, 2048, 8, 0, all, h200, h200Occupancy(16));
        assertEquals(cols(new int[] {16, 8}, new int[] {4, 4}, 4), whole, whole.toString());
        assertEquals("channels a block 16, 8 forward and 4, 4 backward (bottom up), 4 for the BatchNorm", whole.toString());
        // with d_up in chunks (the default): the 200-wide layer's backward at 8 channels and 48 columns at a time holds 2
        // blocks a multiprocessor (86,412 bytes), 25 clusters in one round where it took 50 in two; the BatchNorm's at 16
        // channels and 112 columns (197,388 bytes) is 11 clusters, one round where it took three. (At 4 channels and 48
        // columns it would be one round too, 3 blocks a multiprocessor, but in 5 chunks: the fewest chunks win.)
        assertEquals(86_412, CudaBackend.towerBackwardShared(2048, 80, 8, 8, false, 48));
        assertEquals(197_388, CudaBackend.towerBackwardShared(2048, 200, 16, 8, false, 112));
        CudaBackend.TowerCols at2048 = CudaBackend.towerColsPlan(t, 2048, 8, 0, h200, h200Occupancy(16));
        assertEquals(new CudaBackend.TowerCols(new int[] {16, 8}, new int[] {8, 4}, 16, new int[] {48, 0}, 112), at2048, at2048.toString());
        assertEquals("channels a block 16, 8 forward and 8, 4 backward (bottom up), 16 for the BatchNorm; the backwards stage d_up 48 columns,"
                + " whole at a time (bottom up), the BatchNorm's 112 columns at a time", at2048.toString());
        // a device whose GPCs hold only 12 such clusters: 16 channels would take 2 rounds, 32 one (230,468 bytes); the
        // BatchNorm's backward at 16 channels is still one round (11 clusters)
        assertEquals(cols(new int[] {32, 8}, new int[] {4, 4}, 4), CudaBackend.towerColsPlan(t, 2048, 8, 0, all, h200, h200Occupancy(12)));
        assertEquals(new CudaBackend.TowerCols(new int[] {32, 8}, new int[] {8, 4}, 16, new int[] {48, 0}, 112),
                CudaBackend.towerColsPlan(t, 2048, 8, 0, h200, h200Occupancy(12)));
        // and one that holds 10: the BatchNorm's backward at 16 channels takes 2 rounds in any chunks; at 8 channels and 64
        // columns (110,476 bytes, 2 blocks a multiprocessor: 33 clusters) one
        assertEquals(new CudaBackend.TowerStep(8, 64), CudaBackend.towerBackwardFor(Kernels.towerBackward(8), 162, 200, 8,
                (c, w) -> CudaBackend.towerBackwardShared(2048, 200, c, 8, false, w), h200, h200Occupancy(10)));
        // a chunk given: every backward stages that many columns (the top layer's single one whole), with channels chosen for it
        CudaBackend.TowerCols by64 = CudaBackend.towerColsPlan(t, 2048, 8, 0, 64, h200, h200Occupancy(16));
        assertEquals(new CudaBackend.TowerCols(new int[] {16, 8}, new int[] {8, 4}, 8, new int[] {64, 0}, 64), by64, by64.toString());
        // batch 128, no clusters: every launch is one round at 4 already (50 blocks of 2 a multiprocessor, the most)
        assertEquals(CudaBackend.TowerCols.uniform(2, 4), CudaBackend.towerColsPlan(t, 128, 1, 0, h200, h200Occupancy(16)));
        assertEquals("4 channels a block", CudaBackend.TowerCols.uniform(2, 4).toString());
        // a setting is every launch's, with d_up whole unless a chunk is given too
        assertEquals(CudaBackend.TowerCols.uniform(2, 2), CudaBackend.towerColsPlan(t, 2048, 8, 2, h200, h200Occupancy(16)));
        assertEquals(new CudaBackend.TowerCols(new int[] {2, 2}, new int[] {2, 2}, 2, new int[] {32, 0}, 32),
                CudaBackend.towerColsPlan(t, 2048, 8, 2, 32, h200, h200Occupancy(16)));
        // a device that does not say: 4
        CudaBackend.TowerOccupancy silent = new CudaBackend.TowerOccupancy() {
            @Override
            public int blocksPerSm(String kernel, long shared) {
                return 0;
            }

            @Override
            public int groupsAtOnce(String kernel, int groups, int S, long shared) {
                return 0;
            }
        };
        assertEquals(CudaBackend.TowerCols.uniform(2, 4), CudaBackend.towerColsPlan(t, 2048, 8, 0, h200, silent));
        // the chunk widths: whole, then ceil(U / n) up to a multiple of 16, down to 16
        assertEquals(java.util.List.of(200, 112, 80, 64, 48, 32, 16), CudaBackend.towerChunkWidths(200));
        assertEquals(java.util.List.of(80, 48, 32, 16), CudaBackend.towerChunkWidths(80));
        assertEquals(java.util.List.of(1), CudaBackend.towerChunkWidths(1));
        assertEquals(java.util.List.of(20, 16), CudaBackend.towerChunkWidths(20));
        // never past the shared memory's limit: under 200,000 bytes the first forward's 16 (202,964) is out, 8 (2 rounds) in
        assertEquals(8, CudaBackend.towerColsFor(Kernels.towerForward(8), 200, 8, c -> CudaBackend.towerForwardShared(2048, 162, c, 8, true), 200_000,
                h200Occupancy(16)));
        // and the BatchNorm's backward under 150,000 bytes: 16 channels in 2 chunks (197,388) is out; 8 in 4 of 64 (110,476) in
        assertEquals(new CudaBackend.TowerStep(8, 64), CudaBackend.towerBackwardFor(Kernels.towerBackward(8), 162, 200, 8,
                (c, w) -> CudaBackend.towerBackwardShared(2048, 200, c, 8, false, w), 150_000, h200Occupancy(16)));
    }
}
