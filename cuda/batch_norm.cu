// Batch normalisation over the B rows, per channel, with affine gamma/beta.
// CPU reference: io.augur.backend.cpu.BatchNorm. Grid: ceil(C / 32) blocks of (32, COL_ROWS).
#include "common.cuh"
#include "normalization.cuh"

// y = gamma (x - mean) inv_std + beta; training: batch statistics saved into mean / inv_std and
// the running statistics updated; inference: the running statistics (also written to mean / inv_std).
// rows != nullptr: only the first n = *rows of the B rows count (a row count in device memory, so
// that a CUDA graph serves batches of different sizes: DIEN's auxiliary pairs); every row is
// normalised with their statistics.
//   y, x (B, C)   mean, inv_std, gamma, beta, run_mean, run_var (C)   rows (1) or nullptr
AUGUR_KERNEL void batch_norm_forward_kernel(float* __restrict__ y, float* __restrict__ mean, float* __restrict__ inv_std,
                                            const float* __restrict__ x, const float* __restrict__ gamma,
                                            const float* __restrict__ beta, float* __restrict__ run_mean,
                                            float* __restrict__ run_var, const int* __restrict__ rows, int B, int C,
                                            int training, float momentum, float eps) {
  __shared__ double scratch[32 * augur::COL_ROWS];
  const int n = rows != nullptr ? min(max(*rows, 0), B) : B;
  if (training && n <= 0) return;
  const int c = blockIdx.x * 32 + threadIdx.x;
  const float2 st = augur::channel_statistics(mean, inv_std, x, run_mean, run_var, n, C, c, training != 0,
                                              momentum, eps, scratch);
  if (c >= C) return;
  const float g = gamma[c], bt = beta[c];
  augur::column_rows<augur::COLUMN_LOADS, float>(B, [&](int r) { return x[(long long)r * C + c]; },
                                                 [&](int r, float v) { y[(long long)r * C + c] = (v - st.x) * st.y * g + bt; });
}

// Training-mode backward through the batch statistics, with xhat = (x - mean) inv_std:
//   dBeta += sum_r dy;  dGamma += sum_r dy xhat                                   (+=)
//   dx = gamma inv_std (dy - mean_r(dy) - xhat mean_r(dy xhat))                   (=)
// rows != nullptr: the sums and means run over the first n = *rows rows; dx = 0 for the rest.
AUGUR_KERNEL void batch_norm_backward_kernel(float* __restrict__ dx, float* __restrict__ d_gamma,
                                             float* __restrict__ d_beta, const float* __restrict__ dy,
                                             const float* __restrict__ mean, const float* __restrict__ inv_std,
                                             const float* __restrict__ x, const float* __restrict__ gamma,
                                             const int* __restrict__ rows, int B, int C) {
  __shared__ double scratch[32 * augur::COL_ROWS];
  const int c = blockIdx.x * 32 + threadIdx.x;
  const int n = rows != nullptr ? min(max(*rows, 0), B) : B;
  if (c < C)
    for (int r = n + threadIdx.y; r < B; r += augur::COL_ROWS) dx[(long long)r * C + c] = 0.0f;
  if (n <= 0) return;
  const float mu = c < C ? mean[c] : 0.0f, is = c < C ? inv_std[c] : 0.0f;
  double s_dy = 0.0, s_dyx = 0.0;
  // (x, dy) of row r
  auto load = [&](int r) { return make_float2(x[(long long)r * C + c], dy[(long long)r * C + c]); };
  if (c < C)
    augur::column_rows<augur::COLUMN_LOADS, float2>(n, load, [&](int, float2 v) {
      const float xhat = (v.x - mu) * is;
      s_dy += v.y;
      s_dyx += (double)v.y * xhat;
    });
  s_dy = augur::column_sum(s_dy, scratch);
  s_dyx = augur::column_sum(s_dyx, scratch);
  if (c >= C) return;
  if (threadIdx.y == 0) {
    d_beta[c] += (float)s_dy;
    d_gamma[c] += (float)s_dyx;
  }
  const float mean_dy = (float)(s_dy / n), mean_dyx = (float)(s_dyx / n);
  const float scale = gamma[c] * is;
  augur::column_rows<augur::COLUMN_LOADS, float2>(n, load, [&](int r, float2 v) {
    const float xhat = (v.x - mu) * is;
    dx[(long long)r * C + c] = scale * (v.y - mean_dy - xhat * mean_dyx);
  });
}

// ---- Sliced: the same over more rows than one block per 32 channels should walk (normalization.cuh
// RowSlice; CudaBackend.sliced decides). Two launches each way: per-slice partials in doubles,
// then their combination in a fixed order (normalization.cuh combine_statistics and slice_sums: the
// same bits in every block) and the rows of the slice.
// `count` (rows above) limits the counted rows to the first n in each of them.

// Stage 1 of sliced batch statistics (BatchNorm's and Dice's): per slice s and channel c, over the
// slice's rows that count (normalization.cuh row_counts, and r < *count when count != nullptr),
// partials[s, 0, c] = count, [s, 1, c] = mean, [s, 2, c] = sum of (x - mean)^2 (two passes).
//   partials (S, 3, C) doubles   x (R = B T, C)   lengths (B) or nullptr   count (1) or nullptr
AUGUR_KERNEL void sliced_statistics_kernel(double* __restrict__ partials, const float* __restrict__ x,
                                           const int* __restrict__ lengths, const int* __restrict__ count, int B, int T,
                                           int C, int chunk) {
  __shared__ double scratch[32 * augur::COL_ROWS];
  const int c = blockIdx.x * 32 + threadIdx.x;
  const long long R = (long long)B * T;
  const augur::RowSlice sl(R, chunk);
  const long long end = count != nullptr ? min(sl.r1, min(max((long long)*count, 0LL), R)) : sl.r1;
  double n = 0.0, sum = 0.0;
  if (c < C)
    for (long long r = sl.r0 + threadIdx.y; r < end; r += augur::COL_ROWS)
      if (augur::row_counts(lengths, T, r)) {
        n += 1.0;
        sum += x[r * C + c];
      }
  n = augur::column_sum(n, scratch);
  sum = augur::column_sum(sum, scratch);
  const double mean = n > 0.0 ? sum / n : 0.0;
  double q = 0.0;
  if (c < C)
    for (long long r = sl.r0 + threadIdx.y; r < end; r += augur::COL_ROWS)
      if (augur::row_counts(lengths, T, r)) {
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

// Stage 2 of the forward: training combines the slices' statistics (no counted row: nothing is
// written, as batch_norm_forward_kernel); block row 0 writes mean, inv_std and the running
// statistics; inference uses the running statistics. Then y = gamma (x - mean) inv_std + beta for
// every row of the slice.   partials (S, 3, C) from sliced_statistics_kernel (training only)
AUGUR_KERNEL void batch_norm_sliced_forward_kernel(float* __restrict__ y, float* __restrict__ mean,
                                                   float* __restrict__ inv_std, const float* __restrict__ x,
                                                   const float* __restrict__ gamma, const float* __restrict__ beta,
                                                   float* __restrict__ run_mean, float* __restrict__ run_var,
                                                   const double* __restrict__ partials, int B, int C, int chunk,
                                                   int slices, int training, float momentum, float eps) {
  const int c = blockIdx.x * 32 + threadIdx.x;
  const augur::ColumnStatistics st = augur::sliced_column_statistics(mean, inv_std, run_mean, run_var, partials, slices, C, c,
                                                                     training != 0, momentum, eps);
  if (c >= C || !st.counted) return;
  const augur::RowSlice sl(B, chunk);
  const float mu = st.mean, is = st.inv_std, g = gamma[c], bt = beta[c];
  for (long long r = sl.r0 + threadIdx.y; r < sl.r1; r += augur::COL_ROWS) {
    const long long i = r * C + c;
    y[i] = (x[i] - mu) * is * g + bt;
  }
}

// Backward, stage 1: per slice and channel, over its rows r < n (n = *count, or B):
//   partials[s, 0, c] = sum dy, [s, 1, c] = sum dy xhat      (S, 2, C) doubles
AUGUR_KERNEL void batch_norm_sliced_backward_sums_kernel(double* __restrict__ partials, const float* __restrict__ dy,
                                                         const float* __restrict__ mean,
                                                         const float* __restrict__ inv_std, const float* __restrict__ x,
                                                         const int* __restrict__ count, int B, int C, int chunk) {
  __shared__ double scratch[32 * augur::COL_ROWS];
  const int c = blockIdx.x * 32 + threadIdx.x;
  const augur::RowSlice sl(B, chunk);
  const long long end = count != nullptr ? min(sl.r1, (long long)min(max(*count, 0), B)) : sl.r1;
  const float mu = c < C ? mean[c] : 0.0f, is = c < C ? inv_std[c] : 0.0f;
  double s_dy = 0.0, s_dyx = 0.0;
  if (c < C)
    for (long long r = sl.r0 + threadIdx.y; r < end; r += augur::COL_ROWS) {
      const long long i = r * C + c;
      const float xhat = (x[i] - mu) * is;
      s_dy += dy[i];
      s_dyx += (double)dy[i] * xhat;
    }
  s_dy = augur::column_sum(s_dy, scratch);
  s_dyx = augur::column_sum(s_dyx, scratch);
  if (c < C && threadIdx.y == 0) {
    double* p = partials + (long long)blockIdx.y * 2 * C;
    p[c] = s_dy;
    p[C + c] = s_dyx;
  }
}

// Backward, stage 2: the slices' sums (normalization.cuh slice_sums); block row 0 adds dBeta and dGamma (+=);
// dx = gamma inv_std (dy - mean(dy) - xhat mean(dy xhat)) for rows r < n, 0 for the rest (=).
AUGUR_KERNEL void batch_norm_sliced_backward_kernel(float* __restrict__ dx, float* __restrict__ d_gamma,
                                                    float* __restrict__ d_beta, const float* __restrict__ dy,
                                                    const float* __restrict__ mean, const float* __restrict__ inv_std,
                                                    const float* __restrict__ x, const float* __restrict__ gamma,
                                                    const int* __restrict__ count, const double* __restrict__ partials,
                                                    int B, int C, int chunk, int slices) {
  __shared__ double scratch[32 * augur::COL_ROWS];
  const int c = blockIdx.x * 32 + threadIdx.x;
  const int n = count != nullptr ? min(max(*count, 0), B) : B;
  const augur::RowSlice sl(B, chunk);
  if (n <= 0) {  // the same for the whole launch
    if (c < C)
      for (long long r = sl.r0 + threadIdx.y; r < sl.r1; r += augur::COL_ROWS) dx[r * C + c] = 0.0f;
    return;
  }
  double t[2];
  augur::slice_sums<2>(t, partials, slices, C, c, scratch);  // every thread of the column gets the same totals
  if (c >= C) return;  // no barrier below
  const double s_dy = t[0], s_dyx = t[1];
  if (blockIdx.y == 0 && threadIdx.y == 0) {
    d_beta[c] += (float)s_dy;
    d_gamma[c] += (float)s_dyx;
  }
  const float mu = mean[c], is = inv_std[c], mean_dy = (float)(s_dy / n), mean_dyx = (float)(s_dyx / n);
  const float scale = gamma[c] * is;
  for (long long r = sl.r0 + threadIdx.y; r < sl.r1; r += augur::COL_ROWS) {
    const long long i = r * C + c;
    if (r >= n) {
      dx[i] = 0.0f;
      continue;
    }
    const float xhat = (x[i] - mu) * is;
    dx[i] = scale * (dy[i] - mean_dy - xhat * mean_dyx);
  }
}
