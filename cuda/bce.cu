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
AUGUR_KERNEL void bce_with_logits_kernel(float* __restrict__ loss, float* __restrict__ d_logits,
                                         const float* __restrict__ logits, const float* __restrict__ labels,
                                         const int* __restrict__ rows, double* __restrict__ partial,
                                         unsigned* __restrict__ done, int B, float scale) {
  __shared__ double scratch[32];
  __shared__ int last;
  const int n = rows != nullptr ? min(max(*rows, 0), B) : B;
  double sum = 0.0;
  for (long long r = (long long)blockIdx.x * blockDim.x + threadIdx.x; r < B; r += (long long)gridDim.x * blockDim.x) {
    if (r >= n) {
      d_logits[r] = 0.0f;
      continue;
    }
    const double z = logits[r], y = labels[r];
    sum += fmax(z, 0.0) - z * y + log1p(exp(-fabs(z)));
    d_logits[r] = (float)(scale * (1.0 / (1.0 + exp(-z)) - y) / n);
  }
  sum = augur::block_sum(sum, scratch);
  if (gridDim.x > 1) {
    if (threadIdx.x == 0) partial[blockIdx.x] = sum;
    if (!augur::last_block_done(done, gridDim.x, &last)) return;
    double v = 0.0;
    for (int g = threadIdx.x; g < (int)gridDim.x; g += blockDim.x) v += __ldcg(partial + g);  // L2: other blocks' writes
    sum = augur::block_sum(v, scratch);
  }
  if (threadIdx.x == 0) loss[0] = n > 0 ? (float)(sum / n) : 0.0f;
}
