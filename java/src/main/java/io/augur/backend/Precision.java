package io.augur.backend;

import java.util.Locale;

/**
 * The arithmetic of the GPU path's matrix products ({@code --precision}; DESIGN.md §5).
 * <ul>
 *   <li>{@link #FP32}, the default: every product in fp32, each output summed in a fixed order.
 *   <li>{@link #TF32}: the products of the linear layers (the built-in {@code gemm_tf32_kernel}, or
 *       cuBLAS in {@code CUBLAS_TF32_TENSOR_OP_MATH}) and of the fused activation unit's MLP run
 *       on the tensor cores of compute capability 8.0 and newer, their operands rounded to TF32
 *       (10 mantissa bits) and summed in fp32. What is not a matrix product (activations,
 *       normalisation, softmax, pooling, the loss, the optimizers, the GRU recurrences) stays fp32.
 *   <li>{@link #TF32X3}: the fused activation unit's products on the same tensor cores with each
 *       fp32 operand split into two TF32 parts and three products taken for one (hi·hi + hi·lo +
 *       lo·hi; CUTLASS's "3xTF32", and what PyTorch's {@code set_float32_matmul_precision("high")}
 *       trades in bf16): each multiply within about 2^-20 of the exact product, against 2^-24 for
 *       fp32 and 2^-11 per operand for TF32. Everything else, the linear layers included, is exactly
 *       the fp32 path (the same kernels).
 * </ul>
 * The CPU backends compute in fp32 whatever is asked; a GPU older than compute capability 8.0
 * runs fp32 and says so. The parity tolerances of TF32 are in README.md ("Precision").
 */
public enum Precision {
    FP32, TF32, TF32X3;

    /** fp32, tf32 or tf32x3, any case; anything else is an error that names the option. */
    public static Precision parse(String s) {
        String v = s == null ? "" : s.trim().toLowerCase(Locale.ROOT);
        return switch (v) {
            case "fp32" -> FP32;
            case "tf32" -> TF32;
            case "tf32x3" -> TF32X3;
            default -> throw new IllegalArgumentException("--precision " + s + ": expected fp32, tf32 or tf32x3");
        };
    }

    /** The name the CLI takes and the logs and bench records show. */
    public String label() { return name().toLowerCase(Locale.ROOT); }

    /** Whether some products run on the TF32 tensor cores (compute capability 8.0 and newer). */
    public boolean tensorCores() { return this != FP32; }
}
