// Dice, the data-adaptive activation of the DIN paper. CPU reference: io.augur.backend.cpu.Dice.
// Statistics as BatchNorm's (normalization.cuh), no affine part.
//
// Two forms. dice_forward / dice_backward: one launch, grid ceil(C / 32) blocks of (32, COL_ROWS)
// threads, each block walking all B rows of its channels; right for a few hundred rows. For more
// (the top MLP at a large batch; the activation unit's B * T positions) that leaves the GPU nearly
// idle, so dice_sliced_* take two launches each way over row slices (normalization.cuh RowSlice):
// the first writes each slice's partial statistics (count, mean, sum of squared deviations;
// backward: its sums) in doubles, the second combines the S slices in a fixed order (the same bits
// in every block; normalization.cuh combine_statistics and slice_sums) and applies. Deterministic: the slices depend on the row count alone
// (CudaBackend.sliceRows). The sliced kernels also take a row mask: the activation unit's Dice
// normalises over the valid positions of (B, T, C) alone. Stage 1 of the forward is BatchNorm's
// sliced_statistics_kernel (batch_norm.cu).
#include "common.cuh"
#include "normalization.cuh"

// p = sigmoid((x - mean) inv_std);  y = p x + (1 - p) alpha x
//   y, x (B, C)   mean, inv_std, alpha, run_mean, run_var (C)
AUGUR_KERNEL void dice_forward_kernel(float* __restrict__ y, float* __restrict__ mean, float* __restrict__ inv_std,
                                      const float* __restrict__ x, const float* __restrict__ alpha,
                                      float* __restrict__ run_mean, float* __restrict__ run_var, int B, int C,
                                      int training, float momentum, float eps) {
  __shared__ double scratch[32 * augur::COL_ROWS];
  if (training && B <= 0) return;
  const int c = blockIdx.x * 32 + threadIdx.x;
  const float2 st = augur::channel_statistics(mean, inv_std, x, run_mean, run_var, B, C, c, training != 0,
                                              momentum, eps, scratch);
  if (c >= C) return;
  const float a = alpha[c];
  augur::column_rows<augur::COLUMN_LOADS, float>(B, [&](int r) { return x[(long long)r * C + c]; },
                                                 [&](int r, float v) { y[(long long)r * C + c] = augur::dice_value(v, st.x, st.y, a); });
}

// Training-mode backward, per channel (z = (x - mean) inv_std, p = sigmoid(z)):
//   dz = dy x (1 - alpha) p (1 - p)
//   dx = dy (alpha + (1 - alpha) p) + inv_std (dz - mean_r(dz) - z mean_r(dz z))    (=)
//   dAlpha += sum_r dy x (1 - p)                                                     (+=)
// HEAD (dice_backward_head_kernel, Backend.logitsDiceBackward): the tower's logit layer above this Dice, whose
// backward comes in the same launch. dy is then made where it is used, dy[r, c] = d_logits[r] w_head[c] (the
// product of a one-term sum, as the logit layer's dx = dLogits W^T gives it), and the logit layer's gradients
// come from the same walk:
//   d_w_head[c] += sum_r out[r, c] d_logits[r]      d_b_head[0] += sum_r d_logits[r] (block 0)      (+=)
// in doubles, the thread rows' sums added by column_sum, as the Dice sums beside them (d_b_head nullptr: no bias).
//   dx, dy, x, out (B, C)   d_alpha, mean, inv_std, alpha, w_head, d_w_head (C)   d_logits (B)   d_b_head (1)
namespace augur {
template <bool HEAD>
__device__ __forceinline__ void dice_backward(float* __restrict__ dx, float* __restrict__ d_alpha, const float* __restrict__ dy,
                                              const float* __restrict__ mean, const float* __restrict__ inv_std,
                                              const float* __restrict__ x, const float* __restrict__ alpha, int B, int C,
                                              float* __restrict__ d_w_head, float* __restrict__ d_b_head,
                                              const float* __restrict__ d_logits, const float* __restrict__ w_head,
                                              const float* __restrict__ out) {
  __shared__ double scratch[32 * COL_ROWS];
  if (B <= 0) return;
  const int c = blockIdx.x * 32 + threadIdx.x;
  const float mu = c < C ? mean[c] : 0.0f, is = c < C ? inv_std[c] : 0.0f, a = c < C ? alpha[c] : 0.0f;
  const float wh = HEAD && c < C ? w_head[c] : 0.0f;
  double s_dz = 0.0, s_dzz = 0.0, s_da = 0.0, s_dw = 0.0, s_db = 0.0;
  // (x, dy) of row r; with HEAD, dy's d_logits[r] (times wh where used)
  auto load = [&](int r) { return make_float2(x[(long long)r * C + c], HEAD ? d_logits[r] : dy[(long long)r * C + c]); };
  if (c < C) {
    if constexpr (HEAD) {
      column_rows<COLUMN_LOADS, float4>(B, [&](int r) {
        return make_float4(x[(long long)r * C + c], d_logits[r], out[(long long)r * C + c], 0.0f);
      }, [&](int, float4 v) {
        const float g = v.y * wh;
        const DiceTerms d(v.x, g, mu, is, a);
        s_dz += d.dz;
        s_dzz += (double)d.dz * d.z;
        s_da += (double)g * v.x * (1 - d.p);
        s_dw += (double)v.z * v.y;
        s_db += v.y;
      });
    } else {
      column_rows<COLUMN_LOADS, float2>(B, load, [&](int, float2 v) {
        const DiceTerms d(v.x, v.y, mu, is, a);
        s_dz += d.dz;
        s_dzz += (double)d.dz * d.z;
        s_da += (double)v.y * v.x * (1 - d.p);
      });
    }
  }
  s_dz = column_sum(s_dz, scratch);
  s_dzz = column_sum(s_dzz, scratch);
  s_da = column_sum(s_da, scratch);
  if constexpr (HEAD) {
    s_dw = column_sum(s_dw, scratch);
    s_db = column_sum(s_db, scratch);
  }
  if (c >= C) return;
  if (threadIdx.y == 0) {
    d_alpha[c] += (float)s_da;
    if constexpr (HEAD) {
      d_w_head[c] += (float)s_dw;
      if (c == 0 && d_b_head != nullptr) d_b_head[0] += (float)s_db;
    }
  }
  const float mean_dz = (float)(s_dz / B), mean_dzz = (float)(s_dzz / B);
  column_rows<COLUMN_LOADS, float2>(B, load, [&](int r, float2 v) {
    const float g = HEAD ? v.y * wh : v.y;
    dx[(long long)r * C + c] = DiceTerms(v.x, g, mu, is, a).dx(g, is, a, mean_dz, mean_dzz);
  });
}
}  // namespace augur

AUGUR_KERNEL void dice_backward_kernel(float* __restrict__ dx, float* __restrict__ d_alpha, const float* __restrict__ dy,
                                       const float* __restrict__ mean, const float* __restrict__ inv_std,
                                       const float* __restrict__ x, const float* __restrict__ alpha, int B, int C) {
  augur::dice_backward<false>(dx, d_alpha, dy, mean, inv_std, x, alpha, B, C, nullptr, nullptr, nullptr, nullptr, nullptr);
}

AUGUR_KERNEL void dice_backward_head_kernel(float* __restrict__ dx, float* __restrict__ d_alpha, float* __restrict__ d_w_head,
                                            float* __restrict__ d_b_head, const float* __restrict__ d_logits,
                                            const float* __restrict__ w_head, const float* __restrict__ out,
                                            const float* __restrict__ mean, const float* __restrict__ inv_std,
                                            const float* __restrict__ x, const float* __restrict__ alpha, int B, int C) {
  augur::dice_backward<true>(dx, d_alpha, nullptr, mean, inv_std, x, alpha, B, C, d_w_head, d_b_head, d_logits, w_head, out);
}

// Dice, stage 2: training combines the S slices' statistics (normalization.cuh combine_statistics,
// Chan et al.'s pairwise update) into the mean and the biased variance over all n valid rows; block row 0
// writes mean, inv_std and the running statistics (unbiased variance), as io.augur.backend.cpu.Dice;
// with n = 0 nothing is written but y = 0. Inference uses the running statistics. Then, for the
// slice's rows, p = sigmoid((x - mean) inv_std), y = p x + (1 - p) alpha x; y = 0 at padded rows.
//   y, x (R, C)   mean, inv_std, alpha, run_mean, run_var (C)   partials (S, 3, C)
AUGUR_KERNEL void dice_sliced_forward_kernel(float* __restrict__ y, float* __restrict__ mean,
                                             float* __restrict__ inv_std, const float* __restrict__ x,
                                             const int* __restrict__ lengths, const float* __restrict__ alpha,
                                             float* __restrict__ run_mean, float* __restrict__ run_var,
                                             const double* __restrict__ partials, const int* __restrict__ count, int B,
                                             int T, int C, int chunk, int slices, int training, float momentum, float eps) {
  const int c = blockIdx.x * 32 + threadIdx.x;
  const augur::ColumnStatistics st = augur::sliced_column_statistics(mean, inv_std, run_mean, run_var, partials, slices, C, c,
                                                                     training != 0, momentum, eps);
  if (c >= C) return;
  const augur::RowSlice sl((long long)B * T, chunk);
  const long long end = augur::slice_end(sl, count);
  const float mu = st.mean, is = st.inv_std, a = alpha[c];
  for (long long r = sl.r0 + threadIdx.y; r < end; r += augur::COL_ROWS) {
    const long long i = r * C + c;
    if (!st.counted || !augur::row_counts(lengths, T, r)) {
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
AUGUR_KERNEL void dice_sliced_backward_sums_kernel(double* __restrict__ partials, const float* __restrict__ dy,
                                                   const float* __restrict__ mean, const float* __restrict__ inv_std,
                                                   const float* __restrict__ x, const int* __restrict__ lengths,
                                                   const float* __restrict__ alpha, const int* __restrict__ count, int B,
                                                   int T, int C, int chunk) {
  __shared__ double scratch[32 * augur::COL_ROWS];
  const int c = blockIdx.x * 32 + threadIdx.x;
  const augur::RowSlice sl((long long)B * T, chunk);
  const long long end = augur::slice_end(sl, count);
  const float mu = c < C ? mean[c] : 0.0f, is = c < C ? inv_std[c] : 0.0f, a = c < C ? alpha[c] : 0.0f;
  double n = 0.0, s_dz = 0.0, s_dzz = 0.0, s_da = 0.0;
  if (c < C)
    for (long long r = sl.r0 + threadIdx.y; r < end; r += augur::COL_ROWS) {
      if (!augur::row_counts(lengths, T, r)) continue;
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

// Dice backward, stage 2: the slices' sums (normalization.cuh slice_sums); block row 0 adds dAlpha (+=); then
//   dx = dy (alpha + (1 - alpha) p) + inv_std (dz - mean(dz) - z mean(dz z))   (=), 0 at padded rows.
AUGUR_KERNEL void dice_sliced_backward_kernel(float* __restrict__ dx, float* __restrict__ d_alpha,
                                              const float* __restrict__ dy, const float* __restrict__ mean,
                                              const float* __restrict__ inv_std, const float* __restrict__ x,
                                              const int* __restrict__ lengths, const float* __restrict__ alpha,
                                              const double* __restrict__ partials, const int* __restrict__ count, int B,
                                              int T, int C, int chunk, int slices) {
  __shared__ double scratch[32 * augur::COL_ROWS];
  const int c = blockIdx.x * 32 + threadIdx.x;
  double t[4];
  augur::slice_sums<4>(t, partials, slices, C, c, scratch);  // every thread of the column gets the same totals
  if (c >= C) return;  // no barrier below
  const double n = t[0];
  const bool any = n > 0.0;  // the same count in every channel
  if (any && blockIdx.y == 0 && threadIdx.y == 0) d_alpha[c] += (float)t[3];
  const augur::RowSlice sl((long long)B * T, chunk);
  const long long end = augur::slice_end(sl, count);
  const float mu = mean[c], is = inv_std[c], a = alpha[c];
  const float mean_dz = any ? (float)(t[1] / n) : 0.0f, mean_dzz = any ? (float)(t[2] / n) : 0.0f;
  for (long long r = sl.r0 + threadIdx.y; r < end; r += augur::COL_ROWS) {
    const long long i = r * C + c;
    if (!any || !augur::row_counts(lengths, T, r)) {
      dx[i] = 0.0f;
      continue;
    }
    dx[i] = augur::DiceTerms(x[i], dy[i], mu, is, a).dx(dy[i], is, a, mean_dz, mean_dzz);
  }
}
