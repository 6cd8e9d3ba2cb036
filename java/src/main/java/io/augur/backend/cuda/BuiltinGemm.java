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
 * every run and the product is still one launch.
 *
 * <p>Most such products go instead to {@code gemm_small_kernel} ({@link #small}), which computes
 * the same function in a shape made for latency: blocks of 8 x 32 outputs, each staging op(A) and
 * op(B) in chunks of 256 k with all of a chunk's loads in flight at once (one memory round trip a
 * chunk), its 8 warps summing interleaved k and adding their partial sums in warp order. At a
 * batch of 128 every product of the top MLP is one: on an H200 the 64 x 64 kernel took 5 to
 * 20 us for each of them (a split block walks its k tiles one barrier after another, then the
 * splits meet through global memory; the N = 1 layer issued 2,300 instructions a warp at one per
 * 6.5 cycles), while a block of the small kernel has about 500 instructions a warp to issue and
 * one or two round trips to wait for. {@code -Daugur.gemm.small=auto|off|always} (auto by
 * default) chooses: {@code off} keeps every product on gemm_kernel, {@code always} sends every
 * product to the small kernel (tests, comparisons on a device). The small kernel runs in fp32
 * also under TF32: more precise than the tensor cores, and the products it takes are too small
 * for their rate to matter.
 */
final class BuiltinGemm implements Gemm {
    private static final int TILE = 64;
    /**
     * K per split at least this long (two of the kernel's 16-wide k tiles), and split only when K
     * reaches twice it; {@code -Daugur.gemm.minKPerSplit} changes it (a device comparison: 128 and
     * more split only long K, as the provider did before the splits were summed in the kernel).
     */
    static final int MIN_K_PER_SPLIT = Integer.getInteger("augur.gemm.minKPerSplit", 32);
    /**
     * At most this many splits ({@code -Daugur.gemm.maxSplits}). 64: a weight gradient over many rows
     * (DIEN's auxiliary network at batch 2048: K = 73,728 rows, 1 to 4 tiles of output) had 16 splits,
     * 32 to 64 blocks on the H200's 132 SMs, each walking 4,600 rows one 16-row k tile after another
     * (about 1.6 ms a step for DIEN's 21 GEMMs there, docs/perf 2026-11-24). With the tiles' last blocks
     * summing a split's 16 elements a thread together (gemm_split_done), 64 splits cost that sum
     * about 64 memory round trips against the walk's quarter; a device comparison is
     * {@code -Daugur.gemm.maxSplits=16}.
     */
    static final int MAX_SPLITS = Integer.getInteger("augur.gemm.maxSplits", 64);
    /** Floats of the split-K workspace. */
    static final long WORKSPACE_FLOATS = 2L << 20;
    /** Tile counters: one per output tile of a split product (a split product has at most half a device's multiprocessors of tiles). */
    static final int COUNTERS = 1024;

    /** When gemm_small_kernel computes a product ({@code -Daugur.gemm.small}). */
    enum Small {
        /** the rule of {@link #small(int, int, int, int, Small)} */
        AUTO,
        /** never: every product on gemm_kernel (or gemm_tf32_kernel) */
        OFF,
        /** every product whose grid the small kernel can launch (tests, device comparisons) */
        ALWAYS;

        static Small parse(String v) {
            String s = v == null ? "" : v.trim().toLowerCase(java.util.Locale.ROOT);
            return switch (s) {
                case "", "auto" -> AUTO;
                case "off" -> OFF;
                case "always" -> ALWAYS;
                default -> throw new IllegalArgumentException("-D" + SMALL_PROPERTY + "=" + v + ": expected auto, off or always");
            };
        }
    }

    static final String SMALL_PROPERTY = "augur.gemm.small";
    /** gemm_small_kernel's output block: 8 rows by 32 columns, 256 threads. */
    static final int SMALL_ROWS = 8, SMALL_COLS = 32;
    /** The longest K the rule sends to the small kernel: 4 of its 256-long chunks, each one unhidden memory round trip. */
    static final int SMALL_MAX_K = 1024;
    /**
     * Blocks of the small kernel a multiprocessor holds at once, for the rule's one wave: 3 by its
     * registers (80 a thread, __launch_bounds__(256, 3)), 2 by its 41 KiB of shared memory on the
     * GPUs with 100 KiB an SM (sm_86, sm_89); an H100 or H200 holds 3, so 2 errs on the side of
     * the 64 x 64 kernel.
     */
    static final int SMALL_BLOCKS_PER_SM = 2;
    /** The grid's y dimension limit: ceil(M / 8) blocks of rows at most. */
    private static final int MAX_GRID_Y = 65535;

    private final CudaRuntime rt;
    private final int multiprocessors;
    private final Arena.Slice workspace;   // null: never split
    private final Arena.Slice counters;    // COUNTERS unsigned ints, zero between launches
    private boolean tf32;
    private Small small;
    private long productsRouted;

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
        this.small = Small.AUTO;   // the backend applies its KernelTuning's rule (-Daugur.gemm.small) at once
    }

    /** The small kernel's rule: the backend's KernelTuning (-Daugur.gemm.small), or a test's own. */
    void setSmall(Small mode) { small = java.util.Objects.requireNonNull(mode); }

    @Override
    public String name() { return "built-in gemm_kernel"; }

    /** gemm_tf32_kernel instead of gemm_kernel: the same tiles, splits and epilogue, mma.sync on TF32 operands. */
    @Override
    public void setTf32(boolean on) { tf32 = on; }

    CudaRuntime rt() { return rt; }

    /**
     * Whether gemm_small_kernel computes a product of M output rows (a ones row included), N
     * columns and K terms, under {@code mode}. {@code auto}: when all three hold,
     * <ol>
     *   <li>the 64 x 64 kernel would have at most half as many tiles as the device has
     *       multiprocessors (the products {@link #splits} splits), so its blocks would be few and
     *       long;</li>
     *   <li>K is at most {@link #SMALL_MAX_K}: the small kernel's chunks of 256 k are not
     *       pipelined, each costs a memory round trip, two barriers and its sums (by estimate
     *       0.5 to 1 us), so past 4 of them the split 64 x 64 kernel, whose splits walk their k
     *       tiles side by side, should catch up;</li>
     *   <li>its grid, ceil(M / 8) x ceil(N / 32) blocks, fits the device at once
     *       ({@link #SMALL_BLOCKS_PER_SM} blocks an SM): each block's time is then the kernel's,
     *       about a round trip per chunk and ~500 instructions a warp, where a second wave would
     *       add all of it again and its 8-row tiles read each element of op(B) M / 8 times (the
     *       64 x 64 kernel: M / 64).</li>
     * </ol>
     * DIN's top MLP (162 -> 200 -> 80 -> 1) at batch 128: all 9 products (16 to 147 blocks, K = 1
     * to 200, one chunk each). At batch 2048 only the last layer's y = x W3 (N = 1, 256 blocks,
     * K = 80); the others have too many tiles, K = 2048, or 768 blocks (the second layer's
     * y = x W2, the last layer's dx = dy W3^T). {@code off}: never. {@code always}: whenever the grid can be launched (ceil(M / 8)
     * at most 65,535).
     */
    static boolean small(int M, int N, int K, int multiprocessors, Small mode) {
        long rowBlocks = (M + SMALL_ROWS - 1) / SMALL_ROWS, blocks = rowBlocks * ((N + SMALL_COLS - 1) / SMALL_COLS);
        if (mode == Small.OFF || rowBlocks > MAX_GRID_Y) return false;
        if (mode == Small.ALWAYS) return true;
        long tiles = (long) ((M + TILE - 1) / TILE) * ((N + TILE - 1) / TILE);
        return 2 * tiles <= multiprocessors && K <= SMALL_MAX_K && blocks <= (long) SMALL_BLOCKS_PER_SM * multiprocessors;
    }

    private boolean small(int M, int N, int K) {
        productsRouted++;
        return small(M, N, K, multiprocessors, small);
    }

    /** Products routed by the small kernel's rule so far: where none was, the rule's setting changes nothing. */
    long productsRouted() { return productsRouted; }

    /** The kernel a product of M output rows (the ones row included), N columns and K terms launches. */
    String kernel(int M, int N, int K) {
        return small(M, N, K) ? Kernels.GEMM_SMALL : tf32 ? Kernels.GEMM_TF32 : Kernels.GEMM;
    }

    /**
     * What one more split costs a tile, in rows of K: the tile's last block sums the splits one memory
     * round trip each (gemm_split_done, about 400 cycles), about what a block's walk spends on one
     * 16-row k tile (64 x 64 x 16 multiply-adds over 256 threads, then a barrier). A tile's time is
     * then about K / s + 16 s rows' worth, least at s = sqrt(K / 16): 16 splits for K = 4,096, 68 for
     * DIEN's 73,728 auxiliary rows, 11 for a 2,048-row batch. An estimate, not a measurement.
     */
    static final int SPLIT_COST_ROWS = 16;

    /**
     * How many K splits a product gets: 1 unless its output tiles leave more than half the
     * multiprocessors idle and K is at least 2 * {@link #MIN_K_PER_SPLIT}; then enough splits to
     * give about two blocks per multiprocessor, but no more than sqrt(K / {@link #SPLIT_COST_ROWS})
     * (past that the tile's sum of the splits costs more than their walks save) and
     * {@link #MAX_SPLITS}, each at least {@link #MIN_K_PER_SPLIT} long, and all partials within
     * {@code workspaceFloats}.
     */
    static int splits(int M, int N, int K, int multiprocessors, long workspaceFloats) {
        return splits(M, N, K, multiprocessors, workspaceFloats, MIN_K_PER_SPLIT);
    }

    static int splits(int M, int N, int K, int multiprocessors, long workspaceFloats, int minKPerSplit) {
        long tiles = (long) ((M + TILE - 1) / TILE) * ((N + TILE - 1) / TILE);
        if (2 * tiles > multiprocessors || tiles > COUNTERS || K < 2 * minKPerSplit) return 1;
        long byCost = Math.max(1, Math.round(Math.sqrt((double) K / SPLIT_COST_ROWS)));
        int s = (int) Math.min(Math.min(MAX_SPLITS, byCost), Math.min((2L * multiprocessors + tiles - 1) / tiles, K / minKPerSplit));
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

    /**
     * A linear layer's backward, dx (B, in) = dy (B, out) W^T and dW (in, out) += x^T dy with db (out) += the column
     * sums of dy (the ones row; db 0: none), as one launch of gemm_small_pair_kernel where the rule sends both products
     * to the small kernel and, under {@code auto}, their blocks together still fit the device at once
     * ({@link #SMALL_BLOCKS_PER_SM} an SM, the rule's one wave): each block computes what it would in a launch of its
     * own product, so the results are the same bits as {@link #gemm} then {@link #weightGrad}. DIN's top MLP at batch
     * 128: three launches a step instead of six (59, 190 and 243 blocks). Returns false, having launched nothing,
     * where the products take their own launches.
     */
    boolean linearBackward(long dx, long dW, long db, long dy, long x, long W, int B, int in, int out) {
        if (B <= 0 || in <= 0 || out <= 0) return false;
        int dwRows = in + (db != 0 ? 1 : 0);
        if (!small(B, in, out) || !small(dwRows, out, B)) return false;
        long blocks0 = (long) ((in + SMALL_COLS - 1) / SMALL_COLS) * ((B + SMALL_ROWS - 1) / SMALL_ROWS);
        long blocks1 = (long) ((out + SMALL_COLS - 1) / SMALL_COLS) * ((dwRows + SMALL_ROWS - 1) / SMALL_ROWS);
        if (small == Small.AUTO && blocks0 + blocks1 > (long) SMALL_BLOCKS_PER_SM * multiprocessors) return false;
        if (blocks0 + blocks1 > Integer.MAX_VALUE) return false;
        CudaRuntime.Args a = new CudaRuntime.Args()
                .ptr(dx).ptr(dy).ptr(W).ptr(0L).i(B).i(in).i(out).i(out).i(out).i(in).i(0).i(1).i(0).i(-1)        // dx = dy W^T
                .ptr(dW).ptr(x).ptr(dy).ptr(db).i(dwRows).i(out).i(B).i(in).i(out).i(out).i(1).i(0).i(1).i(db != 0 ? in : -1)   // dW += x^T dy, db
                .i((int) blocks0);
        rt.launch(Kernels.GEMM_SMALL_PAIR, (int) (blocks0 + blocks1), 1, 256, 1, 0, a);
        return true;
    }

    /** gemm_kernel's epilogue activations (act_kind). */
    static final int ACT_SIGMOID = 1, ACT_PRELU = 2;

    /**
     * A linear layer and its activation in one launch: y (B, out) = x (B, in) W (in, out) + b, and
     * a = sigmoid(y) ({@link #ACT_SIGMOID}) or PReLU(y) with alpha (out) ({@link #ACT_PRELU}),
     * applied in the product's epilogue to each element as it is stored. With {@code rowsLimit} (an address, or 0:
     * all B) B's rows stop at the int there, as in {@link #gemmRows}: nothing is written past it, in y or in a.
     */
    void linearAct(long y, long a, long alpha, int kind, long x, long W, long b, int B, int in, int out, long rowsLimit) {
        if (kind != ACT_SIGMOID && kind != ACT_PRELU) throw new IllegalArgumentException("epilogue activation " + kind + " (expected 1 sigmoid or 2 PReLU)");
        if (kind == ACT_PRELU && alpha == 0) throw new IllegalArgumentException("PReLU in the epilogue needs its alpha");
        launch(y, x, W, b, B, out, in, in, out, out, false, false, false, false, rowsLimit, a, alpha, kind);
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
        int onesRow = ones ? M : -1;
        if (small(rows, N, K)) {
            CudaRuntime.Args a = new CudaRuntime.Args().ptr(C).ptr(A).ptr(B).ptr(bias)
                    .i(rows).i(N).i(K).i(lda).i(ldb).i(ldc).i(transA ? 1 : 0).i(transB ? 1 : 0).i(accumulate ? 1 : 0)
                    .i(onesRow).ptr(rowsLimit).ptr(actOut).ptr(alpha).i(actKind);
            rt.launch(Kernels.GEMM_SMALL, (N + SMALL_COLS - 1) / SMALL_COLS, (rows + SMALL_ROWS - 1) / SMALL_ROWS, 256, 1, 0, a);
            return;
        }
        int mTiles = (rows + TILE - 1) / TILE, nTiles = (N + TILE - 1) / TILE;
        // split K only over K: a device row count over M would leave split partials unwritten
        int s = workspace == null || (rowsLimit != 0 && !transA) ? 1 : splits(rows, N, K, multiprocessors, workspace.bytes() / 4);
        int kSplit = K;
        if (s > 1) {
            kSplit = ((K + s - 1) / s + 15) / 16 * 16;   // whole 16-wide k tiles per split
            s = (K + kSplit - 1) / kSplit;
        }
        CudaRuntime.Args a = new CudaRuntime.Args().ptr(C).ptr(A).ptr(B).ptr(bias)
                .i(rows).i(N).i(K).i(lda).i(ldb).i(ldc).i(transA ? 1 : 0).i(transB ? 1 : 0).i(accumulate ? 1 : 0)
                .ptr(s > 1 ? workspace.address() : 0).i(kSplit).i(onesRow).ptr(rowsLimit).ptr(counters.address())
                .ptr(actOut).ptr(alpha).i(actKind);
        if (nTiles > MAX_GRID_Y) throw new IllegalArgumentException("a product " + N + " columns wide: the built-in GEMM takes at most " + MAX_GRID_Y * TILE);
        rt.launch(tf32 ? Kernels.GEMM_TF32 : Kernels.GEMM, mTiles * s, nTiles, 256, 1, 0, a);   // rows on x: past 65,535 tiles of 64 too
    }
}
