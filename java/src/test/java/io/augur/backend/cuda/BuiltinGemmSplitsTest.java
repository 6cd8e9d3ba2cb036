package io.augur.backend.cuda;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** When the built-in GEMM splits K (no GPU needed): only products of few tiles, K at least two splits long, within the workspace and the tile counters. */
class BuiltinGemmSplitsTest {
    static final int SMS = 132;
    static final long WS = BuiltinGemm.WORKSPACE_FLOATS;

    @Test
    void splitsOnlyFewTileProducts() {
        assertEquals(1, BuiltinGemm.splits(2048, 200, 162, SMS, WS, 32), "the forward at batch 2048: 128 tiles fill the device");
        assertEquals(22, BuiltinGemm.splits(162, 200, 2048, SMS, WS, 32), "dW at batch 2048: 12 tiles -> 22 splits, 264 blocks");
        assertEquals(64, BuiltinGemm.MAX_SPLITS);
        assertEquals(64, BuiltinGemm.splits(101, 50, 74_000, SMS, WS, 32), "DIEN's auxiliary dW2 at batch 2048: 2 tiles -> 64 splits of 1,157 rows");
        assertEquals(64, BuiltinGemm.splits(73, 100, 74_000, SMS, WS, 32), "its dW1 and db1: 4 tiles -> 64 splits, 256 blocks");
        assertEquals(BuiltinGemm.MAX_SPLITS, BuiltinGemm.splits(80, 1, 1 << 16, SMS, WS, 32), "capped");
        assertEquals(8, BuiltinGemm.splits(80, 1, 256, SMS, WS, 32), "each split at least 32 long");
        assertEquals(1, BuiltinGemm.splits(80, 1, 63, SMS, WS, 32), "K under two splits' worth");
        assertEquals(1, BuiltinGemm.splits(4096, 4096, 4096, SMS, WS, 32), "a large product fills the device unsplit");
    }

    /** DIN's top MLP (162 -> 200 -> 80 -> 1) at batch 128: every product is a few tiles, each now split. */
    @Test
    void batch128TopMlpProductsSplit() {
        assertEquals(5, BuiltinGemm.splits(128, 200, 162, SMS, WS, 32), "y1 = x W1: 8 tiles, K = 162");
        assertEquals(6, BuiltinGemm.splits(128, 80, 200, SMS, WS, 32), "y2 = a1 W2: 4 tiles, K = 200");
        assertEquals(4, BuiltinGemm.splits(163, 200, 128, SMS, WS, 32), "dW1 and db1: 12 tiles, K = the batch");
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
