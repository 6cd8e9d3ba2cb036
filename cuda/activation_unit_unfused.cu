// The activation unit layer by layer, for what the fused kernels (activation_unit.cu) cannot do:
// Dice in the hidden layers, whose batch statistics span every valid position of the batch.
// CPU reference: io.augur.backend.cpu.ActivationUnit (forwardRef / backwardRef), and
// io.augur.backend.cpu.Dice for the statistics. The host (CudaBackend.activationUnit) runs, over
// all R = B * T positions as rows:
//   activation_unit_input_forward_kernel   z = [q, k, q - k, q * k] (0 at padded positions)
//   gemm, Dice, gemm, Dice, gemm           Dice normalises over the valid positions alone and
//                                          writes 0 at the padded ones
//   activation_unit_pool_forward_kernel    the weights (masked, softmax if asked) and the pooled output
// and backward the same in reverse, ending in activation_unit_input_backward_kernel. Padded
// positions carry exact zeros through every layer's gradient, so the weight gradients equal
// those of the CPU's packed valid rows (in another summation order).
//
// Dice over R rows (R = 204,800 at batch 2048, T = 100) is two launches each way, over a grid of
// (ceil(C / 32), S) blocks of (32, COL_ROWS) threads: block (x, s) owns 32 channels of the rows
// [s * chunk, min((s + 1) * chunk, R)). The first launch writes each slice's partial statistics
// (count, mean, sum of squared deviations; backward: its sums) in doubles; the second combines
// the S slices in slice order (the same bits in every block) and applies. Deterministic: the
// slices depend on R alone (CudaBackend.sliceRows).
#include "common.cuh"
#include "normalization.cuh"

namespace {

// Row r = b * T + t of a (B, T, C) sequence is a valid position iff t < lengths[b].
__device__ __forceinline__ bool valid_row(const int* lengths, int T, long long r) {
  const int b = (int)(r / T), t = (int)(r - (long long)b * T);
  return t < augur::clamped_length(lengths, b, T);
}

// The rows of this block's slice.
struct Slice {
  long long r0, r1;
  __device__ Slice(long long rows, int chunk) {
    r0 = (long long)blockIdx.y * chunk;
    r1 = min(r0 + chunk, rows);
  }
};

}  // namespace

// Dice's training statistics, stage 1: per slice s and channel c, over the slice's valid rows,
// partials[s, 0, c] = count, [s, 1, c] = mean, [s, 2, c] = sum of (x - mean)^2 (two passes).
//   partials (S, 3, C) doubles   x (R, C)   lengths (B)
AUGUR_KERNEL void dice_sequence_statistics_kernel(double* __restrict__ partials, const float* __restrict__ x,
                                                  const int* __restrict__ lengths, int B, int T, int C, int chunk) {
  __shared__ double scratch[32 * augur::COL_ROWS];
  const int c = blockIdx.x * 32 + threadIdx.x;
  const Slice sl((long long)B * T, chunk);
  double n = 0.0, sum = 0.0;
  if (c < C)
    for (long long r = sl.r0 + threadIdx.y; r < sl.r1; r += augur::COL_ROWS)
      if (valid_row(lengths, T, r)) {
        n += 1.0;
        sum += x[r * C + c];
      }
  n = augur::column_sum(n, scratch);
  sum = augur::column_sum(sum, scratch);
  const double mean = n > 0.0 ? sum / n : 0.0;
  double q = 0.0;
  if (c < C)
    for (long long r = sl.r0 + threadIdx.y; r < sl.r1; r += augur::COL_ROWS)
      if (valid_row(lengths, T, r)) {
        const double d = (double)x[r * C + c] - mean;
        q += d * d;
      }
  q = augur::column_sum(q, scratch);
  if (c < C && threadIdx.y == 0) {
    double* p = partials + (long long)blockIdx.y * 3 * C;
    p[c] = n;
    p[C + c] = mean;
    p[2 * C + c] = q;
  }
}

// Dice, stage 2: training combines the S slices' statistics in slice order (Chan et al.'s
// pairwise update) into the mean and the biased variance over all n valid rows; block row 0
// writes mean, inv_std and the running statistics (unbiased variance), as io.augur.backend.cpu.Dice;
// with n = 0 nothing is written but y = 0. Inference uses the running statistics. Then, for the
// slice's rows, p = sigmoid((x - mean) inv_std), y = p x + (1 - p) alpha x; y = 0 at padded rows.
//   y, x (R, C)   mean, inv_std, alpha, run_mean, run_var (C)   partials (S, 3, C)
AUGUR_KERNEL void dice_sequence_forward_kernel(float* __restrict__ y, float* __restrict__ mean,
                                               float* __restrict__ inv_std, const float* __restrict__ x,
                                               const int* __restrict__ lengths, const float* __restrict__ alpha,
                                               float* __restrict__ run_mean, float* __restrict__ run_var,
                                               const double* __restrict__ partials, int B, int T, int C, int chunk,
                                               int slices, int training, float momentum, float eps) {
  __shared__ float col_mean[32], col_is[32];
  __shared__ int col_rows;
  const int c = blockIdx.x * 32 + threadIdx.x;
  if (threadIdx.y == 0) {
    float mu = 0.0f, is = 0.0f;
    double n = 0.0;
    if (c < C && training) {
      double m = 0.0, q = 0.0;
      for (int s = 0; s < slices; ++s) {
        const double* p = partials + (long long)s * 3 * C;
        const double nb = p[c];
        if (nb == 0.0) continue;
        const double delta = p[C + c] - m, nt = n + nb;
        m += delta * nb / nt;
        q += p[2 * C + c] + delta * delta * n * nb / nt;
        n = nt;
      }
      if (n > 0.0) {
        const double var = q / n;
        mu = (float)m;
        is = (float)(1.0 / sqrt(var + eps));
        if (blockIdx.y == 0) {
          mean[c] = mu;
          inv_std[c] = is;
          const double unbiased = n > 1.0 ? var * n / (n - 1.0) : var;
          run_mean[c] = (float)(momentum * (double)run_mean[c] + (1 - momentum) * (double)mu);
          run_var[c] = (float)(momentum * (double)run_var[c] + (1 - momentum) * unbiased);
        }
      }
    } else if (c < C) {
      mu = run_mean[c];
      is = (float)(1.0 / sqrt((double)run_var[c] + eps));
      n = 1.0;
      if (blockIdx.y == 0) {
        mean[c] = mu;
        inv_std[c] = is;
      }
    }
    col_mean[threadIdx.x] = mu;
    col_is[threadIdx.x] = is;
    if (threadIdx.x == 0) col_rows = (c < C && n > 0.0) ? 1 : 0;  // every channel sees the same count
  }
  __syncthreads();
  if (c >= C) return;
  const Slice sl((long long)B * T, chunk);
  const float mu = col_mean[threadIdx.x], is = col_is[threadIdx.x], a = alpha[c];
  const bool any = col_rows != 0;
  for (long long r = sl.r0 + threadIdx.y; r < sl.r1; r += augur::COL_ROWS) {
    const long long i = r * C + c;
    if (!any || !valid_row(lengths, T, r)) {
      y[i] = 0.0f;
      continue;
    }
    y[i] = augur::dice_value(x[i], mu, is, a);
  }
}

// Dice backward (training statistics), stage 1: per slice and channel, over its valid rows, with
// z = (x - mean) inv_std, p = sigmoid(z), dz = dy x (1 - alpha) p (1 - p):
//   partials[s, 0, c] = count, [1] = sum dz, [2] = sum dz z, [3] = sum dy x (1 - p)
//   partials (S, 4, C) doubles
AUGUR_KERNEL void dice_sequence_backward_sums_kernel(double* __restrict__ partials, const float* __restrict__ dy,
                                                     const float* __restrict__ mean, const float* __restrict__ inv_std,
                                                     const float* __restrict__ x, const int* __restrict__ lengths,
                                                     const float* __restrict__ alpha, int B, int T, int C, int chunk) {
  __shared__ double scratch[32 * augur::COL_ROWS];
  const int c = blockIdx.x * 32 + threadIdx.x;
  const Slice sl((long long)B * T, chunk);
  const float mu = c < C ? mean[c] : 0.0f, is = c < C ? inv_std[c] : 0.0f, a = c < C ? alpha[c] : 0.0f;
  double n = 0.0, s_dz = 0.0, s_dzz = 0.0, s_da = 0.0;
  if (c < C)
    for (long long r = sl.r0 + threadIdx.y; r < sl.r1; r += augur::COL_ROWS) {
      if (!valid_row(lengths, T, r)) continue;
      const long long i = r * C + c;
      const augur::DiceTerms d(x[i], dy[i], mu, is, a);
      n += 1.0;
      s_dz += d.dz;
      s_dzz += (double)d.dz * d.z;
      s_da += (double)dy[i] * x[i] * (1 - d.p);
    }
  n = augur::column_sum(n, scratch);
  s_dz = augur::column_sum(s_dz, scratch);
  s_dzz = augur::column_sum(s_dzz, scratch);
  s_da = augur::column_sum(s_da, scratch);
  if (c < C && threadIdx.y == 0) {
    double* p = partials + (long long)blockIdx.y * 4 * C;
    p[c] = n;
    p[C + c] = s_dz;
    p[2 * C + c] = s_dzz;
    p[3 * C + c] = s_da;
  }
}

// Dice backward, stage 2: the slices' sums in slice order; block row 0 adds dAlpha (+=); then
//   dx = dy (alpha + (1 - alpha) p) + inv_std (dz - mean(dz) - z mean(dz z))   (=), 0 at padded rows.
AUGUR_KERNEL void dice_sequence_backward_kernel(float* __restrict__ dx, float* __restrict__ d_alpha,
                                                const float* __restrict__ dy, const float* __restrict__ mean,
                                                const float* __restrict__ inv_std, const float* __restrict__ x,
                                                const int* __restrict__ lengths, const float* __restrict__ alpha,
                                                const double* __restrict__ partials, int B, int T, int C, int chunk,
                                                int slices) {
  __shared__ float col_mdz[32], col_mdzz[32];
  __shared__ int col_rows;
  const int c = blockIdx.x * 32 + threadIdx.x;
  if (threadIdx.y == 0) {
    double n = 0.0, s_dz = 0.0, s_dzz = 0.0, s_da = 0.0;
    if (c < C)
      for (int s = 0; s < slices; ++s) {
        const double* p = partials + (long long)s * 4 * C;
        n += p[c];
        s_dz += p[C + c];
        s_dzz += p[2 * C + c];
        s_da += p[3 * C + c];
      }
    if (c < C && n > 0.0 && blockIdx.y == 0) d_alpha[c] += (float)s_da;
    col_mdz[threadIdx.x] = n > 0.0 ? (float)(s_dz / n) : 0.0f;
    col_mdzz[threadIdx.x] = n > 0.0 ? (float)(s_dzz / n) : 0.0f;
    if (threadIdx.x == 0) col_rows = (c < C && n > 0.0) ? 1 : 0;
  }
  __syncthreads();
  if (c >= C) return;
  const Slice sl((long long)B * T, chunk);
  const float mu = mean[c], is = inv_std[c], a = alpha[c], mean_dz = col_mdz[threadIdx.x], mean_dzz = col_mdzz[threadIdx.x];
  const bool any = col_rows != 0;
  for (long long r = sl.r0 + threadIdx.y; r < sl.r1; r += augur::COL_ROWS) {
    const long long i = r * C + c;
    if (!any || !valid_row(lengths, T, r)) {
      dx[i] = 0.0f;
      continue;
    }
    dx[i] = augur::DiceTerms(x[i], dy[i], mu, is, a).dx(dy[i], is, a, mean_dz, mean_dzz);
  }
}

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
