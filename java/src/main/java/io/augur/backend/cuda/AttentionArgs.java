package io.augur.backend.cuda;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The argument block of the activation-unit kernels, byte for byte the {@code AttentionArgs}
 * struct of {@code cuda/activation_unit.cu}: 36 pointers (8 bytes each, 0 for nullptr) in
 * {@link Ptr} order, then 14 ints in {@link Int} order, padded to a multiple of 8. Also the
 * shared-memory and partial-gradient layouts the kernels assume, computed the same way as there.
 */
final class AttentionArgs {
    /** Pointer fields, in struct order. */
    enum Ptr {
        SCORE, D_OUT, DQ_ROWS, D_QUERY, D_KEYS, PARTIALS, TILES, MA, M3T, W2T, QUERY, KEYS, LENGTHS,
        W1, B1, ALPHA1, W2, B2, ALPHA2, W3, B3, G_W1, G_B1, G_ALPHA1, G_W2, G_B2, G_ALPHA2, G_W3, G_B3, D_WEIGHTS, WEIGHTS,
        DX, S, OUT, HIDDEN1, HIDDEN2
    }

    /** Int fields, in struct order. */
    enum Int { B, T, W, H1, H2, ROWS, ACT, BLOCKS, LOCAL, SOFTMAX, D_OUT_STRIDE, ROW_GROUPS, QUERY_SUMS, SPLIT_ROOM }

    static final int BYTES = align8(8 * Ptr.values().length + 4 * Int.values().length);

    private final ByteBuffer buf = ByteBuffer.allocateDirect(BYTES).order(ByteOrder.LITTLE_ENDIAN);

    AttentionArgs set(Ptr p, long address) {
        buf.putLong(8 * p.ordinal(), address);
        return this;
    }

    AttentionArgs set(Int i, int value) {
        buf.putInt(8 * Ptr.values().length + 4 * i.ordinal(), value);
        return this;
    }

    long get(Ptr p) { return buf.getLong(8 * p.ordinal()); }
    int get(Int i) { return buf.getInt(8 * Ptr.values().length + 4 * i.ordinal()); }

    /** The bytes, for cuLaunchKernel (the struct is passed by value as the only parameter). */
    ByteBuffer buffer() { return buf; }

    private static int align8(int n) { return (n + 7) & ~7; }

    private static long align4(long n) { return (n + 3) & ~3L; }

    /**
     * Dynamic shared memory of the forward kernel for tiles of {@code rows} positions: M2 (2W, h1) and Ma (W, h1), then
     * row_b, row_t, slot, slot_b, slot_first (ints; the five padded to a multiple of 4, so that what follows is 16-byte
     * aligned for the products' float4 loads), then R (2W a row), A1, A2, Q (W a row) and P (h1 a row).
     */
    static long forwardSharedBytes(int W, int h1, int h2, int rows) {
        return 4L * (3L * W * h1 + align4(5L * rows) + rows * (3L * W + 2L * h1 + h2));
    }

    /**
     * Tiles of at most this many positions give the forward's MLP products room to split K (activation_unit.cu,
     * split_product): batch 128 in the Amazon config runs tiles of 16, batch 2048 tiles of 32, which fill the block.
     */
    static final int SPLIT_ROWS = 16;

    /**
     * The floats past P that a forward with tiles of {@code rows} positions gives its products' split K (the
     * SPLIT_ROOM int): two more parts of the wider layer's output (2 rows x max(h1, h2)), 0 above {@link #SPLIT_ROWS}.
     */
    static long splitRoomFloats(int h1, int h2, int rows) {
        return rows <= SPLIT_ROWS ? 2L * rows * Math.max(h1, h2) : 0;
    }

    /** The forward's dynamic shared memory with the split room where {@code split} (and the rows take it). */
    static long forwardSharedBytes(int W, int h1, int h2, int rows, boolean split) {
        return forwardSharedBytes(W, h1, h2, rows) + (split ? 4 * splitRoomFloats(h1, h2, rows) : 0);
    }

    /** Whether the backward's dR3 (rows, 3W) takes the place of H1 and A1 (rows, h1 each), as the kernel decides (dr3_in_h1). */
    static boolean dr3InH1(int W, int h1) { return 3 * W <= 2 * h1; }

    /**
     * Dynamic shared memory of the backward kernel for a tile: seg_dot (doubles, an even count), row_b, row_t (ints),
     * dsc (the three padded to a multiple of 4 floats), R3, H1, A1, D1, H2, A2, D2 and, unless it fits in H1 and A1, dR3.
     * The padding keeps R3 and what follows 16-byte aligned for the products' float4 loads.
     */
    static long backwardSharedBytes(int W, int h1, int h2, int rows) {
        return 8L * ((rows + 1) & ~1) + 4L * align4(3L * rows) + 4L * rows * (3L * W + 3L * h1 + 3L * h2 + (dr3InH1(W, h1) ? 0 : 3L * W));
    }

    /** Where the backward keeps a block's partial gradients (the LOCAL int): its slice in global memory, shared memory, or shared memory but dM3. */
    static final int PARTIALS_GLOBAL = 0, PARTIALS_CHIP = 1, PARTIALS_CHIP_BUT_DM3 = 2;

    /** The same with the partial gradients that {@code local} (a PARTIALS_* value) keeps in shared memory, ahead of the rest. */
    static long backwardSharedBytes(int W, int h1, int h2, int rows, int local) {
        long onChip = switch (local) {
            case PARTIALS_CHIP -> partialFloats(W, h1, h2);
            case PARTIALS_CHIP_BUT_DM3 -> partialFloats(W, h1, h2) - 3L * W * h1;
            default -> 0;
        };
        return backwardSharedBytes(W, h1, h2, rows) + 4 * align4(onChip);
    }

    /**
     * Floats of one block's partial gradients: dM3 (3W x h1), db1, dAlpha1, dW2, db2, dAlpha2, dW3, db3, rounded up to a
     * multiple of 4 so that every block's slice starts 16-byte aligned (PartialLayout in activation_unit.cu).
     */
    static long partialFloats(int W, int h1, int h2) {
        return align4(3L * W * h1 + 2L * h1 + (long) h1 * h2 + 3L * h2 + 1);
    }

    /**
     * The largest tile of positions (at most {@code preferred}, at least 1) whose shared memory
     * fits in {@code limit} bytes, or 0 if not even one position fits.
     */
    static int rowsThatFit(boolean backward, int W, int h1, int h2, int preferred, long limit) {
        for (int rows = preferred; rows >= 1; rows--) {
            long bytes = backward ? backwardSharedBytes(W, h1, h2, rows) : forwardSharedBytes(W, h1, h2, rows);
            if (bytes <= limit) return rows;
        }
        return 0;
    }

    /** Tiles of {@code rows} positions for at most {@code positions} valid positions (B x T at most): an upper bound on the grid that has work. */
    static long tiles(long positions, int rows) { return (positions + rows - 1) / rows; }
}
