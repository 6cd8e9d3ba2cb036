// Embedding gather with masking, its backward into a sparse gradient, and masked sum pooling.
// CPU reference: io.augur.backend.cpu.Embedding and io.augur.backend.cpu.SumPool.
#include "common.cuh"
#include "sparse_grad.cuh"
#include "multi_tensor.cuh"

namespace augur {

// Both the single and the list kernels take a thread's elements GATHER_BATCH at a time, in phases:
// every element's length and id, then every table row (or gradient), then the stores (or the
// atomics), each phase's loads in flight together (augur::loads_issued keeps the compiler from
// sinking them into their uses' branches, which it did), the status bits kept in a register and
// set once. One element after another, the compiler may not move the next element's table load above
// this element's store (both floats, either may alias), so a thread of a list kernel waited for
// GATHER_CHUNK / blockDim = 8 chains of two or three memory round trips: at batch 128 on an H200
// the forward gather took 9.5 µs and its backward 16 µs for 1 to 2 waves of blocks.
// A thread's elements: i = first, first + step, ... below end (i = r * D + c: row r, column c). Their
// indices into the table, the output and the sparse gradient are ints: each is a tensor of at most
// 2^31 - 1 elements (io.augur.backend.Tensor), and a pointer plus an int is one IMAD.WIDE where the
// 64-bit product and sum took about 8 instructions an element.
constexpr int GATHER_BATCH = 8;

// A round of GATHER_BATCH elements of the walk, which it then leaves at the next round's first: row
// r[u], column c[u] and position t[u] (r[u] = -1 past end), with every element's history length
// len[u] (T without lengths) and raw id id[u] loaded together, whatever the element (past end, the
// last row's, `last` of sample `last_b`; padded rows read ids that are not used), so that the round's
// loads are in flight at once: a length test before the id load made each element wait for its length
// (two round trips an element).
__device__ __forceinline__ void element_rows(int (&r)[GATHER_BATCH], int (&c)[GATHER_BATCH], int (&t)[GATHER_BATCH],
                                             int (&len)[GATHER_BATCH], int (&id)[GATHER_BATCH], ElementWalk& w, const int* ids,
                                             const int* lengths, int T, int D, long long end, long long step, int last, int last_b) {
#pragma unroll
  for (int u = 0; u < GATHER_BATCH; ++u) {
    const bool in = w.i < end;
    r[u] = in ? w.row(T) : -1;
    c[u] = in ? w.c : 0;
    t[u] = w.t;
    len[u] = lengths != nullptr ? lengths[in ? w.b : last_b] : T;
    id[u] = ids[in ? r[u] : last];
    w.next(step, D, T);
  }
  loads_issued();
}

// The forward's elements (see embedding_gather_forward_kernel).
__device__ __forceinline__ void gather_forward_range(float* out, int* status, const int* ids, const int* lengths, const float* table,
                                                     int T, int D, int V, int out_stride, int off, long long first, long long end,
                                                     long long step) {
  const int last = end > 0 ? (int)((end - 1) / D) : 0, last_b = last / T;
  for (ElementWalk w(first, step, D, T); w.i < end;) {
    int r[GATHER_BATCH], c[GATHER_BATCH], t[GATHER_BATCH], id[GATHER_BATCH], len[GATHER_BATCH];
    element_rows(r, c, t, len, id, w, ids, lengths, T, D, end, step, last, last_b);
    int bad = 0;
#pragma unroll
    for (int u = 0; u < GATHER_BATCH; ++u) {
      const int raw = id[u];
      id[u] = -1;  // nothing to read: padding, an id outside [0, V), or past the end
      if (r[u] < 0) continue;
      if (lengths != nullptr && c[u] == 0 && t[u] == 0 && (len[u] < 0 || len[u] > T)) bad |= AUGUR_STATUS_BAD_LENGTH;
      if (t[u] >= len[u]) continue;
      if (raw >= 0 && raw < V) id[u] = raw;
      else if (c[u] == 0) bad |= AUGUR_STATUS_BAD_ID;
    }
    float v[GATHER_BATCH];
#pragma unroll
    for (int u = 0; u < GATHER_BATCH; ++u) v[u] = id[u] >= 0 ? table[id[u] * D + c[u]] : 0.0f;
    loads_issued();
#pragma unroll
    for (int u = 0; u < GATHER_BATCH; ++u)
      if (r[u] >= 0) out[r[u] * out_stride + off + c[u]] = v[u];
    if (bad) set_status(status, bad);
  }
}

// The backward's elements (see embedding_gather_backward_kernel).
__device__ __forceinline__ void gather_backward_range(long long* acc, int* touched_flag, int* touched_list, int* touched_count,
                                                      int* status, const float* dout, const int* ids, const int* lengths, int T,
                                                      int D, int V, int capacity, int out_stride, int off, long long first,
                                                      long long end, long long step) {
  const int last = end > 0 ? (int)((end - 1) / D) : 0, last_b = last / T;
  for (ElementWalk w(first, step, D, T); w.i < end;) {
    int r[GATHER_BATCH], c[GATHER_BATCH], t[GATHER_BATCH], id[GATHER_BATCH], len[GATHER_BATCH];
    element_rows(r, c, t, len, id, w, ids, lengths, T, D, end, step, last, last_b);
#pragma unroll
    for (int u = 0; u < GATHER_BATCH; ++u)  // an id outside [0, V): reported by the forward
      if (r[u] < 0 || t[u] >= len[u] || id[u] < 0 || id[u] >= V) id[u] = -1;
    float g[GATHER_BATCH];
#pragma unroll
    for (int u = 0; u < GATHER_BATCH; ++u) g[u] = id[u] >= 0 ? dout[r[u] * out_stride + off + c[u]] : 0.0f;
    loads_issued();
    int bad = 0;
#pragma unroll
    for (int u = 0; u < GATHER_BATCH; ++u) {
      if (id[u] < 0) continue;
      if (!isfinite(g[u])) bad |= AUGUR_STATUS_NONFINITE_GRAD;
      atomicAdd(reinterpret_cast<unsigned long long*>(acc + (id[u] * D + c[u])), static_cast<unsigned long long>(to_fixed(g[u])));
      if (c[u] == 0) touch_row(touched_flag, touched_list, touched_count, status, id[u], capacity);
    }
    if (bad) set_status(status, bad);
  }
}

// Several gathers (or their backwards) in one launch: entry e covers blocks
// [first_block, first_block of e + 1), GATHER_CHUNK consecutive elements (rows * D) each.
// io.augur.backend.cuda.GatherListArgs writes this struct byte for byte.
constexpr int GATHER_MAX = 8;
constexpr int GATHER_CHUNK = 2048;

struct GatherEntry {
  float* out;              // forward: the output; nullptr in a backward list
  const float* dout;       // backward: the output's gradient; nullptr in a forward list
  long long* acc;          // backward: the sparse gradient (sparse_grad.cuh)
  int* touched_flag;
  int* touched_list;
  int* touched_count;
  const int* ids;
  const int* lengths;      // or nullptr
  const float* table;      // forward: the (V, D) table
  int rows, T, D, V, capacity, out_stride, off, first_block;
};

struct GatherList {
  GatherEntry e[GATHER_MAX];
  int count;
  int blocks;              // the grid size
};
static_assert(sizeof(GatherEntry) == 104, "GatherEntry's layout changed: update io.augur.backend.cuda.GatherListArgs");
static_assert(sizeof(GatherList) == 840, "GatherList's layout changed: update io.augur.backend.cuda.GatherListArgs");

// The entry that owns this block and the block's element range within it.
__device__ __forceinline__ int gather_entry(const GatherList& l, int block, long long* begin, long long* end) {
  const int e = list_entry(l, block);
  const long long n = (long long)l.e[e].rows * l.e[e].D;
  *begin = (long long)(block - l.e[e].first_block) * GATHER_CHUNK;
  *end = min(n, *begin + GATHER_CHUNK);
  return e;
}

}  // namespace augur

// out[r, off + c] = table[ids[r], c] for r in [0, rows), c in [0, D).
// With lengths != nullptr, row r is position t = r % T of sample b = r / T, and positions at or
// past lengths[b] are written as 0 (padding contributes exactly zero downstream). An id outside
// [0, V) is written as 0 and reported through the status word.
//   out     (rows, out_stride)   written in columns [off, off + D)
//   ids     (rows)
//   lengths (rows / T) or nullptr
//   table   (V, D)
AUGUR_KERNEL void embedding_gather_forward_kernel(float* __restrict__ out, int* status,
                                                  const int* __restrict__ ids,
                                                  const int* __restrict__ lengths,
                                                  const float* __restrict__ table,
                                                  int rows, int T, int D, int V, int out_stride, int off) {
  augur::gather_forward_range(out, status, ids, lengths, table, T, D, V, out_stride, off,
                              (long long)blockIdx.x * blockDim.x + threadIdx.x, (long long)rows * D, (long long)gridDim.x * blockDim.x);
}

namespace augur {

// Block `block` (< list.blocks) of a list's gathers.
__device__ __forceinline__ void gather_list_block(const GatherList& list, int block, int* status) {
  long long begin, end;
  const GatherEntry& e = list.e[gather_entry(list, block, &begin, &end)];
  gather_forward_range(e.out, status, e.ids, e.lengths, e.table, e.T, e.D, e.V, e.out_stride, e.off, begin + threadIdx.x, end, blockDim.x);
}

}  // namespace augur

// The gathers of a list (a model's forward: every field's lookup) in one launch; each element as
// embedding_gather_forward_kernel computes it.
AUGUR_KERNEL void embedding_gather_multi_forward_kernel(augur::GatherList list, int* status) {
  augur::gather_list_block(list, blockIdx.x, status);
}

// The same gathers, and the tensors of `zero` set to 0 by the blocks after the gathers' (blocks
// [list.blocks, list.blocks + zero.first_block[zero.count]), each as zero_multi_kernel's block of
// that number): a training step's first launch also clears the dense gradients, which saves
// zero_multi_kernel's launch. The gathers neither read nor write those tensors.
AUGUR_KERNEL void embedding_gather_multi_forward_zero_kernel(augur::GatherList list, int* status, augur::MultiTensor zero) {
  if ((int)blockIdx.x >= list.blocks) augur::zero_list_block(zero, (int)blockIdx.x - list.blocks);
  else augur::gather_list_block(list, blockIdx.x, status);
}

// Backward of the gather into the table's sparse gradient (sparse_grad.cuh):
//   acc[ids[r], c] += dout[r, off + c]        for the rows the forward gathered (masked rows skipped)
// and each row touched for the first time since the last update is appended to the touched list.
// Integer addition commutes, so the result does not depend on the order the threads run in.
//   dout (rows, out_stride)   ids (rows)   lengths (rows / T) or nullptr
AUGUR_KERNEL void embedding_gather_backward_kernel(long long* __restrict__ acc, int* __restrict__ touched_flag,
                                                   int* __restrict__ touched_list, int* __restrict__ touched_count,
                                                   int* status,
                                                   const float* __restrict__ dout,
                                                   const int* __restrict__ ids,
                                                   const int* __restrict__ lengths,
                                                   int rows, int T, int D, int V, int capacity, int out_stride, int off) {
  augur::gather_backward_range(acc, touched_flag, touched_list, touched_count, status, dout, ids, lengths, T, D, V, capacity, out_stride,
                               off, (long long)blockIdx.x * blockDim.x + threadIdx.x, (long long)rows * D,
                               (long long)gridDim.x * blockDim.x);
}

// The backwards of a list of gathers in one launch (entries may share a sparse gradient: the
// integer atomics and the touched list make that safe).
AUGUR_KERNEL void embedding_gather_multi_backward_kernel(augur::GatherList list, int* status) {
  augur::grid_dependency_wait_and_launch();
  long long begin, end;
  const augur::GatherEntry& e = list.e[augur::gather_entry(list, blockIdx.x, &begin, &end)];
  augur::gather_backward_range(e.acc, e.touched_flag, e.touched_list, e.touched_count, status, e.dout, e.ids, e.lengths, e.T, e.D, e.V,
                               e.capacity, e.out_stride, e.off, begin + threadIdx.x, end, blockDim.x);
}

// out[b, c] = sum_{t < lengths[b]} x[b, t, c]
//   out     (B, C)
//   x       (B, T, C)
//   lengths (B)
AUGUR_KERNEL void sum_pool_forward_kernel(float* __restrict__ out, const float* __restrict__ x,
                                          const int* __restrict__ lengths, int B, int T, int C) {
  AUGUR_GRID_STRIDE(i, (long long)B * C) {
    const int b = (int)i / C, c = (int)i - b * C;  // i < B C, out's size: an int (as are x's indices)
    const int len = augur::clamped_length(lengths, b, T);
    out[i] = augur::positions_sum(x + b * T * C + c, len, C);
  }
}

// dx[b, t, c] = dout[b, c] for t < lengths[b], else 0   (= into dx: the pool is dx's first consumer)
AUGUR_KERNEL void sum_pool_backward_kernel(float* __restrict__ dx, const float* __restrict__ dout,
                                           const int* __restrict__ lengths, int B, int T, int C) {
  AUGUR_GRID_STRIDE(i, (long long)B * T * C) {
    const int bt = (int)i / C, c = (int)i - bt * C, b = bt / T, t = bt - b * T;  // i < B T C, dx's size: an int
    dx[i] = t < lengths[b] ? dout[b * C + c] : 0.0f;
  }
}

// Histories kept in device memory (train --resident-data): the dataset's history columns as
// stored (row r's behaviours at [offsets[r], offsets[r + 1]), oldest first), and each batch's row
// numbers. For each column c of the list and each (b, t):
//   out_c[b * T + t] = values_c[offsets[r] + t] for from_c <= t < len, 0 otherwise,
// with r = rows[b] and len = offsets[r + 1] - offsets[r] (from_c: 0, or 1 for DIEN's negative
// columns, whose first position no auxiliary pair uses and the trainer leaves 0). A row number
// outside [0, n_rows) sets AUGUR_STATUS_BAD_ROW (the sample's histories are written as zeros),
// a length outside [0, T] AUGUR_STATUS_BAD_LENGTH (clamped). CPU reference: CpuBackend.historyGather.
//   out_c (B, T)   values_c (offsets[n_rows])   offsets (n_rows + 1)   rows (B)
struct HistoryGatherList {
  int count;    // columns, 1 to 4
  int from[4];  // each column's first position taken from the file
  int* out[4];
  const int* values[4];
};

AUGUR_KERNEL void history_gather_kernel(HistoryGatherList l, int* status, const int* __restrict__ offsets,
                                        const int* __restrict__ rows, int n_rows, int B, int T) {
  const long long per_column = (long long)B * T;
  AUGUR_GRID_STRIDE(i, l.count * per_column) {
    // column c and bt < B T (one column's size: an int) without a 64-bit division (count * B T may not be an int)
    int c = 0;
    long long rest = i;
    while (rest >= per_column) {
      rest -= per_column;
      ++c;
    }
    const int bt = (int)rest, b = bt / T, t = bt - b * T;
    // column c's fields, picked with constant indices: l.from[c] and the like copied the whole
    // list to local memory (an 88-byte stack frame in ptxas's report)
    int from = 0;
    int* out = nullptr;
    const int* values = nullptr;
#pragma unroll
    for (int k = 0; k < 4; ++k)
      if (k == c) {
        from = l.from[k];
        out = l.out[k];
        values = l.values[k];
      }
    const int r = rows[b];
    int v = 0;
    if (r >= 0 && r < n_rows) {
      const int off = offsets[r], len = offsets[r + 1] - off;
      if ((len < 0 || len > T) && c == 0 && t == 0) augur::set_status(status, AUGUR_STATUS_BAD_LENGTH);
      if (t >= from && t < min(max(len, 0), T)) v = values[off + t];
    } else if (c == 0 && t == 0) {
      augur::set_status(status, AUGUR_STATUS_BAD_ROW);
    }
    out[bt] = v;
  }
}
