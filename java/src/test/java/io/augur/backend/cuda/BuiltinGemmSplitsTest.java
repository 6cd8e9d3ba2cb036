package io.augur.backend.cuda;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** When the built-in GEMM splits K (no GPU needed): only few-tile products with a long K, within the workspace. */
class BuiltinGemmSplitsTest {
    static final int SMS = 132;
    static final long WS = BuiltinGemm.WORKSPACE_FLOATS;

    @Test
    void splitsOnlyFewTileLongKProducts() {
        assertEquals(1, BuiltinGemm.splits(2048, 200, 162, SMS, WS), "the forward: 128 tiles, short K");
        assertEquals(1, BuiltinGemm.splits(162, 200, 128, SMS, WS), "dW at batch 128: K too short to split");
        assertEquals(16, BuiltinGemm.splits(162, 200, 2048, SMS, WS), "dW at batch 2048: 12 tiles -> 16 splits, 192 blocks");
        assertEquals(BuiltinGemm.MAX_SPLITS, BuiltinGemm.splits(80, 1, 1 << 16, SMS, WS), "capped");
        assertEquals(8, BuiltinGemm.splits(80, 1, 1024, SMS, WS), "each split at least 128 long");
        assertEquals(1, BuiltinGemm.splits(80, 1, 255, SMS, WS), "K under two splits' worth");
        assertEquals(1, BuiltinGemm.splits(4096, 4096, 4096, SMS, WS), "a large product fills the device unsplit");
    }

    @Test
    void partialsFitTheWorkspace() {
        int s = BuiltinGemm.splits(1000, 1000, 8192, SMS, WS);   // 256 tiles: no split anyway
        assertEquals(1, s);
        s = BuiltinGemm.splits(700, 700, 8192, SMS, 3L * 700 * 700);   // 121 tiles > 66: no split
        assertEquals(1, s);
        s = BuiltinGemm.splits(300, 300, 8192, SMS, 3L * 300 * 300);   // 25 tiles, room for 3 partials
        assertEquals(3, s);
        assertTrue((long) s * 300 * 300 <= 3L * 300 * 300);
    }
}
