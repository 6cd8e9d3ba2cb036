package io.augur.backend.cuda;

/**
 * The GEMM provider that needs nothing but our fatbin: {@code gemm_kernel} (cuda/gemm.cu), 64 x 64
 * tiles, one thread per 4 x 4 outputs, the k loop pipelined through two shared buffers, bias and
 * accumulation in the epilogue, and a linear layer's bias gradient in the weight gradient's pass
 * (an extra row of ones). Deterministic. With TF32 on, {@code gemm_tf32_kernel} does the same on
 * the tensor cores (8 warps of 32 x 16 outputs).
 *
 * <p>A product whose output tiles leave more than half the multiprocessors idle is split along K
 * ({@link #splits}): each split sums its share of K into a partial product in {@code workspace},
 * and the last split of each tile to finish adds the tile's partials in split order (a counter per
 * tile in {@code counters}, back to zero after each launch), so the result is still the same on
 * every run and the product is still one launch. At a batch of 128 every product of the top MLP
 * is such a product: 2 to 12 tiles, whose k tiles would otherwise be walked one after another by
 * a handful of blocks.
 */
final class BuiltinGemm implements Gemm {
    private static final int TILE = 64;
    /**
     * K per split at least this long (two of the kernel's 16-wide k tiles), and split only when K
     * reaches twice it; {@code -Daugur.gemm.minKPerSplit} changes it (a device comparison: 128 and
     * more split only long K, as the provider did before the splits were summed in the kernel).
     */
    static final int MIN_K_PER_SPLIT = Integer.getInteger("augur.gemm.minKPerSplit", 32);
    static final int MAX_SPLITS = 16;
    /** Floats of the split-K workspace. */
    static final long WORKSPACE_FLOATS = 2L << 20;
    /** Tile counters: one per output tile of a split product (a split product has at most half a device's multiprocessors of tiles). */
    static final int COUNTERS = 1024;

    private final CudaRuntime rt;
    private final int multiprocessors;
    private final Arena.Slice workspace;   // null: never split
    private final Arena.Slice counters;    // COUNTERS unsigned ints, zero between launches
    private boolean tf32;

    /**
     * @param workspace the split partial products ({@link #WORKSPACE_FLOATS} floats; a scratch
     *                  slice: every element a split reads was written in the same launch)
     * @param counters  {@link #COUNTERS} ints, zero when allocated (not scratch: they must be zero
     *                  before every launch, which each launch leaves them)
     */
    BuiltinGemm(CudaRuntime rt, Arena.Slice workspace, Arena.Slice counters) {
        if (counters.bytes() < 4L * COUNTERS) throw new IllegalArgumentException("gemm tile counters: " + counters.bytes() + " bytes, need " + 4L * COUNTERS);
        this.rt = rt;
        this.multiprocessors = rt.multiprocessors;
        this.workspace = workspace;
        this.counters = counters;
    }

    @Override
    public String name() { return "built-in gemm_kernel"; }

    /** gemm_tf32_kernel instead of gemm_kernel: the same tiles, splits and epilogue, mma.sync on TF32 operands. */
    @Override
    public void setTf32(boolean on) { tf32 = on; }

    /**
     * How many K splits a product gets: 1 unless its output tiles leave more than half the
     * multiprocessors idle and K is at least 2 * {@link #MIN_K_PER_SPLIT}; then enough splits to
     * give about two blocks per multiprocessor, at most {@link #MAX_SPLITS}, each at least
     * {@link #MIN_K_PER_SPLIT} long, and all partials within {@code workspaceFloats}.
     */
    static int splits(int M, int N, int K, int multiprocessors, long workspaceFloats) {
        return splits(M, N, K, multiprocessors, workspaceFloats, MIN_K_PER_SPLIT);
    }

    static int splits(int M, int N, int K, int multiprocessors, long workspaceFloats, int minKPerSplit) {
        long tiles = (long) ((M + TILE - 1) / TILE) * ((N + TILE - 1) / TILE);
        if (2 * tiles > multiprocessors || tiles > COUNTERS || K < 2 * minKPerSplit) return 1;
        int s = (int) Math.min(MAX_SPLITS, Math.min((2L * multiprocessors + tiles - 1) / tiles, K / minKPerSplit));
        while (s > 1 && (long) s * M * N > workspaceFloats) s--;
        return s;
    }

    @Override
    public void gemm(long C, long A, long B, long bias, int M, int N, int K, int lda, int ldb, int ldc,
                     boolean transA, boolean transB, boolean accumulate) {
        launch(C, A, B, bias, M, N, K, lda, ldb, ldc, transA, transB, accumulate, false);
    }

    /** The bias gradient rides along as op(A)'s extra last row of ones (gemm_kernel's ones_row), its output row going to db. */
    @Override
    public boolean weightGrad(long dW, long db, long x, long dy, int rows, int in, int out) {
        if (db == 0) {
            launch(dW, x, dy, 0, in, out, rows, in, out, out, true, false, true, false);
            return false;
        }
        launch(dW, x, dy, db, in, out, rows, in, out, out, true, false, true, true);
        return true;
    }

    /**
     * {@link #gemm} with the rows counted on the device: the positions dimension (M, or K with
     * transA) stops at the int at {@code rowsLimit}; the grid is sized for M (or K), its blocks
     * past the count return at once, and nothing is written past it (gemm_kernel's rows_limit).
     */
    void gemmRows(long C, long A, long B, long bias, int M, int N, int K, int lda, int ldb, int ldc,
                  boolean transA, boolean transB, boolean accumulate, long rowsLimit) {
        launch(C, A, B, bias, M, N, K, lda, ldb, ldc, transA, transB, accumulate, false, rowsLimit);
    }

    /** {@link #weightGrad} over the first (device-counted) rows only: dW += x^T dy and db, K stopping at the int at {@code rowsLimit}. */
    void weightGradRows(long dW, long db, long x, long dy, int rows, int in, int out, long rowsLimit) {
        launch(dW, x, dy, db, in, out, rows, in, out, out, true, false, true, db != 0, rowsLimit);
    }

    /** gemm_kernel's epilogue activations (act_kind). */
    static final int ACT_SIGMOID = 1, ACT_PRELU = 2;

    /**
     * A linear layer and its activation in one launch: y (B, out) = x (B, in) W (in, out) + b, and
     * a = sigmoid(y) ({@link #ACT_SIGMOID}) or PReLU(y) with alpha (out) ({@link #ACT_PRELU}),
     * applied in the product's epilogue to each element as it is stored.
     */
    void linearAct(long y, long a, long alpha, int kind, long x, long W, long b, int B, int in, int out) {
        if (kind != ACT_SIGMOID && kind != ACT_PRELU) throw new IllegalArgumentException("epilogue activation " + kind + " (expected 1 sigmoid or 2 PReLU)");
        if (kind == ACT_PRELU && alpha == 0) throw new IllegalArgumentException("PReLU in the epilogue needs its alpha");
        launch(y, x, W, b, B, out, in, in, out, out, false, false, false, false, 0L, a, alpha, kind);
    }

    /** ones: op(A) gets a last row of ones, whose output row goes to {@code bias} instead of being added. */
    private void launch(long C, long A, long B, long bias, int M, int N, int K, int lda, int ldb, int ldc,
                        boolean transA, boolean transB, boolean accumulate, boolean ones) {
        launch(C, A, B, bias, M, N, K, lda, ldb, ldc, transA, transB, accumulate, ones, 0L);
    }

    private void launch(long C, long A, long B, long bias, int M, int N, int K, int lda, int ldb, int ldc,
                        boolean transA, boolean transB, boolean accumulate, boolean ones, long rowsLimit) {
        launch(C, A, B, bias, M, N, K, lda, ldb, ldc, transA, transB, accumulate, ones, rowsLimit, 0L, 0L, 0);
    }

    /** actOut != 0: the epilogue also writes act(C) there (actKind, alpha), C's layout; not with accumulate or ones. */
    private void launch(long C, long A, long B, long bias, int M, int N, int K, int lda, int ldb, int ldc,
                        boolean transA, boolean transB, boolean accumulate, boolean ones, long rowsLimit,
                        long actOut, long alpha, int actKind) {
        if (M <= 0 || N <= 0) return;
        int rows = M + (ones ? 1 : 0);   // output rows, the ones row included
        int mTiles = (rows + TILE - 1) / TILE, nTiles = (N + TILE - 1) / TILE;
        // split K only over K: a device row count over M would leave split partials unwritten
        int s = workspace == null || (rowsLimit != 0 && !transA) ? 1 : splits(rows, N, K, multiprocessors, workspace.bytes() / 4);
        int kSplit = K;
        if (s > 1) {
            kSplit = ((K + s - 1) / s + 15) / 16 * 16;   // whole 16-wide k tiles per split
            s = (K + kSplit - 1) / kSplit;
        }
        int onesRow = ones ? M : -1;
        CudaRuntime.Args a = new CudaRuntime.Args().ptr(C).ptr(A).ptr(B).ptr(bias)
                .i(rows).i(N).i(K).i(lda).i(ldb).i(ldc).i(transA ? 1 : 0).i(transB ? 1 : 0).i(accumulate ? 1 : 0)
                .ptr(s > 1 ? workspace.address() : 0).i(kSplit).i(onesRow).ptr(rowsLimit).ptr(counters.address())
                .ptr(actOut).ptr(alpha).i(actKind);
        rt.launch(tf32 ? Kernels.GEMM_TF32 : Kernels.GEMM, nTiles, mTiles * s, 256, 1, 0, a);
    }
}
