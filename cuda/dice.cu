// Dice, the data-adaptive activation of the DIN paper. CPU reference: io.augur.backend.cpu.Dice.
// Statistics as BatchNorm's (normalization.cuh), no affine part. Grid: ceil(C / 32) blocks of (32, COL_ROWS).
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
  for (int r = threadIdx.y; r < B; r += augur::COL_ROWS) {
    const long long i = (long long)r * C + c;
    y[i] = augur::dice_value(x[i], st.x, st.y, a);
  }
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
  if (c < C)
    for (int r = threadIdx.y; r < B; r += augur::COL_ROWS) {
      const long long i = (long long)r * C + c;
      const augur::DiceTerms d(x[i], dy[i], mu, is, a);
      s_dz += d.dz;
      s_dzz += (double)d.dz * d.z;
      s_da += (double)dy[i] * x[i] * (1 - d.p);
    }
  s_dz = augur::column_sum(s_dz, scratch);
  s_dzz = augur::column_sum(s_dzz, scratch);
  s_da = augur::column_sum(s_da, scratch);
  if (c >= C) return;
  if (threadIdx.y == 0) d_alpha[c] += (float)s_da;
  const float mean_dz = (float)(s_dz / B), mean_dzz = (float)(s_dzz / B);
  for (int r = threadIdx.y; r < B; r += augur::COL_ROWS) {
    const long long i = (long long)r * C + c;
    dx[i] = augur::DiceTerms(x[i], dy[i], mu, is, a).dx(dy[i], is, a, mean_dz, mean_dzz);
  }
}
