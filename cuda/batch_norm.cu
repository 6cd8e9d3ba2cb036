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
  for (int r = threadIdx.y; r < B; r += augur::COL_ROWS) {
    const long long i = (long long)r * C + c;
    y[i] = (x[i] - st.x) * st.y * g + bt;
  }
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
  if (c < C)
    for (int r = threadIdx.y; r < n; r += augur::COL_ROWS) {
      const long long i = (long long)r * C + c;
      const float xhat = (x[i] - mu) * is;
      s_dy += dy[i];
      s_dyx += (double)dy[i] * xhat;
    }
  s_dy = augur::column_sum(s_dy, scratch);
  s_dyx = augur::column_sum(s_dyx, scratch);
  if (c >= C) return;
  if (threadIdx.y == 0) {
    d_beta[c] += (float)s_dy;
    d_gamma[c] += (float)s_dyx;
  }
  const float mean_dy = (float)(s_dy / n), mean_dyx = (float)(s_dyx / n);
  const float scale = gamma[c] * is;
  for (int r = threadIdx.y; r < n; r += augur::COL_ROWS) {
    const long long i = (long long)r * C + c;
    const float xhat = (x[i] - mu) * is;
    dx[i] = scale * (dy[i] - mean_dy - xhat * mean_dyx);
  }
}
