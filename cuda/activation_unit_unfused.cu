// The activation unit layer by layer, for what the fused kernels (activation_unit.cu) cannot do:
// Dice in the hidden layers, whose batch statistics span every valid position of the batch.
// CPU reference: io.augur.backend.cpu.ActivationUnit (forwardRef / backwardRef), and
// io.augur.backend.cpu.Dice for the statistics. The host (CudaBackend.activationUnit) runs, over
// all R = B * T positions as rows:
//   activation_unit_input_forward_kernel   z = [q, k, q - k, q * k] (0 at padded positions)
//   gemm, Dice, gemm, Dice, gemm           Dice (dice_sliced_*) normalises over the valid positions
//                                          alone and writes 0 at the padded ones
//   activation_unit_pool_forward_kernel    the weights (masked, softmax if asked) and the pooled output
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

// One block per sample. weights[b, t] = score[b, t] (or its softmax over t < len), 0 for
// t >= len; out[b, :] = sum_t weights[b, t] k_bt (skipped when out is nullptr). A length outside
// [0, T] sets AUGUR_STATUS_BAD_LENGTH and is clamped.
//   out (B, W) or nullptr   weights, score (B, T)   keys (B, T, W)   lengths (B)
// Dynamic shared memory: T floats.
AUGUR_KERNEL void activation_unit_pool_forward_kernel(float* __restrict__ out, float* __restrict__ weights,
                                                      int* status, const float* __restrict__ score,
                                                      const float* __restrict__ keys,
                                                      const int* __restrict__ lengths, int T, int W, int softmax) {
  extern __shared__ float w[];
  __shared__ double scratch[32];
  const int b = blockIdx.x;
  const int len = augur::checked_length(lengths, b, T, status);
  const float* s = score + (long long)b * T;
  for (int t = threadIdx.x; t < len; t += blockDim.x) w[t] = s[t];
  if (softmax && len > 0) {
    const float inv = augur::softmax_exponentials(w, len, scratch);
    for (int t = threadIdx.x; t < len; t += blockDim.x) w[t] *= inv;
  }
  for (int t = len + threadIdx.x; t < T; t += blockDim.x) w[t] = 0.0f;
  __syncthreads();
  for (int t = threadIdx.x; t < T; t += blockDim.x) weights[(long long)b * T + t] = w[t];
  if (out == nullptr) return;
  const float* kb = keys + (long long)b * T * W;
  for (int c = threadIdx.x; c < W; c += blockDim.x) {
    float acc = 0.0f;
    for (int t = 0; t < len; ++t) acc += w[t] * kb[(long long)t * W + c];
    out[(long long)b * W + c] = acc;
  }
}

// One block per sample. With g_t = d_weights[b, t] + sum_c d_out[b, c] k_btc for t < len
// (either term absent when its pointer is nullptr):
//   d_keys[b, t, :] += weights[b, t] d_out[b, :]                          (+=)
//   d_score[b, t] = g_t, or through the softmax w_t (g_t - sum_s w_s g_s); 0 for t >= len   (=)
AUGUR_KERNEL void activation_unit_pool_backward_kernel(float* __restrict__ d_score, float* __restrict__ d_keys,
                                                       const float* __restrict__ d_out,
                                                       const float* __restrict__ d_weights,
                                                       const float* __restrict__ weights,
                                                       const float* __restrict__ keys,
                                                       const int* __restrict__ lengths, int T, int W, int softmax) {
  __shared__ double scratch[32];
  const int b = blockIdx.x;
  const int len = augur::clamped_length(lengths, b, T);
  const long long row0 = (long long)b * T;
  const float* kb = keys + row0 * W;
  const float* db = d_out != nullptr ? d_out + (long long)b * W : nullptr;
  double dot = 0.0;
  for (int t = threadIdx.x; t < len; t += blockDim.x) {  // each thread keeps its own t's g in d_score
    float g = d_weights != nullptr ? d_weights[row0 + t] : 0.0f;
    if (db != nullptr)
      for (int c = 0; c < W; ++c) g += db[c] * kb[(long long)t * W + c];
    d_score[row0 + t] = g;
    dot += (double)weights[row0 + t] * g;
  }
  if (softmax) {
    dot = augur::block_sum(dot, scratch);
    for (int t = threadIdx.x; t < len; t += blockDim.x)
      d_score[row0 + t] = weights[row0 + t] * (float)(d_score[row0 + t] - dot);
  }
  for (int t = len + threadIdx.x; t < T; t += blockDim.x) d_score[row0 + t] = 0.0f;
  if (db != nullptr && d_keys != nullptr)
    for (long long e = threadIdx.x; e < (long long)len * W; e += blockDim.x) {
      const int t = (int)(e / W), c = (int)(e - (long long)t * W);
      d_keys[(row0 + t) * W + c] += weights[row0 + t] * db[c];
    }
}
