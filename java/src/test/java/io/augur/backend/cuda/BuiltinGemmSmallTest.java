package io.augur.backend.cuda;

import org.junit.jupiter.api.Test;

import static io.augur.backend.cuda.BuiltinGemm.Small.ALWAYS;
import static io.augur.backend.cuda.BuiltinGemm.Small.AUTO;
import static io.augur.backend.cuda.BuiltinGemm.Small.OFF;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Which products the built-in GEMM gives gemm_small_kernel (no GPU needed): few 64 x 64 tiles, K up to 1024, a grid of one wave. */
class BuiltinGemmSmallTest {
    static final int SMS = 132;

    /** DIN's top MLP (162 -> 200 -> 80 -> 1) at batch 128: all nine products (M counts the ones row of dW's). */
    @Test
    void batch128TopMlpIsAllSmall() {
        int[][] products = {
                {128, 200, 162}, {128, 80, 200}, {128, 1, 80},   // y = x W + b, each layer
                {81, 1, 128}, {128, 80, 1},                      // dW3 and db3; dx3 = dy W3^T
                {201, 80, 128}, {128, 200, 80},                  // dW2 and db2; dx2
                {163, 200, 128}, {128, 162, 200}};               // dW1 and db1; dx1
        for (int[] p : products) assertTrue(BuiltinGemm.small(p[0], p[1], p[2], SMS, AUTO), java.util.Arrays.toString(p));
    }

    /** At batch 2048 only the last layer's forward (256 blocks, K = 80): the rest fill the device, have K = 2048, or would take 768 blocks. */
    @Test
    void batch2048KeepsTheTiledKernel() {
        assertTrue(BuiltinGemm.small(2048, 1, 80, SMS, AUTO), "y3 = a2 W3: 32 tiles, 256 blocks");
        assertFalse(BuiltinGemm.small(2048, 200, 162, SMS, AUTO), "y1: 128 tiles fill the device");
        assertFalse(BuiltinGemm.small(2048, 80, 200, SMS, AUTO), "y2: 64 tiles, but 768 blocks, three waves");
        assertFalse(BuiltinGemm.small(2048, 80, 1, SMS, AUTO), "dx3 = dy3 W3^T: 768 blocks");
        assertFalse(BuiltinGemm.small(163, 200, 2048, SMS, AUTO), "dW1: K = 2048");
        assertFalse(BuiltinGemm.small(81, 1, 2048, SMS, AUTO), "dW3: K = 2048");
        assertFalse(BuiltinGemm.small(2048, 162, 200, SMS, AUTO), "dx1: 96 tiles");
    }

    @Test
    void edgesOfTheRule() {
        assertTrue(BuiltinGemm.small(128, 80, BuiltinGemm.SMALL_MAX_K, SMS, AUTO), "K at the limit");
        assertFalse(BuiltinGemm.small(128, 80, BuiltinGemm.SMALL_MAX_K + 1, SMS, AUTO), "K past it");
        assertTrue(BuiltinGemm.small(8, 64 * 66, 64, SMS, AUTO), "66 tiles of 64 x 64 (half of 132 multiprocessors), 132 blocks");
        assertFalse(BuiltinGemm.small(8, 64 * 66 + 1, 64, SMS, AUTO), "67 tiles: the tiled kernel fills the device");
        assertTrue(BuiltinGemm.small(8 * 264, 32, 64, SMS, AUTO), "264 blocks: one wave of 2 an SM, 33 tiles");
        assertFalse(BuiltinGemm.small(8 * 264 + 1, 32, 64, SMS, AUTO), "265 blocks");
        assertTrue(BuiltinGemm.small(1, 1, 0, SMS, AUTO), "an empty sum: one block writes the bias");
    }

    @Test
    void offAndAlways() {
        assertFalse(BuiltinGemm.small(1, 1, 1, SMS, OFF));
        assertTrue(BuiltinGemm.small(4096, 4096, 4096, SMS, ALWAYS), "always: any product");
        assertTrue(BuiltinGemm.small(8 * 65535, 1, 1, SMS, ALWAYS), "65,535 blocks of rows: the grid's y limit");
        assertFalse(BuiltinGemm.small(8 * 65535 + 1, 1, 1, SMS, ALWAYS), "one more row: the tiled kernel takes it");
    }

    @Test
    void theProperty() {
        assertEquals(AUTO, BuiltinGemm.Small.parse(null));
        assertEquals(AUTO, BuiltinGemm.Small.parse(" Auto "));
        assertEquals(OFF, BuiltinGemm.Small.parse("off"));
        assertEquals(ALWAYS, BuiltinGemm.Small.parse("ALWAYS"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BuiltinGemm.Small.parse("sometimes"));
        assertTrue(e.getMessage().contains("augur.gemm.small"), e.getMessage());
    }
}
