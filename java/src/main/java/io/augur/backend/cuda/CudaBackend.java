package io.augur.backend.cuda;

import io.augur.backend.Activation;
import io.augur.backend.AttentionParams;
import io.augur.backend.AttentionSpec;
import io.augur.backend.Backend;
import io.augur.backend.DType;
import io.augur.backend.Param;
import io.augur.backend.Precision;
import io.augur.backend.Profiling;
import io.augur.backend.Recurrence;
import io.augur.backend.RecurrenceParams;
import io.augur.backend.SparseGrad;
import io.augur.backend.SparseOptimizer;
import io.augur.backend.Tensor;
import io.augur.backend.Tower;
import io.augur.backend.Workspace;
import jcuda.Pointer;
import jcuda.driver.CUevent;
import jcuda.driver.JCudaDriver;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static io.augur.backend.cuda.Kernels.BLOCK;
import static io.augur.backend.cuda.Kernels.COL_ROWS;

/**
 * The GPU backend: every op of {@link Backend} as a launch of the kernels in {@code cuda/} on one
 * compute stream (their CPU references are in {@code io.augur.backend.cpu}). Memory comes from
 * one {@link Arena}: tensors are planned while the model is built and allocated in one piece
 * before the first launch, so a training step allocates nothing and every device address is
 * fixed (ready for CUDA-graph capture). Host batches travel through {@link InputStaging}
 * (pinned, double-buffered, on the copy stream). Nothing in a step waits for the device except
 * {@link #download} and {@link #readLater} (the loss); invalid input found by a kernel is
 * reported there, through the device status word ({@link DeviceStatus}).
 *
 * <p>The activation unit runs fused for sigmoid and PReLU hidden layers; with Dice, whose batch
 * statistics span every valid position of the batch, it runs layer by layer.
 */
public final class CudaBackend implements Backend, Profiling {
    private static final Logger LOG = LogManager.getLogger(CudaBackend.class);

    // The fused activation unit's shape on the GPU comes from the backend's KernelTuning (system properties
    // -Daugur.attention.*, or an autotuner's choice). The unit runs over packed tiles of positions
    // (cuda/activation_unit.cu). Measured on the H200 with the earlier chunks of one sample each
    // (docs/perf/README.md, 2026-11-24): 2 blocks per SM and the partial gradients on chip were the best of
    // those tried. The tile shapes below are reasoned, not yet measured: see attentionRows.

    /** The automatic tile: 32 positions, or 16 for a batch too small to give every block several tiles of 32 (see {@link #attentionRows}). */
    static final int ATT_AUTO_ROWS = 32, ATT_AUTO_ROWS_SMALL = 16;
    /**
     * Forward blocks per multiprocessor, at most (the forward has no per-block state; its blocks stride over the
     * tiles): fewer where the occupancy calculator says fewer fit (80 registers x 256 threads: 3 on sm_90), since
     * blocks past what fits at once would run as a second wave after the first.
     */
    static final int ATT_FORWARD_BLOCKS_PER_SM = 4;
    /** The automatic backward blocks per multiprocessor stop here. */
    static final int ATT_AUTO_BLOCKS_PER_SM = 3;
    /**
     * The unit's kernels' static shared memory, at most (ptxas on sm_90: 1,168 bytes forward and backward, the
     * run starts of the position count, its warp totals and the forward's slots; KernelResourcesTest holds the
     * bound): the dynamic part may have what is left of the block's limit, and above 48 KiB for the two together a
     * kernel must be opted in.
     */
    static final int ATT_STATIC_SHARED = 2 * 1024;
    /** What a backward block takes from its multiprocessor's shared memory beside its dynamic part: its statics and the 1 KB the driver reserves. */
    static final int ATT_BLOCK_SHARED_OVERHEAD = ATT_STATIC_SHARED + 1024;
    /** activation_unit_reduce_kernel's REDUCE_GROUPS: the thread rows of its (32, groups) blocks, each summing every groups-th slice. */
    static final int ATT_REDUCE_GROUPS = 8;
    /** Where the backward keeps its partial gradients (AttentionArgs.PARTIALS_*): the settings, then the first that fits within {@code limit} bytes. */
    static int attentionPartials(boolean onChip, boolean dm3OnChip, int W, int h1, int h2, int rows, long limit) {
        if (!onChip) return AttentionArgs.PARTIALS_GLOBAL;
        if (dm3OnChip && AttentionArgs.backwardSharedBytes(W, h1, h2, rows, AttentionArgs.PARTIALS_CHIP) <= limit) return AttentionArgs.PARTIALS_CHIP;
        if (AttentionArgs.backwardSharedBytes(W, h1, h2, rows, AttentionArgs.PARTIALS_CHIP_BUT_DM3) <= limit) return AttentionArgs.PARTIALS_CHIP_BUT_DM3;
        return AttentionArgs.PARTIALS_GLOBAL;
    }

    /**
     * The backward's blocks per multiprocessor: the setting if one is given (> 0), else as many blocks as one
     * multiprocessor holds at once, from 1 to {@link #ATT_AUTO_BLOCKS_PER_SM}: the occupancy calculator's answer
     * ({@code occupancy}, registers and shared memory together) where it gave one (> 0), else as many blocks of
     * {@code sharedBytes} dynamic shared memory as the multiprocessor's {@code sharedPerSm} holds. Blocks past what
     * fits would run as a second wave (at 128 registers x 256 threads an sm_90 multiprocessor holds 2 blocks of
     * activation_unit_backward_kernel whatever their shared memory; {@link #attentionBackwardKernel} takes the form held
     * to 80 registers from 3 on, and the caller's occupancy is the better of the two forms'). Measured on the H200
     * with the earlier chunked kernel (docs/perf, 2026-11-24): 2 blocks were 1.41 times as fast as 1 at batch 2048,
     * where the kernel waits on latency.
     */
    static int attentionBlocksPerSm(int setting, int occupancy, long sharedBytes, int sharedPerSm) {
        if (setting > 0) return setting;
        long fit = occupancy > 0 ? occupancy : sharedPerSm > 0 ? sharedPerSm / (sharedBytes + ATT_BLOCK_SHARED_OVERHEAD) : 2;
        return (int) Math.max(1, Math.min(ATT_AUTO_BLOCKS_PER_SM, fit));
    }

    /**
     * The fused unit's backward kernel for a launch planned at {@code blocksPerSm} blocks an SM: from 3 on the form held
     * to 80 registers (__launch_bounds__(256, 3); on sm_90 the scalar form takes 96 without, two blocks' worth, the others 72 to 80), else the other;
     * in fp32 on vector tiles where {@code vectorTiles} ({@link #attentionVectorTiles}), else on scalar tiles; with TF32 or
     * TF32X3 on the tensor cores.
     */
    static String attentionBackwardKernel(Precision precision, int blocksPerSm, boolean vectorTiles) {
        if (precision == Precision.TF32) return blocksPerSm >= 3 ? Kernels.ACTIVATION_UNIT_BACKWARD_TF32_3BLOCKS : Kernels.ACTIVATION_UNIT_BACKWARD_TF32;
        if (precision == Precision.TF32X3) return blocksPerSm >= 3 ? Kernels.ACTIVATION_UNIT_BACKWARD_TF32X3_3BLOCKS : Kernels.ACTIVATION_UNIT_BACKWARD_TF32X3;
        if (blocksPerSm >= 3) return vectorTiles ? Kernels.ACTIVATION_UNIT_BACKWARD_3BLOCKS : Kernels.ACTIVATION_UNIT_BACKWARD_SCALAR_3BLOCKS;
        return vectorTiles ? Kernels.ACTIVATION_UNIT_BACKWARD : Kernels.ACTIVATION_UNIT_BACKWARD_SCALAR;
    }

    /**
     * The fused unit's forward kernel: TF32, TF32X3, or fp32 on vector or scalar tiles as {@link #attentionBackwardKernel}, the
     * fp32 forms with their products' split K where {@code split} (a launch with split room).
     */
    static String attentionForwardKernel(Precision precision, boolean vectorTiles, boolean split) {
        if (precision == Precision.TF32) return Kernels.ACTIVATION_UNIT_FORWARD_TF32;
        if (precision == Precision.TF32X3) return Kernels.ACTIVATION_UNIT_FORWARD_TF32X3;
        if (split) return vectorTiles ? Kernels.ACTIVATION_UNIT_FORWARD_SPLIT : Kernels.ACTIVATION_UNIT_FORWARD_SCALAR_SPLIT;
        return vectorTiles ? Kernels.ACTIVATION_UNIT_FORWARD : Kernels.ACTIVATION_UNIT_FORWARD_SCALAR;
    }

    /**
     * Whether the fused unit's fp32 kernels may run their products on vector tiles (activation_unit.cu, tiled_product:
     * a thread's 4 x 4 outputs from float4 loads, 2 loads for 16 multiply-adds instead of 8): W, h1 and h2 multiples of 4,
     * so that every row of the operands in shared memory starts 16-byte aligned, and the weights the products read from
     * global memory ({@code weights}: device addresses) 16-byte aligned. The Amazon config (36, 80-40) qualifies.
     */
    static boolean attentionVectorTiles(int W, int h1, int h2, long... weights) {
        if (W % 4 != 0 || h1 % 4 != 0 || h2 % 4 != 0) return false;
        for (long w : weights) if ((w & 15) != 0) return false;
        return true;
    }

    /** The fewest blocks of {@code threads} threads and {@code shared} dynamic bytes that any of {@code kernels} fits per multiprocessor; 0 if the driver does not say. */
    private int occupancy(int threads, long shared, String... kernels) {
        int fit = Integer.MAX_VALUE;
        for (String k : kernels) {
            int n = rt.maxActiveBlocks(k, threads, shared);
            if (n <= 0) return 0;
            fit = Math.min(fit, n);
        }
        return fit;
    }

    /**
     * Rows per tile of a launch over B samples of T positions, at most {@code planned} (what the shared memory was
     * sized for): the setting if one is given (> 0); else {@link #ATT_AUTO_ROWS}, or {@link #ATT_AUTO_ROWS_SMALL} when
     * B T / 32 (the tiles if every history were full) is under 8 per block of the grid. Histories are mostly far
     * shorter than T (18 of 100 on average in the benchmark world), so such a batch leaves blocks without a tile of 32:
     * at batch 128 on an H200, about 72 tiles of 32 for 264 blocks, 143 of 16. A tile's time is mostly latency (its
     * products wait on loads, not on arithmetic), so a block with one tile of 16 finishes about as soon as one with a
     * tile of 32, and the batch's time is that of the busiest block.
     */
    static int attentionRows(int setting, int planned, int B, int T, int blocks) {
        if (setting > 0) return Math.min(setting, planned);
        int rows = (long) B * T < 8L * blocks * ATT_AUTO_ROWS ? ATT_AUTO_ROWS_SMALL : ATT_AUTO_ROWS;
        return Math.max(1, Math.min(rows, planned));
    }

    /**
     * The backward's grid for a batch whose valid positions fill at most {@code tiles} tiles (B T positions): every
     * planned block, never more than tiles. Blocks without a tile write nothing (activation_unit_reduce_kernel reads
     * the slices of the blocks that had one, which the kernel counts on the device).
     */
    static int attentionBackwardBlocks(long tiles, int planned) {
        return (int) Math.max(1, Math.min(planned, tiles));
    }

    /**
     * The fused unit's kernels index each array with ints (activation_unit.cu): the tensors they are given hold at most
     * 2^31 - 1 elements by construction, and this says the same of the scratch arrays a workspace for up to
     * {@code maxB} samples adds, the kept hidden layers (maxB x T x h1 and x h2; {@code h} the wider of the two) and dqRows
     * (maxB x T x W; score, maxB x T, is within it).
     */
    static void requireIntIndices(String name, int maxB, int T, int W, int h) {
        long hidden = (long) maxB * T * h, dqRows = (long) maxB * T * W;
        String what = hidden > Integer.MAX_VALUE ? String.format(Locale.ROOT, "of kept hidden layers (batch %d x T %d x %d) would hold %,d", maxB, T, h, hidden)
                : dqRows > Integer.MAX_VALUE ? String.format(Locale.ROOT, "dqRows (batch %d x T %d x W %d) would hold %,d", maxB, T, W, dqRows) : null;
        if (what != null) {
            throw new IllegalArgumentException(String.format(Locale.ROOT, "activation unit %s: its scratch array %s elements; the CUDA kernels "
                    + "index an array with 32-bit ints (at most %,d elements); a smaller batch size makes it fit", name, what, Integer.MAX_VALUE));
        }
    }

    /** Dynamic shared memory every kernel may use without opting in. */
    static final int DEFAULT_SHARED = 48 * 1024;

    private final CudaRuntime rt;
    private final Gemm gemm;
    private final String gemmNote;
    /**
     * -Daugur.cuda.separateAllocations=true: every tensor its own allocation of exactly its size
     * instead of a slice of one arena, so that compute-sanitizer (and the CPU emulator's guard
     * pages) see a kernel that reads or writes past a tensor's end. For memory checking only: it
     * costs an allocation per tensor. The emulated test run and gpu-check.sh's SANITIZE=1 set it.
     */
    public static final String SEPARATE_ALLOCATIONS = "augur.cuda.separateAllocations";

    private final Arena arena = new Arena(Boolean.getBoolean(SEPARATE_ALLOCATIONS));
    /**
     * -Daugur.attention.sharedAsPlanned=true: every launch of the fused activation unit asks for the
     * dynamic shared memory of the workspace's largest tile, as launches did up to 2026-11-25,
     * instead of what its own tile lays out ({@link AttentionWorkspace#sharedBytes}). For the device
     * to time the two at batch 128, where the tiles are half the planned size; nothing else uses it.
     */
    public static final String SHARED_AS_PLANNED = "augur.attention.sharedAsPlanned";
    /** -Daugur.attention.sharedAsPlanned (tests set it to run both ways in one JVM). */
    static boolean sharedAsPlanned = Boolean.getBoolean(SHARED_AS_PLANNED);
    /**
     * -Daugur.cuda.stepInputs=before: a step's batch copies go out as they did up to 2026-11-26's forty-third session, a
     * launch of copy_multi_kernel on the compute stream before the step's graph (outside it, one graph a key), instead of
     * inside the graph, carried by its first launch where it can ({@link #runStep}; graph, the default). For the device to
     * time the two; nothing else reads it.
     */
    public static final String STEP_INPUTS = "augur.cuda.stepInputs";
    /** -Daugur.cuda.stepInputs=before (tests set it to run both ways in one JVM). */
    static boolean stepInputsBefore = stepInputsBefore(System.getProperty(STEP_INPUTS));

    static boolean stepInputsBefore(String v) {
        if (v == null || v.isBlank() || v.trim().equalsIgnoreCase("graph")) return false;
        if (v.trim().equalsIgnoreCase("before")) return true;
        throw new IllegalArgumentException("-D" + STEP_INPUTS + "=" + v + ": expected graph (the default) or before");
    }

    /**
     * The test runs' -Daugur.poisonActivations=true: the backend's workspaces start as NaN
     * (0xffffffff) too, and are filled so again before every step (runStep), so that no step
     * reads what an earlier one left there.
     */
    private static final boolean POISON_SCRATCH = Boolean.getBoolean(Backend.POISON_ACTIVATIONS);
    private final Arena.Slice rowPartials;
    /**
     * tower_forward_kernel's counts of the top layer's blocks done with their share of the logits, one per cluster
     * rank, and of the ranks done with their rows' loss (words 0 to 16, zero between launches), then the ranks' loss
     * sums (doubles from word 32, each written before it is read).
     */
    private final Arena.Slice towerDone;
    /** {@link #towerDone}'s size: 32 words of counters, then 16 doubles. */
    static final long TOWER_DONE_BYTES = 4 * 32 + 8 * 16;
    /** bce_with_logits_kernel's count of blocks done with their share of the loss (zero between launches). */
    private final Arena.Slice bceDone;
    private final Arena.Slice status;
    private final List<Deferred> deferred = new ArrayList<>();

    /** A write to a tensor that is only planned, made when its segment is allocated. */
    private record Deferred(Arena.Slice slice, Runnable write) {}
    private final int maxBlocks;
    private InputStaging staging;
    /** The batch inputs ({@code batch.*}) planned since the last allocation: a model's, planned together. */
    private long stagedSincePlan;
    /** The most batch-input bytes planned between two allocations so far: what a staging slot must hold. */
    private long stagedInputBytes;
    /** The slices the constructor planned (status, counters, the GEMM's and the row statistics' workspaces): the first of segment 0. */
    private final int ownSlices;
    private final int[] statusHost = new int[1];
    private boolean closed;
    /** The optimizer's step count in device memory (adam_kernel and sparse_update_kernel read it). */
    private final Arena.Slice stepCounter;
    /** The value stepCounter holds once the queued work has run. */
    private int deviceStep;
    /** The finished blocks of a list update that advances stepCounter itself (0 between launches). */
    private final Arena.Slice stepDone;
    /** CUDA graphs for runStep (on unless turned off or while kernels are timed). */
    private final StepGraphs stepGraphs;
    private boolean inStep;
    /** The matrix products' arithmetic (setPrecision): FP32 unless TF32 was asked for on compute capability 8.0+. */
    private Precision precision = Precision.FP32;
    /** The kernels' shape choices (setTuning): the system properties' until changed. */
    private KernelTuning tuning = KernelTuning.fromProperties();
    /** The settings of {@link #tuning} that planning or a launch consulted since {@link #resetSettingsRead} (see settingsRead). */
    private final java.util.Set<String> settingsRead = new java.util.TreeSet<>();
    private long gemmRoutedAtReset, programmaticAtReset;

    /**
     * @param gemmChoice "auto" (cuBLAS where it loads, else built-in), "cublas" or "builtin"
     */
    public CudaBackend(CudaRuntime rt, String gemmChoice) {
        this(rt, gemmChoice, java.util.function.UnaryOperator.identity());
    }

    /**
     * As {@link #CudaBackend(CudaRuntime, String)}, the provider chosen then given to {@code provider}, whose
     * result the backend uses: tests put the built-in kernels behind {@link LibraryGemm}, so that the paths a
     * library provider takes (cuBLAS, which neither the emulator nor the H200 here has) run and are compared.
     */
    CudaBackend(CudaRuntime rt, String gemmChoice, java.util.function.UnaryOperator<Gemm> provider) {
        this.rt = rt;
        this.maxBlocks = Math.max(1, rt.multiprocessors * 32);
        this.status = arena.reserve("status", 4);
        this.stepCounter = arena.reserve("optimizer.step", 4);
        this.stepDone = arena.reserve("optimizer.step.done", 4);
        this.later = new LaterReads(rt, status::address);
        this.stepGraphs = new StepGraphs(rt);
        Arena.Slice splitK = arena.reserveScratch("gemm.splitk", 4 * BuiltinGemm.WORKSPACE_FLOATS);
        Arena.Slice tileCounters = arena.reserve("gemm.tile_counters", 4L * BuiltinGemm.COUNTERS);
        this.rowPartials = arena.reserveScratch("rows.partials", ROW_PARTIALS_BYTES);
        this.towerDone = arena.reserve("tower.logit_counter", TOWER_DONE_BYTES);
        this.bceDone = arena.reserve("bce.block_counter", 4);
        Gemm chosen;
        String note;
        switch (gemmChoice) {
            case "builtin" -> {
                chosen = new BuiltinGemm(rt, splitK, tileCounters);
                note = "asked for";
            }
            case "cublas" -> {
                chosen = CublasGemm.tryCreate(rt);
                note = "asked for";
            }
            case "auto" -> {
                Gemm g;
                String n;
                try {
                    g = CublasGemm.tryCreate(rt);
                    n = "libcublas.so.12 loaded";
                } catch (RuntimeException | LinkageError e) {
                    g = new BuiltinGemm(rt, splitK, tileCounters);
                    n = "cuBLAS unavailable: " + e.getMessage();
                }
                chosen = g;
                note = n;
            }
            default -> throw new IllegalArgumentException("unknown GEMM provider '" + gemmChoice + "' (expected auto, cublas or builtin)");
        }
        this.gemm = provider.apply(chosen);
        this.gemmNote = note;
        if (gemm instanceof BuiltinGemm b) b.setSmall(tuning.gemmSmall());
        this.ownSlices = arena.pendingSlices().size();
        if (arena.separate()) LOG.info("every tensor gets its own device allocation (-D{}=true), for memory checking", SEPARATE_ALLOCATIONS);
        LOG.info("CUDA backend on {} (sm_{}{}, {} SMs, {} GiB, driver {}); GEMM: {} ({})", rt.name, rt.ccMajor, rt.ccMinor, rt.multiprocessors,
                String.format("%.1f", rt.totalMemory / (double) (1L << 30)), rt.driverVersionString(), gemm.name(), gemmNote);
    }

    public CudaRuntime runtime() { return rt; }
    public Gemm gemm() { return gemm; }
    public long arenaBytes() { return arena.allocatedBytes() + arena.pendingBytes(); }
    /** Whether every tensor is an allocation of its own ({@link #SEPARATE_ALLOCATIONS}). */
    public boolean separateAllocations() { return arena.separate(); }

    @Override
    public String name() { return "cuda"; }

    @Override
    public String deviceLabel() { return "cuda:" + rt.ordinal() + " " + rt.name; }

    @Override
    public String describe() {
        return "CUDA on " + deviceLabel() + " (compute capability " + rt.computeCapability() + ", " + String.format("%.1f", rt.totalMemory / (double) (1L << 30))
                + " GiB, driver " + rt.driverVersionString() + "), GEMM " + gemm.name() + (precision.tensorCores() ? ", " + precision.label().toUpperCase(java.util.Locale.ROOT) : "")
                + (rt.programmatic() ? ", programmatic launches" : "");
    }

    // ---------------------------------------------------------------- memory (build time only)

    private CudaTensor tensor(String name, DType dtype, int[] shape) {
        long n = 1;
        for (int d : shape) n *= d;
        CudaTensor t = new CudaTensor(name, dtype, shape, arena.reserve(name, 4 * n));
        if (name.startsWith("batch.")) stagedSincePlan += Arena.align(4 * Math.max(n, 1));
        return t;
    }

    /** A workspace tensor of the backend's own ({@link Arena#reserveScratch}). */
    private CudaTensor scratchTensor(String name, DType dtype, int[] shape) {
        long n = 1;
        for (int d : shape) n *= d;
        return new CudaTensor(name, dtype, shape, arena.reserveScratch(name, 4 * n));
    }

    @Override
    public Tensor floats(String name, int... shape) { return tensor(name, DType.F32, shape); }

    @Override
    public Tensor ints(String name, int... shape) { return tensor(name, DType.I32, shape); }

    @Override
    public SparseGrad sparseGrad(String name, int rows, int dim, int maxIdsPerStep) {
        return new CudaSparseGrad(this, arena, name, rows, dim, maxIdsPerStep);
    }

    /**
     * Sigmoid and PReLU units run fused (activation_unit.cu), or layer by layer with
     * {@code -Daugur.attention.fused=off}; Dice always layer by layer (activation_unit_unfused.cu).
     */
    @Override
    public Workspace attentionWorkspace(String name, AttentionSpec spec, int maxB, int T) {
        if (spec.activation() == Activation.DICE) return new UnfusedAttentionWorkspace(name, spec, maxB, T);
        settingsRead.add(KernelTuning.FUSED);
        if (!tuning.attentionFused()) {
            LOG.info("activation unit {} ({}/{}/{}, T = {}, {}): layer by layer (-D{}=off), whole-batch products over {} rows", name, spec.width(),
                    spec.h1(), spec.h2(), T, spec.activation(), KernelTuning.FUSED,
                    gemm instanceof BuiltinGemm && unitRowsPacked ? "the packed valid positions" : "all B T positions");
            return new UnfusedAttentionWorkspace(name, spec, maxB, T);
        }
        return new AttentionWorkspace(name, spec, maxB, T);
    }

    /**
     * The fused unit reads the valid positions alone: its tiles are the packed valid rows, the pooling launch walks
     * t < len, and the backward's tiles are the forward's. The layer-by-layer unit (Dice, or fused=off) may read every
     * row (a library GEMM's products over all B T rows).
     */
    @Override
    public boolean attentionReadsPadding(Workspace ws) {
        return !(ws instanceof AttentionWorkspace);
    }

    @Override
    public Workspace recurrenceWorkspace(String name, int maxB, int T, int E, int H) {
        return new RecurrenceWorkspace(name, maxB, T, E, H);
    }

    /**
     * What the recurrence's forward saves for its backward, and the backward's per-position gate
     * gradients (cuda/recurrence.cu), (maxB, T, .) each; one block per sample of
     * max(3H, E) threads rounded up to a warp.
     */
    final class RecurrenceWorkspace implements Workspace {
        final int maxB, T, E, H, G, threads;
        final Arena.Slice gates, hn, h, dgx, dgh, partial, wxT, whT;

        RecurrenceWorkspace(String name, int maxB, int T, int E, int H) {
            if (maxB < 1 || T < 1 || E < 1 || H < 1) throw new IllegalArgumentException("recurrence workspace: sizes must be positive");
            this.maxB = maxB;
            this.T = T;
            this.E = E;
            this.H = H;
            this.G = 3 * H;
            this.threads = (Math.max(G, E) + 31) / 32 * 32;
            if (threads > 1024) {
                throw new UnsupportedOperationException("recurrence with E = " + E + ", H = " + H + ": one block per sample needs " + threads
                        + " threads, more than a block's 1024 (the CUDA kernels take 3H and E up to 1024)");
            }
            long rows = (long) maxB * T;
            gates = arena.reserveScratch(name + ".gates", 4L * rows * G);
            hn = arena.reserveScratch(name + ".hn", 4L * rows * H);
            h = arena.reserveScratch(name + ".h", 4L * rows * H);
            dgx = arena.reserveScratch(name + ".dgx", 4L * rows * G);
            dgh = arena.reserveScratch(name + ".dgh", 4L * rows * G);
            partial = arena.reserveScratch(name + ".partial", 4L * Math.min(maxB, WEIGHT_GRAD_CHUNKS) * ((long) Math.max(E, H) * G + G));
            wxT = arena.reserveScratch(name + ".wxT", 4L * G * E);
            whT = arena.reserveScratch(name + ".whT", 4L * G * H);
        }

        /** Samples per chunk of the weight-gradient sums, for a batch of B. */
        int chunk(int B) {
            return (B + WEIGHT_GRAD_CHUNKS - 1) / WEIGHT_GRAD_CHUNKS;
        }

        /** h_{t-1} and its products (recurrence_forward_kernel). */
        int forwardShared() { return 4 * (H + G); }

        /** Two sets of a position's gate gradients and dAtt terms, one a position in turn (recurrence_backward_kernel). */
        int backwardShared() { return 4 * (4 * G + 2 * H); }

        void check(Recurrence kind, Tensor att, int B, int T, int E, int H) {
            if (T != this.T || E != this.E || H != this.H) {
                throw new IllegalArgumentException("recurrence: (T, E, H) = (" + T + ", " + E + ", " + H + ") but the workspace was planned for ("
                        + this.T + ", " + this.E + ", " + this.H + ")");
            }
            if (B > maxB) throw new IllegalArgumentException("recurrence: batch " + B + " > planned " + maxB);
            if (kind.usesAttention() && att == null) throw new IllegalArgumentException("recurrence: " + kind + " needs the attention scores");
        }

        @Override
        public long bytes() { return gates.bytes() + hn.bytes() + h.bytes() + dgx.bytes() + dgh.bytes() + partial.bytes() + wxT.bytes() + whT.bytes(); }
    }

    /**
     * Sample chunks of the recurrence's weight-gradient sums (its first stage's grid height). At DIEN's
     * 36 x 108 + 108 outputs, 16 blocks of 256 threads each: 64 chunks put about 8 blocks on each of an
     * H200's 132 SMs, and at batch 2048 each thread walks 32 samples' positions instead of 128.
     */
    static final int WEIGHT_GRAD_CHUNKS = 64;

    /**
     * The activation unit run layer by layer over all maxB * T positions as rows: with Dice (the
     * Dice statistics span every valid position of the batch, which no per-sample kernel sees), and
     * with sigmoid or PReLU under {@code -Daugur.attention.fused=off}. Forward keeps z, each hidden
     * layer before and after its activation, the scores and Dice's batch statistics; backward
     * writes its gradients over what it no longer needs (dZ over z, dA1 over a1, dA2 over a2), so
     * one backward follows each training forward ({@link #saved}).
     */
    final class UnfusedAttentionWorkspace implements Workspace {
        final AttentionSpec spec;
        final int maxB, T;
        final CudaTensor z, h1, a1, h2, a2, score, dScore, dH1, dH2, mean1, invStd1, mean2, invStd2;
        /** (maxB) each sample's first packed row, (1) their count (activation_unit_row_starts_kernel). */
        final CudaTensor rowStart, rowCount;
        /** The row slices' partial statistics and sums (doubles), reused by every sliced launch in turn. */
        final Arena.Slice partials;
        /** A training forward's activations are in place and no backward has consumed them yet. */
        boolean saved;
        /** The rows the last forward walked (packed or dense); its backward walks the same. */
        Rows rows;

        UnfusedAttentionWorkspace(String name, AttentionSpec spec, int maxB, int T) {
            if (maxB < 1 || T < 1) throw new IllegalArgumentException("activation unit workspace: sizes must be positive");
            this.spec = spec;
            this.maxB = maxB;
            this.T = T;
            int rows = Math.multiplyExact(maxB, T), W = spec.width(), h1n = spec.h1(), h2n = spec.h2();
            z = floats(name + ".z", rows, 4 * W);
            h1 = floats(name + ".h1", rows, h1n);
            a1 = floats(name + ".a1", rows, h1n);
            h2 = floats(name + ".h2", rows, h2n);
            a2 = floats(name + ".a2", rows, h2n);
            score = floats(name + ".score", rows);
            dScore = floats(name + ".dScore", rows);
            dH1 = floats(name + ".dH1", rows, h1n);
            dH2 = floats(name + ".dH2", rows, h2n);
            mean1 = floats(name + ".mean1", h1n);
            invStd1 = floats(name + ".invStd1", h1n);
            mean2 = floats(name + ".mean2", h2n);
            invStd2 = floats(name + ".invStd2", h2n);
            rowStart = scratchTensor(name + ".rowStart", DType.I32, new int[] {maxB});
            rowCount = scratchTensor(name + ".rowCount", DType.I32, new int[] {1});
            partials = arena.reserveScratch(name + ".partials", 8L * 4 * MAX_ROW_SLICES * Math.max(h1n, h2n));
        }

        private CudaTensor floats(String n, int... shape) { return scratchTensor(n, DType.F32, shape); }

        @Override
        public long bytes() {
            long b = 0;
            for (CudaTensor t : new CudaTensor[] {z, h1, a1, h2, a2, score, dScore, dH1, dH2, mean1, invStd1, mean2, invStd2, rowStart, rowCount}) {
                b += t.slice.bytes();
            }
            return b + partials.bytes();
        }
    }

    /** A call of the activation unit against what its workspace was planned for. */
    private static void checkPlanned(AttentionSpec planned, int maxB, int plannedT, AttentionSpec spec, int B, int T) {
        if (T != plannedT) throw new IllegalArgumentException("activation unit: T " + T + " but the workspace was planned for " + plannedT);
        if (B > maxB) throw new IllegalArgumentException("activation unit: batch " + B + " > planned " + maxB);
        if (!spec.equals(planned)) throw new IllegalArgumentException("activation unit: spec " + spec + " differs from the workspace's " + planned);
    }

    /** Threads of the per-sample pooling blocks (both forms of the activation unit). */
    static final int ATT_POOL_THREADS = 128;
    /**
     * Row slices of the two-stage column reductions over many rows: at most this many, of at least MIN_SLICE_ROWS rows.
     * 64 rows a slice (4 a thread of the (32, 16) blocks): at batch 2048 the dense layers' sliced kernels ran on 8
     * slices of 256 rows, 24 to 56 blocks on the H200's 132 SMs, 5 to 23 µs each for a few hundred KB, the time of
     * the 16 rows each thread walks one after another (docs/perf, 2026-11-24). 32 slices give 4 times the blocks and a
     * quarter of the walk; stage 2 combines 32 slices instead of 8.
     */
    static final int MAX_ROW_SLICES = 256, MIN_SLICE_ROWS = 64;
    /**
     * A (B, C) layer runs sliced only above this many rows: up to it one launch of blocks that walk all B rows does the
     * same work in one launch instead of two (batch 128 and 256 keep their launch counts).
     */
    static final int UNSLICED_MAX_ROWS = 256;

    /** Rows per slice for R rows: a function of R alone, so the sums' order (and bits) never depend on the device. */
    static int sliceRows(long R) {
        return (int) Math.max(MIN_SLICE_ROWS, (R + MAX_ROW_SLICES - 1) / MAX_ROW_SLICES);
    }

    static int slices(long R, int chunk) { return (int) Math.max(1, (R + chunk - 1) / chunk); }

    /**
     * The partial statistics and sums of the sliced column kernels of the dense layers (BatchNorm,
     * Dice, PReLU's slopes and the bias gradients of (B, C) matrices), shared by every such launch
     * in turn: 16 MiB, which holds (4 doubles) x S slices x C channels for C up to 2048 at any
     * batch (S is at most MAX_ROW_SLICES).
     */
    static final long ROW_PARTIALS_BYTES = 16L << 20;

    /**
     * Whether a column reduction over B rows of C channels runs sliced: only above
     * {@link #UNSLICED_MAX_ROWS} rows, where there is more than one slice (otherwise one launch
     * does the same work), and where the partials fit.
     */
    boolean sliced(int B, int C) {
        int S = Slicing.of(B, C).slices();
        return B > UNSLICED_MAX_ROWS && S > 1 && 8L * 4 * S * C <= rowPartials.bytes();
    }

    /** The grid of a sliced launch over R rows of C channels: 32-channel tiles by row slices of {@code chunk} rows (a function of R alone). */
    record Slicing(int chunk, int slices, int tiles) {
        static Slicing of(long R, int C) {
            int chunk = sliceRows(R);
            return new Slicing(chunk, CudaBackend.slices(R, chunk), (C + 31) / 32);
        }
    }

    /** A sliced launch: blocks of (32, COL_ROWS) threads over the tiles and slices. */
    private void launchSliced(String kernel, Slicing s, CudaRuntime.Args args) {
        rt.launch(kernel, s.tiles(), s.slices(), 32, COL_ROWS, 0, args);
    }

    /** The fused unit's kernels of each kind, whichever precision and tiles a launch takes (the workspace plans for all). */
    private static final String[] FORWARD_KERNELS = {Kernels.ACTIVATION_UNIT_FORWARD, Kernels.ACTIVATION_UNIT_FORWARD_SCALAR, Kernels.ACTIVATION_UNIT_FORWARD_TF32,
                    Kernels.ACTIVATION_UNIT_FORWARD_TF32X3},
            // apart: more registers (2 blocks an SM on sm_90), and launched only for tiles of up to AttentionArgs.SPLIT_ROWS
            FORWARD_SPLIT_KERNELS = {Kernels.ACTIVATION_UNIT_FORWARD_SPLIT, Kernels.ACTIVATION_UNIT_FORWARD_SCALAR_SPLIT},
            BACKWARD_KERNELS = {Kernels.ACTIVATION_UNIT_BACKWARD, Kernels.ACTIVATION_UNIT_BACKWARD_SCALAR, Kernels.ACTIVATION_UNIT_BACKWARD_TF32,
                    Kernels.ACTIVATION_UNIT_BACKWARD_TF32X3},
            BACKWARD_KERNELS_3BLOCKS = {Kernels.ACTIVATION_UNIT_BACKWARD_3BLOCKS, Kernels.ACTIVATION_UNIT_BACKWARD_SCALAR_3BLOCKS,
                    Kernels.ACTIVATION_UNIT_BACKWARD_TF32_3BLOCKS, Kernels.ACTIVATION_UNIT_BACKWARD_TF32X3_3BLOCKS};

    /**
     * The fused activation unit's buffers: M3t (M3 = [Wk - Wd ; Wp ; Wq + Wd] transposed), Ma = Wq + Wd and W2t, the kept hidden layers (the pre-activations
     * H1 and H2 at each valid position's packed row, B T x h1 and x h2), the scores (B, T), each position's share of
     * dQuery (B, T, W), the backward's per-block partial gradients and its device tile count.
     */
    final class AttentionWorkspace implements Workspace {
        final AttentionSpec spec;
        final int maxB, T, blocks, blocksPerSm, forwardBlocksPerSm, rowsForward, rowsBackward, threads;
        /** The backend's tuning when the workspace was made: its tiles, threads and blocks hold for the workspace's life. */
        final KernelTuning tuning;
        /** AttentionArgs.PARTIALS_*: where the backward keeps its partial gradients. */
        final int partialsPlace;
        final long sharedForward, sharedBackward;
        final Arena.Slice ma, m3t, w2t, hidden1, hidden2, score, dqRows, partials, tiles;
        /**
         * Whether the last forward was a training one, which keeps each valid position's pre-activations in hidden1 and
         * hidden2 for the backward (an evaluation forward keeps none; activation_unit.cu, "Kept hidden layers").
         */
        boolean kept;
        /** Whether the forward's tiles of at most AttentionArgs.SPLIT_ROWS positions get the split room (KernelTuning.attentionSplitK). */
        final boolean splitK;
        /** The forward's blocks an SM in a launch with split room (its kernels hold more registers). */
        final int forwardSplitBlocksPerSm;
        /**
         * The last forward's pooled output (an address, 0 where it had none): with the softmax, the backward takes
         * sum_t w_t g_t as sum_t w_t dWeights_t + dOut . out. A captured step replays the same addresses.
         */
        long out;

        AttentionWorkspace(String name, AttentionSpec spec, int maxB, int T) {
            this.spec = spec;
            this.maxB = maxB;
            this.T = T;
            int W = spec.width(), h1 = spec.h1(), h2 = spec.h2();
            requireIntIndices(name, maxB, T, W, Math.max(h1, h2));
            long limit = Math.max(DEFAULT_SHARED, rt.maxSharedPerBlockOptin);
            long limitDynamic = limit - ATT_STATIC_SHARED;   // static and dynamic together within the block's limit
            long positions = Math.max(1L, (long) maxB * T);
            tuning = CudaBackend.this.tuning;
            threads = tuning.attentionThreads();
            settingsRead.addAll(List.of(KernelTuning.ROWS_FORWARD, KernelTuning.ROWS_BACKWARD, KernelTuning.THREADS, KernelTuning.BLOCKS_PER_SM,
                    KernelTuning.PARTIALS_ON_CHIP, KernelTuning.VECTOR_TILES, KernelTuning.ROW_GROUPS,
                    KernelTuning.QUERY_SUMS, KernelTuning.SPLIT_K));
            if (tuning.attentionPartialsOnChip()) settingsRead.add(KernelTuning.DM3_ON_CHIP);
            int wantForward = tuning.attentionRowsForward() > 0 ? tuning.attentionRowsForward() : ATT_AUTO_ROWS;
            int wantBackward = tuning.attentionRowsBackward() > 0 ? tuning.attentionRowsBackward() : ATT_AUTO_ROWS;
            rowsForward = AttentionArgs.rowsThatFit(false, W, h1, h2, (int) Math.min(positions, wantForward), limitDynamic);
            rowsBackward = AttentionArgs.rowsThatFit(true, W, h1, h2, (int) Math.min(positions, wantBackward), limitDynamic);
            if (rowsForward == 0 || rowsBackward == 0) {
                throw new UnsupportedOperationException("activation unit " + W + "/" + h1 + "/" + h2
                        + " needs more shared memory per block than this GPU has (" + limit + " bytes)");
            }
            // the split room where the tiles that take it (SPLIT_ROWS and fewer) fit it: a tile of 16 in the Amazon config
            // needs 54,592 + 10,240 bytes, under the 74,624 of the planned 32 rows (which take none)
            int splitRows = Math.min(rowsForward, AttentionArgs.SPLIT_ROWS);
            splitK = tuning.attentionSplitK() && precision == Precision.FP32 && AttentionArgs.forwardSharedBytes(W, h1, h2, splitRows, true) <= limitDynamic;
            sharedForward = Math.max(AttentionArgs.forwardSharedBytes(W, h1, h2, rowsForward, splitK),
                    splitK ? AttentionArgs.forwardSharedBytes(W, h1, h2, splitRows, true) : 0);
            // the backward's partial gradients on chip when they fit beside a full tile of rows
            partialsPlace = attentionPartials(tuning.attentionPartialsOnChip(), tuning.attentionDm3OnChip(), W, h1, h2, rowsBackward, limitDynamic);
            sharedBackward = AttentionArgs.backwardSharedBytes(W, h1, h2, rowsBackward, partialsPlace);
            if (sharedForward + ATT_STATIC_SHARED > DEFAULT_SHARED) {
                for (String k : FORWARD_KERNELS) rt.setMaxDynamicShared(k, (int) sharedForward);
                if (splitK) for (String k : FORWARD_SPLIT_KERNELS) rt.setMaxDynamicShared(k, (int) sharedForward);
            }
            if (sharedBackward + ATT_STATIC_SHARED > DEFAULT_SHARED) {
                for (String k : BACKWARD_KERNELS) rt.setMaxDynamicShared(k, (int) sharedBackward);
                for (String k : BACKWARD_KERNELS_3BLOCKS) rt.setMaxDynamicShared(k, (int) sharedBackward);
            }
            // as many as fit of either form: the one held to 80 registers fits 3 an SM where the other's registers allow 2
            int backwardFit = Math.max(occupancy(threads, sharedBackward, BACKWARD_KERNELS), occupancy(threads, sharedBackward, BACKWARD_KERNELS_3BLOCKS));
            blocksPerSm = attentionBlocksPerSm(tuning.attentionBlocksPerSm(), backwardFit, sharedBackward, rt.maxSharedPerMultiprocessor);
            int forwardFit = occupancy(threads, sharedForward, FORWARD_KERNELS);
            forwardBlocksPerSm = forwardFit > 0 ? Math.min(ATT_FORWARD_BLOCKS_PER_SM, forwardFit) : ATT_FORWARD_BLOCKS_PER_SM;
            int splitFit = splitK ? occupancy(threads, sharedForward, FORWARD_SPLIT_KERNELS) : 0;
            forwardSplitBlocksPerSm = splitFit > 0 ? Math.min(ATT_FORWARD_BLOCKS_PER_SM, splitFit) : forwardBlocksPerSm;
            blocks = (int) Math.max(1, Math.min(AttentionArgs.tiles(positions, rowsBackward), (long) blocksPerSm * rt.multiprocessors));
            LOG.info("activation unit {} ({}/{}/{}, T = {}): tiles of up to {} positions forward{}, {} backward, {} threads; forward blocks {} per SM, "
                    + "{} backward blocks ({} per SM{}), partial gradients in {} memory; shared memory {} / {} bytes", name, W, h1, h2, T, rowsForward,
                    splitK ? " (split K at " + AttentionArgs.SPLIT_ROWS + " and fewer)" : "", rowsBackward, threads, forwardBlocksPerSm, blocks, blocksPerSm, blocksPerSm >= 3 ? ", the kernel held to 80 registers" : "",
                    partialsPlace == AttentionArgs.PARTIALS_CHIP ? "shared" : partialsPlace == AttentionArgs.PARTIALS_GLOBAL ? "global" : "shared (dM3 global)",
                    sharedForward, sharedBackward);
            ma = arena.reserveScratch(name + ".ma", 4L * W * h1);
            m3t = arena.reserveScratch(name + ".m3t", 12L * W * h1);
            w2t = arena.reserveScratch(name + ".w2t", 4L * h1 * h2);
            hidden1 = arena.reserveScratch(name + ".hidden1", 4L * maxB * T * h1);
            hidden2 = arena.reserveScratch(name + ".hidden2", 4L * maxB * T * h2);
            score = arena.reserveScratch(name + ".score", 4L * maxB * T);
            dqRows = arena.reserveScratch(name + ".dqRows", 4L * maxB * T * W);
            partials = arena.reserveScratch(name + ".partials", 4L * blocks * AttentionArgs.partialFloats(W, h1, h2));
            tiles = arena.reserveScratch(name + ".tiles", 4);
        }

        /** Rows per tile of the forward / backward launch over B samples. */
        int rows(boolean backward, int B) {
            return backward ? attentionRows(tuning.attentionRowsBackward(), rowsBackward, B, T, blocks)
                    : attentionRows(tuning.attentionRowsForward(), rowsForward, B, T, blocks);
        }

        /**
         * The dynamic shared memory of a forward / backward launch with tiles of {@code rows} positions: what the
         * kernel lays out for them (it takes its arrays' sizes from the launch's rows), at most the planned bytes.
         * A batch too small for tiles of 32 (batch 128 in the Amazon config) takes tiles of 16, whose backward needs
         * 78,768 bytes a block where the plan's 32 rows need 109,040. Asked for the latter, two blocks (with their
         * static and reserved bytes) need the largest shared-memory carveout an H200 multiprocessor offers, 228 of its
         * 256 KB, which leaves L1 28 KB; asked for what they use, they fit the 164 KB carveout, which leaves 92 KB, room
         * for the 47 KB of M3t and W2t that the backward's products read from global memory. The forward's three
         * blocks: 196 KB and 60 KB of L1 instead of 228 and 28. (The driver picks the carveout from what a launch
         * needs; that it picks these is for a device to show.) -Daugur.attention.sharedAsPlanned=true asks for the
         * planned bytes at every launch.
         */
        long sharedBytes(boolean backward, int rows) {
            return attentionLaunchShared(sharedAsPlanned, backward, spec, rows, partialsPlace, backward ? sharedBackward : sharedForward, splitK);
        }

        /** The forward's split room (floats) for tiles of {@code rows} positions: the SPLIT_ROOM int of its launch. */
        int splitRoom(int rows) { return splitK ? (int) AttentionArgs.splitRoomFloats(spec.h1(), spec.h2(), rows) : 0; }

        @Override
        public long bytes() {
            return ma.bytes() + m3t.bytes() + w2t.bytes() + hidden1.bytes() + hidden2.bytes() + score.bytes() + dqRows.bytes() + partials.bytes()
                    + tiles.bytes();
        }
    }

    // ---------------------------------------------------------------- arena, staging, status

    /** Before any device work: the context on this thread, the arena allocated, staged inputs sent. */
    private void begin() {
        if (closed) throw new IllegalStateException("the CUDA backend is closed");
        rt.makeCurrent();
        allocatePending();
        if (staging != null) staging.flush();
        if (stepInputs != null) issueStepInputs();   // the step's first op, which cannot carry them: their own launch first
    }

    private void allocatePending() {
        if (!arena.hasPending()) return;
        if (rt.inGraphStep()) throw new IllegalStateException("a tensor was planned inside a captured step; plan every buffer before the first step");
        List<long[]> ranges = new ArrayList<>();   // (address, bytes): one, or a separate arena's every slice
        long requested = arena.pendingBytes();
        List<Arena.Slice> planned = arena.pendingSlices();
        long bytes;
        try {
            bytes = arena.allocatePending((size, segment) -> {
                long b = rt.allocate(size);
                ranges.add(new long[] {b, size});
                return b;
            });
        } catch (CudaException e) {
            if (e.code() != jcuda.driver.CUresult.CUDA_ERROR_OUT_OF_MEMORY) throw e;
            for (long[] r : ranges) rt.free(r[0]);   // a separate arena's slices allocated before the one that failed
            // the plan is given up, with the uploads waiting for it, but for the backend's own buffers while none is
            // allocated yet: what is planned next (bench's next batch size) is allocated without it
            arena.discardPending(arena.allocatedBytes() == 0 ? ownSlices : 0);
            deferred.removeIf(d -> d.slice().discarded());
            long[] mem = rt.memoryInfo();
            throw new DeviceMemoryException(deviceLabel(), requested, mem[0], mem[1], rt.allocatedBytes(), planned, e);
        }
        if (LOG.isInfoEnabled()) {
            long[] mem = rt.memoryInfo();
            LOG.info("device memory: {} for {} planned tensors (arena segment {}, {} allocation(s)); Augur holds {} of {}, {} free",
                    DeviceMemoryException.amount(bytes), planned.size(), arena.segmentCount() - 1, ranges.size(), DeviceMemoryException.amount(rt.allocatedBytes()),
                    DeviceMemoryException.amount(mem[1]), DeviceMemoryException.amount(mem[0]));
        }
        // tensors are zero-filled, then the uploads made while they were only planned are applied
        for (long[] r : ranges)
            CudaException.check(JCudaDriver.cuMemsetD32Async(rt.pointer(r[0]), 0, r[1] / 4, rt.compute), "cuMemsetD32Async(arena)");
        for (Arena.Slice s : arena.takeAllocatedScratch()) {   // workspaces: NaN in the test runs, so a read of what nobody wrote shows
            if (!POISON_SCRATCH) continue;
            scratch.add(s);
            poison(s);
        }
        rt.synchronizeCompute();
        for (Deferred d : deferred) d.write().run();
        deferred.clear();
        rt.synchronizeLegacy();   // the deferred uploads and fills ran on the legacy stream
        ensureStaging();
    }

    /** The workspaces (and scratchBetweenSteps tensors) poisoned in the test runs, again before every step (runStep). */
    private final List<Arena.Slice> scratch = new ArrayList<>();

    @Override
    public void scratchBetweenSteps(Tensor t) {
        if (POISON_SCRATCH) scratch.add(((CudaTensor) t).slice);   // allocated by the time runStep poisons it
    }

    private void poison(Arena.Slice s) {
        CudaException.check(JCudaDriver.cuMemsetD32Async(rt.pointer(s.address()), 0xffffffff, s.bytes() / 4, rt.compute), "cuMemsetD32Async(" + s.name() + ")");
    }

    /**
     * The size of a staging slot for {@code stagedInputBytes} of batch inputs (tensors named {@code batch.*}): all of a
     * batch's inputs in one slot, a quarter more and 64 KiB to spare, at least 1 MiB. A model plans its batch's inputs
     * together, before its first step allocates them, so the most planned between two allocations is the most one
     * batch uploads (bench and the autotuner make a model a run on one backend: the slots follow the largest, not their sum).
     */
    private static long slotBytesFor(long stagedInputBytes) {
        return Arena.align(Math.max(1L << 20, stagedInputBytes + stagedInputBytes / 4 + (64 << 10)));
    }

    /** The staging's pinned and device slots and its events (the events are kept when the slots grow). */
    private record StagingSlots(CudaRuntime.PinnedBuffer[] host, long[] device, CUevent[] copyDone, CUevent[] d2dDone) {}

    private StagingSlots stagingSlots;

    /**
     * Makes the input staging, or grows it when batch inputs planned since it was made no longer fit a slot. A model of a
     * larger batch planned on the same backend after a smaller one's first step (bench: batch 128, then 2048) would
     * otherwise stage its inputs only up to the old slot's end and copy the rest synchronously, the host first waiting
     * for the device's previous step: on the H200 the bench's DIN, BaseModel and DIEN steps at 2048 took their whole time
     * in the host's issue (0.806 of 0.809 ms for DIN), the copy of batch i + 1 never overlapping step i. Grown between
     * steps, once per larger plan: the old slots' copies are waited for, then freed.
     */
    private void ensureStaging() {
        stagedInputBytes = Math.max(stagedInputBytes, stagedSincePlan);
        stagedSincePlan = 0;
        long slot = slotBytesFor(stagedInputBytes);
        if (staging != null && staging.slotBytes() >= slot) return;
        CUevent[] copyDone, d2dDone;
        if (staging != null) {
            long old = staging.slotBytes();
            staging.flush();   // uploads already staged for allocated tensors go out of the old slot first
            rt.synchronizeAll();
            for (CudaRuntime.PinnedBuffer b : stagingSlots.host()) rt.freePinned(b);
            for (long d : stagingSlots.device()) rt.free(d);
            copyPlans.clear();   // their source addresses were the old slots'
            copyDone = stagingSlots.copyDone();
            d2dDone = stagingSlots.d2dDone();
            LOG.info("input staging grown from 2 slots of {} KiB to 2 of {} KiB: a batch's inputs now take {} KiB", old >> 10, slot >> 10,
                    stagedInputBytes >> 10);
        } else {
            copyDone = new CUevent[] {rt.event(), rt.event()};
            d2dDone = new CUevent[] {rt.event(), rt.event()};
            LOG.debug("input staging: 2 pinned slots of {} KiB", slot >> 10);
        }
        CudaRuntime.PinnedBuffer[] host = {rt.allocatePinned(slot), rt.allocatePinned(slot)};
        long[] device = {rt.allocate(slot), rt.allocate(slot)};
        stagingSlots = new StagingSlots(host, device, copyDone, d2dDone);
        staging = new InputStaging(new InputStaging.Transfers() {
            @Override public ByteBuffer pinned(int s) { return host[s].buffer(); }
            @Override public void hostWaitsCopyDone(int s) { CudaException.check(JCudaDriver.cuEventSynchronize(copyDone[s]), "cuEventSynchronize(copy done)"); }
            @Override public void copyStreamWaitsD2dDone(int s) { CudaException.check(JCudaDriver.cuStreamWaitEvent(rt.copy, d2dDone[s], 0), "cuStreamWaitEvent(copy)"); }
            @Override public void copyHostToStaging(int s, long bytes) {
                CudaException.check(JCudaDriver.cuMemcpyHtoDAsync(rt.pointer(device[s]), host[s].pointer(), bytes, rt.copy), "cuMemcpyHtoDAsync(staging)");
            }
            @Override public void recordCopyDone(int s) { CudaException.check(JCudaDriver.cuEventRecord(copyDone[s], rt.copy), "cuEventRecord(copy done)"); }
            @Override public void computeWaitsCopyDone(int s) { CudaException.check(JCudaDriver.cuStreamWaitEvent(rt.compute, copyDone[s], 0), "cuStreamWaitEvent(compute)"); }
            @Override public void copyStagingToDevice(int s, List<InputStaging.Copy> copies) { copyInputs(device[s], copies); }
            @Override public void recordD2dDone(int s) { CudaException.check(JCudaDriver.cuEventRecord(d2dDone[s], rt.compute), "cuEventRecord(d2d done)"); }
        }, slot);
    }

    /** The size of a staging slot now (0 before the first allocation). */
    long stagingSlotBytes() { return staging == null ? 0 : staging.slotBytes(); }

    /** Uploads to batch inputs ({@code batch.*}) that did not fit the staging and were copied synchronously. */
    private long synchronousBatchUploads;

    /** {@link #synchronousBatchUploads}: 0 when every batch input travelled through the staging. */
    long synchronousBatchUploads() { return synchronousBatchUploads; }

    /** Counts (and the first time, logs) a batch input copied synchronously: the host waited for the device's work first. */
    private void uploadedSynchronously(CudaTensor t, long bytes) {
        if (!t.name().startsWith("batch.")) return;   // parameters, checkpoints, resident data: once, synchronous by design
        if (synchronousBatchUploads++ == 0) {
            LOG.warn("{} ({} bytes) did not fit the input staging's slot ({} bytes): copied synchronously, after the device's queued work; "
                    + "the host and the device take turns while this lasts", t.name(), bytes, staging.slotBytes());
        }
    }

    /**
     * The batch inputs of the step under way ({@link #runStep}), sent to a device staging slot before the step and not
     * yet copied into their tensors: the step's first launch carries the copies where it can
     * ({@link #embeddingGather(List, List)}), else {@link #begin} issues them before the step's first op. Null outside a
     * step, and once issued.
     */
    private StepInputs stepInputs;

    /** A step's batch inputs: the device slot they wait in (its address) and the flushed uploads. */
    private record StepInputs(long staging, InputStaging.Flushed batch) {}

    /** The step's batch inputs for the caller's launch to carry (null when there are none or they are issued). */
    private StepInputs takeStepInputs() {
        StepInputs in = stepInputs;
        stepInputs = null;
        return in;
    }

    /** The step's batch copies in a launch of their own (copy_multi_kernel): inside the step's graph. */
    private void issueStepInputs() {
        StepInputs in = takeStepInputs();
        copyInputs(in.staging(), in.batch().copies());
    }

    /**
     * A batch's staged inputs from a device staging slot into their tensors, on the compute stream: the copies of whole
     * 32-bit words (every tensor's: ints and floats) by copy_multi_kernel, {@link MultiTensorArgs#MAX} a launch, any
     * other by cuMemcpyDtoDAsync. One launch where a cuMemcpyDtoDAsync an input (7 a step for DIN) put a copy of about
     * 0.9 us and its gap on the stream each (H200, batch 128: the step 0.189 -> 0.179 ms). Through the runtime: in a
     * step's graph where the step's first launch cannot carry them ({@link #runStep}), eagerly for uploads flushed
     * between steps (begin, or every step's with -Daugur.cuda.stepInputs=before). A plain launch, so it starts after the
     * work before it on the stream.
     */
    private void copyInputs(long staging, List<InputStaging.Copy> copies) {
        // planned once for each slot and batch shape: a step's copies are the same (the arena's addresses, the slot's offsets)
        InputCopies plan = cachedPlan(copyPlans, List.of(staging, copies), () -> planInputCopies(staging, copies));
        for (InputStaging.Copy c : plan.bytewise()) {
            long src = staging + c.offset();
            rt.external("cuMemcpyDtoDAsync(input)", new long[] {c.dst(), src, c.bytes()}, () -> CudaException.check(
                    JCudaDriver.cuMemcpyDtoDAsync(rt.pointer(c.dst()), rt.pointer(src), c.bytes(), rt.compute), "cuMemcpyDtoDAsync(input)"));
        }
        for (MultiTensorArgs.Launch l : plan.launches()) rt.launch(Kernels.COPY_MULTI, l.blocks(), 1, BLOCK, 1, 0, args().struct(l.args()));
    }

    /** A batch's input copies from one staging slot: copy_multi_kernel's launches, and the copies not in whole words. */
    private record InputCopies(List<MultiTensorArgs.Launch> launches, List<InputStaging.Copy> bytewise) {}

    private static InputCopies planInputCopies(long staging, List<InputStaging.Copy> copies) {
        List<MultiTensorArgs.Entry> words = new ArrayList<>(copies.size());
        List<InputStaging.Copy> bytewise = new ArrayList<>();
        for (InputStaging.Copy c : copies) {
            long src = staging + c.offset(), n = c.bytes() / 4;
            if (c.bytes() % 4 == 0 && src % 4 == 0 && c.dst() % 4 == 0 && n <= Integer.MAX_VALUE) words.add(new MultiTensorArgs.Entry(c.dst(), src, 0, 0, (int) n));
            else bytewise.add(c);
        }
        return new InputCopies(MultiTensorArgs.plan(words), List.copyOf(bytewise));
    }

    private final Map<List<?>, InputCopies> copyPlans = new HashMap<>();

    /** Reads one int from the device (waits for the device). */
    int readInt(Arena.Slice s) {
        begin();
        rt.synchronizeCompute();
        int[] v = new int[1];
        CudaException.check(JCudaDriver.cuMemcpyDtoH(Pointer.to(v), rt.pointer(s.address()), 4), "cuMemcpyDtoH");
        return v[0];
    }

    /** Throws if a kernel reported invalid input since the last check (the device must be idle). */
    private void checkStatus() {
        CudaException.check(JCudaDriver.cuMemcpyDtoH(Pointer.to(statusHost), rt.pointer(status.address()), 4), "cuMemcpyDtoH(status)", rt.lastKernel());
        if (statusHost[0] != 0) {
            int bits = statusHost[0];
            CudaException.check(JCudaDriver.cuMemsetD32Async(rt.pointer(status.address()), 0, 1, rt.compute), "cuMemsetD32Async(status)");
            throw new IllegalStateException("CUDA kernels reported invalid input: " + DeviceStatus.describe(bits));
        }
    }

    private static long a(Tensor t) { return t == null ? 0L : ((CudaTensor) t).address(); }

    private static CudaTensor ct(Tensor t) { return (CudaTensor) t; }

    // ---------------------------------------------------------------- transfers

    /** Whether a write to t waits for its segment's allocation (true while it is only planned); a given-up plan's tensor is an error. */
    private static boolean deferrable(CudaTensor t) {
        t.slice.requireKept();
        return !t.slice.allocated();
    }

    private static void checkCount(Tensor t, int n) {
        if (n < 0 || n > t.size()) throw new IllegalArgumentException(t.name() + ": " + n + " elements, it holds " + t.size());
    }

    @Override
    public void upload(Tensor dst, float[] src, int n) {
        checkCount(dst, n);
        notInStep("upload to " + dst.name());
        if (n == 0) return;
        CudaTensor t = ct(dst);
        if (deferrable(t)) {
            float[] copy = java.util.Arrays.copyOf(src, n);
            deferred.add(new Deferred(t.slice, () -> CudaException.check(JCudaDriver.cuMemcpyHtoD(rt.pointer(t.address()), Pointer.to(copy), 4L * n),
                    "cuMemcpyHtoD(" + t.name() + ")")));
            return;
        }
        rt.makeCurrent();
        if (staging != null && staging.stage(t.address(), src, n)) return;
        if (staging != null) uploadedSynchronously(t, 4L * n);
        begin();
        rt.synchronizeCompute();
        CudaException.check(JCudaDriver.cuMemcpyHtoD(rt.pointer(t.address()), Pointer.to(src), 4L * n), "cuMemcpyHtoD(" + t.name() + ")");
        rt.synchronizeLegacy();   // before the non-blocking compute stream reads it
    }

    @Override
    public void upload(Tensor dst, int[] src, int n) {
        checkCount(dst, n);
        notInStep("upload to " + dst.name());
        if (n == 0) return;
        CudaTensor t = ct(dst);
        if (deferrable(t)) {
            int[] copy = java.util.Arrays.copyOf(src, n);
            deferred.add(new Deferred(t.slice, () -> CudaException.check(JCudaDriver.cuMemcpyHtoD(rt.pointer(t.address()), Pointer.to(copy), 4L * n),
                    "cuMemcpyHtoD(" + t.name() + ")")));
            return;
        }
        rt.makeCurrent();
        if (staging != null && staging.stage(t.address(), src, n)) return;
        if (staging != null) uploadedSynchronously(t, 4L * n);
        begin();
        rt.synchronizeCompute();
        CudaException.check(JCudaDriver.cuMemcpyHtoD(rt.pointer(t.address()), Pointer.to(src), 4L * n), "cuMemcpyHtoD(" + t.name() + ")");
        rt.synchronizeLegacy();   // before the non-blocking compute stream reads it
    }

    /** The pinned ring behind readLater and downloadLater. */
    private final LaterReads later;

    /** src[0] as the work issued so far leaves it, read when asked for (see {@link LaterReads}). */
    @Override
    public java.util.function.DoubleSupplier readLater(Tensor src) {
        checkCount(src, 1);
        notInStep("a later read of " + src.name());
        begin();
        return later.queue(a(src), 1, null, src.name())::value;
    }

    /** src[0:n] into dst, filled by the time the returned Runnable has run (see {@link LaterReads}). */
    @Override
    public Runnable downloadLater(Tensor src, float[] dst, int n) {
        checkCount(src, n);
        if (dst.length < n) throw new IllegalArgumentException("downloadLater of " + src.name() + ": " + n + " values into an array of " + dst.length);
        notInStep("a later read of " + src.name());
        begin();
        return later.queue(a(src), n, dst, src.name())::complete;
    }

    @Override
    public void download(Tensor src, float[] dst, int n) {
        downloadTo(src, Pointer.to(dst), n);
    }

    @Override
    public void download(Tensor src, int[] dst, int n) {
        downloadTo(src, Pointer.to(dst), n);
    }

    /** n 4-byte values of src into a host array, after the device has finished; then the status word. */
    private void downloadTo(Tensor src, Pointer dst, int n) {
        checkCount(src, n);
        notInStep("download of " + src.name());
        begin();
        rt.synchronizeCompute();
        if (n > 0) CudaException.check(JCudaDriver.cuMemcpyDtoH(dst, rt.pointer(a(src)), 4L * n), "cuMemcpyDtoH(" + src.name() + ")", rt.lastKernel());
        checkStatus();
    }

    @Override
    public void downloadGrad(SparseGrad grad, float[] dst) {
        CudaSparseGrad g = (CudaSparseGrad) grad;
        notInStep("download of " + g.name());
        begin();
        rt.synchronizeCompute();
        long[] acc = new long[g.rows() * g.dim()];
        CudaException.check(JCudaDriver.cuMemcpyDtoH(Pointer.to(acc), rt.pointer(g.acc.address()), 8L * acc.length), "cuMemcpyDtoH(" + g.name() + ")");
        for (int i = 0; i < acc.length; i++) dst[i] = (float) (acc[i] * (1.0 / CudaSparseGrad.FIXED_SCALE));
        checkStatus();
    }

    @Override
    public void fill(Tensor t, float value, int n) {
        checkCount(t, n);
        if (n == 0) return;
        CudaTensor c = ct(t);
        int bits = Float.floatToRawIntBits(value);
        if (deferrable(c)) {
            deferred.add(new Deferred(c.slice, () -> CudaException.check(JCudaDriver.cuMemsetD32(rt.pointer(c.address()), bits, n),
                    "cuMemsetD32(" + c.name() + ")")));
            return;
        }
        begin();
        rt.memsetAsync(c.address(), bits, n, c.name());
    }

    /** Zeroes the list in one launch of zero_multi_kernel per {@link MultiTensorArgs#MAX} tensors. */
    @Override
    public void zero(List<Tensor> tensors) {
        for (Tensor t : tensors) {
            if (!ct(t).slice.allocated()) {   // before the arena exists: the deferred fills
                Backend.super.zero(tensors);
                return;
            }
        }
        begin();
        for (MultiTensorArgs.Launch l : zeroLaunches(tensors)) rt.launch(Kernels.ZERO_MULTI, l.blocks(), 1, BLOCK, 1, 0, args().struct(l.args()));
    }

    private List<MultiTensorArgs.Launch> zeroLaunches(List<Tensor> tensors) {
        return multiLaunches(tensors, () -> {
            List<MultiTensorArgs.Entry> es = new ArrayList<>();
            for (Tensor t : tensors) es.add(new MultiTensorArgs.Entry(a(t), 0, 0, 0, t.size()));
            return es;
        });
    }

    /** The launches of a multi-tensor op over {@code key}'s tensors (see {@link #cachedPlan}). */
    private List<MultiTensorArgs.Launch> multiLaunches(List<?> key, java.util.function.Supplier<List<MultiTensorArgs.Entry>> entries) {
        return cachedPlan(multiPlans, key, () -> MultiTensorArgs.plan(entries.get()));
    }

    /**
     * A list launch's plan, made on first use of its key and kept: the device addresses never
     * change once the arena is allocated, so a replayed step spends no time rebuilding structs.
     * Bounded, since keys name batch sizes and a handful are seen in practice.
     */
    private static <V> V cachedPlan(Map<List<?>, V> cache, List<?> key, java.util.function.Supplier<V> make) {
        V v = cache.get(key);
        if (v == null) {
            v = make.get();
            if (cache.size() >= 256) cache.clear();
            cache.put(List.copyOf(key), v);
        }
        return v;
    }

    private final Map<List<?>, List<MultiTensorArgs.Launch>> multiPlans = new HashMap<>();
    private final Map<List<?>, List<EntryListArgs.Launch>> gatherPlans = new HashMap<>(), sparsePlans = new HashMap<>();

    @Override
    public void synchronize() {
        begin();
        rt.synchronizeAll();
        checkStatus();
    }

    // ---------------------------------------------------------------- launch helpers

    private void launch1d(String kernel, long n, CudaRuntime.Args args) {
        if (n <= 0) return;
        rt.launch(kernel, Kernels.blocks(n, BLOCK, maxBlocks), 1, BLOCK, 1, 0, args);
    }

    /** Kernels that take {@code perBlock} rows a block (grid-strided past the block limit). */
    private void launchRows(String kernel, int rows, int perBlock, CudaRuntime.Args args) {
        if (rows <= 0) return;
        rt.launch(kernel, Kernels.blocks(rows, perBlock, maxBlocks), 1, BLOCK, 1, 0, args);
    }

    /** Column-tile kernels: ceil(C / 32) blocks of (32, COL_ROWS) threads. */
    private void launchColumns(String kernel, int C, CudaRuntime.Args args) {
        if (C <= 0) return;
        rt.launch(kernel, (C + 31) / 32, 1, 32, COL_ROWS, 0, args);
    }

    private static CudaRuntime.Args args() { return new CudaRuntime.Args(); }

    // ---------------------------------------------------------------- embeddings

    @Override
    public void embeddingGather(Tensor out, Tensor ids, Tensor lengths, Tensor table, int rows, int T, int D, int outStride, int off) {
        begin();
        int V = table.dim(0);
        launchRows(Kernels.EMBEDDING_GATHER_FORWARD, rows, GatherListArgs.blockRows(D), args().ptr(a(out)).ptr(status.address()).ptr(a(ids)).ptr(a(lengths))
                .ptr(a(table)).i(rows).i(T).i(D).i(V).i(outStride).i(off));
    }

    @Override
    public void embeddingGatherBackward(SparseGrad grad, Tensor dOut, Tensor ids, Tensor lengths, int rows, int T, int D, int outStride, int off) {
        CudaSparseGrad g = (CudaSparseGrad) grad;
        if (g.dim() != D) throw new IllegalArgumentException("embedding backward: " + g.name() + " has width " + g.dim() + ", op says D = " + D);
        begin();
        launchRows(Kernels.EMBEDDING_GATHER_BACKWARD, rows, GatherListArgs.blockRows(D), args().ptr(g.acc.address()).ptr(g.flag.address()).ptr(g.list.address())
                .ptr(g.count.address()).ptr(status.address()).ptr(a(dOut)).ptr(a(ids)).ptr(a(lengths))
                .i(rows).i(T).i(D).i(g.rows()).i(g.capacity()).i(outStride).i(off));
        g.pendingRows += rows;
    }

    /** Every gather of the list in one launch of embedding_gather_multi_forward_kernel per {@link GatherListArgs#MAX}. */
    @Override
    public void embeddingGather(List<Gather> gathers) {
        begin();
        for (EntryListArgs.Launch l : gatherLaunches(gathers, true)) {
            rt.launch(Kernels.EMBEDDING_GATHER_MULTI_FORWARD, l.blocks(), 1, BLOCK, 1, 0, args().struct(l.args()).ptr(status.address()));
        }
    }

    /**
     * The gathers and the clearing in one launch of embedding_gather_multi_forward_zero_kernel
     * (the zeroing blocks after the gathers') when each fits in one launch; otherwise the two ops.
     */
    @Override
    public void embeddingGather(List<Gather> gathers, List<Tensor> cleared) {
        for (Tensor t : cleared) {
            if (!ct(t).slice.allocated()) {   // before the arena exists: the deferred fills
                Backend.super.embeddingGather(gathers, cleared);
                return;
            }
        }
        StepInputs in = takeStepInputs();   // the step's batch copies, for this launch to carry where it can
        begin();   // the arena allocated before the plans read addresses
        if (in != null) {
            GatherCarry c = cachedPlan(carryPlans, List.of(gathers, cleared, in.staging(), in.batch().copies()),
                    () -> planGatherCarry(gathers, cleared, in.staging(), in.batch().copies()));
            if (c != null) {
                rt.launch(Kernels.EMBEDDING_GATHER_MULTI_FORWARD_ZERO, c.gather().blocks() + c.zeroCopy().blocks(), 1, BLOCK, 1, 0,
                        args().struct(c.gather().args()).ptr(status.address()).struct(c.zeroCopy().args()));
                return;
            }
            stepInputs = in;
            issueStepInputs();   // this launch cannot carry them: a launch of their own first
        }
        List<EntryListArgs.Launch> g = gatherLaunches(gathers, true);
        List<MultiTensorArgs.Launch> z = zeroLaunches(cleared);
        if (g.size() != 1 || z.size() != 1) {
            Backend.super.embeddingGather(gathers, cleared);
            return;
        }
        rt.launch(Kernels.EMBEDDING_GATHER_MULTI_FORWARD_ZERO, g.get(0).blocks() + z.get(0).blocks(), 1, BLOCK, 1, 0,
                args().struct(g.get(0).args()).ptr(status.address()).struct(z.get(0).args()));
    }

    /** A step's first launch with the batch's copies: the gathers (ids and lengths read from the slot), then the clearing and the copies. */
    private record GatherCarry(EntryListArgs.Launch gather, MultiTensorArgs.Launch zeroCopy) {}

    private final Map<List<?>, GatherCarry> carryPlans = new HashMap<>();

    /**
     * The gathers, the clearing of {@code cleared} and the batch's copies out of the staging slot at {@code staging} in one
     * launch of embedding_gather_multi_forward_zero_kernel, or null where that launch cannot carry them: a copy not in
     * whole words, more gathers or tensors than one launch holds, or an address the launch reads or writes that a copy
     * writes, but for a gather's ids and lengths that a copy writes whole, which the gather then reads in the slot.
     * The launch's blocks run in no order, so nothing in it may read what another block writes.
     */
    private static GatherCarry planGatherCarry(List<Gather> gathers, List<Tensor> cleared, long staging, List<InputStaging.Copy> copies) {
        List<MultiTensorArgs.Entry> zc = new ArrayList<>();
        for (Tensor t : cleared) {
            if (written(copies, a(t), 4L * t.size()) != null) return null;
            zc.add(new MultiTensorArgs.Entry(a(t), 0, 0, 0, t.size()));
        }
        for (InputStaging.Copy c : copies) {
            long src = staging + c.offset();
            if (c.bytes() % 4 != 0 || src % 4 != 0 || c.dst() % 4 != 0 || c.bytes() / 4 > Integer.MAX_VALUE) return null;
            zc.add(new MultiTensorArgs.Entry(c.dst(), src, 0, 0, (int) (c.bytes() / 4)));
        }
        List<GatherListArgs.Entry> es = new ArrayList<>();
        for (Gather g : gathers) {
            if (g.out() == null || g.table() == null) throw new IllegalArgumentException("embeddingGather(list): a backward entry in a forward list");
            if (written(copies, a(g.out()), 4L * g.out().size()) != null || written(copies, a(g.table()), 4L * g.table().size()) != null) return null;
            long ids = fromSlot(copies, staging, a(g.ids()), 4L * g.rows());
            long lengths = g.lengths() == null ? 0 : fromSlot(copies, staging, a(g.lengths()), 4L * (g.rows() / Math.max(1, g.T())));
            if (ids == -1 || lengths == -1) return null;
            es.add(new GatherListArgs.Entry(a(g.out()), 0, 0, 0, 0, 0, ids, lengths, a(g.table()), g.rows(), g.T(), g.D(), g.table().dim(0), 0,
                    g.outStride(), g.off(), g.zeroPadding() ? 1 : 0));
        }
        List<EntryListArgs.Launch> gl = GatherListArgs.plan(es);
        List<MultiTensorArgs.Launch> zl = MultiTensorArgs.plan(zc);
        return gl.size() == 1 && zl.size() == 1 ? new GatherCarry(gl.get(0), zl.get(0)) : null;
    }

    /** The copy that writes any of [address, address + bytes), or null. */
    private static InputStaging.Copy written(List<InputStaging.Copy> copies, long address, long bytes) {
        for (InputStaging.Copy c : copies) {
            if (address < c.dst() + c.bytes() && c.dst() < address + bytes) return c;
        }
        return null;
    }

    /**
     * Where a launch that also makes the copies reads [address, address + bytes): the address itself where no copy writes
     * there, the slot's bytes where one copy writes that whole range from its start, else -1 (not readable there).
     */
    private static long fromSlot(List<InputStaging.Copy> copies, long staging, long address, long bytes) {
        InputStaging.Copy c = written(copies, address, bytes);
        if (c == null) return address;
        return c.dst() == address && c.bytes() >= bytes ? staging + c.offset() : -1;
    }

    /** Every backward of the list in one launch of embedding_gather_multi_backward_kernel per {@link GatherListArgs#MAX}. */
    @Override
    public void embeddingGatherBackward(List<Gather> gathers) {
        begin();
        List<EntryListArgs.Launch> launches = gatherLaunches(gathers, false);
        for (EntryListArgs.Launch l : launches) {
            rt.launch(Kernels.EMBEDDING_GATHER_MULTI_BACKWARD, l.blocks(), 1, BLOCK, 1, 0, args().struct(l.args()).ptr(status.address()));
        }
        addPendingRows(gathers);
    }

    /** Each backward lookup's rows counted into its sparse gradient's pending rows (the next sparse update's bound). */
    private static void addPendingRows(List<Gather> lookups) {
        for (Gather g : lookups) ((CudaSparseGrad) g.grad()).pendingRows += g.rows();
    }

    private List<EntryListArgs.Launch> gatherLaunches(List<Gather> gathers, boolean forward) {
        return cachedPlan(gatherPlans, gathers, () -> GatherListArgs.plan(gatherEntries(gathers, forward)));
    }

    private List<GatherListArgs.Entry> gatherEntries(List<Gather> gathers, boolean forward) {
        List<GatherListArgs.Entry> es = new ArrayList<>();
        for (Gather g : gathers) {
            if (forward) {
                if (g.out() == null || g.table() == null) throw new IllegalArgumentException("embeddingGather(list): a backward entry in a forward list");
                es.add(new GatherListArgs.Entry(a(g.out()), 0, 0, 0, 0, 0, a(g.ids()), a(g.lengths()), a(g.table()), g.rows(), g.T(), g.D(),
                        g.table().dim(0), 0, g.outStride(), g.off(), g.zeroPadding() ? 1 : 0));
            } else {
                if (!(g.grad() instanceof CudaSparseGrad sg) || g.dOut() == null) {
                    throw new IllegalArgumentException("embeddingGatherBackward(list): a forward entry in a backward list");
                }
                if (sg.dim() != g.D()) throw new IllegalArgumentException("embedding backward: " + sg.name() + " has width " + sg.dim() + ", op says D = " + g.D());
                es.add(new GatherListArgs.Entry(0, a(g.dOut()), sg.acc.address(), sg.flag.address(), sg.list.address(), sg.count.address(),
                        a(g.ids()), a(g.lengths()), 0, g.rows(), g.T(), g.D(), sg.rows(), sg.capacity(), g.outStride(), g.off(), 1));
            }
        }
        return es;
    }

    private static void checkSparseUpdate(Tensor table, Tensor state1, Tensor state2, CudaSparseGrad g, Tensor counts, SparseOptimizer opt, int step) {
        long size = (long) g.rows() * g.dim();
        if (table.size() != size) throw new IllegalArgumentException("sparse update: table has " + table.size() + " floats, " + g.name() + " expects " + size);
        int slots = opt.kind().slots();
        if (slots >= 1 && (state1 == null || state1.size() != size)) throw new IllegalArgumentException("sparse update: " + opt.kind() + " needs state1 of " + size + " floats");
        if (slots >= 2 && (state2 == null || state2.size() != size)) throw new IllegalArgumentException("sparse update: " + opt.kind() + " needs state2 of " + size + " floats");
        if (opt.lambda() != 0f && (counts == null || counts.size() < g.rows())) throw new IllegalArgumentException("sparse update: MBAR (lambda != 0) needs counts for " + g.rows() + " ids");
        if (step < 1) throw new IllegalArgumentException("sparse update: step is 1-based, got " + step);
    }

    private static int sparseKind(SparseOptimizer opt) {
        return switch (opt.kind()) { case SGD -> 0; case ADAGRAD -> 1; case ADAM -> 2; };
    }

    /** Every table of the list in one launch of sparse_update_multi_kernel per {@link SparseUpdateListArgs#MAX}. */
    @Override
    public void sparseUpdate(List<TableUpdate> updates, SparseOptimizer opt, int step) {
        launchSparse(sparsePlan(updates, opt, step), opt, step);
    }

    /** The list's launches (checked, the device's work begun, each table's pending rows taken). */
    /** Sparse update entries by their elements (bound x D), fewest first (sparsePlan). */
    private static final java.util.Comparator<SparseUpdateListArgs.Entry> SMALLEST_TABLE_FIRST =
            java.util.Comparator.comparingLong(e -> (long) e.bound() * e.D());

    private List<EntryListArgs.Launch> sparsePlan(List<TableUpdate> updates, SparseOptimizer opt, int step) {
        int slots = opt.kind().slots();
        List<SparseUpdateListArgs.Entry> es = new ArrayList<>(updates.size());
        for (TableUpdate u : updates) {
            CudaSparseGrad g = (CudaSparseGrad) u.grad();
            checkSparseUpdate(u.table(), u.state1(), u.state2(), g, u.counts(), opt, step);
        }
        begin();
        for (TableUpdate u : updates) {
            CudaSparseGrad g = (CudaSparseGrad) u.grad();
            int bound = (int) Math.min(g.capacity(), g.pendingRows);
            es.add(new SparseUpdateListArgs.Entry(a(u.table()), slots >= 1 ? a(u.state1()) : 0, slots >= 2 ? a(u.state2()) : 0, g.acc.address(),
                    g.flag.address(), g.list.address(), g.count.address(), g.done.address(), opt.lambda() != 0f ? a(u.counts()) : 0,
                    g.dim(), bound, g.capacity()));
            g.pendingRows = 0;
        }
        // smallest first (each table's own blocks, counter and list, so any order updates the same): optimizer_step_kernel
        es.sort(SMALLEST_TABLE_FIRST);
        return cachedPlan(sparsePlans, es, () -> SparseUpdateListArgs.plan(es));
    }

    private void launchSparse(List<EntryListArgs.Launch> launches, SparseOptimizer opt, int step) {
        if (launches.isEmpty()) return;
        int advance = stepInLaunch(step);
        for (EntryListArgs.Launch l : launches) {
            rt.launch(Kernels.SPARSE_UPDATE_MULTI, l.blocks(), 1, BLOCK, 1, 0, args().struct(l.args()).ptr(stepCounter.address())
                    .ptr(stepDone.address()).i(advance).i(sparseKind(opt)).f(opt.lr()).f(opt.lambda()).f(opt.beta1()).f(opt.beta2()).f(opt.eps()));
            advance = 0;   // the later launches read the advanced counter
        }
    }

    @Override
    public void sparseUpdate(Tensor table, Tensor state1, Tensor state2, SparseGrad grad, Tensor counts, SparseOptimizer opt, int step) {
        CudaSparseGrad g = (CudaSparseGrad) grad;
        checkSparseUpdate(table, state1, state2, g, counts, opt, step);
        int slots = opt.kind().slots();
        begin();
        int bound = (int) Math.min(g.capacity(), g.pendingRows);
        if (bound > 0) {
            int kind = sparseKind(opt);
            deviceStep(step);
            launch1d(Kernels.SPARSE_UPDATE, (long) bound * g.dim(), args().ptr(a(table)).ptr(slots >= 1 ? a(state1) : 0).ptr(slots >= 2 ? a(state2) : 0)
                    .ptr(g.acc.address()).ptr(g.flag.address()).ptr(g.list.address()).ptr(g.count.address()).ptr(g.done.address())
                    .ptr(opt.lambda() != 0f ? a(counts) : 0).ptr(stepCounter.address())
                    .i(kind).f(opt.lr()).f(opt.lambda()).f(opt.beta1()).f(opt.beta2()).f(opt.eps())
                    .i(g.dim()).i(bound).i(g.capacity()));
        }
        g.pendingRows = 0;
    }

    // ---------------------------------------------------------------- pooling and features

    /** history_gather_kernel's struct (count, 4 first positions, 4 outputs, 4 inputs), filled anew for each launch. */
    private final ByteBuffer historyGatherList = ByteBuffer.allocate(24 + 8 * 8).order(ByteOrder.LITTLE_ENDIAN);

    /** history_gather_kernel: every column of the list in one launch (its struct: the count, 4 first positions, 4 outputs, 4 inputs). */
    @Override
    public void historyGather(List<Tensor> outs, List<Tensor> values, int[] from, Tensor offsets, Tensor rows, int nRows, int B, int T) {
        if (outs.size() != values.size() || from.length != outs.size() || outs.isEmpty() || outs.size() > 4) {
            throw new IllegalArgumentException("historyGather: " + outs.size() + " outputs for " + values.size() + " columns (1 to 4 pairs)");
        }
        if (B <= 0) return;
        begin();
        ByteBuffer list = historyGatherList.clear();   // reused: the launch copies the struct's bytes
        list.putInt(outs.size());
        for (int c = 0; c < 4; c++) list.putInt(c < from.length ? from[c] : 0);
        list.putInt(0);   // the pointers start 8-aligned, at byte 24
        for (int c = 0; c < 4; c++) list.putLong(c < outs.size() ? a(outs.get(c)) : 0L);
        for (int c = 0; c < 4; c++) list.putLong(c < values.size() ? a(values.get(c)) : 0L);
        list.flip();
        launch1d(Kernels.HISTORY_GATHER, (long) outs.size() * B * T, args().struct(list).ptr(status.address()).ptr(a(offsets)).ptr(a(rows))
                .i(nRows).i(B).i(T));
    }

    /** Free device memory in bytes, now (for the resident histories' check). */
    @Override
    public long deviceFreeBytes() {
        begin();
        return rt.memoryInfo()[0];
    }

    @Override
    public void sumPool(Tensor out, Tensor x, Tensor lengths, int B, int T, int C) {
        begin();
        launch1d(Kernels.SUM_POOL_FORWARD, (long) B * C, args().ptr(a(out)).ptr(a(x)).ptr(a(lengths)).i(B).i(T).i(C));
    }

    @Override
    public void sumPoolBackward(Tensor dx, Tensor dOut, Tensor lengths, int B, int T, int C) {
        begin();
        launch1d(Kernels.SUM_POOL_BACKWARD, (long) B * T * C, args().ptr(a(dx)).ptr(a(dOut)).ptr(a(lengths)).i(B).i(T).i(C));
    }

    @Override
    public void interestConcat(Tensor x, Tensor ea, Tensor s, Tensor v, int B, int E, int V, int xStride, int off) {
        concatForward(x, s, ea, null, null, v, B, 0, E, V, xStride, off);
    }

    /** One launch of interest_concat_forward_kernel, the sum pool inside it. */
    @Override
    public void pooledInterestConcat(Tensor x, Tensor s, Tensor ea, Tensor hist, Tensor lengths, Tensor v, int B, int T, int E, int V,
                                     int xStride, int off) {
        concatForward(x, s, ea, hist, lengths, v, B, T, E, V, xStride, off);
    }

    private void concatForward(Tensor x, Tensor s, Tensor ea, Tensor hist, Tensor lengths, Tensor v, int B, int T, int E, int V, int xStride, int off) {
        begin();
        int width = v == null ? 0 : V;
        launch1d(Kernels.INTEREST_CONCAT_FORWARD, (long) B * (E + width), args().ptr(a(x)).ptr(a(ea)).ptr(a(s)).ptr(a(v))
                .i(B).i(E).i(width).i(xStride).i(off).ptr(a(hist)).ptr(a(lengths)).i(T));
    }

    @Override
    public void interestConcatBackward(Tensor dEa, Tensor dS, Tensor dV, Tensor dx, Tensor ea, Tensor s, int B, int E, int V, int xStride, int off) {
        concatBackward(dEa, dS, null, dV, dx, ea, s, null, B, 0, E, V, xStride, off);
    }

    /** One launch of interest_concat_backward_kernel, the sum pool's backward inside it. */
    @Override
    public void pooledInterestConcatBackward(Tensor dEa, Tensor dS, Tensor dHist, Tensor dV, Tensor dx, Tensor ea, Tensor s, Tensor lengths,
                                             int B, int T, int E, int V, int xStride, int off) {
        concatBackward(dEa, dS, dHist, dV, dx, ea, s, lengths, B, T, E, V, xStride, off);
    }

    private void concatBackward(Tensor dEa, Tensor dS, Tensor dHist, Tensor dV, Tensor dx, Tensor ea, Tensor s, Tensor lengths,
                                int B, int T, int E, int V, int xStride, int off) {
        begin();
        int width = dV == null ? 0 : V;
        launch1d(Kernels.INTEREST_CONCAT_BACKWARD, (long) B * (E + width), args().ptr(a(dEa)).ptr(a(dS)).ptr(a(dV)).ptr(a(dx)).ptr(a(ea)).ptr(a(s))
                .i(B).i(E).i(V).i(xStride).i(off).ptr(a(dHist)).ptr(a(lengths)).i(T));
    }

    // ---------------------------------------------------------------- elementwise and sequence helpers

    @Override
    public void addInto(Tensor y, Tensor x, int n) {
        begin();
        launch1d(Kernels.ADD_INTO, n, args().ptr(a(y)).ptr(a(x)).i(n));
    }

    @Override
    public void scaleSequence(Tensor out, Tensor x, Tensor w, Tensor lengths, int B, int T, int C) {
        begin();
        launch1d(Kernels.SCALE_SEQUENCE_FORWARD, (long) B * T * C, args().ptr(a(out)).ptr(a(x)).ptr(a(w)).ptr(a(lengths)).i(B).i(T).i(C));
    }

    @Override
    public void scaleSequenceBackward(Tensor dX, Tensor dW, Tensor dOut, Tensor x, Tensor w, Tensor lengths, int B, int T, int C) {
        begin();
        launch1d(Kernels.SCALE_SEQUENCE_BACKWARD, (long) B * T, args().ptr(a(dX)).ptr(a(dW)).ptr(a(dOut)).ptr(a(x)).ptr(a(w)).ptr(a(lengths))
                .i(B).i(T).i(C));
    }

    @Override
    public void auxPairs(Tensor out, Tensor h, Tensor pos, Tensor neg, Tensor pairStart, Tensor lengths, int B, int T, int H, int E, int rows) {
        begin();
        if (B <= 0 && rows <= 0) return;
        // a block per sample (the padded rows' zeroing strides over the same grid)
        rt.launch(Kernels.AUX_PAIRS_FORWARD, Math.max(1, Math.min(B, maxBlocks)), 1, BLOCK, 1, 0, args().ptr(a(out)).ptr(a(h)).ptr(a(pos)).ptr(a(neg))
                .ptr(a(pairStart)).ptr(a(lengths)).i(B).i(T).i(H).i(E).i(rows));
    }

    @Override
    public void auxPairsBackward(Tensor dH, Tensor dPos, Tensor dNeg, Tensor dOut, Tensor pairStart, Tensor lengths, int B, int T, int H, int E) {
        begin();
        if (B <= 0) return;
        rt.launch(Kernels.AUX_PAIRS_BACKWARD, Math.min(B, maxBlocks), 1, BLOCK, 1, 0, args().ptr(a(dH)).ptr(a(dPos)).ptr(a(dNeg)).ptr(a(dOut)).ptr(a(pairStart))
                .ptr(a(lengths)).i(B).i(T).i(H).i(E));
    }

    // ---------------------------------------------------------------- dense layers

    @Override
    public void linear(Tensor y, Tensor x, Tensor W, Tensor b, int B, int in, int out) {
        begin();
        gemm.gemm(a(y), a(x), a(W), a(b), B, out, in, in, out, out, false, false, false);
    }

    /** With the built-in GEMM, one launch: the activation in gemm_kernel's epilogue. cuBLAS: the product, then the activation's kernel. */
    @Override
    public void linearAct(Tensor y, Tensor activated, Tensor x, Tensor W, Tensor b, Activation act, Tensor alpha, int B, int in, int out) {
        if (!(gemm instanceof BuiltinGemm builtin) || (act != Activation.SIGMOID && act != Activation.PRELU)) {
            Backend.super.linearAct(y, activated, x, W, b, act, alpha, B, in, out);
            return;
        }
        begin();
        builtin.linearAct(a(y), a(activated), act == Activation.PRELU ? a(alpha) : 0L, act == Activation.SIGMOID ? BuiltinGemm.ACT_SIGMOID : BuiltinGemm.ACT_PRELU,
                a(x), a(W), a(b), B, in, out, 0L);
    }

    @Override
    public void linearBackward(Tensor dx, Tensor dW, Tensor db, Tensor dy, Tensor x, Tensor W, int B, int in, int out) {
        begin();
        // both products in one launch where the built-in GEMM gives both to its small kernel
        if (dx != null && gemm instanceof BuiltinGemm builtin && builtin.linearBackward(a(dx), a(dW), a(db), a(dy), a(x), a(W), B, in, out)) return;
        if (dx != null) gemm.gemm(a(dx), a(dy), a(W), 0, B, in, out, out, out, in, false, true, false);   // dx = dy W^T
        if (gemm.weightGrad(a(dW), a(db), a(x), a(dy), B, in, out) || db == null) return;                // dW += x^T dy (db += with it)
        if (sliced(B, out)) biasGradRows(rowPartials.address(), db, dy, B, out);
        else launchColumns(Kernels.BIAS_GRAD, out, args().ptr(a(db)).ptr(a(dy)).i(B).i(out));
    }

    @Override
    public void batchNorm(Tensor y, Tensor mean, Tensor invStd, Tensor x, Tensor gamma, Tensor beta, Tensor runMean, Tensor runVar,
                          int B, int C, boolean training, float momentum, float eps) {
        batchNorm(y, mean, invStd, x, gamma, beta, runMean, runVar, B, C, training, momentum, eps, null);
    }

    /** The row count stays on the device: the kernel reads it, so one launch (one graph) serves every count. */
    @Override
    public void batchNorm(Tensor y, Tensor mean, Tensor invStd, Tensor x, Tensor gamma, Tensor beta, Tensor runMean, Tensor runVar,
                          int B, int C, boolean training, float momentum, float eps, Tensor rows) {
        begin();
        if (sliced(B, C)) {
            long partials = rowPartials.address();
            Slicing sl = Slicing.of(B, C);
            int chunk = sl.chunk(), S = sl.slices();
            if (training) {
                launchSliced(Kernels.SLICED_STATISTICS, sl, args().ptr(partials).ptr(a(x)).ptr(0L).ptr(a(rows)).i(B).i(1).i(C).i(chunk));
            }
            launchSliced(Kernels.BATCH_NORM_SLICED_FORWARD, sl, args().ptr(a(y)).ptr(a(mean)).ptr(a(invStd)).ptr(a(x))
                    .ptr(a(gamma)).ptr(a(beta)).ptr(a(runMean)).ptr(a(runVar)).ptr(partials).i(B).i(C).i(chunk).i(S).i(training ? 1 : 0)
                    .f(momentum).f(eps));
            return;
        }
        launchColumns(Kernels.BATCH_NORM_FORWARD, C, args().ptr(a(y)).ptr(a(mean)).ptr(a(invStd)).ptr(a(x)).ptr(a(gamma)).ptr(a(beta))
                .ptr(a(runMean)).ptr(a(runVar)).ptr(a(rows)).i(B).i(C).i(training ? 1 : 0).f(momentum).f(eps));
    }

    @Override
    public void batchNormBackward(Tensor dx, Tensor dGamma, Tensor dBeta, Tensor dy, Tensor mean, Tensor invStd, Tensor x, Tensor gamma, int B, int C) {
        batchNormBackward(dx, dGamma, dBeta, dy, mean, invStd, x, gamma, B, C, null);
    }

    @Override
    public void batchNormBackward(Tensor dx, Tensor dGamma, Tensor dBeta, Tensor dy, Tensor mean, Tensor invStd, Tensor x, Tensor gamma,
                                  int B, int C, Tensor rows) {
        begin();
        if (sliced(B, C)) {
            long partials = rowPartials.address();
            Slicing sl = Slicing.of(B, C);
            int chunk = sl.chunk(), S = sl.slices();
            launchSliced(Kernels.BATCH_NORM_SLICED_BACKWARD_SUMS, sl, args().ptr(partials).ptr(a(dy)).ptr(a(mean))
                    .ptr(a(invStd)).ptr(a(x)).ptr(a(rows)).i(B).i(C).i(chunk));
            launchSliced(Kernels.BATCH_NORM_SLICED_BACKWARD, sl, args().ptr(a(dx)).ptr(a(dGamma)).ptr(a(dBeta)).ptr(a(dy))
                    .ptr(a(mean)).ptr(a(invStd)).ptr(a(x)).ptr(a(gamma)).ptr(a(rows)).ptr(partials).i(B).i(C).i(chunk).i(S));
            return;
        }
        launchColumns(Kernels.BATCH_NORM_BACKWARD, C, args().ptr(a(dx)).ptr(a(dGamma)).ptr(a(dBeta)).ptr(a(dy)).ptr(a(mean)).ptr(a(invStd))
                .ptr(a(x)).ptr(a(gamma)).ptr(a(rows)).i(B).i(C));
    }

    @Override
    public void prelu(Tensor y, Tensor x, Tensor alpha, int B, int C) {
        begin();
        launch1d(Kernels.PRELU_FORWARD, (long) B * C, args().ptr(a(y)).ptr(a(x)).ptr(a(alpha)).i(B).i(C));
    }

    @Override
    public void preluBackward(Tensor dx, Tensor dAlpha, Tensor dy, Tensor x, Tensor alpha, int B, int C) {
        begin();
        if (sliced(B, C)) {
            preluSlicedBackward(rowPartials.address(), dx, dAlpha, dy, x, alpha, 0L, B, C);
            return;
        }
        launchColumns(Kernels.PRELU_BACKWARD, C, args().ptr(a(dx)).ptr(a(dAlpha)).ptr(a(dy)).ptr(a(x)).ptr(a(alpha)).i(B).i(C));
    }

    /**
     * PReLU's backward over R rows in slices: dx (=), each slice's share of dAlpha into {@code partials}, then
     * bias_grad_reduce_kernel adds the slices in order into dAlpha (+=). With {@code count} (an address, or 0) the
     * rows before the int there only (the layer-by-layer unit's packed rows).
     */
    private void preluSlicedBackward(long partials, Tensor dx, Tensor dAlpha, Tensor dy, Tensor x, Tensor alpha, long count, int R, int C) {
        Slicing sl = Slicing.of(R, C);
        launchSliced(Kernels.PRELU_SLICED_BACKWARD, sl, args().ptr(a(dx)).ptr(partials).ptr(a(dy)).ptr(a(x)).ptr(a(alpha)).ptr(count)
                .i(R).i(C).i(sl.chunk()));
        launch1d(Kernels.BIAS_GRAD_REDUCE, C, args().ptr(a(dAlpha)).ptr(partials).i(C).i(sl.slices()));
    }

    @Override
    public void dice(Tensor y, Tensor mean, Tensor invStd, Tensor x, Tensor alpha, Tensor runMean, Tensor runVar,
                     int B, int C, boolean training, float momentum, float eps) {
        begin();
        if (sliced(B, C)) {
            diceSliced(rowPartials.address(), y, mean, invStd, x, null, 0L, alpha, runMean, runVar, B, 1, C, training, momentum, eps);
            return;
        }
        launchColumns(Kernels.DICE_FORWARD, C, args().ptr(a(y)).ptr(a(mean)).ptr(a(invStd)).ptr(a(x)).ptr(a(alpha)).ptr(a(runMean))
                .ptr(a(runVar)).i(B).i(C).i(training ? 1 : 0).f(momentum).f(eps));
    }

    @Override
    public void diceBackward(Tensor dx, Tensor dAlpha, Tensor dy, Tensor mean, Tensor invStd, Tensor x, Tensor alpha, int B, int C) {
        if (dx == dy || dx == x) throw new IllegalArgumentException("dice backward: dx must not alias dy or x");
        begin();
        if (sliced(B, C)) {
            diceSlicedBackward(rowPartials.address(), dx, dAlpha, dy, mean, invStd, x, null, 0L, alpha, B, 1, C);
            return;
        }
        launchColumns(Kernels.DICE_BACKWARD, C, args().ptr(a(dx)).ptr(a(dAlpha)).ptr(a(dy)).ptr(a(mean)).ptr(a(invStd)).ptr(a(x))
                .ptr(a(alpha)).i(B).i(C));
    }

    /**
     * The logit layer's backward in the Dice backward's launch (dice_backward_head_kernel): the gradient at the Dice
     * layer's output made row by row where it is used, dLogits[r] head.weight[c], and head.dWeight, head.dBias from
     * the same walk; top.dOut is not written. Where the Dice backward runs sliced (many rows), the two ops.
     */
    @Override
    public void logitsDiceBackward(Tower.Layer head, Tower.Layer top, Tensor dLogits, int B) {
        int C = top.width();
        if (head.in() != C) throw new IllegalArgumentException("logit layer of input width " + head.in() + " above a Dice layer of width " + C);
        if (sliced(B, C)) {
            Backend.super.logitsDiceBackward(head, top, dLogits, B);
            return;
        }
        if (top.dPre() == top.pre()) throw new IllegalArgumentException("dice backward: dx must not alias x");
        begin();
        launchColumns(Kernels.DICE_BACKWARD_HEAD, C, args().ptr(a(top.dPre())).ptr(a(top.dAlpha())).ptr(a(head.dWeight())).ptr(a(head.dBias()))
                .ptr(a(dLogits)).ptr(a(head.weight())).ptr(a(top.out())).ptr(a(top.mean())).ptr(a(top.invStd())).ptr(a(top.pre()))
                .ptr(a(top.alpha())).i(B).i(C));
    }

    /** The logits in the loss's launch (bce_head_kernel), each row's by a thread of bce_with_logits_kernel's grid. */
    @Override
    public void logitsAndLoss(Tower.Layer head, Tensor h, int B, Tower.Loss loss, Tensor rows) {
        begin();
        rt.launch(Kernels.BCE_HEAD, bceBlocks(B), 1, BLOCK, 1, 0, args().ptr(a(loss.loss())).ptr(a(loss.dLogits())).ptr(a(head.pre()))
                .ptr(a(h)).ptr(a(head.weight())).ptr(a(head.bias())).ptr(a(loss.labels())).ptr(a(rows)).ptr(rowPartials.address())
                .ptr(bceDone.address()).i(B).i(head.in()).f(loss.scale()));
    }

    // ---------------------------------------------------------------- the top tower (tower.cu)

    /** Threads of a tower block. */
    static final int TOWER_THREADS = 256;
    /**
     * The most rows a fused tower block takes: each block walks every one of its rows for its
     * channels, so past a thousand rows the sliced layer-by-layer kernels spread the work better
     * (and a layer's input stops fitting a block's shared memory well before, at 227 KB: 261 rows
     * of 200).
     */
    static final int TOWER_MAX_ROWS = 1024;
    /** The rows of the batch B that a tower block takes in clusters of S: ceil(B / S). */
    static int towerRows(int B, int S) {
        return (B + S - 1) / S;
    }

    /**
     * tower_forward_kernel's dynamic shared memory, in clusters of S, P = ceil(B / S) rows a block: 2
     * threads' doubles, (S > 1) 2 max(K, cols) doubles of exchange where the layer starts with the BatchNorm
     * ({@code norm}, the first) and 2 cols where it does not, the flag's double, then floats: with the
     * BatchNorm, its mean, 1/std, gamma and beta (4 K);
     * h (P, K | 1), up to 3 floats to a 16-byte boundary, W's columns (K, cols), pre's (P, cols).
     */
    static long towerForwardShared(int B, int K, int cols, int S, boolean norm) {
        long P = towerRows(B, S);
        return 8L * (2 * TOWER_THREADS + (S > 1 ? 2L * (norm ? Math.max(K, cols) : cols) : 0) + 1)
                + 4L * ((norm ? 4L * K : 0) + P * (K | 1) + 3 + (long) K * cols + P * cols);
    }

    /** {@link #towerBackwardShared(int, int, int, int, boolean, int)} with d_up staged whole. */
    static long towerBackwardShared(int B, int U, int cols, int S, boolean upperBias) {
        return towerBackwardShared(B, U, cols, S, upperBias, 0);
    }

    /**
     * tower_backward_kernel's, in clusters of S, staging d_up {@code chunk} columns at a time (0: all U;
     * W = min(chunk, U)): 3 threads' doubles, (S > 1) 2 (3 cols) doubles of exchange, the block's shares
     * of the upper layer's gradients (U doubles of its bias's where {@code upperBias}, and (cols, U) floats
     * of its weight's), then floats d_up (P, W | 1), up to 3 floats to a 16-byte boundary, W_up's rows
     * transposed (U, cols), out, pre and d_out (P, cols) each.
     */
    static long towerBackwardShared(int B, int U, int cols, int S, boolean upperBias, int chunk) {
        long P = towerRows(B, S);
        int w = chunkWidth(chunk, U);
        return 8L * (3 * TOWER_THREADS + (S > 1 ? 6L * cols + (upperBias ? U : 0) : 0))
                + 4L * ((S > 1 ? (long) cols * U : 0) + P * (w | 1) + 3 + (long) U * cols + 3L * P * cols);
    }

    /** The columns of d_up a tower backward block stages at a time: {@code chunk} (0: all) of U. */
    static int chunkWidth(int chunk, int U) {
        return chunk <= 0 ? U : Math.min(chunk, U);
    }

    /**
     * Whether every launch of the fused tower fits a block's shared memory ({@code limit} bytes) at
     * batch B in clusters of S, with B at least 1, at most {@link #TOWER_MAX_ROWS} rows a block and
     * at least one hidden layer: each hidden layer's forward (the block's rows of its input whole)
     * and backward (of the gradient from the layer above), and the BatchNorm's backward.
     */
    static boolean towerFits(Tower t, int B, int cols, int S, long limit) {
        List<Tower.Layer> hidden = t.hidden();
        if (B < 1 || towerRows(B, S) > TOWER_MAX_ROWS || hidden.isEmpty()) return false;
        for (int i = 0; i < hidden.size(); i++) {
            boolean top = i + 1 == hidden.size();
            int up = top ? 1 : hidden.get(i + 1).width();
            if (towerForwardShared(B, hidden.get(i).in(), cols, S, i == 0) > limit || towerBackwardShared(B, up, cols, S, top) > limit) return false;
        }
        return towerBackwardShared(B, hidden.get(0).width(), cols, S, false) <= limit;
    }

    /**
     * The blocks per cluster the fused tower takes at batch B (the tuning's towerCluster: the setting,
     * or the smallest of the portable sizes, up to 8, that fits), or 0 where it takes the layer-by-layer ops: off, TF32 (its
     * products are fp32 FMAs; TF32 takes the layer-by-layer GEMMs; TF32X3 keeps the fp32 tower), nothing fitting, or clusters
     * wanted below compute capability 9.0.
     */
    static int towerClusterFor(Tower t, int B, int cols, int setting, boolean clusters, long limit) {
        for (int s : Kernels.TOWER_CLUSTERS) {
            if (setting != 0 ? s != setting : s > Kernels.PORTABLE_CLUSTER) continue;   // auto: the portable sizes only
            if (s > 1 && !clusters) continue;
            if (towerFits(t, B, cols, s, limit)) return s;
        }
        return 0;
    }

    /** The fewest channels a block owns where each launch chooses its own (towerCols auto), and the most. */
    static final int TOWER_AUTO_MIN_COLS = 4, TOWER_MAX_COLS = 32;

    /**
     * The channels a block owns in each launch of the fused tower at one batch size and cluster size.
     *
     * @param forward  per hidden layer, bottom up
     * @param backward per hidden layer, bottom up (they launch top down)
     * @param norm     the BatchNorm's backward
     */
    record TowerCols(int[] forward, int[] backward, int norm, int[] backwardChunk, int normChunk) {
        /** d_up staged whole in every backward. */
        TowerCols(int[] forward, int[] backward, int norm) {
            this(forward, backward, norm, new int[backward.length], 0);
        }

        static TowerCols uniform(int layers, int cols) {
            int[] f = new int[layers];
            java.util.Arrays.fill(f, cols);
            return new TowerCols(f, f.clone(), cols);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof TowerCols c && java.util.Arrays.equals(forward, c.forward) && java.util.Arrays.equals(backward, c.backward) && norm == c.norm
                    && java.util.Arrays.equals(backwardChunk, c.backwardChunk) && normChunk == c.normChunk;
        }

        @Override
        public int hashCode() {
            int h = 31 * (31 * java.util.Arrays.hashCode(forward) + java.util.Arrays.hashCode(backward)) + norm;
            return 31 * (31 * h + java.util.Arrays.hashCode(backwardChunk)) + normChunk;
        }

        @Override
        public String toString() {
            boolean same = java.util.Arrays.stream(forward).allMatch(c -> c == norm) && java.util.Arrays.stream(backward).allMatch(c -> c == norm);
            String cols = same ? norm + " channels a block"
                    : "channels a block " + join(forward) + " forward and " + join(backward) + " backward (bottom up), " + norm + " for the BatchNorm";
            if (normChunk == 0 && java.util.Arrays.stream(backwardChunk).allMatch(w -> w == 0)) return cols;
            return cols + "; the backwards stage d_up " + java.util.Arrays.stream(backwardChunk).mapToObj(w -> w == 0 ? "whole" : w + " columns")
                    .collect(java.util.stream.Collectors.joining(", ")) + " at a time (bottom up), the BatchNorm's "
                    + (normChunk == 0 ? "whole" : normChunk + " columns at a time");
        }

        private static String join(int[] v) {
            return java.util.Arrays.stream(v).mapToObj(Integer::toString).collect(java.util.stream.Collectors.joining(", "));
        }
    }

    /** One backward launch's plan: channels a block, and the columns of d_up a block stages at a time (0: all). */
    record TowerStep(int cols, int chunk) {}

    /** What the device holds at once of a tower launch: {@link #towerColsFor}'s view of the occupancy calculator. */
    interface TowerOccupancy {
        /** Blocks of the kernel with {@code shared} bytes of dynamic shared memory that one multiprocessor holds at once; 0: not said. */
        int blocksPerSm(String kernel, long shared);

        /** Groups of S blocks (clusters where S > 1) of a launch of {@code groups} of them that the device holds at once; 0: not said. */
        int groupsAtOnce(String kernel, int groups, int S, long shared);
    }

    /**
     * The channels a block owns in one fused tower launch over {@code channels} channels, where each launch chooses its own
     * (towerCols auto), {@code shared} giving the launch's dynamic shared memory at c channels a block. Of 4, 8, 16 and 32, those
     * within {@code limit} whose blocks a multiprocessor holds as many of at once as at 4, the one whose launch takes the
     * fewest rounds: ceil(groups / groups at once), a group being the S blocks of c channels. The fewest channels where the
     * rounds are equal; 4 where the device does not say.
     *
     * <p>Why: every block of a launch stages its rows of the layer's input whole (256 rows of 162 or 200 floats, 166 KB or
     * 206 KB, in the Amazon tower at batch 2048) and, in the first layer, computes the BatchNorm over them; only the products
     * grow with c. At 4 channels the first layer's forward there takes 50 clusters of 8, which an H200 holds 16 of at once:
     * four rounds, the last of 2 clusters, each staging the input again. At 16 channels it takes 13 clusters, one round. A
     * choice that would hold fewer blocks a multiprocessor (the backward of the 200-wide layer at 8) is left out: what that
     * costs in hidden latency is a measurement, not a count.
     */
    static int towerColsFor(String kernel, int channels, int S, java.util.function.IntToLongFunction shared, long limit, TowerOccupancy occ) {
        return towerSearch(kernel, channels, S, 1, List.of(0), (c, w) -> shared.applyAsLong(c), limit, occ).cols();
    }

    /**
     * The search of {@link #towerColsFor} and {@link #towerBackwardFor}: of 4 to 32 channels and the candidate chunks of d_up
     * ({@code chunks}, 0 first: d_up whole, U columns), those within {@code limit} that hold as many blocks a multiprocessor
     * as 4 channels with d_up whole, the fewest rounds, then the fewest chunks, then the fewest channels; 4 channels and
     * d_up whole where the device does not say. {@code shared} gives the dynamic shared memory at (channels, chunk).
     */
    private static TowerStep towerSearch(String kernel, int channels, int S, int U, List<Integer> chunks,
                                         java.util.function.ToLongBiFunction<Integer, Integer> shared, long limit, TowerOccupancy occ) {
        int c0 = TOWER_AUTO_MIN_COLS;
        long sh0 = shared.applyAsLong(c0, 0);
        int base = occ.blocksPerSm(kernel, sh0);
        int at = occ.groupsAtOnce(kernel, ceilDiv(channels, c0), S, sh0);
        TowerStep best = new TowerStep(c0, 0);
        if (base <= 0 || at <= 0) return best;
        long rounds = ceilDiv(ceilDiv(channels, c0), at);
        int parts = 1;
        for (int c = c0; c <= TOWER_MAX_COLS && (rounds > 1 || parts > 1); c *= 2) {
            for (int chunk : chunks) {
                if (c == c0 && chunk == 0) continue;
                long sh = shared.applyAsLong(c, chunk);
                if (sh > limit || occ.blocksPerSm(kernel, sh) < base) continue;
                int n = occ.groupsAtOnce(kernel, ceilDiv(channels, c), S, sh);
                if (n <= 0) continue;
                long r = ceilDiv(ceilDiv(channels, c), n);
                int k = ceilDiv(U, chunkWidth(chunk, U));
                if (r < rounds || r == rounds && k < parts) {
                    best = new TowerStep(c, chunk);
                    rounds = r;
                    parts = k;
                }
            }
        }
        return best;
    }

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }

    /** The columns of d_up a backward over U may stage at a time, whole first: U, then ceil(U / n) up to a multiple of 16, down to 16. */
    static List<Integer> towerChunkWidths(int U) {
        List<Integer> out = new ArrayList<>(List.of(U));
        for (int n = 2; out.get(out.size() - 1) > 16; n++) {
            int w = Math.min(U, ceilDiv(ceilDiv(U, n), 16) * 16);
            if (w < out.get(out.size() - 1)) out.add(w);
        }
        return out;
    }

    /**
     * A fused tower backward's channels a block and chunk of d_up (towerCols and towerChunk both auto), {@code shared}
     * giving its dynamic shared memory at c channels a block and w columns of d_up at a time. Of 4, 8, 16 and 32 channels
     * and of {@link #towerChunkWidths}, those within {@code limit} whose blocks a multiprocessor holds as many of at once as
     * at 4 channels with d_up whole, the one whose launch takes the fewest rounds ({@link #towerColsFor}), then the fewest
     * chunks, then the fewest channels; 4 channels and d_up whole where the device does not say.
     *
     * <p>Why: a block stages its rows of d_up (B / S rows of the upper layer's width) besides its own channels' columns.
     * In the Amazon tower at batch 2048 the BatchNorm's backward stages 256 rows of 200, 206 KB of its 231 KB: at 4
     * channels it is 41 clusters of 8 that each take a whole multiprocessor, three rounds of 16, and more channels do not
     * fit. In chunks of 112 columns it takes 16 channels (11 clusters, one round). The 200-wide layer's backward (256 rows
     * of 80 staged) holds 2 blocks a multiprocessor at 4 channels, 50 clusters in two rounds; at 8 channels and 48 columns
     * at a time it holds 2 still, 25 clusters in one. Each chunk costs a barrier and a round trip for its loads, which is
     * why the fewest chunks win among plans of equal rounds.
     */
    static TowerStep towerBackwardFor(String kernel, int channels, int U, int S, java.util.function.ToLongBiFunction<Integer, Integer> shared,
                                      long limit, TowerOccupancy occ) {
        List<Integer> chunks = towerChunkWidths(U).stream().map(w -> w == U ? 0 : w).toList();
        return towerSearch(kernel, channels, S, U, chunks, (c, chunk) -> shared.applyAsLong(c, chunkWidth(chunk, U)), limit, occ);
    }

    /** {@link #towerColsPlan(Tower, int, int, int, int, long, TowerOccupancy)} with towerChunk auto. */
    static TowerCols towerColsPlan(Tower t, int B, int S, int setting, long limit, TowerOccupancy occ) {
        return towerColsPlan(t, B, S, setting, 0, limit, occ);
    }

    /**
     * The channels a block owns in each launch of the fused tower at batch B in clusters of S, and the columns of d_up
     * each backward stages at a time: {@code setting} (towerCols) in every launch, or with auto each forward's
     * {@link #towerColsFor}; {@code chunkSetting} (towerChunk) in every backward, or with auto each backward's
     * {@link #towerBackwardFor} where the channels are auto too, else d_up whole.
     */
    static TowerCols towerColsPlan(Tower t, int B, int S, int setting, int chunkSetting, long limit, TowerOccupancy occ) {
        List<Tower.Layer> hidden = t.hidden();
        int layers = hidden.size();
        int[] f = new int[layers], b = new int[layers], bw = new int[layers];
        for (int i = 0; i < layers; i++) {
            Tower.Layer l = hidden.get(i);
            boolean top = i + 1 == layers;
            int up = top ? 1 : hidden.get(i + 1).width();
            boolean norm = i == 0;
            f[i] = setting != 0 ? setting : towerColsFor(Kernels.towerForward(S), l.width(), S, c -> towerForwardShared(B, l.in(), c, S, norm), limit, occ);
            TowerStep st = towerBackwardStep(l.width(), up, top, B, S, setting, chunkSetting, limit, occ);
            b[i] = st.cols();
            bw[i] = st.chunk();
        }
        TowerStep norm = towerBackwardStep(t.norm().channels(), hidden.get(0).width(), false, B, S, setting, chunkSetting, limit, occ);
        return new TowerCols(f, b, norm.cols(), bw, norm.chunk());
    }

    /** One backward's plan in {@link #towerColsPlan}: over {@code channels}, the upper layer U wide. */
    private static TowerStep towerBackwardStep(int channels, int U, boolean upperBias, int B, int S, int setting, int chunkSetting, long limit,
                                               TowerOccupancy occ) {
        String k = Kernels.towerBackward(S);
        int chunk = chunkSetting <= 0 || chunkSetting >= U ? 0 : chunkSetting;
        if (setting != 0) return new TowerStep(setting, chunk);
        if (chunkSetting != 0) return new TowerStep(towerColsFor(k, channels, S, c -> towerBackwardShared(B, U, c, S, upperBias, chunk), limit, occ), chunk);
        return towerBackwardFor(k, channels, U, S, (c, w) -> towerBackwardShared(B, U, c, S, upperBias, w), limit, occ);
    }

    /** The tower's launches' channels a block, per tower shape, batch size and cluster size ({@link #towerColsPlan} on this device). */
    private final java.util.Map<List<Integer>, TowerCols> towerColsPlans = new java.util.HashMap<>();

    /** {@link #towerColsPlan} on this device: the occupancy calculator's blocks, and its clusters where S > 1. */
    TowerCols towerCols(Tower t, int B, int S) {
        long limit = Math.max(DEFAULT_SHARED, rt.maxSharedPerBlockOptin);
        if (tuning.towerCols() != 0) return towerColsPlan(t, B, S, tuning.towerCols(), tuning.towerChunk(), limit, deviceOccupancy);
        List<Integer> key = new ArrayList<>(List.of(t.norm().channels(), B, S, tuning.towerChunk()));
        for (Tower.Layer l : t.hidden()) key.add(l.width());
        return towerColsPlans.computeIfAbsent(key, k -> towerColsPlan(t, B, S, 0, tuning.towerChunk(), limit, deviceOccupancy));
    }

    private final TowerOccupancy deviceOccupancy = new TowerOccupancy() {
        @Override
        public int blocksPerSm(String kernel, long shared) {
            towerKernelReady(kernel, shared);
            return rt.maxActiveBlocks(kernel, TOWER_THREADS, shared);
        }

        @Override
        public int groupsAtOnce(String kernel, int groups, int S, long shared) {
            int perSm = blocksPerSm(kernel, shared);
            if (S == 1) return perSm * rt.multiprocessors;
            int n = rt.maxActiveClusters(kernel, groups * S, TOWER_THREADS, shared);
            return n >= 0 ? n : perSm * rt.multiprocessors / S;   // the driver does not say: as if a cluster could straddle GPCs
        }
    };

    /** The channels a block owns for the fit check: the tuning's, or with auto the fewest a launch may choose. */
    private int towerFitCols() {
        return tuning.towerCols() == 0 ? TOWER_AUTO_MIN_COLS : tuning.towerCols();
    }

    /**
     * {@link #towerClusterFor} on this device, logged once per tower and batch size. Clusters are
     * first tried out (towerClustersRun): where the device cannot place them, the tower takes the
     * layer-by-layer ops.
     */
    int fusedTower(Tower t, int B) {
        boolean clusters = rt.ccMajor >= 9;
        boolean fp32Tower = precision != Precision.TF32;   // under TF32 the tower always takes the layer-by-layer ops
        if (fp32Tower) {
            settingsRead.add(KernelTuning.TOWER_FUSED);
            if (tuning.towerFused()) {
                settingsRead.add(KernelTuning.TOWER_COLS);
                settingsRead.add(KernelTuning.TOWER_CHUNK);
            }
            if (tuning.towerFused() && clusters) settingsRead.add(KernelTuning.TOWER_CLUSTER);
        }
        int s = !tuning.towerFused() || !fp32Tower ? 0
                : towerClusterFor(t, B, towerFitCols(), tuning.towerCluster(), clusters, Math.max(DEFAULT_SHARED, rt.maxSharedPerBlockOptin));
        if (s > 1 && !towerClustersRun(t, B, s)) s = 0;
        if (towerLogged.add(List.of(t.norm().channels(), t.hidden().size(), B))) {
            String why = !tuning.towerFused() ? "-D" + KernelTuning.TOWER_FUSED + "=off" : !fp32Tower ? "TF32"
                    : tuning.towerCluster() > 1 && !clusters ? "clusters of blocks need compute capability 9.0, this is " + rt.computeCapability()
                    : "a block's rows of a layer's input do not fit its shared memory"
                    + (tuning.towerCluster() == 0 ? " in clusters of up to 8 blocks" : " in clusters of " + tuning.towerCluster()) + (clusters ? "" : " (no clusters below 9.0)");
            LOG.info("top tower ({} inputs, {} hidden layers) at batch {}: {}", t.norm().channels(), t.hidden().size(), B, s > 0
                    ? "fused, a launch per hidden layer each way (" + towerCols(t, B, s)
                    + (s > 1 ? ", clusters of " + s + " blocks of " + towerRows(B, s) + " rows" : "") + ")"
                    : "layer by layer (" + why + ")");
        }
        return s;
    }

    /** The towers and batch sizes whose path has been logged. */
    private final java.util.Set<List<Integer>> towerLogged = new java.util.HashSet<>();
    /** Whether the device ran the tower's cluster launches, per tower shape, batch size, cluster size and channels a block. */
    private final java.util.Map<List<Integer>, Boolean> towerClustersProbed = new java.util.HashMap<>();

    /**
     * Whether the device runs every launch of the tower at batch B in clusters of S (grid, block and
     * shared memory as the step launches them): each kernel is launched once with B = 0 (it returns
     * at once) and waited for, the first time a tower and batch size ask. Inside a graph step, where
     * nothing synchronous may run, the launches are assumed to run (the first step of a batch size
     * runs eagerly, so that is where the probe happens).
     */
    private boolean towerClustersRun(Tower t, int B, int S) {
        TowerCols cols = towerCols(t, B, S);
        // the launches' grids and shared memory follow the channels a block, which the tuning changes: they are part of the key
        List<Integer> key = new ArrayList<>(List.of(t.norm().channels(), B, S, cols.norm()));
        for (Tower.Layer l : t.hidden()) key.add(l.width());
        for (int c : cols.forward()) key.add(c);
        for (int c : cols.backward()) key.add(c);
        for (int w : cols.backwardChunk()) key.add(w);
        key.add(cols.normChunk());
        Boolean known = towerClustersProbed.get(key);
        if (known != null) return known;
        if (rt.inGraphStep()) return true;
        List<Tower.Layer> hidden = t.hidden();
        boolean ok = true;
        for (int i = 0; i < hidden.size() && ok; i++) {
            Tower.Layer l = hidden.get(i);
            boolean top = i + 1 == hidden.size();
            int up = top ? 1 : hidden.get(i + 1).width();
            int cf = cols.forward()[i], cb = cols.backward()[i];
            ok = towerProbe(Kernels.towerForward(S), l.width(), S, cf, towerForwardShared(B, l.in(), cf, S, i == 0), 17, 6, 4, 8, true)
                    && towerProbe(Kernels.towerBackward(S), l.width(), S, cb, towerBackwardShared(B, up, cb, S, top, cols.backwardChunk()[i]), 12, 6, 0, 0,
                    false);
        }
        if (ok) ok = towerProbe(Kernels.towerBackward(S), t.norm().channels(), S, cols.norm(),
                towerBackwardShared(B, hidden.get(0).width(), cols.norm(), S, false, cols.normChunk()), 12, 6, 0, 0, false);
        towerClustersProbed.put(key, ok);
        return ok;
    }

    /**
     * One probe launch: a tower kernel's parameters as null pointers, zeros (B = 0 among them) and
     * zero floats, in its parameter order: pointers, ints, floats, pointers and a last float (the
     * forward's 36), or pointers and ints (the backward's 18). Logs a refusal.
     */
    private boolean towerProbe(String kernel, int channels, int S, int cols, long shared, int ptrs, int ints, int floats, int ptrs2, boolean lastFloat) {
        CudaRuntime.Args a = args();
        for (int i = 0; i < ptrs; i++) a.ptr(0L);
        for (int i = 0; i < ints; i++) a.i(0);
        for (int i = 0; i < floats; i++) a.f(0f);
        for (int i = 0; i < ptrs2; i++) a.ptr(0L);
        if (lastFloat) a.f(0f);
        towerKernelReady(kernel, shared);
        int grid = ceilDiv(channels, cols) * S;
        int r = rt.tryLaunch(kernel, grid, TOWER_THREADS, (int) shared, a);
        if (r != jcuda.driver.CUresult.CUDA_SUCCESS)
            LOG.warn("{} <<<{}, {}, {} bytes>>> in clusters of {}: {} ({}); the tower takes the layer-by-layer ops at this batch size", kernel,
                    grid, TOWER_THREADS, shared, S, jcuda.driver.CUresult.stringFor(r), r);
        return r == jcuda.driver.CUresult.CUDA_SUCCESS;
    }

    /**
     * A tower kernel made ready for {@code shared} bytes of dynamic shared memory (its limit raised past the default 48 KiB)
     * and, in clusters above the portable size (16), opted in to them: before its occupancy queries, probes and launches.
     */
    private void towerKernelReady(String kernel, long shared) {
        if (shared > DEFAULT_SHARED) rt.setMaxDynamicShared(kernel, (int) shared);
        if (Kernels.towerCluster(kernel) > Kernels.PORTABLE_CLUSTER) rt.allowNonPortableClusters(kernel);
    }

    private static int towerMode(Activation act) {
        return switch (act) {
            case SIGMOID -> 0;
            case PRELU -> 1;
            case DICE -> 2;
        };
    }

    private static final int TOWER_BATCH_NORM = 3;

    /** A tower kernel over the groups of {@code cols} channels, in clusters of S blocks (S blocks a group). */
    private void towerLaunch(String kernel, int channels, int S, int cols, long shared, CudaRuntime.Args args) {
        towerKernelReady(kernel, shared);
        rt.launch(kernel, ceilDiv(channels, cols) * S, 1, TOWER_THREADS, 1, (int) shared, args);
    }

    /** Fused where {@link #fusedTower} says so: a launch per hidden layer (the first with the BatchNorm, the top one with the logits and the loss). */
    @Override
    public Tensor towerForward(Tower t, Tensor x, int B, boolean training, Tensor rows, Tower.Loss loss) {
        int S = rows != null ? 0 : fusedTower(t, B);
        if (S == 0) return Backend.super.towerForward(t, x, B, training, rows, loss);
        begin();
        Tower.Norm n = t.norm();
        Tower.Layer head = t.head();
        Tensor h = x;
        int layers = t.hidden().size();
        TowerCols plan = towerCols(t, B, S);
        for (int i = 0; i < layers; i++) {
            Tower.Layer l = t.hidden().get(i);
            boolean first = i == 0;
            int cols = plan.forward()[i];
            // the top layer's blocks also make the logits, through one slice of rowPartials each
            boolean logits = i == layers - 1 && 4L * B * ceilDiv(l.width(), cols) <= ROW_PARTIALS_BYTES;
            towerLaunch(Kernels.towerForward(S), l.width(), S, cols, towerForwardShared(B, l.in(), cols, S, first), args()
                    .ptr(a(l.pre())).ptr(a(l.out())).ptr(a(l.mean())).ptr(a(l.invStd())).ptr(a(l.runMean())).ptr(a(l.runVar()))
                    .ptr(first ? a(n.y()) : 0L).ptr(first ? a(n.mean()) : 0L).ptr(first ? a(n.invStd()) : 0L)
                    .ptr(first ? a(n.runMean()) : 0L).ptr(first ? a(n.runVar()) : 0L)
                    .ptr(a(h)).ptr(a(l.weight())).ptr(a(l.bias())).ptr(a(l.alpha())).ptr(first ? a(n.gamma()) : 0L).ptr(first ? a(n.beta()) : 0L)
                    .i(B).i(l.in()).i(l.width()).i(cols).i(towerMode(l.act())).i(training ? 1 : 0)
                    .f(l.momentum()).f(l.eps()).f(n.momentum()).f(n.eps())
                    .ptr(logits ? a(head.pre()) : 0L).ptr(logits ? a(head.weight()) : 0L).ptr(logits ? a(head.bias()) : 0L)
                    .ptr(logits ? rowPartials.address() : 0L).ptr(logits ? towerDone.address() : 0L)
                    .ptr(logits && loss != null ? a(loss.labels()) : 0L).ptr(logits && loss != null ? a(loss.loss()) : 0L)
                    .ptr(logits && loss != null ? a(loss.dLogits()) : 0L).f(loss != null ? loss.scale() : 0f));
            if (!logits && i == layers - 1) {
                linear(head.pre(), l.out(), head.weight(), head.bias(), B, head.in(), 1);
                if (loss != null) bceWithLogits(loss.loss(), loss.dLogits(), head.pre(), loss.labels(), B, loss.scale());
            }
            h = l.out();
        }
        return head.pre();
    }

    /**
     * Fused where {@link #fusedTower} says so: a launch per hidden layer top down (each also adds the
     * rows of the layer above's weight gradient that its channels own), then the BatchNorm's. The
     * dOut buffers and norm.dy are not written (nothing reads them).
     */
    @Override
    public void towerBackward(Tower t, Tensor dx, Tensor dLogits, Tensor x, int B, Tensor rows) {
        int S = rows != null ? 0 : fusedTower(t, B);
        if (S == 0) {
            Backend.super.towerBackward(t, dx, dLogits, x, B, rows);
            return;
        }
        begin();
        List<Tower.Layer> hidden = t.hidden();
        TowerCols plan = towerCols(t, B, S);
        for (int i = hidden.size() - 1; i >= 0; i--) {
            Tower.Layer l = hidden.get(i);
            boolean top = i == hidden.size() - 1;
            Tower.Layer up = top ? t.head() : hidden.get(i + 1);
            int cols = plan.backward()[i], chunk = plan.backwardChunk()[i];
            towerLaunch(Kernels.towerBackward(S), l.width(), S, cols, towerBackwardShared(B, up.width(), cols, S, top, chunk), args()
                    .ptr(a(l.dPre())).ptr(a(l.dAlpha())).ptr(a(l.dBias())).ptr(a(up.dWeight())).ptr(top ? a(up.dBias()) : 0L)
                    .ptr(a(top ? dLogits : up.dPre())).ptr(a(up.weight())).ptr(a(l.out())).ptr(a(l.pre())).ptr(a(l.mean())).ptr(a(l.invStd()))
                    .ptr(a(l.alpha())).i(B).i(l.width()).i(up.width()).i(cols).i(towerMode(l.act())).i(chunkWidth(chunk, up.width())));
        }
        Tower.Norm n = t.norm();
        Tower.Layer first = hidden.get(0);
        int chunk = plan.normChunk();
        towerLaunch(Kernels.towerBackward(S), n.channels(), S, plan.norm(), towerBackwardShared(B, first.width(), plan.norm(), S, false, chunk), args()
                .ptr(a(dx)).ptr(a(n.dGamma())).ptr(a(n.dBeta())).ptr(a(first.dWeight())).ptr(0L)
                .ptr(a(first.dPre())).ptr(a(first.weight())).ptr(a(n.y())).ptr(a(x)).ptr(a(n.mean())).ptr(a(n.invStd()))
                .ptr(a(n.gamma())).i(B).i(n.channels()).i(first.width()).i(plan.norm()).i(TOWER_BATCH_NORM).i(chunkWidth(chunk, first.width())));
    }

    @Override
    public void sigmoid(Tensor y, Tensor x, int n) {
        begin();
        launch1d(Kernels.SIGMOID_FORWARD, n, args().ptr(a(y)).ptr(a(x)).i(n));
    }

    @Override
    public void sigmoidBackward(Tensor dx, Tensor dy, Tensor y, int n) {
        begin();
        launch1d(Kernels.SIGMOID_BACKWARD, n, args().ptr(a(dx)).ptr(a(dy)).ptr(a(y)).i(n));
    }

    // ---------------------------------------------------------------- attention

    private AttentionArgs attentionArgs(AttentionWorkspace ws, AttentionParams p, AttentionSpec spec, Tensor query, Tensor keys,
                                        Tensor lengths, int B, int T, int rows) {
        checkPlanned(ws.spec, ws.maxB, ws.T, spec, B, T);
        AttentionArgs g = new AttentionArgs();
        g.set(AttentionArgs.Ptr.TILES, ws.tiles.address())
                .set(AttentionArgs.Ptr.MA, ws.ma.address()).set(AttentionArgs.Ptr.M3T, ws.m3t.address()).set(AttentionArgs.Ptr.W2T, ws.w2t.address())
                .set(AttentionArgs.Ptr.PARTIALS, ws.partials.address())
                .set(AttentionArgs.Ptr.QUERY, a(query)).set(AttentionArgs.Ptr.KEYS, a(keys)).set(AttentionArgs.Ptr.LENGTHS, a(lengths))
                .set(AttentionArgs.Ptr.W1, a(p.w1())).set(AttentionArgs.Ptr.B1, a(p.b1())).set(AttentionArgs.Ptr.ALPHA1, a(p.alpha1()))
                .set(AttentionArgs.Ptr.W2, a(p.w2())).set(AttentionArgs.Ptr.B2, a(p.b2())).set(AttentionArgs.Ptr.ALPHA2, a(p.alpha2()))
                .set(AttentionArgs.Ptr.W3, a(p.w3())).set(AttentionArgs.Ptr.B3, a(p.b3()));
        g.set(AttentionArgs.Int.B, B).set(AttentionArgs.Int.T, T).set(AttentionArgs.Int.W, spec.width()).set(AttentionArgs.Int.H1, spec.h1())
                .set(AttentionArgs.Int.H2, spec.h2()).set(AttentionArgs.Int.ROWS, rows)
                .set(AttentionArgs.Int.ACT, spec.activation() == Activation.PRELU ? 1 : 0).set(AttentionArgs.Int.BLOCKS, 1)
                .set(AttentionArgs.Int.D_OUT_STRIDE, spec.width());
        return g;
    }

    @Override
    public void activationUnit(Tensor out, Tensor weights, Workspace ws, Tensor query, Tensor keys, Tensor lengths,
                               AttentionParams p, AttentionSpec spec, int B, int T, boolean training) {
        if (ws instanceof UnfusedAttentionWorkspace u) {
            unfusedActivationUnit(out, weights, u, query, keys, lengths, p, spec, B, T, training);
            return;
        }
        fusedActivationUnit(out, weights, (AttentionWorkspace) ws, query, keys, lengths, p, spec, B, T, training, null, null, 0, 0);
    }

    /**
     * The fused unit's forward with the interest block written by its pooling launch (three
     * launches where the default's two ops took four); the Dice unit (layer by layer) takes the
     * default.
     */
    @Override
    public void attentionInterest(Tensor x, Tensor s, Tensor out, Tensor weights, Workspace ws, Tensor query, Tensor keys, Tensor lengths,
                                  AttentionParams p, AttentionSpec spec, int B, int T, boolean training, int xStride, int off) {
        if (!(ws instanceof AttentionWorkspace w)) {
            Backend.super.attentionInterest(x, s, out, weights, ws, query, keys, lengths, p, spec, B, T, training, xStride, off);
            return;
        }
        checkInterestBlock("attentionInterest", x, spec.width(), xStride, off, B);
        fusedActivationUnit(out, weights, w, query, keys, lengths, p, spec, B, T, training, x, s, xStride, off);
    }

    /** The interest block [q, s, q * s, out] (4W columns from off) inside x's rows of xStride floats, for B rows. */
    private static void checkInterestBlock(String op, Tensor x, int W, int xStride, int off, int B) {
        if (off < 0 || off + 4L * W > xStride) {
            throw new IllegalArgumentException(op + ": the interest block [" + off + ", " + (off + 4L * W) + ") does not fit rows of " + xStride);
        }
        if ((long) B * xStride > x.size()) throw new IllegalArgumentException(op + ": " + B + " rows of " + xStride + " exceed " + x.name() + " (" + x.size() + ")");
    }

    /**
     * The forward (which also lays out the backward's weights and, when training, keeps the hidden layers) and the
     * pooling launch; with x the pooling launch also writes s and the
     * interest block x[:, off:off + 4W] ({@link #attentionInterest}).
     */
    private void fusedActivationUnit(Tensor out, Tensor weights, AttentionWorkspace w, Tensor query, Tensor keys, Tensor lengths,
                                     AttentionParams p, AttentionSpec spec, int B, int T, boolean training, Tensor x, Tensor s, int xStride, int off) {
        begin();
        int rows = w.rows(false, B);
        AttentionArgs g = attentionArgs(w, p, spec, query, keys, lengths, B, T, rows);
        int splitRoom = w.splitRoom(rows);
        g.set(AttentionArgs.Ptr.SCORE, w.score.address()).set(AttentionArgs.Int.SPLIT_ROOM, splitRoom);
        // a training forward keeps the valid positions' pre-activations for the backward; an evaluation forward writes none
        if (training) g.set(AttentionArgs.Ptr.HIDDEN1, w.hidden1.address()).set(AttentionArgs.Ptr.HIDDEN2, w.hidden2.address());
        w.kept = training;
        CudaRuntime.Args args = args().struct(g.buffer());
        w.out = a(out);
        if (B <= 0) return;
        boolean split = splitRoom > 0;
        long grid = Math.min(AttentionArgs.tiles((long) B * T, rows), (long) (split ? w.forwardSplitBlocksPerSm : w.forwardBlocksPerSm) * rt.multiprocessors);
        String kernel = attentionForwardKernel(precision, w.tuning.attentionVectorTiles() && attentionVectorTiles(spec.width(), spec.h1(), spec.h2(), a(p.w2())),
                split);
        rt.launch(kernel, (int) Math.max(1, grid), 1, w.threads, 1, (int) w.sharedBytes(false, rows), args);
        long xBlock = x == null ? 0L : a(x) + 4L * off;
        poolForward(out, weights, w.score.address(), 0L, keys, lengths, B, T, spec, xBlock, x == null ? 0L : a(s), x == null ? 0L : a(query), xStride);
    }

    /**
     * The weights (masked, softmax if asked) and the pooled output from the scores, (B, T) or packed
     * by {@code rowStart} (an address, or 0), one block per sample.
     */
    private void poolForward(Tensor out, Tensor weights, long score, long rowStart, Tensor keys, Tensor lengths, int B, int T, AttentionSpec spec) {
        poolForward(out, weights, score, rowStart, keys, lengths, B, T, spec, 0L, 0L, 0L, 0);
    }

    /**
     * The same, also writing s and the interest block at xBlock (an address, or 0: none) when out is given. With out, a
     * sample's keys are staged in shared memory (its sums then read them there) when they fit beside the weights within
     * the 48 KB every GPU gives a block without opting in.
     */
    private void poolForward(Tensor out, Tensor weights, long score, long rowStart, Tensor keys, Tensor lengths, int B, int T, AttentionSpec spec,
                             long xBlock, long s, long query, int xStride) {
        boolean stage = out != null && poolStageKeys && poolStagesKeys(T, spec.width());
        long shared = 4L * T * (stage ? 1 + spec.width() : 1);
        rt.launch(Kernels.ACTIVATION_UNIT_POOL_FORWARD, B, 1, ATT_POOL_THREADS, 1, (int) shared, args().ptr(a(out)).ptr(a(weights)).ptr(status.address())
                .ptr(score).ptr(a(keys)).ptr(a(lengths)).ptr(rowStart).i(T).i(spec.width()).i(spec.softmax() ? 1 : 0)
                .ptr(xBlock).ptr(s).ptr(query).i(xStride).i(stage ? 1 : 0));
    }

    /**
     * AttentionWorkspace.sharedBytes: the dynamic shared memory of a fused-unit launch with tiles of {@code rows}
     * positions, or {@code planned} (the workspace's largest tile's) where {@code asPlanned}; {@code place} is where the
     * backward keeps its partial gradients (AttentionArgs.PARTIALS_*); the forward has its split room where {@code split}
     * (AttentionWorkspace.splitK).
     */
    static long attentionLaunchShared(boolean asPlanned, boolean backward, AttentionSpec spec, int rows, int place, long planned, boolean split) {
        if (asPlanned) return planned;
        int W = spec.width(), h1 = spec.h1(), h2 = spec.h2();
        long bytes = backward ? AttentionArgs.backwardSharedBytes(W, h1, h2, rows, place) : AttentionArgs.forwardSharedBytes(W, h1, h2, rows, split);
        if (bytes > planned) throw new IllegalStateException("a tile of " + rows + " rows needs " + bytes + " bytes of shared memory, more than the " + planned + " planned");
        return bytes;
    }

    /** Whether the pooling launch may stage keys at all (tests clear it: the path of histories too long to stage). */
    static boolean poolStageKeys = true;

    /**
     * Whether the pooling launch stages a sample's keys (T x W) in shared memory beside its T weights: when they fit,
     * with the kernel's static part (1,280 bytes on sm_90; 2 KB allowed), in the 48 KB a block has without opting in.
     */
    static boolean poolStagesKeys(int T, int W) { return 4L * T * (1L + W) + 2048 <= DEFAULT_SHARED; }

    /** d score through the softmax, (B, T) or packed by {@code rowStart}, and the pooled output's share of dKeys (+=), one block per sample. */
    private void poolBackward(long dScore, long rowStart, Tensor dKeys, Tensor dOut, Tensor dWeights, Tensor weights, Tensor keys, Tensor lengths,
                              int B, int T, AttentionSpec spec) {
        rt.launch(Kernels.ACTIVATION_UNIT_POOL_BACKWARD, B, 1, ATT_POOL_THREADS, 1, 0, args().ptr(dScore).ptr(a(dKeys)).ptr(a(dOut))
                .ptr(a(dWeights)).ptr(a(weights)).ptr(a(keys)).ptr(a(lengths)).ptr(rowStart).i(T).i(spec.width()).i(spec.softmax() ? 1 : 0));
    }

    @Override
    public void activationUnitBackward(Tensor dQuery, Tensor dKeys, AttentionParams grads, Tensor dOut, Tensor dWeights, Tensor weights,
                                       Workspace ws, Tensor query, Tensor keys, Tensor lengths, AttentionParams p, AttentionSpec spec, int B, int T) {
        if (ws instanceof UnfusedAttentionWorkspace u) {
            unfusedActivationUnitBackward(dQuery, dKeys, grads, dOut, dWeights, weights, u, query, keys, lengths, p, spec, B, T);
            return;
        }
        fusedActivationUnitBackward(dQuery, dKeys, grads, a(dOut), spec.width(), dWeights, weights, (AttentionWorkspace) ws, query, keys, lengths,
                p, spec, B, T, 0L, 0L, null);
    }

    /**
     * The interest block's backward inside the fused unit's two launches (the default's
     * interest_concat_backward_kernel is left out): d_out read from dx's out columns, dKeys
     * started from the sum pool's share, dQuery written by the reduce with the block's share.
     * dS, dOut and dKeys' padded positions are not written. The Dice unit takes the default.
     */
    @Override
    public void attentionInterestBackward(Tensor dQuery, Tensor dKeys, Tensor dS, Tensor dOut, AttentionParams grads, Tensor dx, Tensor s,
                                          Tensor weights, Workspace ws, Tensor query, Tensor keys, Tensor lengths, AttentionParams p,
                                          AttentionSpec spec, int B, int T, int xStride, int off) {
        interestBackward(dQuery, dKeys, dS, dOut, grads, dx, s, weights, ws, query, keys, lengths, p, spec, B, T, xStride, off, null);
    }

    /**
     * The same, and the lookups' backward in the reduce's launch (activation_unit_reduce_gather_kernel) where it can take
     * them ({@link #reduceLookups}); otherwise the reduce, then {@link #embeddingGatherBackward(List)}.
     */
    @Override
    public void attentionInterestBackward(Tensor dQuery, Tensor dKeys, Tensor dS, Tensor dOut, AttentionParams grads, Tensor dx, Tensor s,
                                          Tensor weights, Workspace ws, Tensor query, Tensor keys, Tensor lengths, AttentionParams p,
                                          AttentionSpec spec, int B, int T, int xStride, int off, List<Gather> lookups) {
        interestBackward(dQuery, dKeys, dS, dOut, grads, dx, s, weights, ws, query, keys, lengths, p, spec, B, T, xStride, off,
                java.util.Objects.requireNonNull(lookups, "lookups"));
    }

    /** The two {@link #attentionInterestBackward}s; lookups null: none. */
    private void interestBackward(Tensor dQuery, Tensor dKeys, Tensor dS, Tensor dOut, AttentionParams grads, Tensor dx, Tensor s, Tensor weights,
                                  Workspace ws, Tensor query, Tensor keys, Tensor lengths, AttentionParams p, AttentionSpec spec, int B, int T,
                                  int xStride, int off, List<Gather> lookups) {
        if (!(ws instanceof AttentionWorkspace w)) {
            if (lookups == null) {
                Backend.super.attentionInterestBackward(dQuery, dKeys, dS, dOut, grads, dx, s, weights, ws, query, keys, lengths, p, spec, B, T, xStride, off);
            } else {
                Backend.super.attentionInterestBackward(dQuery, dKeys, dS, dOut, grads, dx, s, weights, ws, query, keys, lengths, p, spec, B, T, xStride, off,
                        lookups);
            }
            return;
        }
        int W = spec.width();
        checkInterestBlock("attentionInterestBackward", dx, W, xStride, off, B);
        long block = a(dx) + 4L * off;
        fusedActivationUnitBackward(dQuery, dKeys, grads, block + 4L * 3 * W, xStride, null, weights, w, query, keys, lengths, p, spec, B, T,
                block, a(s), lookups);
    }

    /**
     * The reduce launch's share of a step's lookups (activation_unit_reduce_gather_kernel): {@code sinks}, the lookups that
     * read dQuery, which the reduce writes (each its columns [off, off + D) of rows &lt; B, T = 1, no lengths: the
     * candidate's), and {@code rest}, the others (none of which may read what the reduce writes), their blocks after the
     * reduce's.
     */
    record ReduceLookups(ByteBuffer rest, int restBlocks, ByteBuffer sinks) {}

    /**
     * How the reduce launch takes {@code lookups}, or null where it cannot and they take their own launch: a lookup that
     * reads dQuery other than as {@link ReduceLookups} says, or one that reads the unit's parameter gradients, or more of
     * either kind than one list holds ({@link GatherListArgs#MAX}).
     */
    private ReduceLookups reduceLookups(List<Gather> lookups, Tensor dQuery, AttentionParams grads, int B, int W) {
        long q0 = a(dQuery), q1 = q0 + 4L * B * W;
        List<Gather> sinks = new ArrayList<>(), rest = new ArrayList<>();
        for (Gather g : lookups) {   // (a forward entry is refused by gatherEntries below)
            long r0 = a(g.dOut()) + 4L * g.off(), r1 = a(g.dOut()) + 4L * ((long) Math.max(0, g.rows() - 1) * g.outStride() + g.off() + g.D());
            if (g.rows() > 0 && r0 < q1 && q0 < r1) {
                boolean sink = a(g.dOut()) == q0 && g.T() == 1 && g.lengths() == null && g.outStride() == W && g.off() >= 0 && g.off() + g.D() <= W
                        && g.rows() <= B;
                if (!sink) return null;
                sinks.add(g);
            } else {
                for (Tensor t : new Tensor[] {grads.w1(), grads.b1(), grads.alpha1(), grads.w2(), grads.b2(), grads.alpha2(), grads.w3(), grads.b3()}) {
                    if (t != null && g.rows() > 0 && r0 < a(t) + 4L * t.size() && a(t) < r1) return null;
                }
                rest.add(g);
            }
        }
        List<EntryListArgs.Launch> s = GatherListArgs.plan(gatherEntries(sinks, false)), r = GatherListArgs.plan(gatherEntries(rest, false));
        if (s.size() > 1 || r.size() > 1) return null;
        return new ReduceLookups(r.isEmpty() ? GatherListArgs.empty() : r.get(0).args(), r.isEmpty() ? 0 : r.get(0).blocks(),
                s.isEmpty() ? GatherListArgs.empty() : s.get(0).args());
    }

    private final Map<List<?>, java.util.Optional<ReduceLookups>> reducePlans = new HashMap<>();

    /**
     * The fused backward and its reduce. dOut: an address (0: none) with rows of dOutStride floats;
     * dxBlock and s: the interest block's gradient and the sum pool ({@link #attentionInterestBackward}), or 0. lookups:
     * the step's lookups' backward after it (null: none), in the reduce's launch where {@link #reduceLookups} allows.
     */
    private void fusedActivationUnitBackward(Tensor dQuery, Tensor dKeys, AttentionParams grads, long dOut, int dOutStride, Tensor dWeights,
                                             Tensor weights, AttentionWorkspace w, Tensor query, Tensor keys, Tensor lengths, AttentionParams p,
                                             AttentionSpec spec, int B, int T, long dxBlock, long s, List<Gather> lookups) {
        if (B <= 0) {
            if (lookups != null) embeddingGatherBackward(lookups);
            return;
        }
        if (dOut != 0L && spec.softmax() && w.out == 0L) {
            throw new IllegalStateException("activation unit backward with dOut: its forward wrote no pooled output (out was null), "
                    + "which the softmax's backward reads");
        }
        if (!w.kept) {
            throw new IllegalStateException("activation unit backward: the last forward over its workspace was not a training one "
                    + "(training = false keeps no hidden layers, which the backward reads)");
        }
        begin();
        int rows = w.rows(true, B);
        int blocks = attentionBackwardBlocks(AttentionArgs.tiles((long) B * T, rows), w.blocks);
        AttentionArgs g = attentionArgs(w, p, spec, query, keys, lengths, B, T, rows);
        // the pool's backward runs in the kernel's tiles (d score at each tile's positions, the pool's share of dKeys)
        g.set(AttentionArgs.Ptr.D_OUT, dOut).set(AttentionArgs.Int.D_OUT_STRIDE, dOutStride).set(AttentionArgs.Ptr.DX, dxBlock).set(AttentionArgs.Ptr.S, s)
                .set(AttentionArgs.Ptr.D_WEIGHTS, a(dWeights)).set(AttentionArgs.Ptr.WEIGHTS, a(weights)).set(AttentionArgs.Ptr.OUT, w.out)
                .set(AttentionArgs.Int.SOFTMAX, spec.softmax() ? 1 : 0).set(AttentionArgs.Ptr.DQ_ROWS, w.dqRows.address())
                .set(AttentionArgs.Ptr.HIDDEN1, w.hidden1.address()).set(AttentionArgs.Ptr.HIDDEN2, w.hidden2.address())
                .set(AttentionArgs.Ptr.D_QUERY, a(dQuery)).set(AttentionArgs.Ptr.D_KEYS, a(dKeys))
                .set(AttentionArgs.Ptr.G_W1, a(grads.w1())).set(AttentionArgs.Ptr.G_B1, a(grads.b1())).set(AttentionArgs.Ptr.G_ALPHA1, a(grads.alpha1()))
                .set(AttentionArgs.Ptr.G_W2, a(grads.w2())).set(AttentionArgs.Ptr.G_B2, a(grads.b2())).set(AttentionArgs.Ptr.G_ALPHA2, a(grads.alpha2()))
                .set(AttentionArgs.Ptr.G_W3, a(grads.w3())).set(AttentionArgs.Ptr.G_B3, a(grads.b3()))
                .set(AttentionArgs.Int.BLOCKS, blocks).set(AttentionArgs.Int.LOCAL, w.partialsPlace)
                .set(AttentionArgs.Int.ROW_GROUPS, w.tuning.attentionRowGroups()).set(AttentionArgs.Int.QUERY_SUMS, w.tuning.attentionQuerySums() ? 1 : 0);
        CudaRuntime.Args args = args().struct(g.buffer());
        boolean vector = w.tuning.attentionVectorTiles()
                && attentionVectorTiles(spec.width(), spec.h1(), spec.h2(), a(p.w2()), w.ma.address(), w.m3t.address(), w.w2t.address());
        rt.launch(attentionBackwardKernel(precision, w.blocksPerSm, vector), blocks, 1, w.threads, 1, (int) w.sharedBytes(true, rows), args);
        int W = spec.width(), h1 = spec.h1(), h2 = spec.h2();
        long total = (long) W * h1 + 2L * h1 + (long) h1 * h2 + 3L * h2 + 1 + (long) B * W;   // the parameters' gradients, then dQuery
        int reduceBlocks = Kernels.blocks(total, 32, maxBlocks);
        ReduceLookups fold = null;
        if (lookups != null) {
            settingsRead.add(KernelTuning.REDUCE_GATHERS);
            if (tuning.attentionReduceGathers()) {
                List<Object> key = new ArrayList<>(lookups.size() + 4);
                key.addAll(List.of(dQuery, grads, B, spec.width()));
                key.addAll(lookups);
                fold = cachedPlan(reducePlans, key, () -> java.util.Optional.ofNullable(reduceLookups(lookups, dQuery, grads, B, spec.width())))
                        .orElse(null);
            }
        }
        if (fold == null) {
            // blocks of 32 elements x REDUCE_GROUPS slice groups (activation_unit_reduce_kernel)
            rt.launch(Kernels.ACTIVATION_UNIT_REDUCE, reduceBlocks, 1, 32, ATT_REDUCE_GROUPS, 0, args);
            if (lookups != null) embeddingGatherBackward(lookups);
            return;
        }
        // the reduce's blocks (256 threads: 32 elements x REDUCE_GROUPS), then the lookups' that do not read dQuery
        rt.launch(Kernels.ACTIVATION_UNIT_REDUCE_GATHER, reduceBlocks + fold.restBlocks(), 1, BLOCK, 1, 0,
                args().struct(g.buffer()).struct(fold.rest()).struct(fold.sinks()).ptr(status.address()).i(reduceBlocks));
        addPendingRows(lookups);
    }

    /**
     * The unit layer by layer over the R = B * T positions (cuda/activation_unit_unfused.cu):
     * z, then three GEMMs with the activation between them (Dice over the valid positions;
     * sigmoid or PReLU in the built-in GEMM's epilogue), then the masked weights (softmax if
     * asked) and the pooled output.
     */
    private void unfusedActivationUnit(Tensor out, Tensor weights, UnfusedAttentionWorkspace w, Tensor query, Tensor keys, Tensor lengths,
                                       AttentionParams p, AttentionSpec spec, int B, int T, boolean training) {
        checkPlanned(w.spec, w.maxB, w.T, spec, B, T);
        begin();
        w.saved = training;
        if (B <= 0) return;
        int R = B * T, W = spec.width(), h1 = spec.h1(), h2 = spec.h2(), Z = 4 * W;
        Rows rows = unitRows(w, lengths, B, T);
        w.rows = rows;
        rt.launch(Kernels.ACTIVATION_UNIT_INPUT_FORWARD, Math.min(B, maxBlocks), 1, BLOCK, 1, 0, args().ptr(a(w.z)).ptr(a(query)).ptr(a(keys)).ptr(a(lengths))
                .ptr(rows.start()).i(B).i(T).i(W));
        if (spec.activation() == Activation.DICE) {
            rows.gemm(a(w.h1), a(w.z), a(p.w1()), a(p.b1()), R, h1, Z, Z, h1, h1, false);
            diceSliced(w.partials.address(), w.a1, w.mean1, w.invStd1, w.h1, rows.mask(lengths), rows.count(), p.alpha1(), p.runMean1(), p.runVar1(),
                    rows.b(B, T), rows.t(T), h1, training, spec.momentum(), spec.eps());
            rows.gemm(a(w.h2), a(w.a1), a(p.w2()), a(p.b2()), R, h2, h1, h1, h2, h2, false);
            diceSliced(w.partials.address(), w.a2, w.mean2, w.invStd2, w.h2, rows.mask(lengths), rows.count(), p.alpha2(), p.runMean2(), p.runVar2(),
                    rows.b(B, T), rows.t(T), h2, training, spec.momentum(), spec.eps());
        } else {
            unitLinearAct(rows, w.h1, w.a1, p.alpha1(), spec.activation(), w.z, p.w1(), p.b1(), R, Z, h1);
            unitLinearAct(rows, w.h2, w.a2, p.alpha2(), spec.activation(), w.a1, p.w2(), p.b2(), R, h1, h2);
        }
        rows.gemm(a(w.score), a(w.a2), a(p.w3()), a(p.b3()), R, 1, h2, h2, 1, 1, false);
        poolForward(out, weights, a(w.score), rows.start(), keys, lengths, B, T, spec);
    }

    /**
     * A hidden layer of the sigmoid or PReLU unit layer by layer: h (R, out) = x W + b over the unit's rows and
     * a = act(h), in the built-in GEMM's epilogue (packed rows stop at their count), or a library GEMM and then the
     * activation over all R rows. Both h and a are kept: PReLU's backward reads h, sigmoid's recomputes its
     * activation from h, since the backward writes the layer's gradient over a.
     */
    private void unitLinearAct(Rows rows, Tensor h, Tensor act, Tensor alpha, Activation kind, Tensor x, Tensor W, Tensor b, int R, int in, int out) {
        boolean prelu = kind == Activation.PRELU;
        if (gemm instanceof BuiltinGemm builtin) {
            builtin.linearAct(a(h), a(act), prelu ? a(alpha) : 0L, prelu ? BuiltinGemm.ACT_PRELU : BuiltinGemm.ACT_SIGMOID, a(x), a(W), a(b),
                    R, in, out, rows.count());
            return;
        }
        rows.gemm(a(h), a(x), a(W), a(b), R, out, in, in, out, out, false);
        if (prelu) launch1d(Kernels.PRELU_FORWARD, (long) R * out, args().ptr(a(act)).ptr(a(h)).ptr(a(alpha)).i(R).i(out));
        else launch1d(Kernels.SIGMOID_FORWARD, (long) R * out, args().ptr(a(act)).ptr(a(h)).i(Math.multiplyExact(R, out)));
    }

    /**
     * Backward of a hidden layer's sigmoid or PReLU over the unit's rows (packed: those before the device count):
     * dx (=) from dy and the pre-activations h; PReLU's slope gradient dAlpha (+=) summed over row slices
     * ({@link #preluSlicedBackward}).
     */
    private void unitActBackward(Rows rows, Tensor dx, Tensor dAlpha, Tensor dy, Tensor h, Tensor alpha, Activation kind, long partials, int R, int C) {
        if (kind == Activation.SIGMOID) {
            launch1d(Kernels.ACTIVATION_UNIT_SIGMOID_BACKWARD, (long) R * C, args().ptr(a(dx)).ptr(a(dy)).ptr(a(h)).ptr(rows.count()).i(R).i(C));
            return;
        }
        preluSlicedBackward(partials, dx, dAlpha, dy, h, alpha, rows.count(), R, C);
    }

    /**
     * The rows the layer-by-layer unit walks. Packed (the built-in GEMM, which stops at a row count in device
     * memory): the valid positions alone, sample b's at rows [start[b], start[b] + len_b), their
     * count at {@code count}, every launch sized for B T rows but its blocks past the count idle.
     * Dense (a library GEMM, which needs its sizes on the host): all B T rows, row b T + t, the
     * padded ones carried as zeros through every layer and masked by the lengths.
     */
    private record Rows(long start, long count, BuiltinGemm builtin, Gemm gemm) {
        boolean packed() { return start != 0L; }

        /** The Dice kernels' row mask: none for packed rows (the count limits them). */
        Tensor mask(Tensor lengths) { return packed() ? null : lengths; }

        /** The Dice kernels' (B, T) of the row space: (B T, 1) packed. */
        int b(int B, int T) { return packed() ? B * T : B; }

        int t(int T) { return packed() ? 1 : T; }

        /** C (R, N) = op(A) op(B) over the unit's rows (M = R when !transA, else K = R) [+ bias]. */
        void gemm(long C, long A, long B, long bias, int M, int N, int K, int lda, int ldb, int ldc, boolean transB) {
            if (packed()) builtin.gemmRows(C, A, B, bias, M, N, K, lda, ldb, ldc, false, transB, false, count);
            else gemm.gemm(C, A, B, bias, M, N, K, lda, ldb, ldc, false, transB, false);
        }
    }

    /** Tests turn packing off to cover the dense rows with the built-in GEMM. */
    static boolean unitRowsPacked = true;

    private Rows unitRows(UnfusedAttentionWorkspace w, Tensor lengths, int B, int T) {
        if (!(gemm instanceof BuiltinGemm b) || !unitRowsPacked) return new Rows(0L, 0L, null, gemm);
        rt.launch(Kernels.ACTIVATION_UNIT_ROW_STARTS, 1, 1, ROW_STARTS_THREADS, 1, 0,
                args().ptr(a(w.rowStart)).ptr(a(w.rowCount)).ptr(a(lengths)).i(B).i(T));
        return new Rows(a(w.rowStart), a(w.rowCount), b, gemm);
    }

    /** Threads of activation_unit_row_starts_kernel's one block (its shared scan holds up to 1024). */
    static final int ROW_STARTS_THREADS = 256;

    /**
     * Dice over the rows of (B, T, C) that count (t < lengths[b]; all B rows when lengths is null
     * and T = 1; with a device row count at {@code count}, the rows before it, and nothing past it
     * is read or written), sliced: the slices' statistics (training) into {@code partials}, then
     * their combination and the activation.
     */
    private void diceSliced(long partials, Tensor y, Tensor mean, Tensor invStd, Tensor x, Tensor lengths, long count, Tensor alpha,
                            Tensor runMean, Tensor runVar, int B, int T, int C, boolean training, float momentum, float eps) {
        Slicing sl = Slicing.of((long) B * T, C);
        int chunk = sl.chunk(), S = sl.slices();
        if (training) {
            launchSliced(Kernels.SLICED_STATISTICS, sl, args().ptr(partials).ptr(a(x)).ptr(a(lengths)).ptr(count).i(B).i(T).i(C).i(chunk));
        }
        launchSliced(Kernels.DICE_SLICED_FORWARD, sl, args().ptr(a(y)).ptr(a(mean)).ptr(a(invStd)).ptr(a(x)).ptr(a(lengths))
                .ptr(a(alpha)).ptr(a(runMean)).ptr(a(runVar)).ptr(partials).ptr(count).i(B).i(T).i(C).i(chunk).i(S).i(training ? 1 : 0)
                .f(momentum).f(eps));
    }

    /** db += the column sums of dy (R, N), over row slices in two stages. */
    private void biasGradRows(long partials, Tensor db, Tensor dy, int R, int N) {
        Slicing sl = Slicing.of(R, N);
        int chunk = sl.chunk(), S = sl.slices();
        launchSliced(Kernels.BIAS_GRAD_PARTIALS, sl, args().ptr(partials).ptr(a(dy)).i(R).i(N).i(chunk));
        launch1d(Kernels.BIAS_GRAD_REDUCE, N, args().ptr(a(db)).ptr(partials).i(N).i(S));
    }

    /** Backward of {@link #unfusedActivationUnit}, layer by layer in reverse; the gradients of padded positions are exact zeros (or, packed, not there). */
    private void unfusedActivationUnitBackward(Tensor dQuery, Tensor dKeys, AttentionParams g, Tensor dOut, Tensor dWeights, Tensor weights,
                                               UnfusedAttentionWorkspace w, Tensor query, Tensor keys, Tensor lengths, AttentionParams p,
                                               AttentionSpec spec, int B, int T) {
        checkPlanned(w.spec, w.maxB, w.T, spec, B, T);
        if (!w.saved) {
            throw new IllegalStateException("activation unit backward (layer by layer, CUDA): no training forward's activations to use (one backward per "
                    + "training forward: backward writes its gradients over them)");
        }
        w.saved = false;
        if (B <= 0) return;
        begin();
        int R = B * T, W = spec.width(), h1 = spec.h1(), h2 = spec.h2(), Z = 4 * W;
        Rows rows = w.rows;   // the forward's: its row starts and count are still in the workspace
        poolBackward(a(w.dScore), rows.start(), dKeys, dOut, dWeights, weights, keys, lengths, B, T, spec);
        Tensor mask = rows.mask(lengths);
        int rb = rows.b(B, T), rt1 = rows.t(T);
        // layer 3: dW3 += a2^T dScore, db3, then dA2 = dScore W3^T over a2
        weightGrad(rows, g.w3(), g.b3(), w.a2, w.dScore, w.partials.address(), R, h2, 1);
        rows.gemm(a(w.a2), a(w.dScore), a(p.w3()), 0, R, h2, 1, 1, 1, h2, true);
        if (spec.activation() == Activation.DICE) {
            diceSlicedBackward(w.partials.address(), w.dH2, g.alpha2(), w.a2, w.mean2, w.invStd2, w.h2, mask, rows.count(), p.alpha2(), rb, rt1, h2);
        } else {
            unitActBackward(rows, w.dH2, g.alpha2(), w.a2, w.h2, p.alpha2(), spec.activation(), w.partials.address(), R, h2);
        }
        // layer 2: dW2 += a1^T dH2, db2, then dA1 = dH2 W2^T over a1
        weightGrad(rows, g.w2(), g.b2(), w.a1, w.dH2, w.partials.address(), R, h1, h2);
        rows.gemm(a(w.a1), a(w.dH2), a(p.w2()), 0, R, h1, h2, h2, h2, h1, true);
        if (spec.activation() == Activation.DICE) {
            diceSlicedBackward(w.partials.address(), w.dH1, g.alpha1(), w.a1, w.mean1, w.invStd1, w.h1, mask, rows.count(), p.alpha1(), rb, rt1, h1);
        } else {
            unitActBackward(rows, w.dH1, g.alpha1(), w.a1, w.h1, p.alpha1(), spec.activation(), w.partials.address(), R, h1);
        }
        // layer 1: dW1 += z^T dH1, db1, then dZ = dH1 W1^T over z
        weightGrad(rows, g.w1(), g.b1(), w.z, w.dH1, w.partials.address(), R, Z, h1);
        rows.gemm(a(w.z), a(w.dH1), a(p.w1()), 0, R, Z, h1, h1, h1, Z, true);
        launch1d(Kernels.ACTIVATION_UNIT_INPUT_BACKWARD, (long) B * W, args().ptr(a(dQuery)).ptr(a(dKeys)).ptr(a(w.z)).ptr(a(query)).ptr(a(keys))
                .ptr(a(lengths)).ptr(rows.start()).i(B).i(T).i(W));
    }

    /** dW (in, out) += x^T dy over the unit's rows, and db; the built-in GEMM sums db in the same pass. */
    private void weightGrad(Rows rows, Tensor dW, Tensor db, Tensor x, Tensor dy, long partials, int R, int in, int out) {
        if (rows.packed()) {
            rows.builtin().weightGradRows(a(dW), a(db), a(x), a(dy), R, in, out, rows.count());
            return;
        }
        if (!gemm.weightGrad(a(dW), a(db), a(x), a(dy), R, in, out)) biasGradRows(partials, db, dy, R, out);
    }

    /** Backward of {@link #diceSliced} (training statistics): the slices' sums into {@code partials}, then dx (=) and dAlpha (+=). */
    private void diceSlicedBackward(long partials, Tensor dx, Tensor dAlpha, Tensor dy, Tensor mean, Tensor invStd, Tensor x,
                                    Tensor lengths, long count, Tensor alpha, int B, int T, int C) {
        Slicing sl = Slicing.of((long) B * T, C);
        int chunk = sl.chunk(), S = sl.slices();
        launchSliced(Kernels.DICE_SLICED_BACKWARD_SUMS, sl, args().ptr(partials).ptr(a(dy)).ptr(a(mean))
                .ptr(a(invStd)).ptr(a(x)).ptr(a(lengths)).ptr(a(alpha)).ptr(count).i(B).i(T).i(C).i(chunk));
        launchSliced(Kernels.DICE_SLICED_BACKWARD, sl, args().ptr(a(dx)).ptr(a(dAlpha)).ptr(a(dy)).ptr(a(mean))
                .ptr(a(invStd)).ptr(a(x)).ptr(a(lengths)).ptr(a(alpha)).ptr(partials).ptr(count).i(B).i(T).i(C).i(chunk).i(S));
    }

    // ---------------------------------------------------------------- recurrence

    /** One block per sample walks its positions (recurrence_forward_kernel). */
    @Override
    public void recurrence(Tensor hOut, Tensor hLast, Workspace ws, Tensor x, Tensor att, Tensor lengths, RecurrenceParams p,
                           Recurrence kind, int B, int T, int E, int H) {
        RecurrenceWorkspace w = (RecurrenceWorkspace) ws;
        w.check(kind, att, B, T, E, H);
        begin();
        if (B == 0) return;
        rt.launch(Kernels.RECURRENCE_FORWARD, B, 1, w.threads, 1, w.forwardShared(), args().ptr(a(hOut)).ptr(a(hLast)).ptr(w.gates.address())
                .ptr(w.hn.address()).ptr(w.h.address()).ptr(status.address()).ptr(a(x)).ptr(kind.usesAttention() ? a(att) : 0).ptr(a(lengths))
                .ptr(a(p.wx())).ptr(a(p.wh())).ptr(a(p.bx())).ptr(a(p.bh())).i(kind.ordinal()).i(T).i(E).i(H));
    }

    /**
     * The weights transposed (recurrence_transpose_kernel), so that the walk reads them along its
     * threads; one block per sample walks back (recurrence_backward_kernel), writing each
     * position's gate gradients; then the weight and bias gradients of the input and the recurrent projection,
     * one launch each (recurrence_weight_grad_kernel).
     */
    @Override
    public void recurrenceBackward(Tensor dx, Tensor dAtt, RecurrenceParams grads, Tensor dHOut, Tensor dHLast, Workspace ws,
                                   Tensor x, Tensor att, Tensor lengths, RecurrenceParams p, Recurrence kind, int B, int T, int E, int H) {
        RecurrenceWorkspace w = (RecurrenceWorkspace) ws;
        w.check(kind, att, B, T, E, H);
        if (dx == null) throw new IllegalArgumentException("recurrence backward: dx is required");
        begin();
        if (B == 0) return;
        int G = 3 * H;
        launch1d(Kernels.RECURRENCE_TRANSPOSE, (long) G * (E + H), args().ptr(w.wxT.address()).ptr(w.whT.address()).ptr(a(p.wx())).ptr(a(p.wh()))
                .i(E).i(H));
        rt.launch(Kernels.RECURRENCE_BACKWARD, B, 1, w.threads, 1, w.backwardShared(), args().ptr(a(dx)).ptr(kind.usesAttention() ? a(dAtt) : 0)
                .ptr(w.dgx.address()).ptr(w.dgh.address()).ptr(status.address()).ptr(a(dHOut)).ptr(a(dHLast)).ptr(w.gates.address())
                .ptr(w.hn.address()).ptr(w.h.address()).ptr(kind.usesAttention() ? a(att) : 0).ptr(a(lengths)).ptr(w.wxT.address()).ptr(w.whT.address())
                .i(kind.ordinal()).i(T).i(E).i(H));
        recurrenceWeightGrad(w, grads.wx(), grads.bx(), a(x), w.dgx.address(), lengths, B, T, E, G, 0);
        recurrenceWeightGrad(w, grads.wh(), grads.bh(), w.h.address(), w.dgh.address(), lengths, B, T, H, G, 1);
    }

    /** gW += A^T dG and gB += the column sums of dG over the valid positions, in two fixed-order stages. */
    private void recurrenceWeightGrad(RecurrenceWorkspace w, Tensor gW, Tensor gB, long A, long dG, Tensor lengths, int B, int T, int K, int G,
                                      int shift) {
        int chunk = w.chunk(B), chunks = (B + chunk - 1) / chunk;
        long outputs = (long) K * G + G;
        rt.launch(Kernels.RECURRENCE_WEIGHT_GRAD, (int) ((outputs + BLOCK - 1) / BLOCK), chunks, BLOCK, 1, 0,
                args().ptr(w.partial.address()).ptr(A).ptr(dG).ptr(a(lengths)).i(B).i(T).i(K).i(G).i(shift).i(chunk));
        launch1d(Kernels.RECURRENCE_WEIGHT_GRAD_REDUCE, outputs, args().ptr(a(gW)).ptr(a(gB)).ptr(w.partial.address()).i(K).i(G).i(chunks));
    }

    // ---------------------------------------------------------------- loss and optimizer

    @Override
    public void bceWithLogits(Tensor loss, Tensor dLogits, Tensor logits, Tensor labels, int B, float scale) {
        bceWithLogits(loss, dLogits, logits, labels, B, scale, null);
    }

    @Override
    public void bceWithLogits(Tensor loss, Tensor dLogits, Tensor logits, Tensor labels, int B, float scale, Tensor rows) {
        begin();
        rt.launch(Kernels.BCE_WITH_LOGITS, bceBlocks(B), 1, BLOCK, 1, 0, args().ptr(a(loss)).ptr(a(dLogits)).ptr(a(logits)).ptr(a(labels)).ptr(a(rows))
                .ptr(rowPartials.address()).ptr(bceDone.address()).i(B).f(scale));
    }

    /** Rows a thread of bce_with_logits_kernel takes at least, and its most blocks. */
    static final int BCE_ROWS_PER_THREAD = 4, BCE_MAX_BLOCKS = 256;

    /**
     * bce_with_logits_kernel's grid for B rows: a block of {@link #BLOCK} threads per {@link #BCE_ROWS_PER_THREAD}
     * rows a thread, at most {@link #BCE_MAX_BLOCKS}; a function of B alone, so the loss's summation order (and
     * bits) never depend on the device. One block up to 1,024 rows (DIN's loss at batch 128); 73 for DIEN's
     * 74,000 auxiliary rows at batch 2048, which one block took about 270 us to walk on the H200.
     */
    static int bceBlocks(int B) {
        long perBlock = (long) BLOCK * BCE_ROWS_PER_THREAD;
        return (int) Math.max(1, Math.min(BCE_MAX_BLOCKS, (B + perBlock - 1) / perBlock));
    }

    @Override
    public int readInt(Tensor t) {
        checkCount(t, 1);
        notInStep("readInt of " + t.name());
        int v = readInt(ct(t).slice);
        checkStatus();
        return v;
    }

    @Override
    public void adam(Tensor param, Tensor grad, Tensor m, Tensor v, int n, float lr, float beta1, float beta2, float eps, float weightDecay, int step) {
        if (step < 1) throw new IllegalArgumentException("adam: step is 1-based, got " + step);
        begin();
        deviceStep(step);
        launch1d(Kernels.ADAM, n, args().ptr(a(param)).ptr(a(grad)).ptr(a(m)).ptr(a(v)).ptr(stepCounter.address()).i(n).f(lr).f(beta1).f(beta2)
                .f(eps).f(weightDecay));
    }

    /** All the dense parameters in one launch of adam_multi_kernel per {@link MultiTensorArgs#MAX} of them. */
    @Override
    public void adam(List<Param> params, float lr, float beta1, float beta2, float eps, float weightDecay, int step) {
        if (step < 1) throw new IllegalArgumentException("adam: step is 1-based, got " + step);
        if (params.isEmpty()) return;
        launchAdam(adamPlan(params), lr, beta1, beta2, eps, weightDecay, step);
    }

    /** The list's launches (checked, the device's work begun). */
    private List<MultiTensorArgs.Launch> adamPlan(List<Param> params) {
        begin();
        return multiLaunches(params, () -> {
            List<MultiTensorArgs.Entry> es = new ArrayList<>();
            for (Param p : params) {
                int n = p.value().size();
                for (Tensor t : new Tensor[] {p.grad(), p.state1(), p.state2()}) {
                    if (t == null || t.size() != n) {
                        throw new IllegalArgumentException("adam: " + p.name() + " needs grad, m and v of " + n + " floats, got " + (t == null ? "none" : t.name() + " of " + t.size()));
                    }
                }
                es.add(new MultiTensorArgs.Entry(a(p.value()), a(p.grad()), a(p.state1()), a(p.state2()), n));
            }
            return es;
        });
    }

    private void launchAdam(List<MultiTensorArgs.Launch> launches, float lr, float beta1, float beta2, float eps, float weightDecay, int step) {
        if (launches.isEmpty()) return;
        int advance = stepInLaunch(step);
        for (MultiTensorArgs.Launch l : launches) {
            rt.launch(Kernels.ADAM_MULTI, l.blocks(), 1, BLOCK, 1, 0, args().struct(l.args()).ptr(stepCounter.address()).ptr(stepDone.address())
                    .i(advance).f(lr).f(beta1).f(beta2).f(eps).f(weightDecay));
            advance = 0;
        }
    }

    /**
     * The tables' sparse updates and the dense parameters' Adam in one launch of
     * optimizer_step_kernel (the parameters' blocks, then the tables', smallest first), when each list
     * fits in one launch; otherwise the two ops.
     */
    @Override
    public void optimizerStep(List<TableUpdate> tables, SparseOptimizer sparse, List<Param> dense, float lr, float beta1, float beta2, float eps,
                              float weightDecay, int step) {
        if (step < 1) throw new IllegalArgumentException("optimizer step: step is 1-based, got " + step);
        if (tables.isEmpty() || dense.isEmpty()) {
            Backend.super.optimizerStep(tables, sparse, dense, lr, beta1, beta2, eps, weightDecay, step);
            return;
        }
        List<EntryListArgs.Launch> s = sparsePlan(tables, sparse, step);
        List<MultiTensorArgs.Launch> d = adamPlan(dense);
        if (s.size() != 1 || d.size() != 1) {
            launchSparse(s, sparse, step);
            launchAdam(d, lr, beta1, beta2, eps, weightDecay, step);
            return;
        }
        int advance = stepInLaunch(step);
        rt.launch(Kernels.OPTIMIZER_STEP, s.get(0).blocks() + d.get(0).blocks(), 1, BLOCK, 1, 0, args().struct(s.get(0).args()).struct(d.get(0).args())
                .ptr(stepCounter.address()).ptr(stepDone.address()).i(advance).i(sparseKind(sparse)).f(sparse.lr()).f(sparse.lambda())
                .f(sparse.beta1()).f(sparse.beta2()).f(sparse.eps()).f(lr).f(beta1).f(beta2).f(eps).f(weightDecay));
    }

    /**
     * Brings the device's step counter to {@code step} before an update reads it: one more than
     * it holds is a one-thread increment (the same launch every step, so a captured step stays
     * valid), anything else a memset (the first step, a resumed run).
     */
    private void deviceStep(int step) {
        if (stepInLaunch(step) == 1) rt.launch(Kernels.STEP_ADVANCE, 1, 1, 32, 1, 0, args().ptr(stepCounter.address()));
    }

    /**
     * The same for a list update about to launch, which advances the counter itself: returns its
     * {@code advance} argument, 1 where the counter holds one less than {@code step} (the update
     * reads one more and its last block stores it, so a step saves step_advance_kernel's launch),
     * else 0 (after a memset where it holds anything else).
     */
    private int stepInLaunch(int step) {
        if (step == deviceStep) return 0;
        int advance = 0;
        if (step == deviceStep + 1) advance = 1;
        else rt.memsetAsync(stepCounter.address(), step, 1, "optimizer.step");
        deviceStep = step;
        return advance;
    }

    // ---------------------------------------------------------------- CUDA graphs (runStep)

    /**
     * TF32 puts the GEMM provider and the fused activation unit's products on the tensor cores,
     * TF32X3 only the unit's (split operands, fp32's accuracy; the GEMM provider stays fp32);
     * below compute capability 8.0 (no TF32 tensor cores) either logs that and stays in fp32. A
     * captured step whose kernels change with it is captured again (StepGraphs compares them).
     */
    @Override
    public Precision setPrecision(Precision asked) {
        Precision p = asked;
        if (asked.tensorCores() && rt.ccMajor < 8) {
            LOG.warn("--precision {}: {} (compute capability {}) has no TF32 tensor cores (8.0 and newer do); computing in fp32",
                    asked.label(), rt.name, rt.computeCapability());
            p = Precision.FP32;
        }
        if (p != precision) {
            notInStep("a change of precision");
            gemm.setTf32(p == Precision.TF32);
            precision = p;
            LOG.info("precision {}: {}", p.label(), switch (p) {
                case TF32 -> "the linear layers' and the activation unit's products on the TF32 tensor cores, the rest in fp32";
                case TF32X3 -> "the activation unit's products on the TF32 tensor cores, each operand split in two TF32 parts"
                        + " (three products for one, fp32's accuracy); the rest, the linear layers included, in fp32";
                case FP32 -> "fp32 throughout";
            });
        }
        return p;
    }

    @Override
    public Precision precision() { return precision; }

    /** The kernels' shape choices in force: the system properties' (-Daugur.attention.*, tower.*, gemm.small, cuda.pdl) unless set. */
    public KernelTuning tuning() { return tuning; }

    /**
     * Sets the kernels' shape choices for what is built and launched from now on: the activation unit's tiles,
     * threads, blocks and partial gradients for the workspaces made after it (a model built before keeps its
     * own), the tower's path, the small GEMM's rule and programmatic launches at the next launch. Meant for
     * between models (an autotuner builds one per candidate); a model whose launches change has its CUDA graph
     * captured again. PDL is the runtime's, so a change of it holds for every backend on the same context; it
     * stays off where the device, the driver or -Daugur.cuda.pdl=off ruled it out.
     */
    public void setTuning(KernelTuning t) {
        notInStep("a change of kernel settings");
        java.util.Objects.requireNonNull(t, "tuning");
        if (t.equals(tuning)) return;
        LOG.debug("kernel settings: {}", t);
        if (t.pdl() != tuning.pdl()) rt.setProgrammatic(t.pdl());
        if (t.gemmSmall() != tuning.gemmSmall() && gemm instanceof BuiltinGemm b) b.setSmall(t.gemmSmall());
        tuning = t;
    }

    /** Starts a new record of the kernel settings consulted ({@link #settingsRead}). */
    public void resetSettingsRead() {
        settingsRead.clear();
        gemmRoutedAtReset = gemm instanceof BuiltinGemm b ? b.productsRouted() : 0;
        programmaticAtReset = rt.programmaticEligibleLaunches();
    }

    /**
     * The properties of {@link KernelTuning} whose settings made a difference to what was planned or launched since
     * {@link #resetSettingsRead}: the activation unit's when a workspace of it was planned (dM3's place only with the
     * partial gradients on chip), the tower's path when a tower ran (its channels and clusters only where it ran fused,
     * clusters only on compute capability 9.0), the small GEMM's rule when the built-in GEMM routed a product, PDL when a
     * launch would go out programmatically with it on (on a device and driver that take it). A setting outside it cannot change the speed of the same work (an autotuner skips it).
     */
    public java.util.Set<String> settingsRead() {
        java.util.Set<String> out = new java.util.TreeSet<>(settingsRead);
        if (gemm instanceof BuiltinGemm b && b.productsRouted() > gemmRoutedAtReset) out.add(KernelTuning.GEMM_SMALL);
        if (rt.programmaticEligibleLaunches() > programmaticAtReset) out.add(KernelTuning.PDL);
        return out;
    }

    /** Turns CUDA graphs for {@link #runStep} on or off (on by default). */
    public void setStepGraphs(boolean on) {
        stepGraphs.setEnabled(on);
    }

    public boolean stepGraphs() { return stepGraphs.enabled(); }

    /** The operations captured in a key's graph, in order, described (empty when it has none). */
    public List<String> graphOps(String key) { return stepGraphs.ops(key); }

    /** Replays so far of each key's graph (for tests and the bench's report). */
    public Map<String, Long> graphReplays() { return stepGraphs.replays(); }

    @Override
    public String stepSummary() { return stepGraphs.summary(); }

    @Override
    public long deviceBytesAllocated() { return rt.allocatedBytes(); }

    @Override
    public boolean fixedShapeSteps() { return stepGraphs.enabled(); }

    /**
     * Runs one step's device work, through a CUDA graph per key ({@link StepGraphs}): the first
     * call of a key eagerly, the second captured, later ones replayed after a dry run. Kernel
     * timing (augur bench --profile) and setStepGraphs(false) run every step eagerly. Inside
     * {@code work} nothing may be uploaded or downloaded.
     */
    @Override
    public void runStep(String key, Runnable work) {
        if (closed) throw new IllegalStateException("the CUDA backend is closed");
        if (inStep) throw new IllegalStateException("runStep(" + key + ") inside another step");
        rt.makeCurrent();
        allocatePending();
        // The batch's uploads go to a device slot now (the compute stream waits for them there), and their copies into the
        // tensors are the step's: its first launch carries them where it can (embeddingGather), else they have a launch
        // of their own before its first op (begin). Either way they are in the step's graph, a graph for each slot since
        // the launch names the slot, rather than a launch of copy_multi_kernel before every graph.
        InputStaging.Flushed batch = null;
        if (staging != null && stepInputsBefore) staging.flush();
        else if (staging != null) batch = staging.flushForStep();
        // test runs: no step may read a workspace value an earlier step left (issued before the step, outside its graph)
        for (Arena.Slice s : scratch) poison(s);
        stepInputs = batch == null ? null : new StepInputs(stagingSlots.device()[batch.slot()], batch);
        inStep = true;
        try {
            stepGraphs.run(key, batch == null ? -1 : batch.slot(), work);
        } finally {
            inStep = false;
            try {
                if (stepInputs != null) issueStepInputs();   // a step that issued nothing: after it, eagerly
            } finally {
                stepInputs = null;
                if (batch != null) staging.copiesIssued(batch);
            }
        }
    }

    private void notInStep(String what) {
        if (inStep) throw new IllegalStateException(what + " inside a step run by runStep: a captured step may not move data to or from the host");
    }

    // ---------------------------------------------------------------- Profiling (augur bench)

    private long peakDevice;

    /** Times every launch with a pair of CUDA events (and cuBLAS calls as one region each). */
    @Override
    public void setOpTiming(boolean on) {
        begin();
        rt.setTiming(on);
    }

    /** Device seconds per kernel since the last reset; waits for the compute stream to read the events. */
    @Override
    public Map<String, OpStats> opStats() {
        begin();
        return rt.collectTimes();
    }

    @Override
    public void resetOpStats() {
        begin();
        rt.resetTimes();
    }

    /**
     * Device memory in use (total minus free: the whole device, so this process's context, arena
     * and library workspaces, and any other process there), the most seen by this call since the
     * last reset. A training step allocates nothing, so what is in use after a run is its peak.
     */
    @Override
    public long peakDeviceBytes() {
        begin();
        long[] m = rt.memoryInfo();
        peakDevice = Math.max(peakDevice, m[1] - m[0]);
        return peakDevice;
    }

    @Override
    public void resetPeakDeviceBytes() {
        peakDevice = 0;
    }

    /**
     * The device's fp32 GEMM rate (the GEMM provider in use, 4096 x 4096 x 4096) and copy
     * bandwidth (device-to-device cuMemcpy, bytes read plus bytes written, as the cost model counts
     * bytes), each the best of 3 rounds of 10 after a warm-up round, timed with CUDA events. The
     * buffers are allocated for the measurement and freed after it. {@code quick} (bench --smoke)
     * measures a 512 x 512 x 512 GEMM and a 16 MiB copy, 2 rounds of 2: fast anywhere, including
     * the CPU emulator, but below the device's true rates.
     */
    @Override
    public Ceilings measureCeilings(boolean quick) {
        begin();
        boolean wasTiming = rt.timing();
        rt.setTiming(false);
        rt.synchronizeAll();
        final int n = quick ? 512 : 4096, reps = quick ? 2 : 10, rounds = quick ? 2 : 4;
        long matBytes = 4L * n * n;
        long copyBytes = Math.max(1L << 20, Math.min(quick ? 16L << 20 : 1L << 30, rt.memoryInfo()[0] / 8)) & ~255L;
        long a = rt.allocate(matBytes), b = rt.allocate(matBytes), c = rt.allocate(matBytes);
        long src = rt.allocate(copyBytes), dst = rt.allocate(copyBytes);
        try {
            int hundredth = Float.floatToIntBits(0.01f);
            CudaException.check(JCudaDriver.cuMemsetD32Async(rt.pointer(a), hundredth, (long) n * n, rt.compute), "cuMemsetD32Async(ceilings)");
            CudaException.check(JCudaDriver.cuMemsetD32Async(rt.pointer(b), hundredth, (long) n * n, rt.compute), "cuMemsetD32Async(ceilings)");
            CudaException.check(JCudaDriver.cuMemsetD32Async(rt.pointer(src), hundredth, copyBytes / 4, rt.compute), "cuMemsetD32Async(ceilings)");
            CUevent start = rt.timingEvent(), end = rt.timingEvent();
            double flops = 0, bytes = 0;
            for (int round = 0; round < rounds; round++) {   // round 0 warms up
                CudaException.check(JCudaDriver.cuEventRecord(start, rt.compute), "cuEventRecord");
                for (int r = 0; r < reps; r++) gemm.gemm(c, a, b, 0, n, n, n, n, n, n, false, false, false);
                CudaException.check(JCudaDriver.cuEventRecord(end, rt.compute), "cuEventRecord");
                CudaException.check(JCudaDriver.cuEventSynchronize(end), "cuEventSynchronize(ceilings GEMM)", rt.lastKernel());
                double gemmS = CudaRuntime.elapsedMs(start, end) / 1e3;

                CudaException.check(JCudaDriver.cuEventRecord(start, rt.compute), "cuEventRecord");
                for (int r = 0; r < reps; r++) {
                    CudaException.check(JCudaDriver.cuMemcpyDtoDAsync(rt.pointer(dst), rt.pointer(src), copyBytes, rt.compute), "cuMemcpyDtoDAsync(ceilings)");
                }
                CudaException.check(JCudaDriver.cuEventRecord(end, rt.compute), "cuEventRecord");
                CudaException.check(JCudaDriver.cuEventSynchronize(end), "cuEventSynchronize(ceilings copy)");
                double copyS = CudaRuntime.elapsedMs(start, end) / 1e3;
                if (round > 0) {
                    flops = Math.max(flops, 2.0 * n * n * n * reps / gemmS);
                    bytes = Math.max(bytes, 2.0 * copyBytes * reps / copyS);
                }
            }
            return new Ceilings(flops, bytes, String.format("GEMM: %s, %dx%dx%d fp32; copy: cuMemcpyDtoDAsync of %d MiB, bytes read + written; "
                    + "best of %d rounds of %d after a warm-up round, CUDA events", gemm.name(), n, n, n, copyBytes >> 20, rounds - 1, reps));
        } finally {
            for (long p : new long[] {a, b, c, src, dst}) rt.free(p);
            rt.setTiming(wasTiming);
        }
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        rt.close();
    }
}
