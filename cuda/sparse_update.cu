// One optimizer step on the embedding rows touched since the last update, with mini-batch aware
// regularisation (MBAR). CPU reference: io.augur.backend.cpu.SparseUpdate.
#include "common.cuh"
#include "sparse_grad.cuh"

// For each touched row j != 0 (row 0 is padding and never changes), per element d:
//   g = grad_j + lambda w_j / max(1, counts[j])          (lambda = 0: g = grad_j)
//   kind 0, SGD:      w -= lr g
//   kind 1, Adagrad:  s1 += g^2;  w -= lr g / (sqrt(s1) + eps)
//   kind 2, Adam:     s1 = b1 s1 + (1 - b1) g;  s2 = b2 s2 + (1 - b2) g^2;
//                     w -= lr (s1 / bc1) / (sqrt(s2 / bc2) + eps)     bc = 1 - beta^t, t = *step
// Then the row's accumulator is zeroed and its flag cleared (row 0's too), and the last block to
// finish empties the list (touched_count = 0) and resets blocks_done for the next launch: every
// block has read touched_count before it counts itself done, so none reads the cleared value.
// Launched over (bound, D) threads, bound >= touched_count: the host's count of rows gathered
// since the last update, capped at the list's capacity; threads past the device count return.
//   blocks_done (1)         0 before the launch; 0 after it
//   table, s1, s2 (V, D)    s1/s2 nullptr when the optimizer has no such slot
//   counts (V) or nullptr when lambda = 0
namespace augur {

// One element i = k * D + d of the update (k-th touched row, column d).
__device__ __forceinline__ void sparse_update_element(float* __restrict__ table, float* __restrict__ s1, float* __restrict__ s2,
                                                      long long* __restrict__ acc, int* __restrict__ touched_flag,
                                                      const int* __restrict__ touched_list, const int* __restrict__ counts,
                                                      int kind, float lr, float lambda, float b1, float b2, float eps,
                                                      float bc1, float bc2, int D, long long i) {
  const int k = (int)(i / D);
  const int d = (int)(i % D);
  const int j = touched_list[k];
  const long long e = (long long)j * D + d;
  const float grad = from_fixed(acc[e]);
  acc[e] = 0;
  if (d == 0) touched_flag[j] = 0;
  if (j == 0) return;
  const float reg = lambda != 0.0f ? lambda / (float)max(1, counts[j]) : 0.0f;
  const float w = table[e];
  const float g = grad + reg * w;
  if (kind == 0) {
    table[e] = w - lr * g;
  } else if (kind == 1) {
    const float a = s1[e] + g * g;
    s1[e] = a;
    table[e] = w - lr * g / (sqrtf(a) + eps);
  } else {
    const float m = b1 * s1[e] + (1.0f - b1) * g;
    const float v = b2 * s2[e] + (1.0f - b2) * g * g;
    s1[e] = m;
    s2[e] = v;
    table[e] = w - lr * (m / bc1) / (sqrtf(v / bc2) + eps);
  }
}

// Called by every thread of a block once its elements are done: the last of `blocks` blocks to
// get here empties the touched list and resets the counter for the next launch.
__device__ __forceinline__ void sparse_update_block_done(int* touched_count, unsigned* blocks_done, unsigned blocks) {
  __syncthreads();
  if (threadIdx.x == 0) {
    __threadfence();
    if (atomicAdd(blocks_done, 1u) == blocks - 1) {
      *touched_count = 0;
      *blocks_done = 0;
    }
  }
}

// Several tables' updates in one launch (Optimizer.step: every embedding table): entry e covers
// blocks [first_block, first_block of e + 1), SPARSE_CHUNK elements (bound * D) each.
// io.augur.backend.cuda.SparseUpdateListArgs writes this struct byte for byte.
constexpr int SPARSE_MAX = 8;
constexpr int SPARSE_CHUNK = 1024;

struct SparseUpdateEntry {
  float* table;
  float* s1;
  float* s2;
  long long* acc;
  int* touched_flag;
  const int* touched_list;
  int* touched_count;
  unsigned* blocks_done;
  const int* counts;
  int D, bound, capacity, first_block;
};

struct SparseUpdateList {
  SparseUpdateEntry e[SPARSE_MAX];
  int count;
  int blocks;  // the grid size
};
static_assert(sizeof(SparseUpdateEntry) == 88, "SparseUpdateEntry's layout changed: update io.augur.backend.cuda.SparseUpdateListArgs");
static_assert(sizeof(SparseUpdateList) == 712, "SparseUpdateList's layout changed: update io.augur.backend.cuda.SparseUpdateListArgs");

}  // namespace augur

AUGUR_KERNEL void sparse_update_kernel(float* __restrict__ table, float* __restrict__ s1, float* __restrict__ s2,
                                       long long* __restrict__ acc, int* __restrict__ touched_flag,
                                       const int* __restrict__ touched_list, int* touched_count, unsigned* blocks_done,
                                       const int* __restrict__ counts, const int* __restrict__ step,
                                       int kind, float lr, float lambda, float b1, float b2, float eps,
                                       int D, int bound, int capacity) {
  const int n = min(min(*touched_count, capacity), bound);
  const float bc1 = kind == 2 ? augur::bias_correction(b1, *step) : 1.0f;
  const float bc2 = kind == 2 ? augur::bias_correction(b2, *step) : 1.0f;
  AUGUR_GRID_STRIDE(i, (long long)n * D) {
    augur::sparse_update_element(table, s1, s2, acc, touched_flag, touched_list, counts, kind, lr, lambda, b1, b2, eps, bc1, bc2, D, i);
  }
  augur::sparse_update_block_done(touched_count, blocks_done, gridDim.x);
}

// The updates of several tables with the same optimizer in one launch; each element as
// sparse_update_kernel computes it, and each table's list emptied by the last of its blocks.
AUGUR_KERNEL void sparse_update_multi_kernel(augur::SparseUpdateList list, const int* __restrict__ step, int kind, float lr,
                                             float lambda, float b1, float b2, float eps) {
  const int e = augur::list_entry(list, blockIdx.x);
  const augur::SparseUpdateEntry& t = list.e[e];
  const int next = e + 1 < list.count ? list.e[e + 1].first_block : list.blocks;
  const int n = min(min(*t.touched_count, t.capacity), t.bound);
  const float bc1 = kind == 2 ? augur::bias_correction(b1, *step) : 1.0f;
  const float bc2 = kind == 2 ? augur::bias_correction(b2, *step) : 1.0f;
  const long long begin = (long long)(blockIdx.x - t.first_block) * augur::SPARSE_CHUNK;
  const long long end = min((long long)n * t.D, begin + augur::SPARSE_CHUNK);
  for (long long i = begin + threadIdx.x; i < end; i += blockDim.x) {
    augur::sparse_update_element(t.table, t.s1, t.s2, t.acc, t.touched_flag, t.touched_list, t.counts, kind, lr, lambda, b1, b2, eps,
                                 bc1, bc2, t.D, i);
  }
  augur::sparse_update_block_done(t.touched_count, t.blocks_done, (unsigned)(next - t.first_block));
}
