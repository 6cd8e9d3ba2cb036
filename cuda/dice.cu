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
AUGUR_KERNEL void dice_backward_kernel(float* __restrict__ dx, float* __restrict__ d_alpha, const float* __restrict__ dy,
                                       const float* __restrict__ mean, const float* __restrict__ inv_std,
                                       const float* __restrict__ x, const float* __restrict__ alpha, int B, int C) {
  __shared__ double scratch[32 * augur::COL_ROWS];
  if (B <= 0) return;
  const int c = blockIdx.x * 32 + threadIdx.x;
  const float mu = c < C ? mean[c] : 0.0f, is = c < C ? inv_std[c] : 0.0f, a = c < C ? alpha[c] : 0.0f;
  double s_dz = 0.0, s_dzz = 0.0, s_da = 0.0;
  // (x, dy) of row r
  auto load = [&](int r) { return make_float2(x[(long long)r * C + c], dy[(long long)r * C + c]); };
  if (c < C)
    augur::column_rows<augur::COLUMN_LOADS, float2>(B, load, [&](int, float2 v) {
      const augur::DiceTerms d(v.x, v.y, mu, is, a);
      s_dz += d.dz;
      s_dzz += (double)d.dz * d.z;
      s_da += (double)v.y * v.x * (1 - d.p);
    });
  s_dz = augur::column_sum(s_dz, scratch);
  s_dzz = augur::column_sum(s_dzz, scratch);
  s_da = augur::column_sum(s_da, scratch);
  if (c >= C) return;
  if (threadIdx.y == 0) d_alpha[c] += (float)s_da;
  const float mean_dz = (float)(s_dz / B), mean_dzz = (float)(s_dzz / B);
  augur::column_rows<augur::COLUMN_LOADS, float2>(B, load, [&](int r, float2 v) {
    dx[(long long)r * C + c] = augur::DiceTerms(v.x, v.y, mu, is, a).dx(v.y, is, a, mean_dz, mean_dzz);
  });
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
