// Binary cross-entropy on logits. CPU reference: io.augur.backend.cpu.Bce.
#include "common.cuh"

// loss[0] = (1/n) sum_{r<n} max(z, 0) - z y + log1p(exp(-|z|));  dLogits_r = scale (sigmoid(z) - y) / n  (=)
// with n = B, or n = *rows when rows != nullptr (a row count in device memory; dLogits = 0 for the
// rows past it). One block (the batch is one column of B values); sums in double in a fixed order.
//   logits, labels, d_logits (B)   loss (1)   rows (1) or nullptr
AUGUR_KERNEL void bce_with_logits_kernel(float* __restrict__ loss, float* __restrict__ d_logits,
                                         const float* __restrict__ logits, const float* __restrict__ labels,
                                         const int* __restrict__ rows, int B, float scale) {
  __shared__ double scratch[32];
  const int n = rows != nullptr ? min(max(*rows, 0), B) : B;
  double sum = 0.0;
  for (int r = threadIdx.x; r < B; r += blockDim.x) {
    if (r >= n) {
      d_logits[r] = 0.0f;
      continue;
    }
    const double z = logits[r], y = labels[r];
    sum += fmax(z, 0.0) - z * y + log1p(exp(-fabs(z)));
    d_logits[r] = (float)(scale * (1.0 / (1.0 + exp(-z)) - y) / n);
  }
  sum = augur::block_sum(sum, scratch);
  if (threadIdx.x == 0) loss[0] = n > 0 ? (float)(sum / n) : 0.0f;
}
