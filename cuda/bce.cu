// Binary cross-entropy on logits. CPU reference: io.augur.backend.cpu.Bce.
#include "common.cuh"

// loss[0] = (1/n) sum_{r<n} max(z, 0) - z y + log1p(exp(-|z|));  dLogits_r = scale (sigmoid(z) - y) / n  (=)
// with n = B, or n = *rows when rows != nullptr (a row count in device memory; dLogits = 0 for the
// rows past it). Sums in double in a fixed order: thread i of block g walks rows g blockDim + i,
// then every gridDim blockDim rows; each block sums its threads (block_sum) into partial[g]; the
// last block to count itself done in `done` adds the blocks' sums in block order, writes the loss
// and sets the counter back to zero for the next launch (as gemm_split_done). One block needs
// neither. The host sizes the grid by B alone (CudaBackend.bceBlocks), so the order, and the
// bits, never depend on the device. (One block for DIEN's auxiliary pairs, 74,000 rows at batch
// 2048, took about 270 us on the H200: 290 rows a thread of double exp and log1p on one SM.)
//   logits, labels, d_logits (B)   loss (1)   rows (1) or nullptr   partial (gridDim.x) doubles, scratch
//   done (1) zero between launches (unused with one block)
namespace augur {
// The loss over rows r < B whose logit logit(r) gives (bce_with_logits_kernel's arithmetic and order); with HEAD each
// logit is also stored, every row's (the loss's past n too).
template <bool HEAD, class Logit>
__device__ __forceinline__ void bce_rows(float* __restrict__ loss, float* __restrict__ d_logits, float* __restrict__ logits, Logit logit,
                                         const float* __restrict__ labels, const int* __restrict__ rows, double* __restrict__ partial,
                                         unsigned* __restrict__ done, int B, float scale) {
  __shared__ double scratch[32];
  __shared__ int last;
  const int n = rows != nullptr ? min(max(*rows, 0), B) : B;
  double sum = 0.0;
  for (long long r = (long long)blockIdx.x * blockDim.x + threadIdx.x; r < B; r += (long long)gridDim.x * blockDim.x) {
    float zf = 0.0f;
    if (HEAD) {
      zf = logit(r);
      logits[r] = zf;
    }
    if (r >= n) {
      d_logits[r] = 0.0f;
      continue;
    }
    const double z = HEAD ? zf : logit(r), y = labels[r];
    sum += fmax(z, 0.0) - z * y + log1p(exp(-fabs(z)));
    d_logits[r] = (float)(scale * (1.0 / (1.0 + exp(-z)) - y) / n);
  }
  sum = block_sum(sum, scratch);
  if (gridDim.x > 1) {
    if (threadIdx.x == 0) partial[blockIdx.x] = sum;
    if (!last_block_done(done, gridDim.x, &last)) return;
    double v = 0.0;
    for (int g = threadIdx.x; g < (int)gridDim.x; g += blockDim.x) v += __ldcg(partial + g);  // L2: other blocks' writes
    sum = block_sum(v, scratch);
  }
  if (threadIdx.x == 0) loss[0] = n > 0 ? (float)(sum / n) : 0.0f;
}
}  // namespace augur

AUGUR_KERNEL void bce_with_logits_kernel(float* __restrict__ loss, float* __restrict__ d_logits,
                                         const float* __restrict__ logits, const float* __restrict__ labels,
                                         const int* __restrict__ rows, double* __restrict__ partial,
                                         unsigned* __restrict__ done, int B, float scale) {
  augur::bce_rows<false>(loss, d_logits, nullptr, [&](long long r) { return logits[r]; }, labels, rows, partial, done, B, scale);
}

// The tower's logit layer and its loss in one launch (Backend.logitsAndLoss): logits[r] = sum_k h[r K + k] w[k] + b[0]
// (b nullptr: no bias) for every r < B (each row's by its thread, the K multiply-adds in k order, then the bias), then the loss with them as
// bce_with_logits_kernel. Where the logit layer's product and the loss took a launch each, DIN's tower at batch 128
// takes one: 128 threads of one block, a row of 80 each.
//   logits, labels, d_logits (B)   h (B, K)   w (K)   b (1)   the rest as bce_with_logits_kernel
AUGUR_KERNEL void bce_head_kernel(float* __restrict__ loss, float* __restrict__ d_logits, float* __restrict__ logits,
                                  const float* __restrict__ h, const float* __restrict__ w, const float* __restrict__ b,
                                  const float* __restrict__ labels, const int* __restrict__ rows, double* __restrict__ partial,
                                  unsigned* __restrict__ done, int B, int K, float scale) {
  augur::bce_rows<true>(loss, d_logits, logits, [&](long long r) {
    const float* hr = h + r * K;
    float acc = 0.0f;
#pragma unroll 8
    for (int k = 0; k < K; ++k) acc = fmaf(hr[k], w[k], acc);
    return b != nullptr ? acc + b[0] : acc;
  }, labels, rows, partial, done, B, scale);
}
