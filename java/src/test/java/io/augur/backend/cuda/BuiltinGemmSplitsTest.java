package io.augur.backend.cuda;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** When the built-in GEMM splits K (no GPU needed): only products of few tiles, K at least two splits long, at most sqrt(K / 16) splits, within the workspace and the tile counters. */
class BuiltinGemmSplitsTest {
    static final int SMS = 132;
    static final long WS = BuiltinGemm.WORKSPACE_FLOATS;

    @Test
    void splitsOnlyFewTileProducts() {
        assertEquals(1, BuiltinGemm.splits(2048, 200, 162, SMS, WS, 32), "the forward at batch 2048: 128 tiles fill the device");
        assertEquals(11, BuiltinGemm.splits(162, 200, 2048, SMS, WS, 32), "dW at batch 2048: 12 tiles, sqrt(2048 / 16) -> 11 splits of 192 rows");
        assertEquals(64, BuiltinGemm.MAX_SPLITS);
        assertEquals(64, BuiltinGemm.splits(101, 50, 73_728, SMS, WS, 32), "DIEN's auxiliary dW2 at batch 2048: 2 tiles, sqrt(4608) = 68 -> the cap, 64 splits of 1,152 rows");
        assertEquals(64, BuiltinGemm.splits(73, 100, 73_728, SMS, WS, 32), "its dW1 and db1: 4 tiles -> 64 splits, 256 blocks");
        assertEquals(16, BuiltinGemm.splits(101, 50, 4096, SMS, WS, 32), "the same at batch 128 (4,096 rows): sqrt(256) -> 16 splits");
        assertEquals(19, BuiltinGemm.splits(21, 3, 6000, SMS, WS, 32), "CudaOpsParityTest's dW over 6,000 rows: 19 splits");
        assertEquals(48, BuiltinGemm.splits(81, 40, 36_700, SMS, WS, 32), "the layer-by-layer unit's dW2 at batch 2048 (36,700 positions): sqrt -> 48");
        assertEquals(BuiltinGemm.MAX_SPLITS, BuiltinGemm.splits(80, 1, 1 << 16, SMS, WS, 32), "capped");
        assertEquals(4, BuiltinGemm.splits(80, 1, 256, SMS, WS, 32), "sqrt(256 / 16) = 4 (splits of at least 32 would allow 8)");
        assertEquals(4, BuiltinGemm.splits(80, 1, 512, SMS, WS, 128), "each split at least 128 long: 4 (sqrt(512 / 16) would allow 6)");
        assertEquals(1, BuiltinGemm.splits(80, 1, 63, SMS, WS, 32), "K under two splits' worth");
        assertEquals(1, BuiltinGemm.splits(4096, 4096, 4096, SMS, WS, 32), "a large product fills the device unsplit");
    }

    /** DIN's top MLP (162 -> 200 -> 80 -> 1) at batch 128: every product is a few tiles, each now split. */
    @Test
    void batch128TopMlpProductsSplit() {
        assertEquals(3, BuiltinGemm.splits(128, 200, 162, SMS, WS, 32), "y1 = x W1: 8 tiles, K = 162: sqrt(10) -> 3");
        assertEquals(4, BuiltinGemm.splits(128, 80, 200, SMS, WS, 32), "y2 = a1 W2: 4 tiles, K = 200: sqrt(12.5) -> 4");
        assertEquals(3, BuiltinGemm.splits(163, 200, 128, SMS, WS, 32), "dW1 and db1: 12 tiles, K = the batch: sqrt(8) -> 3");
        assertEquals(1, BuiltinGemm.splits(128, 80, 1, SMS, WS, 32), "dx3 = dy W3^T: K = 1");
        assertEquals(1, BuiltinGemm.splits(128, 200, 162, SMS, WS, 128), "with 128 per split (the old rule) short K stays whole");
        assertEquals(1, BuiltinGemm.splits(163, 200, 128, SMS, WS, 128));
    }

    @Test
    void noMoreTilesThanCounters() {
        int many = 1 << 20;   // a device this large would allow a split of COUNTERS + 1 tiles; the counters do not
        assertEquals(1, BuiltinGemm.splits(64 * (BuiltinGemm.COUNTERS + 1), 64, 1 << 12, many, Long.MAX_VALUE, 32));
        assertTrue(BuiltinGemm.splits(64 * BuiltinGemm.COUNTERS, 64, 1 << 12, many, Long.MAX_VALUE, 32) > 1);
    }

    @Test
    void partialsFitTheWorkspace() {
        int s = BuiltinGemm.splits(1000, 1000, 8192, SMS, WS, 32);   // 256 tiles: no split anyway
        assertEquals(1, s);
        s = BuiltinGemm.splits(700, 700, 8192, SMS, 3L * 700 * 700, 32);   // 121 tiles > 66: no split
        assertEquals(1, s);
        s = BuiltinGemm.splits(300, 300, 8192, SMS, 3L * 300 * 300, 32);   // 25 tiles, room for 3 partials
        assertEquals(3, s);
        assertTrue((long) s * 300 * 300 <= 3L * 300 * 300);
    }
}
