// Embedding gather with masking, its backward into a sparse gradient, and masked sum pooling.
// CPU reference: io.augur.backend.cpu.Embedding and io.augur.backend.cpu.SumPool.
#include "common.cuh"
#include "sparse_grad.cuh"
#include "multi_tensor.cuh"

namespace augur {

// The lookups' elements are (row r, column c) of (rows, D); row r is position t of sample b, r = b T + t
// (T = 1 without lengths). A warp takes WR = gather_warp_rows(D) consecutive rows (14 at D = 18) and
// a block of 256 threads 8 warps' (112 rows at D = 18):
// - a row phase, lane l for row l of the warp's: the row's length and id loaded together (in flight
//   at once), the checks, and a code for the row: its table row, -1 where it is written as 0 (padding,
//   an id outside [0, V)), -2 past the lookup's last row; the backward marks the row touched, once a
//   row, by this lane (after the first round's gradient loads below, so that they are in flight);
// - an element phase: the WR D elements of the warp's rows (at most 32 GATHER_BATCH, one round of
//   GATHER_BATCH a lane for D <= 256) in row-major order, lane l taking elements l, l + 32, ... (so a
//   warp's loads and stores run along its rows), each element's row code from its row's lane by a
//   shuffle: every element's table load (or gradient load) in flight together, then the stores (or
//   the atomics).
// Before, each thread walked its 8 elements in steps of the block's 256 (common.cuh's ElementWalk)
// and found each element's sample, position, length and id on its own: on sm_90 a round of 8
// elements was 504 instructions forward and 1,163 backward (IMAD 176 and ISETP 145 of the forward's),
// for the padded positions too, which are most of a history: at batch 2048 and T = 100 the two history
// lookups have 7.4 million elements, of which a mean history of 18 uses 1.3 million. The row's work is
// now done once a row, by one lane: sm_90's embedding_gather_multi_forward_zero_kernel is 405
// instructions in all (815 before), its round of 8 elements 193, and the backward list kernel 585 in
// all (1,444, its round 1,163). Indices into the table, the output and the sparse gradient are
// ints: each is a tensor of at most 2^31 - 1 elements (io.augur.backend.Tensor).
constexpr int GATHER_BATCH = 8;

// A warp's rows: 32 GATHER_BATCH / D, at least 1 and at most 32 (one row code a lane).
// io.augur.backend.cuda.GatherListArgs.warpRows is the same.
__device__ __forceinline__ int gather_warp_rows(int D) { return min(32, max(1, 32 * GATHER_BATCH / D)); }

// A block's rows: a warp's times the block's warps.
__device__ __forceinline__ int gather_block_rows(int D) { return gather_warp_rows(D) * (int)(blockDim.x >> 5); }

// The row phase for the calling lane's row `row` (a row past `end`: code -2, nothing loaded). With
// lengths, row r is position r mod T of sample r / T; a length outside [0, T] is reported at the
// sample's position 0, an id outside [0, V) of a used position by the forward (report_ids).
__device__ __forceinline__ int gather_row_code(int row, int end, const int* ids, const int* lengths, int T, int V, bool report_ids,
                                               int& bad) {
  if (row >= end) return -2;
  const int raw = ids[row];
  if (lengths != nullptr) {
    const int b = row / T, t = row - b * T, len = lengths[b];  // in flight with the id
    if (t == 0 && (len < 0 || len > T)) bad |= AUGUR_STATUS_BAD_LENGTH;
    if (t >= len) return -1;  // padding
  }
  if (raw >= 0 && raw < V) return raw;
  if (report_ids) bad |= AUGUR_STATUS_BAD_ID;
  return -1;
}

// The element phase's walk: lane's elements e = lane + 32 u, row e / D and column e mod D of the
// warp's rows, by additions from one division a lane. (common.cuh's ElementWalk with a step of 32
// and T = 1 walks the same, from 64-bit divisions: sm_90's forward list kernel 528 instructions
// instead of 405 with it, the backward's 724 instead of 585.)
struct WarpElements {
  int row, c, drow, dc;
  __device__ __forceinline__ WarpElements(int D) {
    const int lane = (int)(threadIdx.x & 31);
    row = lane / D;
    c = lane - row * D;
    drow = 32 / D;
    dc = 32 - drow * D;
  }
  __device__ __forceinline__ void next(int D) {
    row += drow;
    c += dc;
    if (c >= D) {
      c -= D;
      ++row;
    }
  }
};

// A warp's rows [first, first + WR) (rows at or past `end` left alone) of a forward lookup
// (see embedding_gather_forward_kernel). Without zero_padding a warp whose rows are all padding
// (or past the end) writes nothing: a lookup whose consumers read only the valid positions (DIN's
// history under the fused activation unit) leaves its padding rows as they were; a warp with a
// valid row, or with a bad id or length to report, writes its padding as 0 still. Every lane of the
// warp calls it.
__device__ __forceinline__ void gather_forward_warp(float* out, int* status, const int* ids, const int* lengths, const float* table,
                                                   int T, int D, int V, int out_stride, int off, int first, int end,
                                                   bool zero_padding) {
  const int WR = gather_warp_rows(D), lane = (int)(threadIdx.x & 31), n = WR * D;
  int bad = 0;
  const int code = lane < WR ? gather_row_code(first + lane, end, ids, lengths, T, V, true, bad) : -2;
  WarpElements w(D);
  if (__ballot_sync(0xffffffffu, code >= 0) == 0) {
    // no row of the warp reads the table (most of a history's warps: padding, written as 0): the zeros alone, each
    // element's row known past the end or not without its row code, so no shuffle and no load; or, without
    // zero_padding and nothing to report, nothing at all
    if (!zero_padding && __ballot_sync(0xffffffffu, bad != 0) == 0) return;
    for (int e = lane; e < n; e += 32) {
      if (first + w.row < end) out[(first + w.row) * out_stride + off + w.c] = 0.0f;
      w.next(D);
    }
    if (bad) set_status(status, bad);
    return;
  }
  for (int e0 = 0; e0 < n; e0 += 32 * GATHER_BATCH) {  // one round where D <= 256
    int id[GATHER_BATCH], r[GATHER_BATCH], c[GATHER_BATCH];
#pragma unroll
    for (int u = 0; u < GATHER_BATCH; ++u) {
      const int e = e0 + lane + 32 * u;
      const int k = __shfl_sync(0xffffffffu, code, min(w.row, 31));
      id[u] = e < n ? k : -2;
      r[u] = first + w.row;
      c[u] = w.c;
      w.next(D);
    }
    float v[GATHER_BATCH];
#pragma unroll
    for (int u = 0; u < GATHER_BATCH; ++u) v[u] = id[u] >= 0 ? table[id[u] * D + c[u]] : 0.0f;
    loads_issued();
#pragma unroll
    for (int u = 0; u < GATHER_BATCH; ++u)
      if (id[u] >= -1) out[r[u] * out_stride + off + c[u]] = v[u];
  }
  if (bad) set_status(status, bad);
}

// The same rows of a backward lookup (see embedding_gather_backward_kernel).
__device__ __forceinline__ void gather_backward_warp(long long* acc, int* touched_flag, int* touched_list, int* touched_count,
                                                    int* status, const float* dout, const int* ids, const int* lengths, int T,
                                                    int D, int V, int capacity, int out_stride, int off, int first, int end) {
  const int WR = gather_warp_rows(D), lane = (int)(threadIdx.x & 31), n = WR * D;
  int bad = 0, unused = 0;  // an id outside [0, V) is reported by the forward
  const int code = lane < WR ? gather_row_code(first + lane, end, ids, lengths, T, V, false, unused) : -2;
  // a warp whose rows are all padding (most of a history's warps: a mean length of 18 of T = 100) or past the end adds
  // nothing: it leaves before the element phase, whose rounds it would walk with every load and atomic predicated off
  if (__ballot_sync(0xffffffffu, code >= 0) == 0) return;
  WarpElements w(D);
  for (int e0 = 0; e0 < n; e0 += 32 * GATHER_BATCH) {  // one round where D <= 256
    int id[GATHER_BATCH], c[GATHER_BATCH];
    float g[GATHER_BATCH];
#pragma unroll
    for (int u = 0; u < GATHER_BATCH; ++u) {
      const int e = e0 + lane + 32 * u;
      const int k = __shfl_sync(0xffffffffu, code, min(w.row, 31));
      id[u] = e < n ? k : -1;
      c[u] = w.c;
      g[u] = id[u] >= 0 ? dout[(first + w.row) * out_stride + off + w.c] : 0.0f;
      w.next(D);
    }
    loads_issued();
    // the row's lane marks it touched while the first round's gradients are on their way (the flag's compare-and-swap,
    // and for a row's first touch the list's count, are round trips of their own)
    if (e0 == 0 && code >= 0) touch_row(touched_flag, touched_list, touched_count, status, code, capacity);
#pragma unroll
    for (int u = 0; u < GATHER_BATCH; ++u) {
      if (id[u] < 0) continue;
      if (!isfinite(g[u])) bad |= AUGUR_STATUS_NONFINITE_GRAD;
      atomicAdd(reinterpret_cast<unsigned long long*>(acc + (id[u] * D + c[u])), static_cast<unsigned long long>(to_fixed(g[u])));
    }
  }
  if (bad) set_status(status, bad);
}

// A block's rows [first, first + gather_block_rows(D)), warp w taking [first + w WR, first + (w + 1) WR).
__device__ __forceinline__ int gather_warp_first(int block_first, int D) {
  return block_first + (int)(threadIdx.x >> 5) * gather_warp_rows(D);
}

// Several gathers (or their backwards) in one launch: entry e covers blocks [first_block, first_block
// of e + 1), gather_block_rows(D) consecutive rows each (io.augur.backend.cuda.GatherListArgs reckons
// the same blocks for the launches' 256 threads, Kernels.BLOCK).
constexpr int GATHER_MAX = 8;

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
  int rows, T, D, V, capacity, out_stride, off;
  int zero_padding;        // forward: 1, padding rows (t >= len) written as 0; 0, left as they were where a warp holds only padding
  int first_block;
};

struct GatherList {
  GatherEntry e[GATHER_MAX];
  int count;
  int blocks;              // the grid size
};
static_assert(sizeof(GatherEntry) == 112, "GatherEntry's layout changed: update io.augur.backend.cuda.GatherListArgs");
static_assert(sizeof(GatherList) == 904, "GatherList's layout changed: update io.augur.backend.cuda.GatherListArgs");

// The entry that owns this block, and the block's first row within it.
__device__ __forceinline__ int gather_entry(const GatherList& l, int block, int* first_row) {
  const int e = list_entry(l, block);
  *first_row = (block - l.e[e].first_block) * gather_block_rows(l.e[e].D);
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
  const long long per_block = augur::gather_block_rows(D);
  for (long long first = blockIdx.x * per_block; first < rows; first += gridDim.x * per_block) {  // the same for the block
    const int warp_first = augur::gather_warp_first((int)first, D);
    if (warp_first < rows) augur::gather_forward_warp(out, status, ids, lengths, table, T, D, V, out_stride, off, warp_first, rows, true);
  }
}

namespace augur {

// Block `block` (< list.blocks) of a list's gathers.
__device__ __forceinline__ void gather_list_block(const GatherList& list, int block, int* status) {
  int first;
  const GatherEntry& e = list.e[gather_entry(list, block, &first)];
  const int warp_first = gather_warp_first(first, e.D);
  if (warp_first < e.rows)
    gather_forward_warp(e.out, status, e.ids, e.lengths, e.table, e.T, e.D, e.V, e.out_stride, e.off, warp_first, e.rows, e.zero_padding != 0);
}

}  // namespace augur

// The gathers of a list (a model's forward: every field's lookup) in one launch; each element as
// embedding_gather_forward_kernel computes it, but that an entry without zero_padding leaves the
// padding rows of its all-padding warps unwritten (gather_forward_warp).
AUGUR_KERNEL void embedding_gather_multi_forward_kernel(augur::GatherList list, int* status) {
  augur::gather_list_block(list, blockIdx.x, status);
}

// The same gathers, and the tensors of `zero` set to 0 or copied by the blocks after the gathers' (blocks
// [list.blocks, list.blocks + zero.first_block[zero.count]), each as zero_multi_kernel's or copy_multi_kernel's block
// of that number, zero_or_copy_block): a training step's first launch also clears the dense gradients, which saves
// zero_multi_kernel's launch, and may carry the batch's inputs from the staging slot into the tensors later launches
// read, which saves copy_multi_kernel's (CudaBackend.embeddingGather: the gathers then read their ids and lengths
// from the slot, and nothing here reads what another block of the launch writes).
AUGUR_KERNEL void embedding_gather_multi_forward_zero_kernel(augur::GatherList list, int* status, augur::MultiTensor zero) {
  if ((int)blockIdx.x >= list.blocks) augur::zero_or_copy_block(zero, (int)blockIdx.x - list.blocks);
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
  const long long per_block = augur::gather_block_rows(D);
  for (long long first = blockIdx.x * per_block; first < rows; first += gridDim.x * per_block) {  // the same for the block
    const int warp_first = augur::gather_warp_first((int)first, D);
    if (warp_first < rows)
      augur::gather_backward_warp(acc, touched_flag, touched_list, touched_count, status, dout, ids, lengths, T, D, V, capacity, out_stride,
                                  off, warp_first, rows);
  }
}

// The backwards of a list of gathers in one launch (entries may share a sparse gradient: the
// integer atomics and the touched list make that safe).
AUGUR_KERNEL void embedding_gather_multi_backward_kernel(augur::GatherList list, int* status) {
  augur::grid_dependency_wait_and_launch();
  int first;
  const augur::GatherEntry& e = list.e[augur::gather_entry(list, blockIdx.x, &first)];
  const int warp_first = augur::gather_warp_first(first, e.D);
  if (warp_first < e.rows)
    augur::gather_backward_warp(e.acc, e.touched_flag, e.touched_list, e.touched_count, status, e.dout, e.ids, e.lengths, e.T, e.D, e.V,
                                e.capacity, e.out_stride, e.off, warp_first, e.rows);
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
