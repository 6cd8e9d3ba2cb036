// Batch statistics shared by BatchNorm and Dice (CPU: BatchNorm.statisticsRef / inferenceStatistics).
// Used inside column-tile kernels: blocks of (32, COL_ROWS) threads own 32 channels each.
#pragma once
#include "common.cuh"

namespace augur {

// Training: mean and biased variance over the B rows of channel c (sums in double, two passes as
// the reference does); writes mean[c], inv_std[c] and the running statistics (unbiased variance)
// from the threadIdx.y == 0 thread; returns (mean, inv_std) to every thread of the column.
// Inference: the running statistics. Every thread of the block must call it (it synchronises).
__device__ __forceinline__ float2 channel_statistics(float* mean, float* inv_std, const float* __restrict__ x,
                                                     float* run_mean, float* run_var, int B, int C, int c,
                                                     bool training, float momentum, float eps, double* scratch) {
  if (!training) {
    float mu = 0.0f, is = 0.0f;
    if (c < C) {
      mu = run_mean[c];
      is = (float)(1.0 / sqrt((double)run_var[c] + eps));
      if (threadIdx.y == 0) { mean[c] = mu; inv_std[c] = is; }
    }
    return make_float2(mu, is);
  }
  double s = 0.0;
  if (c < C)
    for (int r = threadIdx.y; r < B; r += COL_ROWS) s += x[(long long)r * C + c];
  s = column_sum(s, scratch);
  const float mu = (float)(s / B);
  double q = 0.0;
  if (c < C)
    for (int r = threadIdx.y; r < B; r += COL_ROWS) {
      const double d = (double)x[(long long)r * C + c] - mu;
      q += d * d;
    }
  q = column_sum(q, scratch);
  const double var = q / B;
  const float is = (float)(1.0 / sqrt(var + eps));
  if (c < C && threadIdx.y == 0) {
    mean[c] = mu;
    inv_std[c] = is;
    const double unbiased = B > 1 ? var * B / (B - 1) : var;
    run_mean[c] = (float)(momentum * (double)run_mean[c] + (1 - momentum) * (double)mu);
    run_var[c] = (float)(momentum * (double)run_var[c] + (1 - momentum) * unbiased);
  }
  return make_float2(mu, is);
}

}  // namespace augur
