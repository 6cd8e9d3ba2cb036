// The activation unit layer by layer: for what the fused kernels (activation_unit.cu) cannot do,
// Dice in the hidden layers, whose batch statistics span every valid position of the batch; and,
// with -Daugur.attention.fused=off, for sigmoid and PReLU too, as products over all of the batch's
// positions at once (the big tiles of gemm_kernel, or gemm_tf32_kernel, instead of the fused
// kernels' per-tile products; which is faster at which batch is for a device to measure,
// io.augur.backend.cuda.Autotuner). CPU reference: io.augur.backend.cpu.ActivationUnit
// (forwardRef / backwardRef), and io.augur.backend.cpu.Dice for the statistics. The host
// (CudaBackend.activationUnit) runs, over all R = B * T positions as rows:
//   activation_unit_input_forward_kernel   z = [q, k, q - k, q * k] (0 at padded positions)
//   gemm, act, gemm, act, gemm             Dice (dice_sliced_*) normalises over the valid positions
//                                          alone and writes 0 at the padded ones; sigmoid and PReLU
//                                          run in the built-in GEMM's epilogue (the pre-activations
//                                          kept for the backward), or after a library GEMM
//   activation_unit_pool_forward_kernel    the weights (masked, softmax if asked) and the pooled output
//                                          (activation_unit.cu, shared with the fused unit)
// and backward the same in reverse, ending in activation_unit_input_backward_kernel. Padded
// positions carry exact zeros through every layer's gradient, so the weight gradients equal
// those of the CPU's packed valid rows (in another summation order).
//
// Dice over the R = B * T rows (204,800 at batch 2048, T = 100) is dice.cu's sliced kernels,
// the bias gradients gemm.cu's bias_grad_partials / bias_grad_reduce: both spread the rows over
// the GPU in slices and combine the slices in a fixed order. With the built-in GEMM the rows are
// packed, the valid positions alone (activation_unit_row_starts_kernel below), and every kernel
// stops at their count, which stays in device memory: the grids are sized for B * T rows, and
// the GEMMs' and Dice's blocks past the count return at once.
#include "common.cuh"


// Packed rows (CudaBackend with the built-in GEMM, which can stop at a row count kept on the
// device): the valid positions alone, sample b's at rows [row_start[b], row_start[b] + len_b), and
// count = sum_b len_b. Every kernel of the unit then walks `count` rows instead of B T (about a
// fifth of them at the benchmark's mean history of 17.9 of T = 100), and nothing is written past
// it. One block (at most 1024 threads): augur::length_runs counts the runs of samples, then each
// thread writes its run's starts. Lengths clamped to [0, T].
//   row_start (B)   count (1)   lengths (B)
AUGUR_KERNEL void activation_unit_row_starts_kernel(int* __restrict__ row_start, int* __restrict__ count,
                                                    const int* __restrict__ lengths, int B, int T) {
  __shared__ int run_start[1025];
  augur::length_runs(run_start, lengths, B, T);
  const int per = (B + blockDim.x - 1) / blockDim.x;
  int start = run_start[threadIdx.x];
  for (int b = threadIdx.x * per, end = min(B, ((int)threadIdx.x + 1) * per); b < end; ++b) {
    row_start[b] = start;
    start += augur::clamped_length(lengths, b, T);
  }
  if (threadIdx.x == 0) count[0] = run_start[blockDim.x];
}

// z (rows, 4W) = [q_b, k_bt, q_b - k_bt, q_b * k_bt], row r = b T + t for t < lengths[b] and 0 for
// t >= lengths[b] (the keys there are not read); with row_start, packed: row row_start[b] + t for
// t < lengths[b] only, nothing past.   query (B, W)   keys (B, T, W)   lengths (B)
// Grid: samples on x (block b takes samples b, b + gridDim.x, ...), a sample's elements on its
// threads with 32-bit index arithmetic; packed, only its valid positions' (walking all B T W
// elements with 64-bit division for each, four fifths of them skipped, cost more than the copy).
AUGUR_KERNEL void activation_unit_input_forward_kernel(float* __restrict__ z, const float* __restrict__ query,
                                                       const float* __restrict__ keys, const int* __restrict__ lengths,
                                                       const int* __restrict__ row_start, int B, int T, int W) {
  for (int b = blockIdx.x; b < B; b += gridDim.x) {
    const int len = augur::clamped_length(lengths, b, T);
    const long long first = row_start != nullptr ? (long long)row_start[b] : (long long)b * T;
    const int n = (row_start != nullptr ? len : T) * W;
    for (int e = threadIdx.x; e < n; e += blockDim.x) {
      const int t = e / W, c = e - t * W;
      float* zr = z + (first + t) * 4 * W;
      if (t < len) {
        const float q = query[(long long)b * W + c], k = keys[((long long)b * T + t) * W + c];
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
}

// Backward of the input: with dz = [dq', dk', dd, dp] per valid position (row b T + t, or packed
// row_start[b] + t),
//   d_query[b, c] += sum_t (dq' + dd + dp k_btc)         (in t order, one thread per (b, c))
//   d_keys[b, t, c] += dk' - dd + dp q_bc                 (+=; padded positions untouched)
AUGUR_KERNEL void activation_unit_input_backward_kernel(float* __restrict__ d_query, float* __restrict__ d_keys,
                                                        const float* __restrict__ dz, const float* __restrict__ query,
                                                        const float* __restrict__ keys,
                                                        const int* __restrict__ lengths, const int* __restrict__ row_start,
                                                        int B, int T, int W) {
  AUGUR_GRID_STRIDE(i, (long long)B * W) {
    const int e = (int)i, b = e / W, c = e - b * W;  // i < B W, query's size: an int
    const int len = augur::clamped_length(lengths, b, T);
    const float q = query[i];
    const long long first = row_start != nullptr ? (long long)row_start[b] : (long long)b * T;
    float acc = d_query[i];
    for (int t = 0; t < len; ++t) {
      const long long r = (long long)b * T + t;
      const float* dzr = dz + (first + t) * 4 * W;
      const float dzq = dzr[c], dzk = dzr[W + c], dzd = dzr[2 * W + c], dzp = dzr[3 * W + c];
      acc += dzq + dzd + dzp * keys[r * W + c];
      d_keys[r * W + c] += dzk - dzd + dzp * q;
    }
    d_query[i] = acc;
  }
}

// Sigmoid's backward over the unit's rows (the layer-by-layer unit with -Daugur.attention.fused=off):
//   dx = dy s (1 - s),  s = sigmoid(h)   (=)                   dx, dy, h (R, C)
// from the pre-activations h, since the backward has already written dy over the activations (as
// it does each layer's gradient); the forward's epilogue computed s from h with the same
// augur::sigmoidf, so s is the forward's bits. With count (packed rows) the rows r < *count only,
// nothing past; else all R.
AUGUR_KERNEL void activation_unit_sigmoid_backward_kernel(float* __restrict__ dx, const float* __restrict__ dy,
                                                          const float* __restrict__ h, const int* __restrict__ count,
                                                          int R, int C) {
  const long long rows = count != nullptr ? min((long long)max(*count, 0), (long long)R) : (long long)R;
  AUGUR_GRID_STRIDE(i, rows * C) {
    const float s = augur::sigmoidf(h[i]);
    dx[i] = dy[i] * s * (1.0f - s);
  }
}
