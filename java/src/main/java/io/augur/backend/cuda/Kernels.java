package io.augur.backend.cuda;

import java.util.List;

/**
 * The names of the kernels in {@code cuda/augur.fatbin}, as written in {@code cuda/*.cu}
 * ({@code extern "C"}, so the same plain name appears in the fatbin, in Nsight and in errors).
 * {@code KernelNamesTest} checks that every name here is defined in {@code cuda/} and that every
 * kernel defined there is listed here.
 */
public final class Kernels {
    private Kernels() {}

    // embedding.cu
    public static final String EMBEDDING_GATHER_FORWARD = "embedding_gather_forward_kernel";
    public static final String EMBEDDING_GATHER_BACKWARD = "embedding_gather_backward_kernel";
    public static final String EMBEDDING_GATHER_MULTI_FORWARD = "embedding_gather_multi_forward_kernel";
    public static final String EMBEDDING_GATHER_MULTI_FORWARD_ZERO = "embedding_gather_multi_forward_zero_kernel";
    public static final String EMBEDDING_GATHER_MULTI_BACKWARD = "embedding_gather_multi_backward_kernel";
    public static final String HISTORY_GATHER = "history_gather_kernel";
    public static final String SUM_POOL_FORWARD = "sum_pool_forward_kernel";
    public static final String SUM_POOL_BACKWARD = "sum_pool_backward_kernel";
    // sparse_update.cu
    public static final String SPARSE_UPDATE = "sparse_update_kernel";
    public static final String SPARSE_UPDATE_MULTI = "sparse_update_multi_kernel";
    // interest_concat.cu
    public static final String INTEREST_CONCAT_FORWARD = "interest_concat_forward_kernel";
    public static final String INTEREST_CONCAT_BACKWARD = "interest_concat_backward_kernel";
    // elementwise.cu
    public static final String SIGMOID_FORWARD = "sigmoid_forward_kernel";
    public static final String SIGMOID_BACKWARD = "sigmoid_backward_kernel";
    public static final String ADD_INTO = "add_into_kernel";
    public static final String SCALE_SEQUENCE_FORWARD = "scale_sequence_forward_kernel";
    public static final String SCALE_SEQUENCE_BACKWARD = "scale_sequence_backward_kernel";
    public static final String ZERO_MULTI = "zero_multi_kernel";
    public static final String COPY_MULTI = "copy_multi_kernel";
    // aux_pairs.cu
    public static final String AUX_PAIRS_FORWARD = "aux_pairs_forward_kernel";
    public static final String AUX_PAIRS_BACKWARD = "aux_pairs_backward_kernel";
    // gemm.cu
    public static final String GEMM = "gemm_kernel";
    public static final String GEMM_TF32 = "gemm_tf32_kernel";
    public static final String GEMM_SMALL = "gemm_small_kernel";
    /** Two of gemm_small_kernel's products in one launch: a linear layer's dx and dW (BuiltinGemm.linearBackward). */
    public static final String GEMM_SMALL_PAIR = "gemm_small_pair_kernel";
    public static final String BIAS_GRAD = "bias_grad_kernel";
    public static final String BIAS_GRAD_PARTIALS = "bias_grad_partials_kernel";
    public static final String BIAS_GRAD_REDUCE = "bias_grad_reduce_kernel";
    public static final String BIAS_BROADCAST = "bias_broadcast_kernel";
    // batch_norm.cu, dice.cu, prelu.cu
    public static final String BATCH_NORM_FORWARD = "batch_norm_forward_kernel";
    public static final String BATCH_NORM_BACKWARD = "batch_norm_backward_kernel";
    /** dice_backward_kernel with the tower's logit layer above it, its backward in the same launch (Backend.logitsDiceBackward). */
    public static final String DICE_BACKWARD_HEAD = "dice_backward_head_kernel";
    public static final String DICE_FORWARD = "dice_forward_kernel";
    public static final String DICE_BACKWARD = "dice_backward_kernel";
    public static final String PRELU_FORWARD = "prelu_forward_kernel";
    public static final String PRELU_BACKWARD = "prelu_backward_kernel";
    // the same over row slices (more than one slice of rows; CudaBackend.sliced)
    public static final String SLICED_STATISTICS = "sliced_statistics_kernel";
    public static final String BATCH_NORM_SLICED_FORWARD = "batch_norm_sliced_forward_kernel";
    public static final String BATCH_NORM_SLICED_BACKWARD_SUMS = "batch_norm_sliced_backward_sums_kernel";
    public static final String BATCH_NORM_SLICED_BACKWARD = "batch_norm_sliced_backward_kernel";
    public static final String DICE_SLICED_FORWARD = "dice_sliced_forward_kernel";
    public static final String DICE_SLICED_BACKWARD_SUMS = "dice_sliced_backward_sums_kernel";
    public static final String DICE_SLICED_BACKWARD = "dice_sliced_backward_kernel";
    public static final String PRELU_SLICED_BACKWARD = "prelu_sliced_backward_kernel";
    // tower.cu (the top MLP per layer and direction; in clusters of 2, 4, 8 or 16 blocks for larger batches)
    public static final String TOWER_FORWARD = "tower_forward_kernel";
    public static final String TOWER_BACKWARD = "tower_backward_kernel";
    public static final List<Integer> TOWER_CLUSTERS = List.of(1, 2, 4, 8, 16);
    /**
     * The largest cluster a kernel launches in without opting in (CUDA's portable cluster size). The tower's clusters of
     * 16 need CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED on their kernels first (CudaRuntime.allowNonPortableClusters),
     * and run only where asked for (-Daugur.tower.cluster=16, or the autotuner): automatic takes the smallest of the
     * portable sizes that fits.
     */
    public static final int PORTABLE_CLUSTER = 8;

    /** The tower's forward kernel in clusters of {@code s} blocks (1: without clusters). */
    public static String towerForward(int s) {
        return s == 1 ? TOWER_FORWARD : "tower_forward_cluster" + s + "_kernel";
    }

    /** The tower's backward kernel in clusters of {@code s} blocks (1: without clusters). */
    public static String towerBackward(int s) {
        return s == 1 ? TOWER_BACKWARD : "tower_backward_cluster" + s + "_kernel";
    }

    /** The blocks per cluster of a tower kernel ({@link #towerForward}, {@link #towerBackward}); 0 for any other kernel. */
    public static int towerCluster(String kernel) {
        for (int s : TOWER_CLUSTERS)
            if (kernel.equals(towerForward(s)) || kernel.equals(towerBackward(s))) return s;
        return 0;
    }
    // bce.cu, adam.cu
    public static final String BCE_WITH_LOGITS = "bce_with_logits_kernel";
    /** The tower's logit layer and the loss in one launch (Backend.logitsAndLoss). */
    public static final String BCE_HEAD = "bce_head_kernel";
    public static final String ADAM = "adam_kernel";
    public static final String ADAM_MULTI = "adam_multi_kernel";
    public static final String STEP_ADVANCE = "step_advance_kernel";
    public static final String OPTIMIZER_STEP = "optimizer_step_kernel";
    // activation_unit.cu (the pool kernels serve activation_unit_unfused.cu too)
    /** The fused unit with its products on vector tiles: W, h1 and h2 multiples of 4 (CudaBackend.attentionVectorTiles). */
    public static final String ACTIVATION_UNIT_FORWARD = "activation_unit_forward_kernel";
    public static final String ACTIVATION_UNIT_BACKWARD = "activation_unit_backward_kernel";
    /** The same on scalar tiles, for any widths. */
    public static final String ACTIVATION_UNIT_FORWARD_SCALAR = "activation_unit_forward_scalar_kernel";
    public static final String ACTIVATION_UNIT_BACKWARD_SCALAR = "activation_unit_backward_scalar_kernel";
    /** The two forwards above with their products' split K, for tiles of up to AttentionArgs.SPLIT_ROWS positions. */
    public static final String ACTIVATION_UNIT_FORWARD_SPLIT = "activation_unit_forward_split_kernel";
    public static final String ACTIVATION_UNIT_FORWARD_SCALAR_SPLIT = "activation_unit_forward_scalar_split_kernel";
    public static final String ACTIVATION_UNIT_FORWARD_TF32 = "activation_unit_forward_tf32_kernel";
    public static final String ACTIVATION_UNIT_BACKWARD_TF32 = "activation_unit_backward_tf32_kernel";
    /** The same with every operand split into two TF32 parts, three products for one ({@code --precision tf32x3}). */
    public static final String ACTIVATION_UNIT_FORWARD_TF32X3 = "activation_unit_forward_tf32x3_kernel";
    public static final String ACTIVATION_UNIT_BACKWARD_TF32X3 = "activation_unit_backward_tf32x3_kernel";
    /** The backward held to 80 registers, three blocks of 256 threads an SM (CudaBackend launches it at 3 or more). */
    public static final String ACTIVATION_UNIT_BACKWARD_3BLOCKS = "activation_unit_backward_3blocks_kernel";
    public static final String ACTIVATION_UNIT_BACKWARD_SCALAR_3BLOCKS = "activation_unit_backward_scalar_3blocks_kernel";
    public static final String ACTIVATION_UNIT_BACKWARD_TF32_3BLOCKS = "activation_unit_backward_tf32_3blocks_kernel";
    public static final String ACTIVATION_UNIT_BACKWARD_TF32X3_3BLOCKS = "activation_unit_backward_tf32x3_3blocks_kernel";
    public static final String ACTIVATION_UNIT_REDUCE = "activation_unit_reduce_kernel";
    /** The reduce and the step's lookups' backward in one launch (CudaBackend.attentionInterestBackward with the lookups). */
    public static final String ACTIVATION_UNIT_REDUCE_GATHER = "activation_unit_reduce_gather_kernel";
    public static final String ACTIVATION_UNIT_POOL_FORWARD = "activation_unit_pool_forward_kernel";
    public static final String ACTIVATION_UNIT_POOL_BACKWARD = "activation_unit_pool_backward_kernel";
    // activation_unit_unfused.cu (the unit layer by layer: with Dice, or -Daugur.attention.fused=off)
    public static final String ACTIVATION_UNIT_ROW_STARTS = "activation_unit_row_starts_kernel";
    public static final String ACTIVATION_UNIT_INPUT_FORWARD = "activation_unit_input_forward_kernel";
    public static final String ACTIVATION_UNIT_INPUT_BACKWARD = "activation_unit_input_backward_kernel";
    public static final String ACTIVATION_UNIT_SIGMOID_BACKWARD = "activation_unit_sigmoid_backward_kernel";
    // recurrence.cu
    public static final String RECURRENCE_FORWARD = "recurrence_forward_kernel";
    public static final String RECURRENCE_BACKWARD = "recurrence_backward_kernel";
    public static final String RECURRENCE_TRANSPOSE = "recurrence_transpose_kernel";
    public static final String RECURRENCE_WEIGHT_GRAD = "recurrence_weight_grad_kernel";
    public static final String RECURRENCE_WEIGHT_GRAD_REDUCE = "recurrence_weight_grad_reduce_kernel";

    /** Every kernel; all are looked up when the module loads, so a missing one fails at start. */
    public static final List<String> ALL = List.of(
            EMBEDDING_GATHER_FORWARD, EMBEDDING_GATHER_BACKWARD, EMBEDDING_GATHER_MULTI_FORWARD, EMBEDDING_GATHER_MULTI_FORWARD_ZERO, EMBEDDING_GATHER_MULTI_BACKWARD, HISTORY_GATHER, SUM_POOL_FORWARD, SUM_POOL_BACKWARD, SPARSE_UPDATE, SPARSE_UPDATE_MULTI,
            INTEREST_CONCAT_FORWARD, INTEREST_CONCAT_BACKWARD, SIGMOID_FORWARD, SIGMOID_BACKWARD, ADD_INTO,
            SCALE_SEQUENCE_FORWARD, SCALE_SEQUENCE_BACKWARD, ZERO_MULTI, COPY_MULTI, AUX_PAIRS_FORWARD, AUX_PAIRS_BACKWARD, GEMM, GEMM_TF32, GEMM_SMALL, GEMM_SMALL_PAIR, BIAS_GRAD,
            BIAS_BROADCAST, BATCH_NORM_FORWARD, BATCH_NORM_BACKWARD, DICE_FORWARD, DICE_BACKWARD, DICE_BACKWARD_HEAD, PRELU_FORWARD,
            PRELU_BACKWARD, BCE_WITH_LOGITS, BCE_HEAD, ADAM, ADAM_MULTI, STEP_ADVANCE, OPTIMIZER_STEP, ACTIVATION_UNIT_FORWARD,
            ACTIVATION_UNIT_BACKWARD, ACTIVATION_UNIT_FORWARD_SCALAR, ACTIVATION_UNIT_BACKWARD_SCALAR, ACTIVATION_UNIT_FORWARD_SPLIT,
            ACTIVATION_UNIT_FORWARD_SCALAR_SPLIT, ACTIVATION_UNIT_FORWARD_TF32, ACTIVATION_UNIT_BACKWARD_TF32, ACTIVATION_UNIT_BACKWARD_3BLOCKS, ACTIVATION_UNIT_BACKWARD_SCALAR_3BLOCKS,
            ACTIVATION_UNIT_BACKWARD_TF32_3BLOCKS, ACTIVATION_UNIT_FORWARD_TF32X3, ACTIVATION_UNIT_BACKWARD_TF32X3, ACTIVATION_UNIT_BACKWARD_TF32X3_3BLOCKS,
            ACTIVATION_UNIT_REDUCE, ACTIVATION_UNIT_REDUCE_GATHER, ACTIVATION_UNIT_ROW_STARTS, ACTIVATION_UNIT_INPUT_FORWARD, ACTIVATION_UNIT_INPUT_BACKWARD,
            ACTIVATION_UNIT_SIGMOID_BACKWARD,
            ACTIVATION_UNIT_POOL_FORWARD, ACTIVATION_UNIT_POOL_BACKWARD, SLICED_STATISTICS, BATCH_NORM_SLICED_FORWARD,
            BATCH_NORM_SLICED_BACKWARD_SUMS, BATCH_NORM_SLICED_BACKWARD, DICE_SLICED_FORWARD, DICE_SLICED_BACKWARD_SUMS,
            DICE_SLICED_BACKWARD, PRELU_SLICED_BACKWARD, TOWER_FORWARD, TOWER_BACKWARD, towerForward(2), towerBackward(2),
            towerForward(4), towerBackward(4), towerForward(8), towerBackward(8), towerForward(16), towerBackward(16), BIAS_GRAD_PARTIALS, BIAS_GRAD_REDUCE, RECURRENCE_FORWARD,
            RECURRENCE_BACKWARD, RECURRENCE_TRANSPOSE, RECURRENCE_WEIGHT_GRAD, RECURRENCE_WEIGHT_GRAD_REDUCE);

    /**
     * The kernels that call {@code augur::grid_dependency_wait()} (common.cuh) in every thread before
     * they read what an earlier kernel wrote: on compute capability 9.0 they may be launched with
     * programmatic stream serialization (CudaRuntime), their blocks starting while the kernel before
     * them still runs. Before the wait they read only the model's weights. ProgrammaticLaunchTest checks
     * that each one is defined in a source that waits; the emulator fails a programmatic launch
     * whose block returns without waiting, or reads before it what the kernel before it wrote.
     */
    public static final java.util.Set<String> PROGRAMMATIC = java.util.Set.of(
            ACTIVATION_UNIT_FORWARD, ACTIVATION_UNIT_FORWARD_SCALAR, ACTIVATION_UNIT_FORWARD_SPLIT, ACTIVATION_UNIT_FORWARD_SCALAR_SPLIT,
            ACTIVATION_UNIT_FORWARD_TF32, ACTIVATION_UNIT_BACKWARD, ACTIVATION_UNIT_BACKWARD_SCALAR, ACTIVATION_UNIT_BACKWARD_TF32, ACTIVATION_UNIT_BACKWARD_3BLOCKS, ACTIVATION_UNIT_BACKWARD_SCALAR_3BLOCKS,
            ACTIVATION_UNIT_BACKWARD_TF32_3BLOCKS, ACTIVATION_UNIT_FORWARD_TF32X3, ACTIVATION_UNIT_BACKWARD_TF32X3, ACTIVATION_UNIT_BACKWARD_TF32X3_3BLOCKS,
            ACTIVATION_UNIT_REDUCE, ACTIVATION_UNIT_REDUCE_GATHER, ACTIVATION_UNIT_POOL_FORWARD, EMBEDDING_GATHER_MULTI_BACKWARD, OPTIMIZER_STEP,
            TOWER_FORWARD, TOWER_BACKWARD, towerForward(2), towerBackward(2), towerForward(4), towerBackward(4), towerForward(8),
            towerBackward(8), towerForward(16), towerBackward(16));

    /**
     * Kernels that write the model's weights: a programmatic launch right after one of them would
     * read weights it may still be writing, so the kernel after one is launched the plain way.
     */
    public static final java.util.Set<String> WRITE_WEIGHTS = java.util.Set.of(
            OPTIMIZER_STEP, ADAM, ADAM_MULTI, SPARSE_UPDATE, SPARSE_UPDATE_MULTI);

    /** Threads per block of the 1-D kernels. */
    static final int BLOCK = 256;
    /** Rows of a column-reduction block: (32, COL_ROWS) threads, as common.cuh's COL_ROWS. */
    static final int COL_ROWS = 16;

    /** Blocks for n elements of a grid-stride kernel: enough to fill the device, at least 1. */
    static int blocks(long n, int block, int maxBlocks) {
        long b = (n + block - 1) / block;
        return (int) Math.max(1, Math.min(b, maxBlocks));
    }
}
