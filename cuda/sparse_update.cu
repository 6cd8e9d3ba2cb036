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

// A thread's elements i = first, first + step, ... below end (i = k * D + d: the k-th touched row,
// column d), SPARSE_BATCH at a time, in phases: every element's row from the touched list, then its
// gradient, weight, optimizer slots and count, then the arithmetic and the stores, each phase's
// loads in flight together. (One element after another, the next element's loads could not move
// above this one's stores, which may alias them: in the list kernel, 4 chains of two memory round
// trips a thread, 21.6 µs at batch 128 on an H200.) The elements of a batch are distinct (row,
// column) pairs: the touched list holds each row once.
constexpr int SPARSE_BATCH = 4;

__device__ __forceinline__ void sparse_update_range(float* table, float* s1, float* s2, long long* acc, int* touched_flag,
                                                    const int* touched_list, const int* counts, int kind, float lr, float lambda,
                                                    float b1, float b2, float eps, float bc1, float bc2, int D, long long first,
                                                    long long end, long long step) {
  for (ElementWalk e(first, step, D, 1); e.i < end;) {
    int row[SPARSE_BATCH], col[SPARSE_BATCH];
#pragma unroll
    for (int u = 0; u < SPARSE_BATCH; ++u) {  // the rows (k is the walk's b: ElementWalk with T = 1)
      col[u] = e.c;
      row[u] = e.i < end ? touched_list[e.b] : -1;
      e.next(step, D, 1);
    }
    long long fixed[SPARSE_BATCH];
    float w[SPARSE_BATCH], m[SPARSE_BATCH], v[SPARSE_BATCH], reg[SPARSE_BATCH];
#pragma unroll
    for (int u = 0; u < SPARSE_BATCH; ++u) {  // what the arithmetic reads
      fixed[u] = 0;
      w[u] = m[u] = v[u] = reg[u] = 0.0f;
      if (row[u] < 0) continue;
      const int el = row[u] * D + col[u];  // the table's (V, D) element: an int, as V D <= 2^31 - 1 (a tensor)
      fixed[u] = acc[el];
      if (row[u] == 0) continue;  // padding: cleared below, never updated
      w[u] = table[el];
      if (kind >= 1) m[u] = s1[el];
      if (kind == 2) v[u] = s2[el];
      reg[u] = lambda != 0.0f ? lambda / (float)max(1, counts[row[u]]) : 0.0f;
    }
    loads_issued();  // the round's loads in flight together, not each sunk into its element's branch below
#pragma unroll
    for (int u = 0; u < SPARSE_BATCH; ++u) {  // the stores and the arithmetic
      if (row[u] < 0) continue;
      const int el = row[u] * D + col[u];
      acc[el] = 0;
      if (col[u] == 0) touched_flag[row[u]] = 0;
      if (row[u] == 0) continue;
      const float g = from_fixed(fixed[u]) + reg[u] * w[u];
      if (kind == 0) {
        table[el] = w[u] - lr * g;
      } else if (kind == 1) {
        const float a = m[u] + g * g;
        s1[el] = a;
        table[el] = w[u] - lr * g / (sqrtf(a) + eps);
      } else {
        const float mm = b1 * m[u] + (1.0f - b1) * g;
        const float vv = b2 * v[u] + (1.0f - b2) * g * g;
        s1[el] = mm;
        s2[el] = vv;
        table[el] = w[u] - lr * (mm / bc1) / (sqrtf(vv / bc2) + eps);
      }
    }
  }
}

// Called by every thread of a block once its elements are done: the last of `blocks` blocks to
// get here empties the touched list and resets the counter for the next launch.
__device__ __forceinline__ void sparse_update_block_done(int* touched_count, unsigned* blocks_done, unsigned blocks) {
  __shared__ int last;
  if (last_block_done(blocks_done, blocks, &last) && threadIdx.x == 0) *touched_count = 0;
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
  augur::sparse_update_range(table, s1, s2, acc, touched_flag, touched_list, counts, kind, lr, lambda, b1, b2, eps, bc1, bc2, D,
                             (long long)blockIdx.x * blockDim.x + threadIdx.x, (long long)n * D, (long long)gridDim.x * blockDim.x);
  augur::sparse_update_block_done(touched_count, blocks_done, gridDim.x);
}

// The updates of several tables with the same optimizer in one launch; each element as
// sparse_update_kernel computes it, and each table's list emptied by the last of its blocks.
// t = *step + advance; with advance = 1 the launch also advances the counter (common.cuh's
// step_advance_when_done, `done` its count of finished blocks).
namespace augur {

// Block `block` (< list.blocks) of a list update: its table's elements, then the table's count of
// finished blocks (the last empties the touched list).
__device__ __forceinline__ void sparse_update_list_block(const SparseUpdateList& list, int block, int t_step, int kind, float lr,
                                                         float lambda, float b1, float b2, float eps) {
  const int e = list_entry(list, block);
  const SparseUpdateEntry& t = list.e[e];
  const int next = e + 1 < list.count ? list.e[e + 1].first_block : list.blocks;
  const int n = min(min(*t.touched_count, t.capacity), t.bound);
  const float bc1 = kind == 2 ? bias_correction(b1, t_step) : 1.0f;
  const float bc2 = kind == 2 ? bias_correction(b2, t_step) : 1.0f;
  const long long begin = (long long)(block - t.first_block) * SPARSE_CHUNK;
  const long long end = min((long long)n * t.D, begin + SPARSE_CHUNK);
  sparse_update_range(t.table, t.s1, t.s2, t.acc, t.touched_flag, t.touched_list, t.counts, kind, lr, lambda, b1, b2, eps, bc1, bc2,
                      t.D, begin + threadIdx.x, end, blockDim.x);
  sparse_update_block_done(t.touched_count, t.blocks_done, (unsigned)(next - t.first_block));
}

}  // namespace augur

AUGUR_KERNEL void sparse_update_multi_kernel(augur::SparseUpdateList list, int* step, unsigned* done, int advance, int kind, float lr,
                                             float lambda, float b1, float b2, float eps) {
  augur::sparse_update_list_block(list, blockIdx.x, augur::step_of(step, advance), kind, lr, lambda, b1, b2, eps);
  augur::step_advance_when_done(step, done, advance);
}
