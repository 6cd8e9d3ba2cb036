// The activation unit layer by layer, for what the fused kernels (activation_unit.cu) cannot do:
// Dice in the hidden layers, whose batch statistics span every valid position of the batch.
// CPU reference: io.augur.backend.cpu.ActivationUnit (forwardRef / backwardRef), and
// io.augur.backend.cpu.Dice for the statistics. The host (CudaBackend.activationUnit) runs, over
// all R = B * T positions as rows:
//   activation_unit_input_forward_kernel   z = [q, k, q - k, q * k] (0 at padded positions)
//   gemm, Dice, gemm, Dice, gemm           Dice (dice_sliced_*) normalises over the valid positions
//                                          alone and writes 0 at the padded ones
//   activation_unit_pool_forward_kernel    the weights (masked, softmax if asked) and the pooled output
//                                          (activation_unit.cu, shared with the fused unit)
// and backward the same in reverse, ending in activation_unit_input_backward_kernel. Padded
// positions carry exact zeros through every layer's gradient, so the weight gradients equal
// those of the CPU's packed valid rows (in another summation order).
//
// Dice over the R = B * T rows (204,800 at batch 2048, T = 100) is dice.cu's sliced kernels,
// the bias gradients gemm.cu's bias_grad_partials / bias_grad_reduce: both spread the rows over
// the GPU in slices and combine the slices in a fixed order.
#include "common.cuh"


// z (B, T, 4W) = [q_b, k_bt, q_b - k_bt, q_b * k_bt] for t < lengths[b], 0 for t >= lengths[b]
// (the keys there are not read).   query (B, W)   keys (B, T, W)   lengths (B)
AUGUR_KERNEL void activation_unit_input_forward_kernel(float* __restrict__ z, const float* __restrict__ query,
                                                       const float* __restrict__ keys, const int* __restrict__ lengths,
                                                       int B, int T, int W) {
  AUGUR_GRID_STRIDE(i, (long long)B * T * W) {
    const long long r = i / W;
    const int c = (int)(i - r * W);
    const int b = (int)(r / T), t = (int)(r - (long long)b * T);
    float* zr = z + r * 4 * W;
    if (t < augur::clamped_length(lengths, b, T)) {
      const float q = query[(long long)b * W + c], k = keys[i];
      zr[c] = q;
      zr[W + c] = k;
      zr[2 * W + c] = q - k;
      zr[3 * W + c] = q * k;
    } else {
      zr[c] = 0.0f;
      zr[W + c] = 0.0f;
      zr[2 * W + c] = 0.0f;
      zr[3 * W + c] = 0.0f;
    }
  }
}

// Backward of the input: with dz = [dq', dk', dd, dp] per valid position,
//   d_query[b, c] += sum_t (dq' + dd + dp k_btc)         (in t order, one thread per (b, c))
//   d_keys[b, t, c] += dk' - dd + dp q_bc                 (+=; padded positions untouched)
AUGUR_KERNEL void activation_unit_input_backward_kernel(float* __restrict__ d_query, float* __restrict__ d_keys,
                                                        const float* __restrict__ dz, const float* __restrict__ query,
                                                        const float* __restrict__ keys,
                                                        const int* __restrict__ lengths, int B, int T, int W) {
  AUGUR_GRID_STRIDE(i, (long long)B * W) {
    const int b = (int)(i / W), c = (int)(i - (long long)b * W);
    const int len = augur::clamped_length(lengths, b, T);
    const float q = query[i];
    float acc = d_query[i];
    for (int t = 0; t < len; ++t) {
      const long long r = (long long)b * T + t;
      const float* dzr = dz + r * 4 * W;
      const float dzq = dzr[c], dzk = dzr[W + c], dzd = dzr[2 * W + c], dzp = dzr[3 * W + c];
      acc += dzq + dzd + dzp * keys[r * W + c];
      d_keys[r * W + c] += dzk - dzd + dzp * q;
    }
    d_query[i] = acc;
  }
}
