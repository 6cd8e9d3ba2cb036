// Binary cross-entropy on logits. CPU reference: io.augur.backend.cpu.Bce.
#include "common.cuh"

// loss[0] = (1/B) sum_r max(z, 0) - z y + log1p(exp(-|z|));  dLogits_r = scale (sigmoid(z) - y) / B  (=)
// One block (the batch is one column of B values); sums in double in a fixed order.
//   logits, labels, d_logits (B)   loss (1)
AUGUR_KERNEL void bce_with_logits_kernel(float* __restrict__ loss, float* __restrict__ d_logits,
                                         const float* __restrict__ logits, const float* __restrict__ labels,
                                         int B, float scale) {
  __shared__ double scratch[32];
  double sum = 0.0;
  for (int r = threadIdx.x; r < B; r += blockDim.x) {
    const double z = logits[r], y = labels[r];
    sum += fmax(z, 0.0) - z * y + log1p(exp(-fabs(z)));
    d_logits[r] = (float)(scale * (1.0 / (1.0 + exp(-z)) - y) / B);
  }
  sum = augur::block_sum(sum, scratch);
  if (threadIdx.x == 0) loss[0] = B > 0 ? (float)(sum / B) : 0.0f;
}
