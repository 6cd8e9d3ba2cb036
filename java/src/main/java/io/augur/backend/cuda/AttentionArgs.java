package io.augur.backend.cuda;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The argument block of the activation-unit kernels, byte for byte the {@code AttentionArgs}
 * struct of {@code cuda/activation_unit.cu}: 33 pointers (8 bytes each, 0 for nullptr) in
 * {@link Ptr} order, then 10 ints in {@link Int} order, padded to a multiple of 8. Also the
 * shared-memory and partial-gradient layouts the kernels assume, computed the same way as there.
 */
final class AttentionArgs {
    /** Pointer fields, in struct order. */
    enum Ptr {
        SCORE, D_OUT, DQ_PARTIALS, D_QUERY, D_KEYS, PARTIALS, STATUS, MA, MAT, M2, M2T, W2T, QUERY, KEYS, LENGTHS,
        W1, B1, ALPHA1, W2, B2, ALPHA2, W3, B3, G_W1, G_B1, G_ALPHA1, G_W2, G_B2, G_ALPHA2, G_W3, G_B3, D_WEIGHTS, WEIGHTS
    }

    /** Int fields, in struct order. */
    enum Int { B, T, W, H1, H2, ROWS, ACT, BLOCKS, LOCAL, SOFTMAX }

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

    /** Dynamic shared memory of the forward kernel: q, P, then R, A1, A2 for a chunk of {@code rows} positions. */
    static long forwardSharedBytes(int W, int h1, int h2, int rows) {
        return 4L * (W + h1 + (long) rows * (2 * W + h1 + h2));
    }

    /** Dynamic shared memory of the backward kernel: q, dq, P, G, then dsc, R, H1, A1, D1, H2, A2, D2, dR for a chunk. */
    static long backwardSharedBytes(int W, int h1, int h2, int rows) {
        return 4L * (2 * W + 2 * h1 + (long) rows * (1 + 4 * W + 3 * h1 + 3 * h2));
    }

    /**
     * The same with the block's partial gradients in shared memory too (the LOCAL mode), ahead of q: all but dMa
     * (W x h1), which the kernel adds in the block's slice in global memory either way.
     */
    static long backwardSharedBytes(int W, int h1, int h2, int rows, boolean local) {
        return backwardSharedBytes(W, h1, h2, rows) + (local ? 4L * (partialFloats(W, h1, h2) - (long) W * h1) : 0);
    }

    /** Floats of one block's partial gradients: dM2, db1, dAlpha1, dW2, db2, dAlpha2, dW3, db3, dMa. */
    static long partialFloats(int W, int h1, int h2) {
        return 3L * W * h1 + 2L * h1 + (long) h1 * h2 + 3L * h2 + 1;
    }

    /**
     * The largest chunk of positions (at most {@code preferred}, at least 1) whose shared memory
     * fits in {@code limit} bytes, or 0 if not even one position fits.
     */
    static int rowsThatFit(boolean backward, int W, int h1, int h2, int preferred, long limit) {
        for (int rows = preferred; rows >= 1; rows--) {
            long bytes = backward ? backwardSharedBytes(W, h1, h2, rows) : forwardSharedBytes(W, h1, h2, rows);
            if (bytes <= limit) return rows;
        }
        return 0;
    }

    /** Items of the fused kernels: a chunk of {@code rows} positions of one sample each. */
    static int chunks(int T, int rows) { return (T + rows - 1) / rows; }
}
