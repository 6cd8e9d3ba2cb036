// The activation unit (DIN's local attention; DIEN's attention over GRU states), fused.
// CPU reference: io.augur.backend.cpu.ActivationUnit. For sample b and valid position t < len_b:
//   z     = [q, k, q - k, q * k]                (4W)
//   a1    = act(z W1 + b1)                      (h1)        act: sigmoid or PReLU
//   a2    = act(a1 W2 + b2)                     (h2)
//   score = a2 w3 + b3
//   w_bt  = score, or its softmax over t < len_b;  w_bt = 0 for t >= len_b
//   out_b = sum_t w_bt k_bt
// Projection trick (as the CPU fast path): z W1 = q (Wq + Wd) + k (Wk - Wd) + (q * k) Wp, so the
// per-sample term P_b = q_b Ma + b1 (Ma = Wq + Wd) is computed once per sample and each position
// costs a 2W x h1 product with M2 = [Wk - Wd ; Wp] on r = [k, q * k].
//
// The MLP runs over packed tiles of positions: the valid positions of the batch in (b, t) order,
// sample b's at rows [start_b, start_b + len_b) with start_b = len_0 + ... + len_{b-1}, cut into
// tiles of `rows` consecutive rows that may span several samples. Nothing is spent on the
// positions past a history's length (the mean length of the benchmark world is 18 of T = 100),
// and a tile is as full as the batch allows: chunks of one sample each left most of their rows
// empty (a sample of 5 positions took a whole chunk of 16) and each chunk paid for its sample's
// term again. Every block counts the lengths itself (augur::length_runs, a scan over runs of
// samples) and finds each of its rows' (b, t) by a binary search over the runs (locate_row); no
// launch is spent on row starts. Kernels, in launch order:
//   activation_unit_forward_kernel        tiles strided over the grid: the per-sample terms
//                                         P_b = b1 + q_b Ma of the tile's samples, r built on the fly,
//                                         the MLP on the tile in shared memory, score (B, T) at its
//                                         rows; beside the tiles the backward's weight layouts from W1,
//                                         M3t = [Wk - Wd ; Wp ; Wq + Wd]^T (h1, 3W) and Ma = Wq + Wd (W, h1)
//                                         and W2t = W2^T; in a training step each row's
//                                         pre-activations H1 and H2 at its packed row (hidden1, hidden2)
//   activation_unit_pool_forward_kernel   per sample: the weights (masked, softmax if asked), out
// and backward:
//   activation_unit_backward_kernel       tiles strided over a.blocks blocks: the pool's backward at
//                                         the tile's rows (d score, through the softmax, whose sum
//                                         over each sample's positions one warp makes per sample of
//                                         the tile; and the pool's share of dKeys), then reads the
//                                         tile's kept pre-activations and applies the activations
//                                         again (no product), adds its dKeys (+=), writes each row's share
//                                         of dQuery to dq_rows (=) and adds the parameter gradients
//                                         into the block's own slice of `partials` (no atomics)
//   activation_unit_reduce_kernel         sums the slices in block order into the parameter gradients
//                                         (+=), W1's four blocks from dM3, and each sample's rows of
//                                         dq_rows in t order into dQuery (+=; = with a.dx, below)
//   or activation_unit_reduce_gather_kernel  the same, and the step's lookups' backward in the same grid:
//                                         the candidate's from dQuery's elements as it writes them,
//                                         the others' blocks beside the reduce's (DIN's step)
// The backward's rows are r3 = [k, q * k, q] (3W), so that dMa is the third block of dM3 = r3^T dH1
// and each row's share of dQuery the third block of dR3 = dH1 M3^T. The third block is the same for
// all of a sample's rows, so a tile makes those two from each of its samples' sums S of dH1 over the
// sample's rows in the tile (a.query_sums, where the tile has room for them): dMa += q^T S and the
// sample's share S Ma^T, written at its first row, and the rows' two products run 2W wide; a tile
// without the room (more samples than fit, e.g. histories of one position) carries q through both
// products row by row.
// Kept hidden layers. The forward of a training step stores each valid position's pre-activations H1
// (h1) and H2 (h2) at its packed row (the rows in (b, t) order, as the tiles take them: the same
// numbering in the forward and the backward whatever their tile sizes), and the backward reads its
// tile's rows back and applies the activation again, the forward's own expression on the same
// floats, where it used to run the MLP's two products again: its warp samples on the H200 (ncu,
// 4391cae) were 19.5% in that recomputation at batch 2048 and 17.5% at 128, with the barrier behind
// it 8 and 7.5% more. The price is (B T, h1 + h2) floats of workspace, 98 MB at batch 2048 in the
// Amazon config (DESIGN.md had the backward recompute them rather than keep a (B, T, 80) array; the
// rows are packed, so a step writes and reads about 36,700 x 120 floats, 17.6 MB, at 2048), and the
// forward's stores. An evaluation forward stores nothing.
// The products (R M2, A1 W2 and, backward, D2 W2^T, A1^T D2, R3^T dH1, dH1 M3^T) run through
// tiled_product: each thread keeps a 4 x 4 tile of outputs in registers, so an inner step is 8
// loads for 16 FMAs, and every weight matrix is read along its rows (coalesced).
// With `--precision tf32` the same kernels run as activation_unit_forward_tf32_kernel and
// activation_unit_backward_tf32_kernel: every tiled_product becomes an mma_product on the TF32
// tensor cores (compute capability 8.0 and newer), nothing else changes; with `--precision tf32x3`
// as the *_tf32x3_* kernels, whose mma_product splits every operand into two TF32 parts and takes
// three tensor-core products for one (each multiply within about 2^-20 of the exact product).
// Dice in the unit normalises over all valid positions of the batch, which a per-tile kernel
// cannot see: that unit runs layer by layer (activation_unit_unfused.cu) and shares the pool kernels.
//
// The interest block (DIN, Backend.attentionInterest): the feature vector's columns
// [q, s, q * s, out] (s_b = sum_{t < len_b} k_bt, the history's sum pool; the keys are the history
// and the query the candidate) are written by activation_unit_pool_forward_kernel when it is given
// x, which saves interest_concat_forward_kernel's launch. Backward, with a.dx (that block's
// gradient) the kernels do interest_concat_backward_kernel's work where its results are used:
// d_out is dx's out columns (row stride a.d_out_stride), each valid row's dKeys starts from
// dS_b = dx[s] + dx[q * s] q instead of d_keys' value, and the reduce writes
// dQuery = dx[q] + dx[q * s] s + (the rows' shares) instead of adding. The same sums in the same
// order as the three launches, so the same bits; dKeys at padded positions is left unwritten
// (the gathers' backward skips those positions).
#include "common.cuh"

#include <type_traits>

// Indices are ints. Each array here is a tensor of at most 2^31 - 1 elements (io.augur.backend.Tensor
// refuses a larger one; CudaBackend checks the unit's scratch arrays p, score and dq_rows the same way),
// so the index of an element within one array fits, and so does every partial sum on the way to it
// ((b T + t) W + c counts up to the element). A pointer plus an int index is one IMAD.WIDE on sm_90,
// where 64-bit arithmetic took about 10 instructions an address (sign extension, the three-part
// multiply, the shift), and the tiles' copies between global and shared memory compute a few such
// addresses an element. The partial-gradient slices (blocks x PARTIAL floats, not a tensor) and the
// reduce's count over the parameters and dQuery together keep 64 bits, and so, for its registers'
// sake, does tile_mlp_forward's index into P.

// One argument block for the forward, backward and reduce kernels (apex's habit: one
// struct instead of thirty arguments). io.augur.backend.cuda.AttentionArgs writes it byte for
// byte: 36 pointers, then 14 ints.
struct AttentionArgs {
  float* score;          // (B, T) forward: written at valid positions
  const float* d_out;    // (B, W) backward: d loss / d out, or nullptr
  float* dq_rows;        // (B, T, W) backward: each valid position's share of dQuery (=)
  float* d_query;        // (B, W) +=
  float* d_keys;         // (B, T, W) +=
  float* partials;       // (blocks, PARTIAL) per-block parameter gradients
  int* tiles;            // (1) backward: the batch's tile count (block 0 writes it, the reduce reads it)
  float* ma;             // (W, h1) Ma = Wq + Wd, M3's third row block (the query sums read it)
  float* m3t;            // (h1, 3W) M3 transposed
  float* w2t;            // (h2, h1) W2 transposed
  const float* query;    // (B, W)
  const float* keys;     // (B, T, W)
  const int* lengths;    // (B)
  const float* w1;       // (4W, h1)
  const float* b1;       // (h1)
  const float* alpha1;   // (h1) or nullptr (sigmoid)
  const float* w2;       // (h1, h2)
  const float* b2;       // (h2)
  const float* alpha2;   // (h2) or nullptr
  const float* w3;       // (h2)
  const float* b3;       // (1)
  float* g_w1;
  float* g_b1;
  float* g_alpha1;
  float* g_w2;
  float* g_b2;
  float* g_alpha2;
  float* g_w3;
  float* g_b3;
  const float* d_weights;  // (B, T) backward: d loss / d weights, or nullptr
  const float* weights;    // (B, T) the forward's weights (activation_unit_pool_forward_kernel)
  const float* dx;         // backward: the gradient of DIN's interest block [q, s, q * s, out] of the feature
                           // vector (row stride d_out_stride), or nullptr; see "The interest block" above
  const float* s;          // with dx: (B, W) the history's sum pool s_b = sum_{t < len_b} k_bt
  const float* out;        // backward with d_out and the softmax: (B, W) the forward's pooled output out_b
  float* hidden1;          // (B T, h1) or nullptr: the forward writes each packed row's pre-activations H1 at its row (=),
  float* hidden2;          // (B T, h2) and H2; the backward reads them instead of recomputing the MLP (see "Kept hidden layers")
  int B, T, W, h1, h2;
  int rows;    // positions per tile
  int act;     // 0 sigmoid, 1 PReLU
  int blocks;  // backward grid size = slices of `partials`
  int local;   // backward: the block's partial gradients in its slice of `partials` (0), in shared memory (1), or all but dM3 in shared memory (2)
  int softmax; // backward: the weights are the scores' softmax (1) or the scores (0)
  int d_out_stride;  // backward: d_out's row stride (W, or the feature vector's with dx)
  int row_groups;    // backward: the most groups of threads a per-column stage splits a tile's rows among (0: as many as fit)
  int query_sums;    // backward: dMa and the rows' shares of dQuery from per-sample sums of dH1 where a tile's room allows (1), or per row (0)
  int split_room;    // forward: floats of shared memory past P for the MLP's products' split K (0: none; see split_product)
};

namespace {

__device__ __forceinline__ float act_forward(int act, float x, float alpha) {
  return act == 0 ? augur::sigmoidf(x) : (x > 0.0f ? x : alpha * x);
}

// d(act)/dx from the saved input and output.
__device__ __forceinline__ float act_derivative(int act, float pre, float post, float alpha) {
  return act == 0 ? post * (1.0f - post) : (pre > 0.0f ? 1.0f : alpha);
}

// Per-block partial gradients, in floats: dM3 (3W, h1) (its row blocks dMb = d(Wk - Wd),
// dMp = dWp, dMa = d(Wq + Wd)), db1, dAlpha1 (h1), dW2 (h1, h2), db2, dAlpha2, dW3 (h2), db3 (1).
// With a.local = 1 the block keeps them in shared memory and writes its slice once at the end; with
// a.local = 2 all but dM3 (the rest, from db1 on), which it adds in its slice in global memory.
// The size is rounded up to a multiple of 4 floats (AttentionArgs.partialFloats), so that every
// block's slice starts 16-byte aligned as tiled_product's vector runs need.
struct PartialLayout {
  int dm3, db1, da1, dw2, db2, da2, dw3, db3, size;
  __device__ PartialLayout(int W, int h1, int h2) {
    dm3 = 0;
    db1 = dm3 + 3 * W * h1;
    da1 = db1 + h1;
    dw2 = da1 + h1;
    db2 = dw2 + h1 * h2;
    da2 = db2 + h2;
    dw3 = da2 + h2;
    db3 = dw3 + h2;
    size = (db3 + 1 + 3) & ~3;
  }
};

// The pool's g_t = d_weights[row0 + t] + d_out_b . k_t (kb: the sample's keys; either term absent
// when its pointer is nullptr), summed in c order.
__device__ __forceinline__ float pool_score_grad(const float* d_weights, const float* dob, const float* kb, int row0, int t,
                                                 int W) {
  float g = d_weights != nullptr ? d_weights[row0 + t] : 0.0f;
  if (dob != nullptr)
#pragma unroll 8
    for (int c = 0; c < W; ++c) g += dob[c] * kb[t * W + c];
  return g;
}

// The packed rows are counted by augur::length_runs (common.cuh), per = ceil(B / blockDim.x)
// samples a run; blockDim.x at most MAX_THREADS (run_start's size).
constexpr int MAX_THREADS = 256;

// Lanes that share a row's dot product over its columns (a power of 2, at most 32): lane u sums
// columns u, u + ROW_LANES, ... and a fixed shuffle tree adds the lanes' sums (row_dot).
constexpr int ROW_LANES = 8;

// The dot product of x and y (n long) by the ROW_LANES lanes of a row, lane u given by the caller
// (threadIdx.x % ROW_LANES); every lane of the warp calls it (live = false where the lane has no
// row, which adds nothing), and lane u = 0 gets the sum.
__device__ __forceinline__ float row_dot(bool live, const float* x, const float* y, int n, int u) {
  float s = 0.0f;
  if (live)
    for (int c = u; c < n; c += ROW_LANES) s += x[c] * y[c];
#pragma unroll
  for (int o = 1; o < ROW_LANES; o <<= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
  return s;
}

// Rows x ROW_LANES lanes, rounded up to whole warps: the bound of a loop whose iterations call
// row_dot, so that a warp's lanes make the same number of them (blockDim.x a multiple of 32).
__device__ __forceinline__ int row_lanes(int rows) { return (rows * ROW_LANES + 31) & ~31; }

// Rows of a tile's staged arrays that a thread moves between global and shared memory in one round, the
// round's loads in flight together (augur::row_copy, a thread a column and G = blockDim.x / W groups of
// rows): a loop of one element an iteration waited a memory round trip an iteration, as a GPU issues in
// order and each iteration's stores wait on its loads. At W = 36 and 256 threads (G = 7) a round covers
// 35 rows, so a tile of 32 takes one round trip (five element by element; two with staged_copy's rounds
// of 4 elements a thread, which also divided each element's index by W).
constexpr int STAGE_ROWS = 5;
// The same on scalar tiles (the fallback for widths that are not multiples of 4): 5 rows took the scalar backward
// held to 80 registers from 24 to 268 bytes of spill loads on sm_90, 2 leave it at 24.
constexpr int SCALAR_STAGE_ROWS = 2;

// One staged element's loads (which of them a loop fills is its own).
struct KeyQuery {
  float k, q, d;
};

// Row p (< run_start[blockDim.x]) -> sample b and position t: the run that holds p (the last s
// with run_start[s] <= p; empty runs share their start with the next), then its samples one by one.
__device__ __forceinline__ void locate_row(const int* run_start, int per, int p, const AttentionArgs& a, int& b, int& t) {
  int lo = 0, hi = blockDim.x;  // run_start[lo] <= p < run_start[hi]
  while (hi - lo > 1) {
    const int mid = (lo + hi) >> 1;
    if (run_start[mid] <= p) lo = mid;
    else hi = mid;
  }
  int r = p - run_start[lo];
  for (b = lo * per;; ++b) {
    const int len = augur::clamped_length(a.lengths, b, a.T);
    if (r < len) break;
    r -= len;
  }
  t = r;
}

// Every row of the tile [first, first + n): row_b, row_t (n each, shared memory). No barrier.
__device__ __forceinline__ void locate_tile(int* row_b, int* row_t, const int* run_start, int per, int first, int n,
                                            const AttentionArgs& a) {
  for (int r = threadIdx.x; r < n; r += blockDim.x) locate_row(run_start, per, first + r, a, row_b[r], row_t[r]);
}

// The tile's samples, by one warp (every lane calls it): slot_first[s] the first row of the tile's s-th
// sample (row 0, or a row with t = 0: a sample's rows are consecutive), *count how many; where slot is
// given, also slot[r] row r's sample and slot_b[s] the s-th sample's b (from row_b); where Q is given,
// the lane that finds sample s also starts async copies of its query (query[b W : b W + W]) into
// Q[s W : s W + W], for which the warp calls copies_arrived() before the block's barrier. No barrier.
__device__ __forceinline__ void tile_samples(int* slot_first, int* count, const int* row_t, int n, int* slot = nullptr,
                                             int* slot_b = nullptr, const int* row_b = nullptr, float* Q = nullptr,
                                             const float* query = nullptr, int W = 0) {
  const int lane = threadIdx.x & 31;
  int base = 0;
  for (int r0 = 0; r0 < n; r0 += 32) {  // the same for the warp
    const int r = r0 + lane;
    const int starts = r < n && (r == 0 || row_t[r] == 0) ? 1 : 0;
    int v = starts;  // inclusive scan over the warp
    for (int o = 1; o < 32; o <<= 1) {
      const int u = __shfl_up_sync(0xffffffffu, v, o);
      if (lane >= o) v += u;
    }
    if (r < n) {
      if (slot != nullptr) slot[r] = base + v - 1;
      if (starts) {
        if (slot != nullptr) slot_b[base + v - 1] = row_b[r];
        slot_first[base + v - 1] = r;
        if (Q != nullptr)
          for (int c = 0; c < W; ++c) augur::copy_async(Q + ((base + v - 1) * W + c), query + (row_b[r] * W + c));
      }
    }
    base += __shfl_sync(0xffffffffu, v, 31);
  }
  if (lane == 0) *count = base;
}

// The pool's backward at the tile's rows, into dsc (n): with g_t = d_weights[b, t] + d_out_b . k_bt
// (either term absent when its pointer is nullptr), d score = g_t, or through the softmax
// w_t (g_t - sum_{s < len_b} w_s g_s). The sum is taken as
//   sum_s w_s d_weights[b, s] + d_out_b . out_b        (out_b = sum_s w_s k_bs, the forward's output)
// which is the same quantity in O(len + W) loads where sum_s w_s (d_out_b . k_bs) took len W of
// them, about ten dependent round trips to memory for a history of 100 on the tile's critical
// path. A sample's rows are consecutive in the tile: the first of them (row r0 = max(0, r - t),
// the tile's first row or the sample's t = 0) holds the sum, which warp r0 mod warps makes into
// seg_dot[r0] (lanes over s, then over the W columns, each lane's terms in double, then a
// fixed-order warp sum). A sample that spans several tiles has its sum made by each of them, the
// same way. A row's own g_t reads its k from the tile's R (row stride ldr, k first) and its
// sample's d_out from dob (row r's at r W, a copy per row), both already in shared memory (from
// global memory, as pool_score_grad reads them, d_out's 36 loads were some five round trips on
// every tile's critical path), its dot product by ROW_LANES lanes (row_dot; a thread a row took W
// dependent steps) and then added to d_weights[b, t]. Every thread calls it after R and dob are
// written (no barrier needed between): it has a barrier inside and none at the end.
__device__ void tile_pool_backward(float* dsc, double* seg_dot, const float* R, int ldr, const float* dob_rows, const int* row_b,
                                   const int* row_t, int n, const AttentionArgs& a) {
  const int W = a.W, T = a.T;
  if (a.softmax) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    for (int r = warp; r < n; r += warps) {  // the same for the warp's lanes
      if (r > 0 && row_t[r] > 0) continue;   // not its sample's first row in the tile
      const int b = row_b[r], len = augur::clamped_length(a.lengths, b, T);
      const int row0 = b * T;
      double dot = 0.0;
      if (a.d_weights != nullptr)
#pragma unroll 4  // a history of 100 is 4 rounds of the lanes, their loads in flight together
        for (int s = lane; s < len; s += 32) dot += (double)a.weights[row0 + s] * a.d_weights[row0 + s];
      if (a.d_out != nullptr) {
        const float* dob = a.d_out + b * a.d_out_stride;
        const float* ob = a.out + b * W;
        for (int c = lane; c < W; c += 32) dot += (double)dob[c] * ob[c];
      }
      dot = augur::warp_sum(dot);
      if (lane == 0) seg_dot[r] = dot;
    }
  }
  __syncthreads();  // seg_dot, and R for the rows below
  for (int e = threadIdx.x; e < row_lanes(n); e += blockDim.x) {
    const int r = e / ROW_LANES, u = e % ROW_LANES;
    const float dot = row_dot(r < n && a.d_out != nullptr, dob_rows + r * W, R + r * ldr, W, u);
    if (r < n && u == 0) {
      const int b = row_b[r], t = row_t[r];
      const int row0 = b * T;
      const float g = (a.d_weights != nullptr ? a.d_weights[row0 + t] : 0.0f) + dot;
      dsc[r] = a.softmax ? a.weights[row0 + t] * (float)(g - seg_dot[max(0, r - t)]) : g;
    }
  }
}

// An epilogue's run of C consecutive elements of one output row (C = 1, or 4 from tiled_product's
// vector tiles): epi(i, j, Run<C> x) gets the sums of (i, j), ..., (i, j + C - 1). The unit's
// epilogues are generic lambdas, written once for both widths; load_run, store_run and add_run move
// a run to or from memory as one float4 where its address is 16-byte aligned, else float by float.
template <int C>
struct Run {
  static constexpr int size = C;
  float v[C];
};

__device__ __forceinline__ bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

__device__ __forceinline__ float4 load4(const float* p) { return *reinterpret_cast<const float4*>(p); }

template <int C>
__device__ __forceinline__ Run<C> load_run(const float* p) {
  Run<C> r;
  if constexpr (C == 4) {
    if (aligned16(p)) {
      const float4 q = load4(p);
      r.v[0] = q.x, r.v[1] = q.y, r.v[2] = q.z, r.v[3] = q.w;
      return r;
    }
  }
#pragma unroll
  for (int c = 0; c < C; ++c) r.v[c] = p[c];
  return r;
}

template <int C>
__device__ __forceinline__ void store_run(float* p, const Run<C>& r) {
  if constexpr (C == 4) {
    if (aligned16(p)) {
      *reinterpret_cast<float4*>(p) = make_float4(r.v[0], r.v[1], r.v[2], r.v[3]);
      return;
    }
  }
#pragma unroll
  for (int c = 0; c < C; ++c) p[c] = r.v[c];
}

// The same where p is known to be 16-byte aligned when C = 4 (no test, no fallback: a vector tile's run in an array whose
// rows are a multiple of 4 floats from an aligned start).
template <int C>
__device__ __forceinline__ void store_run_aligned(float* p, const Run<C>& r) {
  if constexpr (C == 4) {
    *reinterpret_cast<float4*>(p) = make_float4(r.v[0], r.v[1], r.v[2], r.v[3]);
  } else {
#pragma unroll
    for (int c = 0; c < C; ++c) p[c] = r.v[c];
  }
}

// p[c] += r.v[c]: the read-modify-write of a partial gradient.
template <int C>
__device__ __forceinline__ void add_run(float* p, const Run<C>& r) {
  Run<C> s = load_run<C>(p);
#pragma unroll
  for (int c = 0; c < C; ++c) s.v[c] += r.v[c];
  store_run<C>(p, s);
}

__device__ __forceinline__ float lane4(const float4& v, int u) { return u == 0 ? v.x : u == 1 ? v.y : u == 2 ? v.z : v.w; }

// Register-tiled product of two small matrices, for every i < M, j < N:
//   epi(i, j, sum over k < K, in k order, of A[i a_i + k a_k] Bm[k b_k + j b_j])
// (strides let either operand be read transposed). The block's threads share ceil(M / 4) x
// ceil(N / 4) tiles of 4 x 4 outputs, each thread's 16 sums in registers, so an inner step is 16
// FMAs on 4 values of A and 4 of Bm; epi is called once per element (in runs, above) by the thread
// that owns it; no synchronisation inside. Two ways to read the operands, with the same sums in the
// same order (so the same bits), chosen at compile time (Form, below):
//   - vector tiles: a tile is rows tm + tiles_m ii (A by rows) or 4 tm .. 4 tm + 3 (by columns; vector_row)
//     and columns 4 tn .. 4 tn + 3, and Bm's four
//     columns at a k are one float4 (b_j = 1); A's four values are one float4 of four k's of a row
//     (a_k = 1, A by rows) or of four rows at a k (a_i = 1, A by columns). A k step is then 2 loads
//     for 16 FMAs where one float at a time took 8 and, with the strides unknown to the compiler,
//     about as many integer instructions to address them (on sm_90: 84 to 96 instructions for 4
//     steps where scalar tiles take 131 to 151; docs/perf/README.md). It needs 16-byte aligned
//     operands, strides that are multiples of 4, N a multiple of 4 and, by rows, K too, by columns, M: the host
//     launches these forms only where W, h1 and h2 are multiples of 4 and the weights are 16-byte
//     aligned (CudaBackend.attentionVectorTiles; the Amazon config's 36, 80 and 40 are), and the
//     kernels' shared-memory layouts keep every array 16-byte aligned then. Consecutive threads read
//     consecutive float4s of Bm (coalesced from global memory, no bank conflicts from shared
//     memory) and a warp reads two to four rows of A, 1 apart (by rows) or four consecutive (by columns).
//   - scalar tiles (any shape and stride): a tile is rows tm + tiles_m ii and columns tn + tiles_n
//     jj, each value loaded alone; out-of-range rows and columns are clamped for the loads and
//     skipped by the epilogue.
// One kernel holds one form: with both behind a branch the compiler kept the forms' address
// arithmetic live together (the forward took 108 registers a thread on sm_90, where either form
// alone takes at most 80).
// TF32 and TF32X3 (`--precision tf32`, `tf32x3`) take the tensor cores (mma_product) instead.
enum class Form { SCALAR, VECTOR, TF32, TF32X3 };
template <Form F>
constexpr bool on_tensor_cores = F == Form::TF32 || F == Form::TF32X3;
// STAGE_ROWS, or SCALAR_STAGE_ROWS on scalar tiles (below)
template <Form F>
constexpr int stage_rows = F == Form::SCALAR ? SCALAR_STAGE_ROWS : STAGE_ROWS;

template <class Epi>
__device__ __forceinline__ void scalar_tile(int t, int M, int N, int K, const float* A, int a_i, int a_k, const float* Bm, int b_k,
                                            int b_j, Epi epi) {
  const int tiles_m = (M + 3) / 4, tiles_n = (N + 3) / 4;
  const int tm = t / tiles_n, tn = t % tiles_n;
  const float* ap[4];
  const float* bp[4];
#pragma unroll
  for (int ii = 0; ii < 4; ++ii) ap[ii] = A + min(tm + tiles_m * ii, M - 1) * a_i;
#pragma unroll
  for (int jj = 0; jj < 4; ++jj) bp[jj] = Bm + min(tn + tiles_n * jj, N - 1) * b_j;
  float acc[4][4];
#pragma unroll
  for (int ii = 0; ii < 4; ++ii)
#pragma unroll
    for (int jj = 0; jj < 4; ++jj) acc[ii][jj] = 0.0f;
#pragma unroll 4
  for (int k = 0; k < K; ++k) {
    float av[4], bv[4];
#pragma unroll
    for (int ii = 0; ii < 4; ++ii) av[ii] = ap[ii][k * a_k];
#pragma unroll
    for (int jj = 0; jj < 4; ++jj) bv[jj] = bp[jj][k * b_k];
#pragma unroll
    for (int ii = 0; ii < 4; ++ii)
#pragma unroll
      for (int jj = 0; jj < 4; ++jj) acc[ii][jj] += av[ii] * bv[jj];
  }
#pragma unroll
  for (int ii = 0; ii < 4; ++ii) {
    const int i = tm + tiles_m * ii;
#pragma unroll
    for (int jj = 0; jj < 4; ++jj) {
      const int j = tn + tiles_n * jj;
      if (i < M && j < N) epi(i, j, Run<1>{{acc[ii][jj]}});
    }
  }
}

// A's rows in a vector tile: by rows (LAYOUT 1), tm + tiles_m ii, as scalar tiles take them, so that the lanes of
// a warp, whose tiles lie in two to four consecutive tm (tiles_n = N / 4 lanes each: 20 at N = 80, 10 at 40), read
// rows 1 apart; rows 4 apart, as 4 tm + ii gave, lie 4 a_i floats apart, a multiple of the 32 banks for the
// unit's row strides 80, 40 and 72 (H1, A1, D1; H2, A2, D2; the forward's R), so the lanes' float4 loads of A
// and the epilogue's float4 stores of those rows met 2-way conflicts (4-way at N = 40): on an H200, 2.4-way for
// the backward's shared loads and 3.1-way for its stores on average (ncu, 2026-11-26). By columns (LAYOUT 2)
// the four rows are one float4, 4 tm .. 4 tm + 3. Either way each element is summed alone in k order.
template <int LAYOUT>
__device__ __forceinline__ int vector_row(int tm, int tiles_m, int ii) {
  return LAYOUT == 1 ? tm + tiles_m * ii : 4 * tm + ii;
}

// HT (by rows only): the tile's height, HT rows by 4 columns (narrow_product, below, takes 2 where the block has
// threads to spare); its rows are tm + tiles_m ii for ii < HT, tiles_m = ceil(M / HT).
template <int LAYOUT, int HT = 4, class Epi>
__device__ __forceinline__ void vector_tile(int t, int M, int N, int K, const float* A, int a_i, int a_k, const float* Bm, int b_k,
                                            Epi epi) {
  static_assert(HT == 4 || (LAYOUT == 1 && HT == 2), "tiles of 2 rows read A by rows");
  const int tiles_n = N >> 2, tm = t / tiles_n, tn = t % tiles_n, i0 = 4 * tm, tiles_m = (M + HT - 1) / HT;
  const float* bp = Bm + 4 * tn;
  float acc[HT][4];
#pragma unroll
  for (int ii = 0; ii < HT; ++ii)
#pragma unroll
    for (int jj = 0; jj < 4; ++jj) acc[ii][jj] = 0.0f;
  if constexpr (LAYOUT == 1) {  // A by rows: four k's of each of the tile's rows in a float4
    const float* ap[HT];
#pragma unroll
    for (int ii = 0; ii < HT; ++ii) ap[ii] = A + min(vector_row<1>(tm, tiles_m, ii), M - 1) * a_i;
    for (int k = 0; k < K; k += 4) {  // K a multiple of 4
      float4 av[HT];
#pragma unroll
      for (int ii = 0; ii < HT; ++ii) av[ii] = load4(ap[ii] + k);
#pragma unroll
      for (int u = 0; u < 4; ++u) {
        const float4 bv = load4(bp + (k + u) * b_k);
#pragma unroll
        for (int ii = 0; ii < HT; ++ii)
#pragma unroll
          for (int jj = 0; jj < 4; ++jj) acc[ii][jj] += lane4(av[ii], u) * lane4(bv, jj);
      }
    }
  } else {  // A by columns: the tile's four rows at a k in a float4
    const float* ap = A + i0;
#pragma unroll 4
    for (int k = 0; k < K; ++k) {
      const float4 av = load4(ap + k * a_k), bv = load4(bp + k * b_k);
#pragma unroll
      for (int ii = 0; ii < 4; ++ii)
#pragma unroll
        for (int jj = 0; jj < 4; ++jj) acc[ii][jj] += lane4(av, ii) * lane4(bv, jj);
    }
  }
#pragma unroll
  for (int ii = 0; ii < HT; ++ii) {
    const int i = vector_row<LAYOUT>(tm, tiles_m, ii);
    if (i < M) epi(i, 4 * tn, Run<4>{{acc[ii][0], acc[ii][1], acc[ii][2], acc[ii][3]}});
  }
}

// A product's shape and operands, as tiled_product takes them.
struct Operands {
  int M, N, K;
  const float* A;
  int a_i, a_k;
  const float* Bm;
  int b_k, b_j;
  __device__ int tiles() const { return M > 0 && N > 0 ? ((M + 3) / 4) * ((N + 3) / 4) : 0; }
};

// Tiles first, first + step, ... (below `end`) of the product by the calling thread.
template <bool VEC, class Epi>
__device__ __forceinline__ void product_tiles(const Operands& o, int first, int step, int end, Epi epi) {
  if constexpr (!VEC) {
    for (int t = first; t < end; t += step) scalar_tile(t, o.M, o.N, o.K, o.A, o.a_i, o.a_k, o.Bm, o.b_k, o.b_j, epi);
  } else if (o.a_k == 1) {  // every call site's strides are constants: one branch is left
    for (int t = first; t < end; t += step) vector_tile<1>(t, o.M, o.N, o.K, o.A, o.a_i, o.a_k, o.Bm, o.b_k, epi);
  } else {
    for (int t = first; t < end; t += step) vector_tile<2>(t, o.M, o.N, o.K, o.A, o.a_i, o.a_k, o.Bm, o.b_k, epi);
  }
}

template <bool VEC, class Epi>
__device__ __forceinline__ void tiled_product(const Operands& o, Epi epi) {
  product_tiles<VEC>(o, threadIdx.x, blockDim.x, o.tiles(), epi);
}

// Two independent products of one stage of the backward, P with few tiles over a long K (a chunk's
// rows times a weight matrix) and Q with many over a short K (a weight gradient over the chunk's
// rows), shared out by cost: P's tiles one per thread (when they are fewer than the threads), then
// each thread without a P tile takes up to K_P / K_Q of Q's tiles while the others do P, and the
// rest of Q goes round all the threads. At 16 rows (Amazon config) the stages' longest threads walk
// 56 and 96 k steps instead of 72 and 128 (P first, then Q, each strided over the block). The same
// elements, each summed in k order by one thread, as tiled_product sums them.
template <bool VEC, class EpiP, class EpiQ>
__device__ __forceinline__ void tiled_product_pair(const Operands& p, EpiP epi_p, const Operands& q, EpiQ epi_q) {
  const int n_p = p.tiles(), n_q = q.tiles(), threads = blockDim.x, t = threadIdx.x;
  if (n_p == 0 || n_q == 0 || n_p >= threads) {  // the same for the whole block
    tiled_product<VEC>(p, epi_p);
    tiled_product<VEC>(q, epi_q);
    return;
  }
  const int idle = threads - n_p;  // threads without a P tile
  const int each = min(p.K / max(q.K, 1), (n_q + idle - 1) / idle);
  const int first = min(n_q, idle * each);  // Q's tiles [0, first) go to the idle threads, `each` apiece
  if (t < n_p) product_tiles<VEC>(p, t, threads, t + 1, epi_p);
  else product_tiles<VEC>(q, t - n_p, idle, first, epi_q);
  product_tiles<VEC>(q, first + t, threads, n_q, epi_q);
}

// tiled_product's contract on the TF32 tensor cores (`--precision tf32` and `tf32x3`, compute
// capability 8.0 and newer): the products summed in fp32 by mma.sync (common.cuh's mma_tf32), in
// the tensor core's order rather than k order. With SPLIT false (tf32) A and Bm are rounded to TF32
// as they are loaded (cvt.rna), one product per k step; with SPLIT true (tf32x3) each value is
// split into two TF32 parts (split_tf32) and a k step takes three products, the two small cross
// terms first: each a*b to within about 2^-20, at three times the tensor-core work. Each warp takes
// 16 x 16 tiles of the output (two m16n8k8 products, or two triples, per k step, sharing A's
// fragment). Rows past M and columns past N load row M - 1 and column N - 1 instead (a row of D
// depends only on its row of A, a column only on its column of Bm, and the epilogue skips them),
// so only the last k step, where K is not a multiple of 8, tests its loads: k past K loads as zero.
// Any M, N, K work. epi(i, j, s) is called once per element by the lane that holds it. blockDim.x is
// a multiple of 32 and every thread calls it.
template <bool SPLIT, bool TAIL>
__device__ __forceinline__ void mma_step(float (&d)[2][4], int k0, int K, const float* a_lo, const float* a_hi, int a_k,
                                         const float* const (&b_col)[2], int b_k) {
  const int t = threadIdx.x & 3, k_lo = k0 + t, k_hi = k0 + t + 4;
  const bool in_lo = !TAIL || k_lo < K, in_hi = !TAIL || k_hi < K;
  const float av[4] = {in_lo ? a_lo[k_lo * a_k] : 0.0f, in_lo ? a_hi[k_lo * a_k] : 0.0f,
                       in_hi ? a_lo[k_hi * a_k] : 0.0f, in_hi ? a_hi[k_hi * a_k] : 0.0f};
  uint32_t a[4], a_small[4];
#pragma unroll
  for (int q = 0; q < 4; ++q) {
    if constexpr (SPLIT) augur::split_tf32(av[q], a[q], a_small[q]);
    else a[q] = augur::to_tf32(av[q]);
  }
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const float bv[2] = {in_lo ? b_col[h][k_lo * b_k] : 0.0f, in_hi ? b_col[h][k_hi * b_k] : 0.0f};
    uint32_t b[2], b_small[2];
#pragma unroll
    for (int q = 0; q < 2; ++q) {
      if constexpr (SPLIT) augur::split_tf32(bv[q], b[q], b_small[q]);
      else b[q] = augur::to_tf32(bv[q]);
    }
    if constexpr (SPLIT) {
      augur::mma_tf32(d[h], a_small, b);
      augur::mma_tf32(d[h], a, b_small);
    }
    augur::mma_tf32(d[h], a, b);
  }
}

// The warp-tile count of an mma product (16 x 16 tiles), and the calling warp's tiles first,
// first + step, ... (below `end`) of it.
__device__ __forceinline__ int mma_tile_count(const Operands& o) { return o.M > 0 && o.N > 0 ? ((o.M + 15) / 16) * ((o.N + 15) / 16) : 0; }

template <bool SPLIT, class Epi>
__device__ __forceinline__ void mma_tiles(const Operands& o, int first, int step, int end, Epi epi) {
  const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3, tiles_n = (o.N + 15) / 16;
  for (int tile = first; tile < end; tile += step) {  // the same for a warp's lanes
    const int m0 = tile / tiles_n * 16, n0 = tile % tiles_n * 16;
    const float* a_lo = o.A + min(m0 + g, o.M - 1) * o.a_i;
    const float* a_hi = o.A + min(m0 + g + 8, o.M - 1) * o.a_i;
    const float* const b_col[2] = {o.Bm + min(n0 + g, o.N - 1) * o.b_j, o.Bm + min(n0 + 8 + g, o.N - 1) * o.b_j};
    float d[2][4] = {{0.0f, 0.0f, 0.0f, 0.0f}, {0.0f, 0.0f, 0.0f, 0.0f}};
    const int full = o.K & ~7;
    for (int k0 = 0; k0 < full; k0 += 8) mma_step<SPLIT, false>(d, k0, o.K, a_lo, a_hi, o.a_k, b_col, o.b_k);
    if (full < o.K) mma_step<SPLIT, true>(d, full, o.K, a_lo, a_hi, o.a_k, b_col, o.b_k);
#pragma unroll
    for (int h = 0; h < 2; ++h)
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        const int i = m0 + g + 8 * (q >> 1), j = n0 + 8 * h + 2 * t + (q & 1);
        if (i < o.M && j < o.N) epi(i, j, Run<1>{{d[h][q]}});
      }
  }
}

template <bool SPLIT, class Epi>
__device__ __forceinline__ void mma_product(int M, int N, int K, const float* A, int a_i, int a_k, const float* Bm,
                                            int b_k, int b_j, Epi epi) {
  const Operands o{M, N, K, A, a_i, a_k, Bm, b_k, b_j};
  mma_tiles<SPLIT>(o, threadIdx.x >> 5, blockDim.x >> 5, mma_tile_count(o), epi);
}

// tiled_product_pair's sharing for the tensor cores, by warps and k steps of 8: P's tiles one per
// warp (when they are fewer than the warps); each warp without one takes ceil(steps_P / steps_Q) of
// Q's tiles, which brings it level with the others or just past them; the rest of Q goes round all
// the warps from warp 0 (P's first). At 16 rows (the Amazon config at batch 128; 8 warps) the two
// stages' longest warps walk 8 and 18 k steps instead of 9 and 20 (P, then Q, each strided over the
// warps); at 32 rows P has more tiles than warps and the two go one after the other as before. Each
// tile is computed as mma_product computes it: the same results.
template <bool SPLIT, class EpiP, class EpiQ>
__device__ __forceinline__ void mma_product_pair(const Operands& p, EpiP epi_p, const Operands& q, EpiQ epi_q) {
  const int n_p = mma_tile_count(p), n_q = mma_tile_count(q), warps = blockDim.x >> 5, w = threadIdx.x >> 5;
  // P: tiles w, w + warps, ... below p_end; Q: tiles w - n_p, + idle, ... below first (the idle warps'
  // share), then first + w, + warps, ... (one call site each: the three loops are large)
  int p_end = n_p, idle = 1, first = 0;
  if (n_p > 0 && n_q > 0 && n_p < warps) {  // the same for the whole block
    idle = warps - n_p;
    const int steps_p = (p.K + 7) / 8, steps_q = max((q.K + 7) / 8, 1);
    const int each = min((steps_p + steps_q - 1) / steps_q, (n_q + idle - 1) / idle);
    first = min(n_q, idle * each);  // Q's tiles [0, first) go to the idle warps, `each` apiece
    p_end = min(w + 1, n_p);        // one P tile a warp: none for the idle warps
  }
  mma_tiles<SPLIT>(p, w, warps, p_end, epi_p);
  mma_tiles<SPLIT>(q, w >= n_p ? w - n_p : 0, idle, w >= n_p ? first : 0, epi_q);  // nothing for P's warps
  mma_tiles<SPLIT>(q, first + w, warps, n_q, epi_q);
}

// tiled_product on vector tiles of A by rows (a_k = 1), 2 rows high where that leaves no thread two tiles, else 4.
// A thread's path through a product is its tile's K steps, and at a few rows a tile the block's threads outnumber
// the tiles of 4: at 16 rows (batch 128 in the Amazon config) the MLP's first layer (16 x 80, K = 72) was 80 tiles
// on 256 threads and its second (16 x 40, K = 80) 40, the other threads at the barrier behind them while those
// walked their K steps at 64 FMAs each: a quarter of the backward's warp samples at batch 128 and half the
// forward's (ncu, 2026-11-26). Tiles of 2 rows take 32 FMAs a step (sm_90: 49 and 54 instructions for 4 steps,
// 87 and 94 on tiles of 4), 160 and 80 tiles there, and 160 for the second layer at 32 rows. The same sums in
// the same order, each element alone in k order, whichever the height. (Tiles of 1 row as a third choice, for
// the second layer at 16 rows, took the forward from 72 to 83 registers, 2 blocks an SM instead of 3; with 2
// rows alone it takes 78.)
template <class Epi>
__device__ __forceinline__ void narrow_product(const Operands& o, Epi epi) {
  const int tiles_2 = ((o.M + 1) >> 1) * (o.N >> 2);  // the same for the whole block
  if (o.a_k == 1 && tiles_2 <= (int)blockDim.x) {  // (every call site's a_k is the constant 1)
    for (int t = threadIdx.x; t < tiles_2; t += blockDim.x) vector_tile<1, 2>(t, o.M, o.N, o.K, o.A, o.a_i, o.a_k, o.Bm, o.b_k, epi);
  } else {
    tiled_product<true>(o, epi);
  }
}

// Split K. However narrow its tiles, a product of few rows leaves most of the block's threads idle while the others
// walk all K steps: at 16 rows (batch 128 in the Amazon config) the forward's first layer (16 x 80, K = 72) is 160
// tiles of 2 rows on 256 threads, 18 rounds of 4 k steps each, and its second (16 x 40, K = 80) 80 tiles of 20
// rounds, while a thread issues an instruction every 11 cycles or so (ncu at batch 128: latency, not issue, sets the
// pace). Cut K into S parts at multiples of 4 (part s: rounds [R s / S, R (s + 1) / S) of R = ceil(K / 4)), one thread
// a tile and part, and the threads' paths are a part long: 4-row tiles in 3 parts (240 threads, 6 rounds) for the first
// layer, 2-row tiles in 3 parts (7 rounds) for the second. Each part is summed in k order from 0; part 0 goes to
// `stage0` (the product's own output array, rows N floats apart, which the epilogue overwrites element for element
// afterwards) and part s > 0 to scratch[(s - 1) M N ...]; after a barrier each element's sum is p0 + p1 + ... in part
// order, given to the epilogue in runs of 4 (vector tiles) or 1. So every element is the same sum whichever thread
// makes it: the scalar and vector forms, which choose the same S (the function below sees only M, N, K, the block and
// the room), give the same bits, as they do unsplit; an unsplit product sums in k order, so S changes the rounding.
// The costs (instructions for 4 k steps on sm_90: 50 on 2-row tiles, 90 on 4-row; the combine about 40 and 8 an
// extra part and row) choose among the unsplit rule (2-row tiles where each thread has at most one, else 4) and every
// split whose tiles x parts fit the block and whose parts 1.. fit `room` floats. Not on the tensor cores.
constexpr int SPLIT_MAX = 8;

__device__ __forceinline__ int split_parts(int M, int N, int K, int room, int& height) {
  const int threads = blockDim.x, rounds = (K + 3) >> 2, cols = (N + 3) >> 2;
  const int tiles2 = ((M + 1) >> 1) * cols, tiles4 = ((M + 3) >> 2) * cols;
  height = tiles2 <= threads ? 2 : 4;
  int parts = 1, best = rounds * (height == 2 ? 50 : 90) * (height == 2 ? 1 : (tiles4 + threads - 1) / threads);
  for (int h = 2; h <= 4; h += 2) {
    const int tiles = h == 2 ? tiles2 : tiles4;
    for (int s = 2; s <= SPLIT_MAX && s <= rounds; ++s) {
      if (tiles * s > threads || (long long)(s - 1) * M * N > room) break;
      const int cost = (rounds + s - 1) / s * (h == 2 ? 50 : 90) + 40 + 8 * (s - 1) * h;
      if (cost < best) {
        best = cost;
        parts = s;
        height = h;
      }
    }
  }
  return parts;
}

template <Form F, class Epi>
__device__ __forceinline__ void split_product(const Operands& o, int parts, int height, float* stage0, float* scratch, Epi epi) {
  const int rounds = (o.K + 3) >> 2, MN = o.M * o.N;
  const int tiles = F == Form::VECTOR && height == 2 ? ((o.M + 1) >> 1) * (o.N >> 2) : o.tiles();
  for (int item = threadIdx.x; item < tiles * parts; item += blockDim.x) {
    const int s = item / tiles, t = item - s * tiles;
    const int k0 = 4 * (rounds * s / parts), k1 = min(o.K, 4 * (rounds * (s + 1) / parts));
    float* dst = s == 0 ? stage0 : scratch + (s - 1) * MN;
    auto keep = [&](int i, int j, auto v) { store_run(dst + (i * o.N + j), v); };
    const float* A = o.A + k0 * o.a_k;
    const float* B = o.Bm + k0 * o.b_k;
    if constexpr (F == Form::VECTOR) {
      if (height == 2) vector_tile<1, 2>(t, o.M, o.N, k1 - k0, A, o.a_i, o.a_k, B, o.b_k, keep);
      else vector_tile<1>(t, o.M, o.N, k1 - k0, A, o.a_i, o.a_k, B, o.b_k, keep);
    } else {
      scalar_tile(t, o.M, o.N, k1 - k0, A, o.a_i, o.a_k, B, o.b_k, o.b_j, keep);
    }
  }
  __syncthreads();
  constexpr int C = F == Form::VECTOR ? 4 : 1;
  const int runs = o.N / C;  // vector tiles: N a multiple of 4
  for (int e = threadIdx.x; e < o.M * runs; e += blockDim.x) {
    const int i = e / runs, j = (e - i * runs) * C;
    Run<C> v = load_run<C>(stage0 + (i * o.N + j));
    for (int s = 1; s < parts; ++s) {
      const Run<C> p = load_run<C>(scratch + ((s - 1) * MN + i * o.N + j));
#pragma unroll
      for (int c = 0; c < C; ++c) v.v[c] += p.v[c];
    }
    epi(i, j, v);
  }
}

// The unit's products: fp32 FMAs (tiled_product, scalar or vector tiles) or, with TF32 and TF32X3, the tensor cores (mma_product).
// Every call site reads A by rows (a_k = 1). With room > 0 (floats at scratch), the fp32 forms may split K (split_product; the
// block's threads all call this then, and it holds a barrier), part 0 staged in stage0 (M x N, rows N apart).
template <Form F, bool SPLIT, class Epi>
__device__ __forceinline__ void product(int M, int N, int K, const float* A, int a_i, int a_k, const float* Bm, int b_k,
                                        int b_j, Epi epi, float* stage0 = nullptr, float* scratch = nullptr, int room = 0) {
  if constexpr (on_tensor_cores<F>) {
    mma_product<F == Form::TF32X3>(M, N, K, A, a_i, a_k, Bm, b_k, b_j, epi);
  } else {
    int height = 4;
    const int parts = SPLIT && room > 0 ? split_parts(M, N, K, room, height) : 1;  // the same for the whole block
    if constexpr (SPLIT) {
      if (parts > 1) {
        split_product<F>(Operands{M, N, K, A, a_i, a_k, Bm, b_k, b_j}, parts, height, stage0, scratch, epi);
        return;
      }
    }
    if constexpr (F == Form::VECTOR) narrow_product(Operands{M, N, K, A, a_i, a_k, Bm, b_k, b_j}, epi);
    else tiled_product<false>(Operands{M, N, K, A, a_i, a_k, Bm, b_k, b_j}, epi);
  }
}

// The tile's MLP forward from R (n rows of stride ldr whose first 2W columns are [k, q * k]):
// H1 = R[:, :2W] M2 + P[p_row[r]], A1 = act(H1), H2 = A1 W2 + b2, A2 = act(H2). M2: the first 2W
// rows of M3 (global or shared memory); P (rows of h1): the rows' per-sample terms, row r's at
// p_row[r]. keep >= 0: row r's pre-activations also go to a.hidden1 / a.hidden2 at packed row keep + r (the
// tile's first row is keep), else nowhere. Ends with a barrier. (On sm_90 the stores took the vector
// forward from 78 registers to 91 or 93, 2 blocks an SM instead of 3, while they were given a pointer or
// stored H before A; with the row number, the arrays read from the parameters where they are used, and H
// stored after A, 80. The TF32 forms still took 86 and 80 and are held to 3 blocks by __launch_bounds__:
// 80 and 75, no spills. The two epilogues are written out rather than shared: a helper for both took
// the scalar backward held to 80 registers from 8 and 16 to 20 and 32 bytes of spills, when the
// backward ran this too.)
template <Form F, bool SPLIT>
__device__ void tile_mlp_forward(int keep, float* A1, float* A2, const float* R, int ldr, const float* m2, const float* P,
                                 const int* p_row, int n, const AttentionArgs& a, float* scratch) {
  const int W2 = 2 * a.W, h1 = a.h1, h2 = a.h2;
  product<F, SPLIT>(n, h1, W2, R, ldr, 1, m2, h1, 1, [&](int r, int j, auto s) {
    constexpr int C = decltype(s)::size;
    // (the one index here left in 64 bits: in ints it took the scalar forward from 80 to 96 registers on sm_90,
    // 2 blocks an SM instead of 3, and the scalar backward from 96 to 128)
    const Run<C> p = load_run<C>(P + ((long long)p_row[r] * h1 + j));
#pragma unroll
    for (int c = 0; c < C; ++c) s.v[c] += p.v[c];
    Run<C> y;
#pragma unroll
    for (int c = 0; c < C; ++c) y.v[c] = act_forward(a.act, s.v[c], a.alpha1 != nullptr ? a.alpha1[j + c] : 0.0f);
    store_run(A1 + (r * h1 + j), y);
    if (keep >= 0) store_run_aligned(a.hidden1 + ((keep + r) * h1 + j), s);
  }, A1, scratch, a.split_room);
  __syncthreads();
  product<F, SPLIT>(n, h2, h1, A1, h1, 1, a.w2, h2, 1, [&](int r, int j, auto s) {
    constexpr int C = decltype(s)::size;
    const Run<C> b = load_run<C>(a.b2 + j);
#pragma unroll
    for (int c = 0; c < C; ++c) s.v[c] += b.v[c];
    Run<C> y;
#pragma unroll
    for (int c = 0; c < C; ++c) y.v[c] = act_forward(a.act, s.v[c], a.alpha2 != nullptr ? a.alpha2[j + c] : 0.0f);
    store_run(A2 + (r * h2 + j), y);
    if (keep >= 0) store_run_aligned(a.hidden2 + ((keep + r) * h2 + j), s);
  }, A2, scratch, a.split_room);
  __syncthreads();
}

}  // namespace

// W1's four values of element e = c h1 + j (c < W, j < h1): (W1[c, j], W1[W + c, j], W1[2W + c, j], W1[3W + c, j]) = (wq, wk, wd, wp).
__device__ __forceinline__ float4 w1_quad(const float* w1, int W, int h1, int e) {
  const float* w = w1 + e;
  return make_float4(w[0], w[W * h1], w[2 * W * h1], w[3 * W * h1]);
}

// M3[c, j] = W1[W + c, j] - W1[2W + c, j];  M3[W + c, j] = W1[3W + c, j];  M3[2W + c, j] = W1[c, j] + W1[2W + c, j]:
// element (c, j)'s three values from its w1_quad.
__device__ __forceinline__ void m3_values(float4 w, float& mb, float& mp, float& ma) {
  mb = w.y - w.z;
  mp = w.w;
  ma = w.x + w.z;
}

__device__ __forceinline__ void m3_element(const float* w1, int W, int h1, int c, int j, float& mb, float& mp, float& ma) {
  m3_values(w1_quad(w1, W, h1, c * h1 + j), mb, mp, ma);
}

// Sample b's per-sample term P[b, j] = b1[j] + sum_c q[b, c] Ma[c, j] (Ma = Wq + Wd, M3's third row
// block, as m3_element rounds it; here in shared memory), summed in c order.
__device__ __forceinline__ float sample_term(const AttentionArgs& a, const float* q, const float* ma, int j) {
  const int W = a.W, h1 = a.h1;
  float s = 0.0f;
#pragma unroll 12
  for (int c = 0; c < W; ++c) s += q[c] * ma[c * h1 + j];
  return s + a.b1[j];
}

// Grid: any size, the batch's tiles strided over it. Every block first copies M2 = M3's first 2W
// rows into shared memory from W1 (its products read it there), and the blocks together write
// the backward's weight layouts, M3t = M3^T, Ma and W2t = W2^T (grid-strided; the backward reads
// them along rows; M3 = [Wk - Wd ; Wp ; Wq + Wd] itself only as M2 and Ma in shared memory here). A tile's samples' terms P are computed in the tile (one row each, for the
// samples its rows hold: slot s is the tile's s-th sample) from Ma = M3's third row block, which
// the block copies beside M2 (the same four loads of W1 make all three). No launch of its own does
// any of this (the prepare launch it replaces computed P for the whole batch). With a.hidden1 (a
// training step's forward) the MLP's epilogues also store each row's pre-activations H1 and H2 at
// its packed row, for the backward ("Kept hidden layers" below). Dynamic shared memory (floats
// and ints, 4 bytes each): M2 (2W, h1), Ma (W, h1); row_b, row_t, slot, slot_b, slot_first (rows
// ints each, the five padded to a multiple of 4); then
// R (rows, 2W), A1 (rows, h1), A2 (rows, h2), Q (rows, W; the slots' queries), P (rows, h1), and a.split_room floats for
// the products' split K (split_product; the host gives tiles of up to AttentionArgs.SPLIT_ROWS rows 2 rows x max(h1, h2)).
// score is written at the valid positions alone.
namespace {
constexpr int COPY_ELEMENTS = 8;

template <Form F, bool SPLIT = false>
__device__ void forward_tiles(const AttentionArgs& a) {
  extern __shared__ double smem[];
  const int W = a.W, W2 = 2 * a.W, W3 = 3 * a.W, T = a.T, h1 = a.h1, h2 = a.h2, rows = a.rows;
  float* M2 = reinterpret_cast<float*>(smem);
  float* Ma = M2 + W2 * h1;
  int* row_b = reinterpret_cast<int*>(Ma + W * h1);
  int* row_t = row_b + rows;
  int* slot = row_t + rows;        // row r's slot
  int* slot_b = slot + rows;       // slot s's sample
  int* slot_first = slot_b + rows; // slot s's first row in the tile
  float* R = reinterpret_cast<float*>(row_b) + ((5 * rows + 3) & ~3);  // 16-byte aligned
  float* A1 = R + rows * W2;
  float* A2 = A1 + rows * h1;
  float* Q = A2 + rows * h2;
  float* P = Q + rows * W;
  __shared__ int run_start[MAX_THREADS + 1];
  __shared__ int slots;
  // the second layer's and the score's weights, which the tiles read from global memory (W1 comes in below)
  augur::warm_l1(a.w2, h1 * h2, a.w3, h2, a.b2, h2, a.b1, h1);
  // M2 and Ma from W1 in rounds of COPY_ELEMENTS elements a thread, their 4 COPY_ELEMENTS loads in flight together
  // (two rounds in the Amazon config at 256 threads, 32 loads a thread each; `#pragma unroll 4` over the 11 or 12
  // elements a thread has ran up to 3 of them one at a time, each a memory round trip, then 2 rounds of 4)
  augur::staged_copy<COPY_ELEMENTS, float4>(W * h1, [&](int e) { return w1_quad(a.w1, W, h1, e); }, [&](int e, float4 w) {
    m3_values(w, M2[e], M2[W * h1 + e], Ma[e]);
  });
  // up to here only weights were read (and shared memory written): a programmatic launch may have
  // run this beside the kernel before, and waits for it now (common.cuh)
  augur::grid_dependency_wait_and_launch();
  for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < (long long)W * h1 + (long long)h1 * h2;
       e += (long long)gridDim.x * blockDim.x) {
    if (e < (long long)W * h1) {
      const int c = (int)e / h1, j = (int)e - c * h1;  // e < W h1 (W1's quarter): an int
      float mb, mp, ma;
      m3_element(a.w1, W, h1, c, j, mb, mp, ma);
      a.ma[c * h1 + j] = ma;
      a.m3t[j * W3 + c] = mb;
      a.m3t[j * W3 + W + c] = mp;
      a.m3t[j * W3 + 2 * W + c] = ma;
    } else {
      const int f = (int)(e - (long long)W * h1), i = f / h2, j = f % h2;
      a.w2t[j * h1 + i] = a.w2[f];
    }
  }
  const int per = (a.B + blockDim.x - 1) / blockDim.x;
  augur::length_runs(run_start, a.lengths, a.B, a.T);  // a bad length: activation_unit_pool_forward_kernel reports it
  const int positions = run_start[blockDim.x];
  for (int first = (int)blockIdx.x * rows; first < positions; first += (int)gridDim.x * rows) {  // the same for the whole block
    const int n = min(rows, positions - first);
    locate_tile(row_b, row_t, run_start, per, first, n, a);
    __syncthreads();
    // the slots, by warp 0, which on vector and tensor-core tiles also starts the copies of their queries into Q (a
    // lane each copy of a sample it finds), in flight while the block copies R: a row_copy of them after the barrier
    // below was a round trip to memory and a barrier more on every tile's path. Scalar tiles keep that row_copy: on
    // sm_90 their kernel went from 80 registers to 96 without it (ptxas scheduled a product's loads differently;
    // 2 blocks an SM instead of 3), and so does sm_75, where a copy is a load and a store that waits for it.
    constexpr bool q_with_slots = F != Form::SCALAR && AUGUR_ASYNC_COPIES;
    if (threadIdx.x < 32) {
      tile_samples(slot_first, &slots, row_t, n, slot, slot_b, row_b, q_with_slots ? Q : nullptr, a.query, W);
      if constexpr (q_with_slots) augur::copies_arrived();
    }
    // R's rows [k, q * k], STAGE_ROWS rows a thread a round (and Q's below on scalar tiles); on scalar tiles R an
    // element at a time, as a row_copy there took the kernel from 80 to 96 registers on sm_90 (2 blocks an SM instead of 3)
    if constexpr (F == Form::SCALAR) {
      for (int e = threadIdx.x; e < n * W; e += blockDim.x) {
        const int r = e / W, c = e % W, b = row_b[r];
        const float k = a.keys[(b * T + row_t[r]) * W + c];
        R[r * W2 + c] = k;
        R[r * W2 + W + c] = a.query[b * W + c] * k;
      }
    } else {
      augur::row_copy<STAGE_ROWS, float2>(n, W, [&](int r, int c) {
        const int b = row_b[r];
        return make_float2(a.keys[(b * T + row_t[r]) * W + c], a.query[b * W + c]);
      }, [&](int r, int c, float2 v) {
        R[r * W2 + c] = v.x;
        R[r * W2 + W + c] = v.y * v.x;
      });
    }
    __syncthreads();  // slots, R (and Q)
    if constexpr (!q_with_slots) {
      augur::row_copy<stage_rows<F>, float>(slots, W, [&](int sl, int c) { return a.query[slot_b[sl] * W + c]; },
                                         [&](int sl, int c, float q) { Q[sl * W + c] = q; });
      __syncthreads();
    }
    for (int e = threadIdx.x; e < slots * h1; e += blockDim.x) {
      const int sl = e / h1, j = e % h1;
      const float v = sample_term(a, Q + sl * W, Ma, j);
      P[sl * h1 + j] = v;
    }
    __syncthreads();
    // with a.hidden1 (a training step), the epilogues store each row's pre-activations at its packed row first + r for the backward
    const bool keep = a.hidden1 != nullptr;  // the same for the whole grid
    tile_mlp_forward<F, SPLIT>(keep ? first : -1, A1, A2, R, W2, M2, P, slot, n, a, P + rows * h1);
    // the scores, ROW_LANES lanes a row (a thread a row took h2 dependent steps, and at h2 = 40 its
    // warp's loads of A2 met 8-way bank conflicts; here a warp's 4 rows x 8 lanes meet none)
    for (int e = threadIdx.x; e < row_lanes(n); e += blockDim.x) {
      const int r = e / ROW_LANES, u = e % ROW_LANES;
      const float s = row_dot(r < n, A2 + r * h2, a.w3, h2, u);
      if (r < n && u == 0) a.score[row_b[r] * T + row_t[r]] = s + a.b3[0];
    }
    __syncthreads();  // the next tile reuses every buffer
  }
}

}  // namespace

// The products on vector tiles (tiled_product): where W, h1 and h2 are multiples of 4 and the weights 16-byte aligned.
AUGUR_KERNEL void activation_unit_forward_kernel(AttentionArgs a) { forward_tiles<Form::VECTOR>(a); }
// The same on scalar tiles, for any widths.
AUGUR_KERNEL void activation_unit_forward_scalar_kernel(AttentionArgs a) { forward_tiles<Form::SCALAR>(a); }
// The same two with the products' split K (split_product), which the host launches where a.split_room > 0 (tiles of up to
// AttentionArgs.SPLIT_ROWS rows: batch 128 in the Amazon config, one block an SM or so). Kernels of their own: in the two
// above the split's code took the vector forward from 78 to 95 registers and the scalar from 80 to 96 on sm_90, 2 blocks an
// SM instead of 3, which batch 2048's tiles of 32 (no split there) would pay.
AUGUR_KERNEL void activation_unit_forward_split_kernel(AttentionArgs a) { forward_tiles<Form::VECTOR, true>(a); }
AUGUR_KERNEL void activation_unit_forward_scalar_split_kernel(AttentionArgs a) { forward_tiles<Form::SCALAR, true>(a); }
// The same with the MLP's products on the TF32 tensor cores (compute capability 8.0 and newer). The two TF32 forms are held
// to 3 blocks of 256 threads an SM (80 registers; see tile_mlp_forward), as the other two are by themselves.
AUGUR_KERNEL void __launch_bounds__(256, 3) activation_unit_forward_tf32_kernel(AttentionArgs a) { forward_tiles<Form::TF32>(a); }
// The same with each operand split into two TF32 parts, three products where TF32 takes one (fp32's accuracy).
AUGUR_KERNEL void __launch_bounds__(256, 3) activation_unit_forward_tf32x3_kernel(AttentionArgs a) { forward_tiles<Form::TF32X3>(a); }

// Grid: a.blocks blocks, tile i on block i mod a.blocks; a block with no tile writes nothing.
// Dynamic shared memory: seg_dot (rows doubles, rows rounded up to even), then in floats: with a.local the block's
// partial gradients on chip (PartialLayout; from db1 on with a.local = 2; padded to a multiple of 4), then row_b, row_t
// (rows ints each), dsc (rows; the three padded to a multiple of 4), R3 (rows, 3W), H1, A1, D1 (rows, h1 each), H2,
// A2, D2 (rows, h2 each), and dR3 (rows, 3W) only where it does not fit in H1 and A1, which are
// spent by the time it is written (Amazon config: 3W = 108 <= 2 h1 = 160); dR3's place holds the
// rows' d_out (rows, W) for the pool's backward before that. Every tile adds into
// dM3 and dW2 (about 12,000 floats in the Amazon config), so with a.local those
// read-modify-writes stay on chip and the slice is written once at the end. The price is L1: two
// blocks of 110 KB leave an H200 multiprocessor's L1 about 28 KB, so the weights the products read
// (83 KB) come from L2. a.local = 2 keeps dM3 (34.5 KB) off chip: 75 KB a block, L1 about 80 KB.
namespace {
__device__ __forceinline__ bool dr3_in_h1(int W, int h1) { return 3 * W <= 2 * h1; }

// Rows whose loads a per-hidden-unit loop issues together.
constexpr int ROW_BATCH = 8;

// Groups of `width` threads (a thread a column) that a per-column stage over a tile's rows splits
// the rows among: as many as the block holds, at most `most` and at most `setting` where that is
// above 0 (AttentionArgs.row_groups), at least one.
__device__ __forceinline__ int row_groups(int width, int most, int setting) {
  return max(1, min(min((int)blockDim.x / width, most), setting > 0 ? setting : most));
}

// A (n, h) holds a tile's kept pre-activations (from a.hidden1 or a.hidden2): A becomes act(A), and with PReLU (ACT 1)
// H a copy of the pre-activations. Thread (c, g) of G = blockDim.x / h groups takes column c at rows g, g + G, ...
// (a division once a call, as row_copy). Every thread calls it; no barrier.
template <int ACT>
__device__ __forceinline__ void kept_activations(float* H, float* A, int n, int h, const float* alpha) {
  const int G = max(1, (int)blockDim.x / h), g = (int)threadIdx.x / h;
  if (g >= G) return;
  for (int c = (int)threadIdx.x % h; c < h; c += blockDim.x) {
    const float al = alpha != nullptr ? alpha[c] : 0.0f;
    for (int r = g; r < n; r += G) {
      const float x = A[r * h + c];
      if (ACT == 1) H[r * h + c] = x;
      A[r * h + c] = act_forward(ACT, x, al);
    }
  }
}

template <Form F>
__device__ void backward_tiles(const AttentionArgs& a) {
  extern __shared__ double smem[];
  const int W = a.W, W3 = 3 * a.W, T = a.T, h1 = a.h1, h2 = a.h2, rows = a.rows;
  const PartialLayout L(W, h1, h2);
  float* slice = a.partials + (long long)blockIdx.x * L.size;
  double* seg_dot = smem;
  float* chip = reinterpret_cast<float*>(smem + ((rows + 1) & ~1));  // each array from here on 16-byte aligned
  // the layout's last on_chip floats in shared memory, the first L.size - on_chip in the slice
  const int on_chip = a.local == 1 ? L.size : a.local == 2 ? L.size - L.db1 : 0;
  // pm3[L.dm3 + x] is dM3's element x; pr[i - shift] the element at layout offset i >= L.db1 of the rest
  float* pm3 = a.local == 1 ? chip : slice;
  float* pr = a.local != 0 ? chip : slice;
  const int shift = a.local == 2 ? L.db1 : 0;
  int* row_b = reinterpret_cast<int*>(chip + ((on_chip + 3) & ~3));
  int* row_t = row_b + rows;
  float* dsc = reinterpret_cast<float*>(row_t + rows);
  float* R3 = reinterpret_cast<float*>(row_b) + ((3 * rows + 3) & ~3);
  float* H1 = R3 + rows * W3;
  float* A1 = H1 + rows * h1;
  float* D1 = A1 + rows * h1;
  float* H2 = D1 + rows * h1;
  float* A2 = H2 + rows * h2;
  float* D2 = A2 + rows * h2;
  float* dR3 = dr3_in_h1(W, h1) ? H1 : D2 + rows * h2;
  // the rows' d_out for the pool's backward (rows, W), in dR3's place: at least 3W a row, and
  // written only after the pool's backward has read it (H1, where dR3 may live, by PReLU's kept_activations;
  // the kept rows arrive in A1 and A2 meanwhile)
  float* dob = dR3;
  // with a.query_sums: the first row of each of the tile's samples (slots of them), in seg_dot's place (rows
  // doubles, spent once the pool's backward has read it); and the room for the samples' sums of dH1 (slots,
  // h1) and queries (slots, W), in H1 and A1 past dR3 (spent after the first activation's stage)
  int* slot_first = reinterpret_cast<int*>(seg_dot);
  float* SQ = dr3_in_h1(W, h1) ? H1 + ((rows * W3 + 3) & ~3) : H1;
  const int sq_room = (int)(A1 + rows * h1 - SQ);

  __shared__ int run_start[MAX_THREADS + 1];
  __shared__ int slots;
  // before any return; its weights (M3t, Ma, W2t) are the forward's, so nothing is read before it
  augur::grid_dependency_wait_and_launch();
  const int per = (a.B + blockDim.x - 1) / blockDim.x;
  augur::length_runs(run_start, a.lengths, a.B, a.T);
  const int positions = run_start[blockDim.x];
  if (blockIdx.x == 0 && threadIdx.x == 0) *a.tiles = (positions + rows - 1) / rows;
  if ((int)blockIdx.x * rows >= positions) return;  // no tile: the reduce does not read this slice
  // the weights the two products pairs read from global memory (M3t, W2t), in L1 before the first tile's products (and
  // Ma, which the query sums read)
  augur::warm_l1(a.m3t, h1 * W3, a.w2t, h1 * h2, a.query_sums ? a.ma : nullptr, W * h1, nullptr, 0);
  for (int e = threadIdx.x; e < on_chip; e += blockDim.x) chip[e] = 0.0f;
  for (int e = threadIdx.x; e < L.size - on_chip; e += blockDim.x) slice[e] = 0.0f;

  for (int first = (int)blockIdx.x * rows; first < positions; first += (int)gridDim.x * rows) {  // the same for the whole block
    const int n = min(rows, positions - first);
    // the forward's pre-activations of the tile's rows (the packed rows [first, first + n) of hidden1 and hidden2), into A1
    // and A2, in flight until the barrier after the pool's backward (nothing reads or writes A1 and A2 before it)
    augur::rows_to_shared<false>(A1, 0, 1, a.hidden1 + first * h1, 0, 1, n * h1);
    augur::rows_to_shared<false>(A2, 0, 1, a.hidden2 + first * h2, 0, 1, n * h2);
    locate_tile(row_b, row_t, run_start, per, first, n, a);
    __syncthreads();  // also orders the zeroing above before the first tile's additions
    // the rows [k, q * k, q] and their samples' d_out, STAGE_ROWS rows a thread a round
    augur::row_copy<stage_rows<F>, KeyQuery>(n, W, [&](int r, int c) {
      const int b = row_b[r];
      return KeyQuery{a.keys[(b * T + row_t[r]) * W + c], a.query[b * W + c],
                      a.d_out != nullptr ? a.d_out[b * a.d_out_stride + c] : 0.0f};
    }, [&](int r, int c, const KeyQuery& v) {
      R3[r * W3 + c] = v.k;
      R3[r * W3 + W + c] = v.q * v.k;
      R3[r * W3 + 2 * W + c] = v.q;
      if (a.d_out != nullptr) dob[r * W + c] = v.d;
    });
    tile_pool_backward(dsc, seg_dot, R3, W3, dob, row_b, row_t, n, a);
    augur::copies_arrived();
    __syncthreads();
    // the activations from the pre-activations, the forward's own expression on the same floats: the bits the forward's
    // epilogues made (PReLU's derivative also reads H, which the sigmoid's does not)
    if (a.act == 1) {
      kept_activations<1>(H1, A1, n, h1, a.alpha1);
      kept_activations<1>(H2, A2, n, h2, a.alpha2);
    } else {
      kept_activations<0>(H1, A1, n, h1, a.alpha1);
      kept_activations<0>(H2, A2, n, h2, a.alpha2);
    }
    __syncthreads();
    // layer 3 and the second activation: D2 = (dsc w3^T) act'(H2), and the tile's sums of dW3,
    // dAlpha2 and db2 over its rows. Thread (j, g) takes column j at rows g, g + g2, g + 2 g2, ...
    // (g2 groups of h2 threads: 6 at h2 = 40 and 256 threads, where one thread a column walked all n
    // rows while the block's other warps waited at the barrier), its rows' loads ROW_BATCH at a time
    // (one after another, each row's loads waited behind the previous row's store, which the
    // compiler cannot tell apart from them). With g2 > 1 a thread leaves its three sums in rows g
    // and g + g2 of H2 and A2, elements no other thread reads and nothing reads after this stage
    // (g2 <= rows / 2 keeps row g + g2 inside them); the last stage adds them up in g order.
    const int g2 = row_groups(h2, rows / 2, a.row_groups);
    // written out for each activation (prelu: PReLU, else the sigmoid), as is the first activation's stage
    // below: with a.act tested inside, every row issued both derivatives and PReLU's slope sum under
    // predicates, and the sigmoid's loaded H2 for nothing (sm_90: 221 -> 161 instructions a round here,
    // 205 -> 143 below, the sigmoid's)
    auto layer3_stage = [&](auto prelu) {
      constexpr int act = decltype(prelu)::value ? 1 : 0;
      for (int e = threadIdx.x; e < g2 * h2; e += blockDim.x) {  // one round where g2 > 1
        const int j = e % h2, g = e / h2;
        const float w3 = a.w3[j], alpha = a.alpha2 != nullptr ? a.alpha2[j] : 0.0f;
        float s_w3 = 0.0f, s_alpha = 0.0f, s_b2 = 0.0f;
        for (int r0 = g; r0 < n; r0 += g2 * ROW_BATCH) {
          float ds[ROW_BATCH], pre[ROW_BATCH], post[ROW_BATCH];
#pragma unroll
          for (int u = 0; u < ROW_BATCH; ++u) {
            const int r = r0 + u * g2 < n ? r0 + u * g2 : r0;  // past the tile: a row of its own, loaded and not used
            ds[u] = dsc[r];
            pre[u] = H2[r * h2 + j];
            post[u] = A2[r * h2 + j];
          }
#pragma unroll
          for (int u = 0; u < ROW_BATCH; ++u) {
            const int r = r0 + u * g2;
            if (r >= n) break;
            const float da = ds[u] * w3;
            s_w3 += post[u] * ds[u];
            if (act == 1 && pre[u] <= 0.0f) s_alpha += pre[u] * da;
            const float d = da * act_derivative(act, pre[u], post[u], alpha);
            D2[r * h2 + j] = d;
            s_b2 += d;
          }
        }
        if (g2 == 1) {
          pr[L.dw3 - shift + j] += s_w3;
          pr[L.da2 - shift + j] += s_alpha;
          pr[L.db2 - shift + j] += s_b2;
        } else {
          H2[g * h2 + j] = s_w3;
          A2[g * h2 + j] = s_alpha;
          H2[(g + g2) * h2 + j] = s_b2;
        }
      }
    };
    // the tile's samples for the query sums below, by the last warp (whose threads the stage leaves idle
    // where g2 h2 is short of the block: 16 of them at h2 = 40), in seg_dot's place (spent)
    if (a.query_sums && (int)threadIdx.x >= (int)blockDim.x - 32) tile_samples(slot_first, &slots, row_t, n);
    if (a.act == 1) layer3_stage(std::true_type{});
    else layer3_stage(std::false_type{});
    if (threadIdx.x == blockDim.x - 1) {  // past the groups' threads where h2 does not divide the block (16 at h2 = 40)
      float s = 0.0f;
      for (int r = 0; r < n; ++r) s += dsc[r];
      pr[L.db3 - shift] += s;
    }
    __syncthreads();
    // dA1 = D2 W2^T, and dW2 += A1^T D2
    {
      auto epi_d1 = [&](int r, int i, auto s) { store_run(D1 + (r * h1 + i), s); };
      auto epi_dw2 = [&](int i, int j, auto s) { add_run(pr + (L.dw2 - shift + i * h2 + j), s); };
      if constexpr (on_tensor_cores<F>) {
        mma_product_pair<F == Form::TF32X3>(Operands{n, h1, h2, D2, h2, 1, a.w2t, h1, 1}, epi_d1, Operands{h1, h2, n, A1, 1, h1, D2, h2, 1}, epi_dw2);
      } else {
        tiled_product_pair<F == Form::VECTOR>(Operands{n, h1, h2, D2, h2, 1, a.w2t, h1, 1}, epi_d1, Operands{h1, h2, n, A1, 1, h1, D2, h2, 1}, epi_dw2);
      }
    }
    __syncthreads();
    // the first activation: D1 becomes dH1 = dA1 act'(H1), and the tile's sums of dAlpha1 and db1
    // over its rows, thread (i, g) at column i and rows g, g + g1, ... as above (3 groups at h1 = 80
    // and 256 threads). With g1 > 1 the two sums go to D2 (spent: the products above were its
    // last readers), g1 rows of h1 each, for the last stage to add up in g order.
    const int g1 = row_groups(h1, rows * h2 / (2 * h1), a.row_groups);
    auto layer1_stage = [&](auto prelu) {
      constexpr int act = decltype(prelu)::value ? 1 : 0;
      for (int e = threadIdx.x; e < g1 * h1; e += blockDim.x) {  // one round where g1 > 1
        const int i = e % h1, g = e / h1;
        const float alpha = a.alpha1 != nullptr ? a.alpha1[i] : 0.0f;
        float s_alpha = 0.0f, s_b1 = 0.0f;
        for (int r0 = g; r0 < n; r0 += g1 * ROW_BATCH) {
          float da[ROW_BATCH], pre[ROW_BATCH], post[ROW_BATCH];
#pragma unroll
          for (int u = 0; u < ROW_BATCH; ++u) {
            const int r = r0 + u * g1 < n ? r0 + u * g1 : r0;
            da[u] = D1[r * h1 + i];
            pre[u] = H1[r * h1 + i];
            post[u] = A1[r * h1 + i];
          }
#pragma unroll
          for (int u = 0; u < ROW_BATCH; ++u) {
            const int r = r0 + u * g1;
            if (r >= n) break;
            if (act == 1 && pre[u] <= 0.0f) s_alpha += pre[u] * da[u];
            const float d = da[u] * act_derivative(act, pre[u], post[u], alpha);
            D1[r * h1 + i] = d;
            s_b1 += d;
          }
        }
        if (g1 == 1) {
          pr[L.da1 - shift + i] += s_alpha;
          pr[L.db1 - shift + i] += s_b1;
        } else {
          D2[g * h1 + i] = s_alpha;
          D2[(g1 + g) * h1 + i] = s_b1;
        }
      }
    };
    if (a.act == 1) layer1_stage(std::true_type{});
    else layer1_stage(std::false_type{});
    __syncthreads();  // H1 and A1 are spent: dR3 may take their place
    // The query's third of r3 = [k, q * k, q] is the same for all of a sample's rows, so its two products
    // need only the sample's sum of dH1 over its rows, S = sum_r dH1[r]: dMa += q^T S and the sample's
    // share of dQuery S Ma^T (one W-row where each row made one). With by_sample (a.query_sums, and room for
    // S and the queries Q in H1 and A1 past dR3; the same for the whole block) the tile's rows take 2W-wide
    // products where they took 3W (the Amazon config: a third less of the stage's work) and its samples a
    // W x h1 product each; dR3's third block then holds a sample's share of dQuery at its first row (0
    // elsewhere). Otherwise each row carries q (the third block, as the forward does not).
    const bool by_sample = a.query_sums != 0 && slots * (h1 + W) <= sq_room;
    const int n_s = by_sample ? slots : 0;
    float* S = SQ;              // (n_s, h1)
    float* Q = SQ + n_s * h1;   // (n_s, W), 16-byte aligned where h1 is a multiple of 4 (vector tiles)
    if (by_sample) {
      // S, one thread a column (from the block's last thread) walking the rows in order, ROW_BATCH loads at a time
      for (int j = (int)blockDim.x - 1 - (int)threadIdx.x; j < h1; j += blockDim.x) {
        float sum = 0.0f;
        int sl = 0;
        for (int r0 = 0; r0 < n; r0 += ROW_BATCH) {
          float d[ROW_BATCH];
          bool ends[ROW_BATCH];
#pragma unroll
          for (int u = 0; u < ROW_BATCH; ++u) {
            const int r = min(r0 + u, n - 1);
            d[u] = D1[r * h1 + j];
            ends[u] = r + 1 >= n || row_t[r + 1] == 0;  // the last of its sample's rows in the tile
          }
#pragma unroll
          for (int u = 0; u < ROW_BATCH; ++u) {
            if (r0 + u >= n) break;
            sum += d[u];
            if (ends[u]) {
              S[sl * h1 + j] = sum;
              ++sl;
              sum = 0.0f;
            }
          }
        }
      }
      // Q: the samples' queries, from the third block of their first rows
      for (int e = threadIdx.x; e < n_s * W; e += blockDim.x) {
        const int sl = e / W, c = e - sl * W;
        Q[e] = R3[slot_first[sl] * W3 + 2 * W + c];
      }
      __syncthreads();
    }
    // dM3 += R3^T dH1;  dR3 = dH1 M3^T: over the first 2W (by_sample) or all 3W of r3
    const int Wr = by_sample ? 2 * W : W3;
    const Operands dr3{n, Wr, h1, D1, h1, 1, a.m3t, W3, 1};
    {
      auto epi_dm3 = [&](int c, int i, auto s) { add_run(pm3 + (L.dm3 + c * h1 + i), s); };
      auto epi_dr3 = [&](int r, int c, auto s) { store_run(dR3 + (r * W3 + c), s); };
      const Operands dm3{Wr, h1, n, R3, 1, W3, D1, h1, 1};
      if constexpr (on_tensor_cores<F>) mma_product_pair<F == Form::TF32X3>(dr3, epi_dr3, dm3, epi_dm3);
      else tiled_product_pair<F == Form::VECTOR>(dr3, epi_dr3, dm3, epi_dm3);
    }
    // by_sample, beside them: each sample's share of dQuery S Ma^T into dR3's third block at its first row,
    // and dMa += Q^T S. Loops of fp32 FMAs in every form (as register tiles they took the vector backward
    // from 90 to 128 registers on sm_90, and spilled 120 bytes held to 80), run by the threads the pair
    // leaves without a tile of dR3 where it leaves some (they take a few of dM3's short tiles instead), else
    // by all. A share of dQuery (sl, c) is one item, its h1 terms in four chains (j mod 4) added in order at
    // the end; dMa's item is four consecutive elements of a row, each summed over the samples in order.
    if (by_sample) {
      const int busy = on_tensor_cores<F> ? 32 * mma_tile_count(dr3) : dr3.tiles();  // threads with a dR3 tile (a warp each on the tensor cores)
      const bool spare = busy < (int)blockDim.x;  // the same for the whole block
      const int u = spare ? (int)threadIdx.x - busy : (int)threadIdx.x, step = spare ? (int)blockDim.x - busy : (int)blockDim.x;
      const int n_dq = n_s * W, jq = (h1 + 3) / 4, items = n_dq + W * jq;
      for (int e = u; e >= 0 && e < items; e += step) {
        if (e < n_dq) {
          const int sl = e / W, c = e - sl * W;
          const float* s_row = S + sl * h1;
          const float* ma = a.ma + c * h1;
          float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
          int j = 0;
          for (; j + 4 <= h1; j += 4) {
#pragma unroll
            for (int v = 0; v < 4; ++v) acc[v] += s_row[j + v] * ma[j + v];
          }
#pragma unroll
          for (int v = 0; v < 3; ++v)  // the last h1 mod 4 terms
            if (j + v < h1) acc[v] += s_row[j + v] * ma[j + v];
          dR3[slot_first[sl] * W3 + 2 * W + c] = (acc[0] + acc[1]) + (acc[2] + acc[3]);
        } else {
          const int f = e - n_dq, c = f / jq, j = (f - c * jq) * 4;
          float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
          for (int sl = 0; sl < n_s; ++sl) {
            const float q = Q[sl * W + c];
            const float* s_row = S + sl * h1 + j;
#pragma unroll
            for (int v = 0; v < 4; ++v)
              if (j + v < h1) acc[v] += q * s_row[v];
          }
          float* g = pm3 + (L.dm3 + (2 * W + c) * h1 + j);
#pragma unroll
          for (int v = 0; v < 4; ++v)
            if (j + v < h1) g[v] += acc[v];
        }
      }
    }
    __syncthreads();
    // the row groups' sums of the two activation stages (in H2, A2 and D2, untouched since), in g order
    for (int e = threadIdx.x; e < h2 + h1; e += blockDim.x) {
      if (e < h2 && g2 > 1) {
        float s_w3 = 0.0f, s_alpha = 0.0f, s_b2 = 0.0f;
        for (int g = 0; g < g2; ++g) {
          s_w3 += H2[g * h2 + e];
          s_alpha += A2[g * h2 + e];
          s_b2 += H2[(g + g2) * h2 + e];
        }
        pr[L.dw3 - shift + e] += s_w3;
        pr[L.da2 - shift + e] += s_alpha;
        pr[L.db2 - shift + e] += s_b2;
      } else if (e >= h2 && g1 > 1) {
        const int i = e - h2;
        float s_alpha = 0.0f, s_b1 = 0.0f;
        for (int g = 0; g < g1; ++g) {
          s_alpha += D2[g * h1 + i];
          s_b1 += D2[(g1 + g) * h1 + i];
        }
        pr[L.da1 - shift + i] += s_alpha;
        pr[L.db1 - shift + i] += s_b1;
      }
    }
    // back through r3 = [k, q * k, q]: dk += w_t d_out (the pool's share) first, then the MLP's
    // dR3[:, :W] + dR3[:, W:2W] * q, the sums activation_unit_pool_backward_kernel and this kernel
    // would make one after the other; the row's share of dQuery is dR3[:, W:2W] * k + dR3[:, 2W:].
    // With dx, dk starts from the sum pool's share dS_b = dx[s] + dx[q * s] q (=), as
    // interest_concat_backward_kernel would have written it, instead of what d_keys holds (+=).
    // STAGE_ROWS rows a thread a round: their loads from global memory first, then the stores. Written
    // out for a.dx and for d_keys: with the choice inside, each element issued both paths' address
    // arithmetic under predicates (sm_90, a round: 394 instructions, now 309 with dx and 286 without).
    auto last_stage = [&](auto from_dx) {
      augur::row_copy<stage_rows<F>, float2>(n, W, [&](int r, int c) {
        const int b = row_b[r], bt = b * T + row_t[r];
        const float q = R3[r * W3 + 2 * W + c];
        float held;
        if constexpr (decltype(from_dx)::value) {
          const float* g = a.dx + b * a.d_out_stride;
          held = g[W + c] + g[2 * W + c] * q;
        } else {
          held = a.d_keys[bt * W + c];
        }
        const float pooled = a.d_out != nullptr ? held + a.weights[bt] * a.d_out[b * a.d_out_stride + c] : held;
        return make_float2(q, pooled);
      }, [&](int r, int c, float2 v) {
        const int at = (row_b[r] * T + row_t[r]) * W + c;
        const float k = R3[r * W3 + c];
        const float dk = dR3[r * W3 + c], dp = dR3[r * W3 + W + c];
        const float dq = !by_sample || r == 0 || row_t[r] == 0 ? dR3[r * W3 + 2 * W + c] : 0.0f;  // by_sample: at a sample's first row
        a.d_keys[at] = v.y + (dk + dp * v.x);
        a.dq_rows[at] = dp * k + dq;
      });
    };
    if (a.dx != nullptr) last_stage(std::true_type{});
    else last_stage(std::false_type{});
    __syncthreads();  // the next tile reuses every buffer
  }
  for (int e = threadIdx.x; e < on_chip; e += blockDim.x) slice[L.size - on_chip + e] = chip[e];
}

}  // namespace

// The products on vector tiles (tiled_product): where W, h1 and h2 are multiples of 4 and the weights 16-byte aligned.
AUGUR_KERNEL void activation_unit_backward_kernel(AttentionArgs a) { backward_tiles<Form::VECTOR>(a); }
// The same on scalar tiles, for any widths.
AUGUR_KERNEL void activation_unit_backward_scalar_kernel(AttentionArgs a) { backward_tiles<Form::SCALAR>(a); }
// The same with the MLP's products on the TF32 tensor cores (compute capability 8.0 and newer).
AUGUR_KERNEL void activation_unit_backward_tf32_kernel(AttentionArgs a) { backward_tiles<Form::TF32>(a); }
// The same with each operand split into two TF32 parts, three products where TF32 takes one (fp32's accuracy).
AUGUR_KERNEL void activation_unit_backward_tf32x3_kernel(AttentionArgs a) { backward_tiles<Form::TF32X3>(a); }
// The same four held to three blocks of 256 threads an SM (80 registers a thread): on sm_90 the scalar kernel above
// takes 96 registers, so an SM holds two of its blocks whatever their shared memory, and a third block, which the
// backward's shared memory with dM3 off chip leaves room for, waits for a second wave. Since the backward reads the
// kept hidden layers instead of running the MLP again, the vector, TF32 and TF32X3 forms take 80, 72 and 72 by
// themselves on sm_90 (71 to 80 on the other targets; they took 86 to 128 before) and would fit three unbounded; the
// planner still takes the bounded form at three, one rule for all four (whether the plain forms should be taken
// there instead is for a device's local-memory counters to say). These counts move by tens with small changes
// elsewhere in the kernel. The price, where there is one, is a few bytes of spills to local memory, which L1 caches
// (sm_90: KernelResourcesTest allows 64 bytes; the vector form's 16 stored and 36 loaded, the scalar's 8 and 8,
// TF32's 12 and 12, TF32X3's none; none on the other targets). CudaBackend launches these where it plans three or
// more backward blocks an SM.
AUGUR_KERNEL void __launch_bounds__(256, 3) activation_unit_backward_3blocks_kernel(AttentionArgs a) { backward_tiles<Form::VECTOR>(a); }
AUGUR_KERNEL void __launch_bounds__(256, 3) activation_unit_backward_scalar_3blocks_kernel(AttentionArgs a) { backward_tiles<Form::SCALAR>(a); }
AUGUR_KERNEL void __launch_bounds__(256, 3) activation_unit_backward_tf32_3blocks_kernel(AttentionArgs a) { backward_tiles<Form::TF32>(a); }
AUGUR_KERNEL void __launch_bounds__(256, 3) activation_unit_backward_tf32x3_3blocks_kernel(AttentionArgs a) { backward_tiles<Form::TF32X3>(a); }

// Sums the slices of `partials` that hold a tile (the first min(a.blocks, *a.tiles)) and adds
// them into the gradients (+=): dWq += dMa, dWk += dMb, dWd += dMa - dMb, dWp += dMp (the three
// W-row blocks of dM3); then dQuery[b, c] += sum over t < len_b of dq_rows[b, t, c]. Blocks of
// (32, REDUCE_GROUPS) threads over 32 consecutive elements (the parameter gradients' elements
// followed by the B * W of dQuery), grid-strided: thread (x, y) sums the slices (or positions)
// y, y + GROUPS, ... in order, and row 0 adds the groups' sums in group order: a fixed order,
// with 8 times the loads in flight of one thread walking them all.
constexpr int REDUCE_GROUPS = 8;
// Loads a thread of the reduce has in flight at a time: fixed rounds, where `#pragma unroll` over a
// count known only at run time (18 slices a group at batch 128) ran its remainder one load at a time.
// 6 (18 loads for dM3's three blocks) takes 58 registers on sm_90, 4 blocks of 256 an SM; 8 took
// 72, 3 blocks an SM: at batch 2048 (about 2,500 blocks of 32 elements) 7 waves instead of 5.
constexpr int REDUCE_LOADS = 6;

namespace {
// sum over i = y, y + REDUCE_GROUPS, ... < n of p[i stride], in i order, REDUCE_LOADS loads at a time.
__device__ __forceinline__ float strided_sum(const float* p, int stride, int y, int n) {
  float s = 0.0f;
  for (int i0 = y; i0 < n; i0 += REDUCE_GROUPS * REDUCE_LOADS) {
    float v[REDUCE_LOADS];
#pragma unroll
    for (int u = 0; u < REDUCE_LOADS; ++u) v[u] = p[(long long)min(i0 + u * REDUCE_GROUPS, n - 1) * stride];
    augur::loads_issued();
#pragma unroll
    for (int u = 0; u < REDUCE_LOADS; ++u) {
      if (i0 + u * REDUCE_GROUPS >= n) break;
      s += v[u];
    }
  }
  return s;
}
}  // namespace

namespace {
// The query's lookups whose backward the reduce takes (activation_unit_reduce_gather_kernel): each entry of
// `sinks` reads d_query's columns [off, off + D) at rows b < rows, T = 1, no lengths. Element (b, c) of dQuery,
// its value v just stored, adds itself to each such entry's sparse gradient as embedding_gather_backward_kernel
// would (an id outside [0, V) skipped, reported by the forward; a non-finite v reported and added), and the
// entry's first column marks the row touched. The same integers in acc, so the same sums as the separate launch.
__device__ __forceinline__ void query_sinks(const augur::GatherList* sinks, int* status, int b, int c, float v) {
  for (int k = 0; k < sinks->count; ++k) {
    const augur::GatherEntry& e = sinks->e[k];
    if (b >= e.rows || c < e.off || c >= e.off + e.D) continue;
    const int id = e.ids[b];
    if (id < 0 || id >= e.V) continue;
    if (c == e.off) augur::touch_row(e.touched_flag, e.touched_list, e.touched_count, status, id, e.capacity);
    if (!isfinite(v)) augur::set_status(status, AUGUR_STATUS_NONFINITE_GRAD);
    atomicAdd(reinterpret_cast<unsigned long long*>(e.acc + (id * e.D + (c - e.off))), static_cast<unsigned long long>(augur::to_fixed(v)));
  }
}

// The reduce's work for blocks `block`, `block` + `blocks`, ... of its grid (see activation_unit_reduce_kernel), thread (x, y)
// of its 32 x REDUCE_GROUPS; with SINKS, dQuery's elements also go to the query's lookups (query_sinks; sinks is then the
// kernel's parameter, never a null or a copy). After the grid's dependency wait.
template <bool SINKS>
__device__ __forceinline__ void reduce_rounds(const AttentionArgs& a, int x, int y, int block, int blocks, const augur::GatherList* sinks,
                                              int* status) {
  __shared__ float sums[3][REDUCE_GROUPS][32];
  const int W = a.W, h1 = a.h1, h2 = a.h2, T = a.T;
  const PartialLayout L(W, h1, h2);
  const int n_w1 = W * h1, n_b1 = h1, n_a1 = h1, n_w2 = h1 * h2, n_b2 = h2, n_a2 = h2, n_w3 = h2;
  const long long n_params = (long long)n_w1 + n_b1 + n_a1 + n_w2 + n_b2 + n_a2 + n_w3 + 1;
  const long long total = n_params + (long long)a.B * W;
  const int slices = min(a.blocks, *a.tiles);
  for (long long base = (long long)block * 32; base < total; base += (long long)blocks * 32) {  // the same for the block
    const long long idx = base + x;
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f;
    float* dst = nullptr;  // a gradient other than W1's: its element e
    int e = 0;
    if (idx < n_params) {
      e = (int)idx;
      if (e < n_w1) {
        const int c = e / h1, i = e % h1;
        // REDUCE_LOADS slices' loads in flight at a time, still summed in slice order
        for (int blk0 = y; blk0 < slices; blk0 += REDUCE_GROUPS * REDUCE_LOADS) {
          float va[REDUCE_LOADS], vb[REDUCE_LOADS], vp[REDUCE_LOADS];
#pragma unroll
          for (int u = 0; u < REDUCE_LOADS; ++u) {
            const float* p = a.partials + (long long)min(blk0 + u * REDUCE_GROUPS, slices - 1) * L.size + L.dm3;
            va[u] = p[(2 * W + c) * h1 + i];  // dMa
            vb[u] = p[c * h1 + i];            // dMb
            vp[u] = p[(W + c) * h1 + i];      // dMp
          }
          augur::loads_issued();
#pragma unroll
          for (int u = 0; u < REDUCE_LOADS; ++u) {
            if (blk0 + u * REDUCE_GROUPS >= slices) break;
            s0 += va[u];
            s1 += vb[u];
            s2 += vp[u];
          }
        }
      } else {
        e -= n_w1;
        int off;
        if (e < n_b1) { off = L.db1; dst = a.g_b1; }
        else if ((e -= n_b1) < n_a1) { off = L.da1; dst = a.g_alpha1; }
        else if ((e -= n_a1) < n_w2) { off = L.dw2; dst = a.g_w2; }
        else if ((e -= n_w2) < n_b2) { off = L.db2; dst = a.g_b2; }
        else if ((e -= n_b2) < n_a2) { off = L.da2; dst = a.g_alpha2; }
        else if ((e -= n_a2) < n_w3) { off = L.dw3; dst = a.g_w3; }
        else { e -= n_w3; off = L.db3; dst = a.g_b3; }
        if (dst != nullptr)  // none: no slopes for sigmoid
          s0 = strided_sum(a.partials + off + e, L.size, y, slices);
      }
    } else if (idx < total) {
      const int q = (int)(idx - n_params), b = q / W, c = q % W;
      const int len = augur::clamped_length(a.lengths, b, T);
      s0 = strided_sum(a.dq_rows + b * T * W + c, W, y, len);
    }
    sums[0][y][x] = s0;
    sums[1][y][x] = s1;
    sums[2][y][x] = s2;
    __syncthreads();
    if (y == 0 && idx < total) {
      float t0 = sums[0][0][x], t1 = sums[1][0][x], t2 = sums[2][0][x];
      for (int g = 1; g < REDUCE_GROUPS; ++g) {
        t0 += sums[0][g][x];
        t1 += sums[1][g][x];
        t2 += sums[2][g][x];
      }
      if (idx >= n_params) {
        const int q = (int)(idx - n_params);
        float v;
        if (a.dx != nullptr) {  // the interest block's share first (=), as interest_concat_backward_kernel writes it
          const float* g = a.dx + (q / W) * a.d_out_stride;
          const int c = q % W;
          v = (g[c] + g[2 * W + c] * a.s[q]) + t0;
        } else {
          v = a.d_query[q] + t0;
        }
        a.d_query[q] = v;
        if constexpr (SINKS) query_sinks(sinks, status, q / W, q % W, v);
      } else if (idx < n_w1) {
        const int c = (int)idx / h1, i = (int)idx % h1;
        a.g_w1[c * h1 + i] += t0;
        a.g_w1[(W + c) * h1 + i] += t1;
        a.g_w1[(2 * W + c) * h1 + i] += t0 - t1;
        a.g_w1[(3 * W + c) * h1 + i] += t2;
      } else if (dst != nullptr) {
        dst[e] += t0;
      }
    }
    __syncthreads();  // sums is written again
  }
}
}  // namespace

AUGUR_KERNEL void activation_unit_reduce_kernel(AttentionArgs a) {
  augur::grid_dependency_wait_and_launch();
  reduce_rounds<false>(a, (int)threadIdx.x, (int)threadIdx.y, (int)blockIdx.x, (int)gridDim.x, nullptr, nullptr);
}

// The reduce and the lookups' backward of the step in one launch (CudaBackend.attentionInterestBackward with the
// model's lookups): blocks [0, reduce_blocks) run activation_unit_reduce_kernel's rounds, each of their dQuery
// elements also added to the query's lookups (`sinks`, query_sinks: the lookups that read dQuery, which this
// launch writes); blocks [reduce_blocks, reduce_blocks + lookups.blocks) run embedding_gather_multi_backward_kernel's
// blocks of `lookups` (the rest, which read what earlier launches wrote: dKeys, the profile's columns of dx). Integer
// atomics add up the same in any order, so each sparse gradient is what the separate launches give. One launch
// where there were two, the lookups' blocks running beside the reduce's. Blocks of 256 threads, 1-D: the reduce's
// thread (x, y) is thread 32 y + x.
AUGUR_KERNEL void activation_unit_reduce_gather_kernel(AttentionArgs a, augur::GatherList lookups, augur::GatherList sinks, int* status,
                                                       int reduce_blocks) {
  augur::grid_dependency_wait_and_launch();
  const int block = (int)blockIdx.x;
  if (block < reduce_blocks) {
    reduce_rounds<true>(a, (int)threadIdx.x & 31, (int)threadIdx.x >> 5, block, reduce_blocks, &sinks, status);
    return;
  }
  int first;
  const augur::GatherEntry& e = lookups.e[augur::gather_entry(lookups, block - reduce_blocks, &first)];
  const int warp_first = augur::gather_warp_first(first, e.D);
  if (warp_first < e.rows)
    augur::gather_backward_warp(e.acc, e.touched_flag, e.touched_list, e.touched_count, status, e.dout, e.ids, e.lengths, e.T, e.D, e.V,
                                e.capacity, e.out_stride, e.off, warp_first, e.rows);
}

// One block per sample. weights[b, t] = score[b, t] (or its softmax over t < len), 0 for
// t >= len; out[b, :] = sum_t weights[b, t] k_bt (skipped when out is nullptr). A length outside
// [0, T] sets AUGUR_STATUS_BAD_LENGTH and is clamped. The scores are (B, T), or with row_start
// packed: sample b's at [row_start[b], row_start[b] + len) (activation_unit_unfused.cu).
//   out (B, W) or nullptr   weights (B, T)   score (B, T) or packed   keys (B, T, W)   lengths (B)
// The weighted sum spreads each sample's positions over the block: with G = blockDim.x / W groups
// (at least 1), thread (c, g) = (tid % W, tid / W) sums t = g, g + G, ... in order, and the G
// partial sums of column c are added in group order (fixed: the same result on every run). One
// thread walking all len positions of its column, one load after another, set this kernel's time
// on the H200 (20 µs at batch 128, the longest history's 100 positions); G = 3 for W = 36.
// With x != nullptr (DIN's interest block, Backend.attentionInterest) the block also writes
//   s[b, c] = sum_{t < len} k_btc   in t order (interest_concat_forward_kernel's sum, bit for bit)
//   x[b, :4W] = [query[b], s[b], query[b] * s[b], out[b]]   (x: the block's first column, row stride x_stride)
// With stage_keys (and out) the block first copies the sample's len x W keys into shared memory
// behind the weights, as copies that are all in flight while the weights are made (rows_to_shared,
// common.cuh; they were rounds of 16 loads a thread, a history of 100 x 36 in two round trips at
// 128 threads, before the weights), and both sums read them there: read from global
// memory, the sum pool's column walk and the weighted sum were about twelve dependent round
// trips for a history of 100. The same values in the same order, so the same bits.
// Dynamic shared memory: T floats, and T W more with stage_keys. blockDim.x: at most POOL_MAX_THREADS.
constexpr int POOL_MAX_THREADS = 256;

AUGUR_KERNEL void activation_unit_pool_forward_kernel(float* __restrict__ out, float* __restrict__ weights,
                                                      int* status, const float* __restrict__ score,
                                                      const float* __restrict__ keys,
                                                      const int* __restrict__ lengths, const int* __restrict__ row_start,
                                                      int T, int W, int softmax, float* __restrict__ x,
                                                      float* __restrict__ s_out, const float* __restrict__ query,
                                                      int x_stride, int stage_keys) {
  extern __shared__ float w[];
  __shared__ double scratch[32];
  augur::grid_dependency_wait_and_launch();
  const int b = blockIdx.x;
  const int len = augur::checked_length(lengths, b, T, status);
  const float* kb = keys + b * T * W;
  if (out != nullptr && stage_keys) {  // the same for the whole block
    float* staged = w + T;
    augur::rows_to_shared<false>(staged, W, 1, kb, W, len, W);  // in flight while the weights are made
    kb = staged;  // read back after the barrier below
  }
  const float* s = score + (row_start != nullptr ? row_start[b] : b * T);
  for (int t = threadIdx.x; t < len; t += blockDim.x) w[t] = s[t];
  if (softmax && len > 0) {
    const float inv = augur::softmax_exponentials(w, len, scratch);
    for (int t = threadIdx.x; t < len; t += blockDim.x) w[t] *= inv;
  }
  for (int t = len + threadIdx.x; t < T; t += blockDim.x) w[t] = 0.0f;
  augur::copies_arrived();
  __syncthreads();
  for (int t = threadIdx.x; t < T; t += blockDim.x) weights[b * T + t] = w[t];
  if (out == nullptr) return;
  __shared__ float part[POOL_MAX_THREADS];
  float* xb = x != nullptr ? x + b * x_stride : nullptr;
  if (x != nullptr)  // the interest block's first three parts
    for (int c = threadIdx.x; c < W; c += blockDim.x) {
      const float sv = augur::positions_sum(kb + c, len, W);
      const float q = query[b * W + c];
      s_out[b * W + c] = sv;
      xb[c] = q;
      xb[W + c] = sv;
      xb[2 * W + c] = q * sv;
    }
  const int groups = max(1, (int)blockDim.x / W);
  if (groups == 1) {  // W >= blockDim.x: a thread per column (or several)
    for (int c = threadIdx.x; c < W; c += blockDim.x) {
      float acc = 0.0f;
#pragma unroll 8
      for (int t = 0; t < len; ++t) acc += w[t] * kb[t * W + c];
      out[b * W + c] = acc;
      if (xb != nullptr) xb[3 * W + c] = acc;
    }
    return;
  }
  const int c = threadIdx.x % W, g = threadIdx.x / W;
  if (g < groups) {
    float acc = 0.0f;
#pragma unroll 8
    for (int t = g; t < len; t += groups) acc += w[t] * kb[t * W + c];
    part[g * W + c] = acc;
  }
  __syncthreads();
  if ((int)threadIdx.x < W) {
    float acc = part[threadIdx.x];
    for (int h = 1; h < groups; ++h) acc += part[h * W + threadIdx.x];
    out[b * W + threadIdx.x] = acc;
    if (xb != nullptr) xb[3 * W + threadIdx.x] = acc;
  }
}

// One block per sample. With g_t = d_weights[b, t] + sum_c d_out[b, c] k_btc for t < len
// (either term absent when its pointer is nullptr):
//   d_keys[b, t, :] += weights[b, t] d_out[b, :]                          (+=)
//   d_score[b, t] = g_t, or through the softmax w_t (g_t - sum_s w_s g_s); 0 for t >= len   (=)
// With row_start, d_score is packed as the forward's scores (its t < len only; nothing past).
AUGUR_KERNEL void activation_unit_pool_backward_kernel(float* __restrict__ d_score, float* __restrict__ d_keys,
                                                       const float* __restrict__ d_out,
                                                       const float* __restrict__ d_weights,
                                                       const float* __restrict__ weights,
                                                       const float* __restrict__ keys,
                                                       const int* __restrict__ lengths, const int* __restrict__ row_start,
                                                       int T, int W, int softmax) {
  __shared__ double scratch[32];
  const int b = blockIdx.x;
  const int len = augur::clamped_length(lengths, b, T);
  const int row0 = b * T;
  float* ds = d_score + (row_start != nullptr ? row_start[b] : row0);
  const float* kb = keys + row0 * W;
  const float* db = d_out != nullptr ? d_out + b * W : nullptr;
  double dot = 0.0;
  for (int t = threadIdx.x; t < len; t += blockDim.x) {  // each thread keeps its own t's g in d_score
    const float g = pool_score_grad(d_weights, db, kb, row0, t, W);
    ds[t] = g;
    dot += (double)weights[row0 + t] * g;
  }
  if (softmax) {
    dot = augur::block_sum(dot, scratch);
    for (int t = threadIdx.x; t < len; t += blockDim.x)
      ds[t] = weights[row0 + t] * (float)(ds[t] - dot);
  }
  if (row_start == nullptr)
    for (int t = len + threadIdx.x; t < T; t += blockDim.x) ds[t] = 0.0f;
  if (db != nullptr && d_keys != nullptr)
    for (int e = threadIdx.x; e < len * W; e += blockDim.x) {
      const int t = e / W, c = e - t * W;
      d_keys[(row0 + t) * W + c] += weights[row0 + t] * db[c];
    }
}
