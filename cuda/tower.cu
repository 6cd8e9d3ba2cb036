// The top tower (BatchNorm -> [linear -> Dice/PReLU/sigmoid] per hidden layer -> the logit), one
// launch per hidden layer and direction, for batches small enough that a layer's whole input fits
// in one block's shared memory (CudaBackend.fusedTower decides; larger batches take the
// layer-by-layer ops). CPU reference: what the tower is made of, Backend.towerForward and
// towerBackward's defaults (batchNorm, linear, dice / prelu / sigmoid and their backwards).
//
// A block owns `cols` channels of one layer for all B rows. The statistics over the batch that
// Dice and BatchNorm need are then the block's own sums (fixed order, doubles): no partials, no
// second launch. At batch 128 the DIN tower and its loss take 5 launches each step instead of 11 (16 before
// the layers' pairs and head launches, CudaBackend.logitsAndLoss and logitsDiceBackward):
// the top layer's forward also makes the logits and the loss.
//
// Larger batches take the same kernels in thread-block clusters of S = 2, 4, 8 or 16 blocks
// (compute capability 9.0 and up; the _clusterS_ kernels; 16 only where asked for): the S blocks of a cluster share the
// `cols` channels and split the rows, rank q taking rows [q P, q P + P), P = ceil(B / S), so that
// each block's slice of a layer's input fits its shared memory (the DIN tower at batch 2048 in
// clusters of 8, 256 rows a block). The sums over the batch are then each block's sums over its
// rows, added over the cluster in rank order through distributed shared memory (still fixed
// order, doubles), and the upper layer's weight-gradient rows the same way in floats.
//
// The products (pre = h W + b, and the backward's d_out = d_up W_up^T with W_up's rows stored
// transposed) give each thread 4 adjacent channels of up to 4 rows at a time (tower_product): a
// load of h's element serves 4 multiply-adds and the 4 weights load as one float4, about 2.5 times
// the multiply-adds per shared-memory access of one channel a thread. The backward's share of the
// upper layer's weight gradient (sum over the rows of out[r, c] d_up[r, j]) runs on 4 x 4 register
// tiles of (channel, column) a lane over a slice of the rows, the slices added by shuffles
// (tower_outer).
//
// tower_forward_kernel, hidden layer l with input h (B, K), K = the layer below's width:
//   first layer only: h = BatchNorm(x) over K channels, which every block computes for itself
//   (block 0 writes the statistics, block i the rows r = i (mod grid) of bn_y);
//   pre = h W + b;  out = act(pre)                      pre, out (B, C)   W (K, C)
//   top layer only: logits = out head_w + head_b         logits (B, 1)     head_w (C, 1)
//   and, training, the loss with them as bce_with_logits_kernel: loss (1), d_logits (B)
// tower_backward_kernel, top down; U = the width of the layer above (1 above the last hidden
// layer, whose upper layer is the logit) and d_up (B, U) its input gradient (dLogits, or d_pre of
// the layer above):
//   d_w_up[c, :] += sum_r out[r, c] d_up[r, :]    (the upper layer's weight gradient, row c)
//   d_b_up       += sum_r d_up[r, :]              (block 0, where given: the logit's bias)
//   d_out[r, c]   = sum_j d_up[r, j] W_up[c, j]
//   d_pre         = act's backward of d_out (=);  act's parameter gradient (+=);
//   d_bias[c]    += sum_r d_pre[r, c]
// Mode BatchNorm ends the chain: pre = x, out = bn_y, and the BatchNorm's backward takes the
// activation's place (d_param = dGamma, d_bias = dBeta, d_pre = dx). A backward block may stage its
// rows of d_up a chunk of columns at a time (uc), the first three lines then done chunk by chunk.
#include "common.cuh"
#include "normalization.cuh"

#define AUGUR_TOWER_SIGMOID 0
#define AUGUR_TOWER_PRELU 1
#define AUGUR_TOWER_DICE 2
#define AUGUR_TOWER_BATCH_NORM 3

namespace augur {

// Thread t of a tower block works on channel t % cols of the block's cols and on the rows
// r = t / cols (mod blockDim.x / cols).
struct TowerThread {
  int cx, ry, rows;
  __device__ TowerThread(int cols) {
    cx = (int)threadIdx.x % cols;
    ry = (int)threadIdx.x / cols;
    rows = (int)blockDim.x / cols;
  }
};

// A row stride for shared-memory matrices that a warp reads down a column: odd, so that rows fall
// on different banks.
__device__ __forceinline__ int odd_stride(int n) { return n | 1; }

// sum over r < n of f(p[r stride]) in doubles, as four partial sums over r = 0, 1, 2, 3 (mod 4)
// added in that order at the end: chains of n / 4 dependent additions instead of n, with a round's
// four loads in flight together (a thread's sum down a column of shared memory: a channel's sums
// over its thread rows). The rounds stay a loop (unroll 1): unrolled, each of the tower's sums was
// some 250 SASS instructions run once a launch, fetched from L2 as the warps reached them. At batch
// 2048 on the H200 the lines of this function drew half the warp samples of the top layer's
// backward, most of them waiting for instructions (stall_no_inst; ncu's source page, 2026-11-26);
// as a loop each sum is a few dozen instructions, run again from the instruction cache.
template <class T, class F>
__device__ __forceinline__ double sum_in_four(const T* p, int stride, int n, F f) {
  double s[4] = {0.0, 0.0, 0.0, 0.0};
  // the last round's rows past n are left out by predicate, in the loop (a copy of the round after it,
  // as there was, is code run once too)
#pragma unroll 1
  for (int r = 0; r < n; r += 4) {
    T v[4];
#pragma unroll
    for (int u = 0; u < 4; ++u) v[u] = r + u < n ? p[(r + u) * stride] : T(0);
#pragma unroll
    for (int u = 0; u < 4; ++u)
      if (r + u < n) s[u] += f(v[u]);
  }
  return ((s[0] + s[1]) + s[2]) + s[3];
}

// s = sum over r < n of d_r and q = sum of d_r^2, d_r = (double)p[r stride] - x0: a channel's sums for its
// BatchNorm statistics in one pass (the first layer's, over the block's rows), four partial sums of each
// over r = 0, 1, 2, 3 (mod 4) added in that order at the end, as sum_in_four (a loop, as there).
__device__ __forceinline__ void shifted_sums(const float* p, int stride, int n, float x0, double& s, double& q) {
  double a[4] = {0.0, 0.0, 0.0, 0.0}, b[4] = {0.0, 0.0, 0.0, 0.0};
#pragma unroll 1
  for (int r = 0; r < n; r += 4) {
    float v[4];
#pragma unroll
    for (int u = 0; u < 4; ++u) v[u] = r + u < n ? p[(r + u) * stride] : 0.0f;
#pragma unroll
    for (int u = 0; u < 4; ++u)
      if (r + u < n) {
        const double d = (double)v[u] - x0;
        a[u] += d;
        b[u] = fma(d, d, b[u]);
      }
  }
  s = ((a[0] + a[1]) + a[2]) + a[3];
  q = ((b[0] + b[1]) + b[2]) + b[3];
}

// The mean rounded to float, m, and the biased variance about m, as the reference's second pass takes it
// (BatchNorm.statisticsRef, which Dice's statistics share), of B values from their shifted sums s = sum d and
// q = sum d^2, d = x - x0: sum (x - m)^2 = sum (d - e)^2 = q - e (2 s - B e), e = m - x0. About m rather than
// the exact mean, which differs where m's rounding is not small against the spread. The sum is not negative
// in exact arithmetic; where rounding makes it so (a channel all but constant) it is taken as 0.
__device__ __forceinline__ float shifted_moments(float x0, double s, double q, int B, double& var) {
  const float m = (float)(x0 + s / B);
  const double e = (double)m - x0;
  var = fmax(0.0, (q - e * (2.0 * s - B * e)) / B);
  return m;
}

// Channel k's BatchNorm statistics over the batch's B rows from shifted_sums' totals (x0 the shift): mu[k] = m,
// is[k] = 1 / sqrt(var + eps) (shifted_moments); `write` (one block of the launch): the launch's mean,
// inv_std and running statistics too.
__device__ __forceinline__ void bn_statistics(float* mu, float* is, int k, float x0, double s, double q, int B, float eps, bool write,
                                              float* mean, float* inv_std, float* run_mean, float* run_var, float momentum) {
  double var;
  const float m = shifted_moments(x0, s, q, B, var);
  mu[k] = m;
  is[k] = (float)(1.0 / sqrt(var + eps));
  if (write) {
    mean[k] = m;
    inv_std[k] = is[k];
    update_running(run_mean, run_var, k, (double)m, var, (double)B, momentum);
  }
}

// Per channel sums of N values over the block's thread rows, in a fixed order (sum_in_four); every
// thread of the channel gets its totals. `scratch` holds N * blockDim.x doubles; every thread must
// call it.
template <int N>
__device__ __forceinline__ void tower_sums(double (&v)[N], double* scratch, const TowerThread& th, int cols) {
  __syncthreads();  // scratch may still be read by a previous call
  for (int i = 0; i < N; ++i) scratch[i * blockDim.x + threadIdx.x] = v[i];
  __syncthreads();
  for (int i = 0; i < N; ++i) v[i] = sum_in_four(scratch + i * blockDim.x + th.cx, cols, th.rows, [](double x) { return x; });
}

// The sums over the batch of a cluster's blocks (S > 1): each block writes its sums into one of
// two exchange regions of its shared memory (`n` doubles each), in turn, and every block adds the
// S blocks' in rank order after a cluster barrier. A region is written again two exchanges later,
// after the barrier of the exchange in between, which every block reaches only once it has read
// it; an exchange that takes both regions (open_both) has a barrier of its own before it and after
// it. finish() is the barrier after the last exchange's reads: a block may return after it.
template <int S>
struct TowerCluster {
  double* region;  // 2 n doubles
  int n, next = 0;
  bool used = false, both = false;
  __device__ TowerCluster(double* r, int n_) : region(r), n(n_) {}
  // The next region to write: the caller writes its values, passes a cluster_sync(), then reads
  // the cluster's totals with total().
  __device__ double* open() {
    if constexpr (S > 1)
      if (both) {  // the last exchange took both regions: no barrier yet follows its reads
        cluster_sync();
        both = false;
      }
    double* x = region + next * n;
    next ^= 1;
    used = true;
    return x;
  }
  // Both regions for one exchange of up to 2 n values (x[i] and x[n + i] for i < n), used as open()'s. It
  // starts with a cluster barrier where an exchange came before (one of whose regions it writes, with no
  // barrier between that exchange's reads and these writes), and the next open() with one too.
  __device__ double* open_both() {
    if constexpr (S > 1)
      if (used) cluster_sync();
    used = both = true;
    next = 0;
    return region;
  }
  // The sum over the cluster's blocks of element i of the region x, in rank order.
  __device__ double total(double* x, int i) const {
    double t = 0.0;
    for (unsigned q = 0; q < (unsigned)S; ++q) t += cluster_map(x, q)[i];
    return t;
  }
  // Per channel sums over the batch: the block's (tower_sums), then the cluster's; with BOTH in one exchange
  // over both regions (open_both), for N cols doubles that one region (n) may not hold.
  template <int N, bool BOTH = false>
  __device__ void sums(double (&v)[N], double* scratch, const TowerThread& th, int cols) {
    tower_sums<N>(v, scratch, th, cols);
    if constexpr (S > 1) {
      double* x = BOTH ? open_both() : open();
      if (th.ry == 0)
        for (int i = 0; i < N; ++i) x[i * cols + th.cx] = v[i];
      cluster_sync();
      for (int i = 0; i < N; ++i) v[i] = total(x, i * cols + th.cx);
    }
  }
  __device__ void finish() {
    if constexpr (S > 1)
      if (used) cluster_sync();
  }
};

// The rows of the batch a block of a cluster of S takes: [r0, r0 + n).
template <int S>
struct TowerRows {
  int rank, r0, n;
  __device__ explicit TowerRows(int B) {
    rank = S > 1 ? (int)cluster_rank() : 0;
    const int per = (B + S - 1) / S;
    r0 = min(B, rank * per);
    n = min(B, r0 + per) - r0;
  }
};

// A float pointer into shared memory rounded up to 16 bytes (the dynamic shared memory's start is),
// so that rows of 4 floats load as one float4.
__device__ __forceinline__ float* align16(float* p) {
  return p + ((4u - (unsigned)(reinterpret_cast<uintptr_t>(p) >> 2)) & 3u);
}

// v[j] = p[j] for j < CT: one float4 load where CT = 4 (p 16-byte aligned), else CT loads.
template <int CT>
__device__ __forceinline__ void load_adjacent(float (&v)[CT], const float* p) {
  if constexpr (CT == 4) {
    const float4 x = *reinterpret_cast<const float4*>(p);
    v[0] = x.x;
    v[1] = x.y;
    v[2] = x.z;
    v[3] = x.w;
  } else {
#pragma unroll
    for (int j = 0; j < CT; ++j) v[j] = p[j];
  }
}

// acc[q][j] = init + sum_k a[(r0 + q step) lda + k] w[k cols + c0 + j] for q < NR, j < CT: a
// thread's CT adjacent columns of NR rows, init being init[j], or where `from` is given the sum so
// far, from[(r0 + q step) cols + c0 + j] (the fused multiply-adds then go on where an earlier call
// over the k before stopped: the same sum, in the same order, as one call over all of them). One
// load of a's element serves CT multiply-adds, and the CT weights load together (one float4 where
// CT = 4; w and cols keep each row 16-byte aligned).
template <int CT, int NR>
__device__ __forceinline__ void tower_tile(float (&acc)[4][4], const float* a, int lda, const float* w, int cols, int c0, int K,
                                           int r0, int step, const float (&init)[4], const float* from) {
  int off[NR];
#pragma unroll
  for (int q = 0; q < NR; ++q) {
    off[q] = (r0 + q * step) * lda;
#pragma unroll
    for (int j = 0; j < CT; ++j) acc[q][j] = from != nullptr ? from[(r0 + q * step) * cols + c0 + j] : init[j];
  }
  for (int k = 0; k < K; ++k) {
    float wk[CT];
    load_adjacent<CT>(wk, w + k * cols + c0);
#pragma unroll
    for (int q = 0; q < NR; ++q) {
      const float av = a[off[q] + k];
#pragma unroll
      for (int j = 0; j < CT; ++j) acc[q][j] = fmaf(av, wk[j], acc[q][j]);
    }
  }
}

// out[r cols + c] = init(c) + sum_k a[r lda + k] w[k cols + c] for r < n, c < cols: the block's
// product of its rows (a, shared, row stride lda) with its columns of W (w, shared, (K, cols), 16-byte
// aligned). init(c) = bias[cbase + c] where that is below C, else 0 (and 0 without a bias); with
// `more`, out's own value instead (out += a w, the sum going on in the order one call would take:
// a product over k in chunks, each call reading back only what the same thread wrote). Thread t
// takes the CT = min(cols, 4) adjacent columns (t mod cols/CT) CT and the rows t / (cols/CT) + i step,
// up to four of them at a time, step = blockDim.x CT / cols. The caller synchronizes before reading out.
template <int CT>
__device__ __forceinline__ void tower_product_ct(float* out, const float* a, int lda, const float* w, int cols, int K, int n,
                                                 const float* bias, int cbase, int C, bool more) {
  const int groups = cols / CT, g = (int)threadIdx.x % groups, step = (int)blockDim.x / groups, c0 = g * CT;
  const float* from = more ? out : nullptr;
  float init[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  if (bias != nullptr)
    for (int j = 0; j < CT; ++j) init[j] = cbase + c0 + j < C ? bias[cbase + c0 + j] : 0.0f;
  for (int r0 = (int)threadIdx.x / groups; r0 < n; r0 += 4 * step) {
    float acc[4][4];
    switch (min(4, (n - r0 + step - 1) / step)) {
      case 1: tower_tile<CT, 1>(acc, a, lda, w, cols, c0, K, r0, step, init, from); break;
      case 2: tower_tile<CT, 2>(acc, a, lda, w, cols, c0, K, r0, step, init, from); break;
      case 3: tower_tile<CT, 3>(acc, a, lda, w, cols, c0, K, r0, step, init, from); break;
      default: tower_tile<CT, 4>(acc, a, lda, w, cols, c0, K, r0, step, init, from); break;
    }
    for (int q = 0; q < 4; ++q) {
      const int r = r0 + q * step;
      if (r >= n) break;
#pragma unroll
      for (int j = 0; j < CT; ++j) out[r * cols + c0 + j] = acc[q][j];
    }
  }
}

__device__ __forceinline__ void tower_product(float* out, const float* a, int lda, const float* w, int cols, int K, int n,
                                              const float* bias, int cbase, int C, bool more = false) {
  if (cols >= 4) tower_product_ct<4>(out, a, lda, w, cols, K, n, bias, cbase, C, more);
  else if (cols == 2) tower_product_ct<2>(out, a, lda, w, cols, K, n, bias, cbase, C, more);
  else tower_product_ct<1>(out, a, lda, w, cols, K, n, bias, cbase, C, more);
}

// The outer product of the backward, summed over the block's nb rows: store(j2, j, sum_r os[r cols + j2] du[r us + j]) for
// the cols channels j2 and the U columns j (the block's share of the upper layer's weight-gradient rows; the caller
// leaves out channels past C). A warp takes a group of CT = min(cols, 4) channels and 16 columns jb .. jb + 15 at a
// time: lane l takes the columns jb + l % 4 + 4 q (q < 4) and the rows r = l / 4 (mod 8), summing CT x 4 products a
// row in registers from one load of os and four of du, then the 8 lanes of each column set add their sums by shuffles
// (xor 16, 8, 4: a fixed order). One (channel, column) a thread, as before, made two shared loads for every multiply-add
// and a chain of nb dependent ones. Columns past U read column U - 1 and are not stored. Every lane of a warp makes the
// same trips (the shuffles need the whole warp); blockDim.x is a multiple of 32.
template <int CT, class Store>
__device__ __forceinline__ void tower_outer_ct(const float* os, int cols, const float* du, int us, int U, int nb, Store store) {
  constexpr int SLICES = 8, QUADS = 4;
  const int lane = (int)threadIdx.x & 31, warp = (int)threadIdx.x >> 5, warps = (int)blockDim.x >> 5;
  const int t = lane % 4, slice = lane / 4, blocks = (U + 15) / 16, items = (cols / CT) * blocks;
  for (int item = warp; item < items; item += warps) {
    const int cg = item / blocks, jb = (item - cg * blocks) * 16;
    int jc[QUADS];
#pragma unroll
    for (int q = 0; q < QUADS; ++q) jc[q] = min(jb + t + 4 * q, U - 1);
    float acc[CT][QUADS];
#pragma unroll
    for (int c = 0; c < CT; ++c)
#pragma unroll
      for (int q = 0; q < QUADS; ++q) acc[c][q] = 0.0f;
    // the row's operands by pointers stepped SLICES rows at a time (an add each, where indexing from r took a
    // multiply and a shift for every load)
    const float* o = os + slice * cols + cg * CT;
    const float* d = du + slice * us;
#pragma unroll 2
    for (int r = slice; r < nb; r += SLICES, o += SLICES * cols, d += SLICES * us) {
      float a[CT];
      load_adjacent<CT>(a, o);
      float b[QUADS];
#pragma unroll
      for (int q = 0; q < QUADS; ++q) b[q] = d[jc[q]];
#pragma unroll
      for (int c = 0; c < CT; ++c)
#pragma unroll
        for (int q = 0; q < QUADS; ++q) acc[c][q] = fmaf(a[c], b[q], acc[c][q]);
    }
#pragma unroll
    for (int c = 0; c < CT; ++c)
#pragma unroll
      for (int q = 0; q < QUADS; ++q)
        for (int o = 16; o >= 4; o >>= 1) acc[c][q] += __shfl_xor_sync(0xffffffffu, acc[c][q], o);
    if (slice == 0)
#pragma unroll
      for (int q = 0; q < QUADS; ++q) {
        const int j = jb + t + 4 * q;
        if (j >= U) break;
#pragma unroll
        for (int c = 0; c < CT; ++c) store(cg * CT + c, j, acc[c][q]);
      }
  }
}

template <class Store>
__device__ __forceinline__ void tower_outer(const float* os, int cols, const float* du, int us, int U, int nb, Store store) {
  if (cols >= 4) tower_outer_ct<4>(os, cols, du, us, U, nb, store);
  else if (cols == 2) tower_outer_ct<2>(os, cols, du, us, U, nb, store);
  else tower_outer_ct<1>(os, cols, du, us, U, nb, store);
}

}  // namespace augur

// One hidden layer forward (see the top of this file), by a block of a cluster of S (1: no
// cluster). bn_y == nullptr: no BatchNorm before it; logits == nullptr: not the top layer, or the
// logit's product runs as a launch of its own. Dynamic shared memory, with P = ceil(B / S) rows a
// block: 2 blockDim.x doubles, then (S > 1) 2 max(K, cols) doubles of cluster exchange with the
// BatchNorm, 2 cols without, 1 double (the last block's flag), then floats: with a BatchNorm, its mean, 1/std, gamma and beta (4 K); h (P,
// odd_stride(K)), W's block columns (K, cols) from the next 16-byte boundary, and pre's (P, cols).
//   pre, out (B, C); mean, inv_std, run_mean, run_var, alpha, bias (C); in (B, K); w (K, C);
//   bn_y (B, K); bn_mean, bn_inv_std, bn_run_mean, bn_run_var, gamma, beta (K);
//   logits (B); head_w (C); head_b (1); partial (gridDim.x / S, B) scratch; done (1) zero between launches;
//   labels (B) or nullptr (no loss); loss (1); d_logits (B)
#define AUGUR_TOWER_FORWARD_PARAMS                                                                                    \
  float* __restrict__ pre, float* __restrict__ out, float* __restrict__ mean, float* __restrict__ inv_std,             \
      float* __restrict__ run_mean, float* __restrict__ run_var, float* __restrict__ bn_y, float* __restrict__ bn_mean, \
      float* __restrict__ bn_inv_std, float* __restrict__ bn_run_mean, float* __restrict__ bn_run_var,                 \
      const float* __restrict__ in, const float* __restrict__ w, const float* __restrict__ bias,                       \
      const float* __restrict__ alpha, const float* __restrict__ gamma, const float* __restrict__ beta, int B, int K,  \
      int C, int cols, int act, int training, float momentum, float eps, float bn_momentum, float bn_eps,             \
      float* __restrict__ logits, const float* __restrict__ head_w, const float* __restrict__ head_b,                  \
      float* __restrict__ partial, unsigned* __restrict__ done, const float* __restrict__ labels,                      \
      float* __restrict__ loss, float* __restrict__ d_logits, float scale
#define AUGUR_TOWER_FORWARD_ARGS                                                                                      \
  pre, out, mean, inv_std, run_mean, run_var, bn_y, bn_mean, bn_inv_std, bn_run_mean, bn_run_var, in, w, bias, alpha, \
      gamma, beta, B, K, C, cols, act, training, momentum, eps, bn_momentum, bn_eps, logits, head_w, head_b, partial,  \
      done, labels, loss, d_logits, scale

namespace augur {

template <int S>
__device__ __forceinline__ void tower_forward(AUGUR_TOWER_FORWARD_PARAMS) {
  extern __shared__ double smem[];
  if (B <= 0) {
    grid_dependency_wait();
    return;
  }
  const TowerThread th(cols);
  const TowerRows<S> rows(B);
  const int group = (int)blockIdx.x / S, groups = (int)gridDim.x / S, nb = rows.n;
  const int c = group * cols + th.cx, ks = odd_stride(K);
  const bool valid = c < C, lead = rows.rank == 0;  // lead: the block of its cluster that writes the statistics
  const bool norm = bn_y != nullptr;
  // 2 blockDim.x doubles: tower_sums' two per thread (Dice's statistics), and the loss's block_sum
  double* scratch = smem;
  // the exchange's regions: K doubles each for the BatchNorm's sums, cols for Dice's, which without a BatchNorm are all
  const int nx = S > 1 ? (norm ? max(K, cols) : cols) : 0;
  TowerCluster<S> cluster(smem + 2 * blockDim.x, nx);
  int* last_flag = reinterpret_cast<int*>(smem + 2 * blockDim.x + 2 * nx);
  // the BatchNorm's mean, 1/std, gamma and beta (the first layer only)
  float* bn_mu = reinterpret_cast<float*>(smem + 2 * blockDim.x + 2 * nx + 1);
  float* bn_is = bn_mu + K;
  float* bn_g = bn_is + K;
  float* bn_b = bn_g + K;
  float* h = norm ? bn_b + K : bn_mu;
  float* ws = align16(h + (long long)nb * ks);
  float* ys = ws + K * cols;

  // the block's columns of W (K, cols; 0 past the layer's last channel), the BatchNorm's gamma and beta and the
  // block's rows of the input, all in flight together (rows_to_shared); only the parameters are read before the
  // wait, the input being the kernel before's (common.cuh)
  rows_to_shared<true>(ws, cols, 1, w + group * cols, C, K, cols, K, C - group * cols);
  if (norm) {
    rows_to_shared<false>(bn_g, K, 1, gamma, K, 1, K);
    rows_to_shared<false>(bn_b, K, 1, beta, K, 1, K);
  }
  grid_dependency_wait_and_launch();
  rows_to_shared<false>(h, ks, 1, in + (long long)rows.r0 * K, K, nb, K);
  copies_arrived();
  __syncthreads();

  if (norm) {  // every block normalises all K channels of its rows itself
    if (training) {
      // one pass: the sums s of d = x - x0 and q of d^2 over the rows (x0 the channel's value in the batch's row
      // 0, the same for every block of a cluster), from which bn_statistics makes the mean and the variance. The
      // shift keeps q from dwarfing the variance where the mean is large against the spread (a constant channel
      // gives exactly 0), as sums of x and x^2 would not; one pass where the reference takes two.
      double* x = S > 1 ? cluster.open_both() : nullptr;
      for (int k = threadIdx.x; k < K; k += blockDim.x) {
        const float x0 = rows.r0 == 0 ? h[k] : in[k];
        double s, q;
        shifted_sums(h + k, ks, nb, x0, s, q);
        if constexpr (S > 1) {
          x[k] = s;
          x[nx + k] = q;
          bn_mu[k] = x0;  // for this thread's statistics below
          continue;
        }
        bn_statistics(bn_mu, bn_is, k, x0, s, q, B, bn_eps, blockIdx.x == 0, bn_mean, bn_inv_std, bn_run_mean, bn_run_var,
                      bn_momentum);
      }
      if constexpr (S > 1) {
        cluster_sync();
        for (int k = threadIdx.x; k < K; k += blockDim.x)
          bn_statistics(bn_mu, bn_is, k, bn_mu[k], cluster.total(x, k), cluster.total(x, nx + k), B, bn_eps, blockIdx.x == 0,
                        bn_mean, bn_inv_std, bn_run_mean, bn_run_var, bn_momentum);
      }
    } else {
      for (int k = threadIdx.x; k < K; k += blockDim.x) {
        bn_mu[k] = bn_run_mean[k];
        bn_is[k] = (float)(1.0 / sqrt((double)bn_run_var[k] + bn_eps));
        if (blockIdx.x == 0) {
          bn_mean[k] = bn_mu[k];
          bn_inv_std[k] = bn_is[k];
        }
      }
    }
    __syncthreads();
    // h = (h - mean) / std * gamma + beta: lanes over channels, warps over rows (a warp's row of 32 channels is one
    // conflict-free access), all of the block's threads however K falls against them; four rows' loads together
    // (a store may alias the next row's load for all the compiler knows, which would otherwise wait for it)
    {
      const int lane = (int)threadIdx.x & 31, warp = (int)threadIdx.x >> 5, warps = (int)blockDim.x >> 5;
      for (int k = lane; k < K; k += 32) {
        const float mu = bn_mu[k], is = bn_is[k], g = bn_g[k], bt = bn_b[k];
        const int step = warps * ks;
        float* p = h + warp * ks + k;
        int r = warp;
        for (; r + 3 * warps < nb; r += 4 * warps, p += 4 * step) {
          float v[4];
#pragma unroll
          for (int u = 0; u < 4; ++u) v[u] = p[u * step];
#pragma unroll
          for (int u = 0; u < 4; ++u) p[u * step] = (v[u] - mu) * is * g + bt;
        }
        for (; r < nb; r += warps, p += step) *p = (*p - mu) * is * g + bt;
      }
    }
    __syncthreads();
    // the rows of bn_y: row r by the cluster group r mod groups, from the block that holds it
    const int first = rows.r0 + ((group - rows.r0 % groups) % groups + groups) % groups;
    for (int r = first; r < rows.r0 + nb; r += groups)
      for (int k = threadIdx.x; k < K; k += blockDim.x) bn_y[(long long)r * K + k] = h[(r - rows.r0) * ks + k];
  }

  // pre = h W + b, into ys; written to `pre` below, where each thread reads its (row, channel)s back
  tower_product(ys, h, ks, ws, cols, K, nb, bias, group * cols, C);
  __syncthreads();

  if (act == AUGUR_TOWER_DICE) {
    float mu = 0.0f, is = 0.0f;
    if (training) {
      // one pass, as the BatchNorm's above: sums of d = pre - x0 and d^2 in one exchange (one round of the block's
      // sums and of the cluster's where two were), shifted by the channel's bias (the same in every block, and the
      // mean of pre = h W + b but for h W's: the shift keeps q from dwarfing the variance)
      const float x0 = valid && bias != nullptr ? bias[c] : 0.0f;
      double v[2] = {0.0, 0.0};
      for (int r = th.ry; r < nb; r += th.rows) {
        const double d = (double)ys[r * cols + th.cx] - x0;
        v[0] += d;
        v[1] = fma(d, d, v[1]);
      }
      cluster.template sums<2, true>(v, scratch, th, cols);
      double var;
      mu = shifted_moments(x0, v[0], v[1], B, var);
      is = (float)(1.0 / sqrt(var + eps));
      if (valid && th.ry == 0 && lead) {
        mean[c] = mu;
        inv_std[c] = is;
        update_running(run_mean, run_var, c, (double)mu, var, (double)B, momentum);
      }
    } else if (valid) {
      mu = run_mean[c];
      is = (float)(1.0 / sqrt((double)run_var[c] + eps));
      if (th.ry == 0 && lead) {
        mean[c] = mu;
        inv_std[c] = is;
      }
    }
    const float a = valid ? alpha[c] : 0.0f;
    for (int r = th.ry; r < nb; r += th.rows) {
      const float p = ys[r * cols + th.cx];
      const float v = valid ? dice_value(p, mu, is, a) : 0.0f;
      if (valid) {
        pre[(long long)(rows.r0 + r) * C + c] = p;
        out[(long long)(rows.r0 + r) * C + c] = v;
      }
      ys[r * cols + th.cx] = v;  // the thread's own rows: the logit's share below reads them after a barrier
    }
  } else {
    const float a = valid && act == AUGUR_TOWER_PRELU ? alpha[c] : 0.0f;
    for (int r = th.ry; r < nb; r += th.rows) {
      const float p = ys[r * cols + th.cx];
      const float v = !valid ? 0.0f : act == AUGUR_TOWER_PRELU ? (p > 0.0f ? p : a * p) : sigmoidf(p);
      if (valid) {
        pre[(long long)(rows.r0 + r) * C + c] = p;
        out[(long long)(rows.r0 + r) * C + c] = v;
      }
      ys[r * cols + th.cx] = v;
    }
  }
  cluster.finish();  // no block reads another's shared memory after this
  if (logits == nullptr) return;

  // The top layer also makes the logits: each block's share out[r, c0:c0+cols] head_w[c0:c0+cols]
  // for its rows into its group's slice of `partial` (B floats a group). The rows of a cluster rank
  // q are the same in every group, so the last of the rank's `groups` blocks to count itself done
  // in done[q] adds the slices of those rows in group order and the bias (the same sum whichever
  // block finishes last, as gemm_split_done) and sets the counter back to zero for the next launch:
  // S blocks share the logits and the loss's terms, where one block once took all B rows (at batch
  // 2048 in clusters of 8 its 256 threads each took 8 rows' double-precision exp and log1p one
  // after another, some 18 us after the other blocks had finished, on ncu's warp samples).
  // Training, each such block then puts its rows' loss sum in rank_sums[q] (doubles from done + 32:
  // done holds 64 words, zero between launches but for rank_sums, each written before it is read),
  // and the last of the S to count itself done in done[S] adds them in rank order.
  __syncthreads();
  const int c0 = group * cols;
  for (int r = threadIdx.x; r < nb; r += blockDim.x) {
    float v = 0.0f;
    for (int j = 0; j < cols && c0 + j < C; ++j) v = fmaf(ys[r * cols + j], head_w[c0 + j], v);
    partial[(long long)group * B + rows.r0 + r] = v;
  }
  if (!last_block_done(done + rows.rank, groups, last_flag)) return;
  const float hb = head_b[0];
  double sum = 0.0;
  for (int r = rows.r0 + (int)threadIdx.x; r < rows.r0 + nb; r += blockDim.x) {
    float v = 0.0f;
    for (int g = 0; g < groups; ++g) v += __ldcg(partial + (long long)g * B + r);  // L2: other blocks' writes
    v += hb;
    logits[r] = v;
    if (labels == nullptr) continue;
    // the loss with them, as bce_with_logits_kernel (bce.cu) computes it from the stored logit
    const double z = v, y = labels[r];
    sum += fmax(z, 0.0) - z * y + log1p(exp(-fabs(z)));
    d_logits[r] = (float)(scale * (1.0 / (1.0 + exp(-z)) - y) / B);
  }
  if (labels == nullptr) return;
  sum = block_sum(sum, scratch);
  if constexpr (S > 1) {
    double* rank_sums = reinterpret_cast<double*>(done + 32);
    if (threadIdx.x == 0) rank_sums[rows.rank] = sum;
    if (!last_block_done(done + S, S, last_flag)) return;
    if (threadIdx.x == 0) {
      double total = 0.0;
      for (int q = 0; q < S; ++q) total += __ldcg(rank_sums + q);  // L2: other blocks' writes
      loss[0] = (float)(total / B);
    }
  } else if (threadIdx.x == 0) {
    loss[0] = (float)(sum / B);
  }
}

}  // namespace augur

AUGUR_KERNEL void tower_forward_kernel(AUGUR_TOWER_FORWARD_PARAMS) { augur::tower_forward<1>(AUGUR_TOWER_FORWARD_ARGS); }
AUGUR_KERNEL void AUGUR_CLUSTER(2) tower_forward_cluster2_kernel(AUGUR_TOWER_FORWARD_PARAMS) {
  augur::tower_forward<2>(AUGUR_TOWER_FORWARD_ARGS);
}
AUGUR_KERNEL void AUGUR_CLUSTER(4) tower_forward_cluster4_kernel(AUGUR_TOWER_FORWARD_PARAMS) {
  augur::tower_forward<4>(AUGUR_TOWER_FORWARD_ARGS);
}
AUGUR_KERNEL void AUGUR_CLUSTER(8) tower_forward_cluster8_kernel(AUGUR_TOWER_FORWARD_PARAMS) {
  augur::tower_forward<8>(AUGUR_TOWER_FORWARD_ARGS);
}
// Clusters of 16 are above the portable size of 8: the host opts each launch's kernel in first
// (CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED; H100 and H200 place them), and takes them only
// where -Daugur.tower.cluster=16 (or the autotuner) asks: 128 rows a block at batch 2048, whose inputs
// then fit two blocks a multiprocessor where 256 rows fit one.
AUGUR_KERNEL void AUGUR_CLUSTER(16) tower_forward_cluster16_kernel(AUGUR_TOWER_FORWARD_PARAMS) {
  augur::tower_forward<16>(AUGUR_TOWER_FORWARD_ARGS);
}

// One hidden layer backward, or with mode AUGUR_TOWER_BATCH_NORM the BatchNorm's (see the top of
// this file), by a block of a cluster of S. d_b_up: nullptr but above the last hidden layer.
// param: alpha (PReLU, Dice) or gamma (BatchNorm), unused by sigmoid; d_param its gradient.
// A block stages its rows of d_up uc columns at a time (1 <= uc; uc >= U: all at once), taking each
// chunk's share of the upper layer's gradients and adding its products into d_out before the
// next: shared memory for (P, uc) of d_up instead of (P, U), so that a block of more channels, or
// more blocks a multiprocessor, fit (CudaBackend.towerBackwardFor). The sums are the same, in the
// same order, whatever uc.
// Dynamic shared memory, with P = ceil(B / S) rows a block and W = min(uc, U): 3 blockDim.x doubles,
// then (S > 1) 2 (3 cols) doubles of cluster exchange, U doubles (d_b_up's share, where d_b_up is
// given) and floats (cols, U) (d_w_up's share); then floats d_up (P, odd_stride(W)), W_up's block
// rows transposed (U, cols) from the next 16-byte boundary, and the block's columns of out, pre and
// d_out (P, cols) each.
//   d_pre, out, pre (B, C); d_param, d_bias, mean, inv_std, param (C); d_w_up, w_up (C, U);
//   d_b_up (U); d_up (B, U)
#define AUGUR_TOWER_BACKWARD_PARAMS                                                                                      \
  float* __restrict__ d_pre, float* __restrict__ d_param, float* __restrict__ d_bias, float* __restrict__ d_w_up,       \
      float* __restrict__ d_b_up, const float* __restrict__ d_up, const float* __restrict__ w_up,                        \
      const float* __restrict__ out, const float* __restrict__ pre, const float* __restrict__ mean,                      \
      const float* __restrict__ inv_std, const float* __restrict__ param, int B, int C, int U, int cols, int mode, int uc
#define AUGUR_TOWER_BACKWARD_ARGS d_pre, d_param, d_bias, d_w_up, d_b_up, d_up, w_up, out, pre, mean, inv_std, param, B, C, U, cols, mode, uc

namespace augur {

template <int S>
__device__ __forceinline__ void tower_backward(AUGUR_TOWER_BACKWARD_PARAMS) {
  extern __shared__ double smem[];
  if (B <= 0) {
    grid_dependency_wait();
    return;
  }
  const TowerThread th(cols);
  const TowerRows<S> rows(B);
  const int group = (int)blockIdx.x / S, nb = rows.n;
  const int c0 = group * cols, c = c0 + th.cx, W = max(1, min(uc, U)), us = odd_stride(W);
  const bool valid = c < C, lead = rows.rank == 0;
  double* scratch = smem;
  const int nx = S > 1 ? 3 * cols : 0;
  TowerCluster<S> cluster(smem + 3 * blockDim.x, nx);
  double* xb = smem + 3 * blockDim.x + 2 * nx;                                        // S > 1: this block's share of d_b_up (U)
  float* xw = reinterpret_cast<float*>(xb + (S > 1 && d_b_up != nullptr ? U : 0));  // S > 1: its share of d_w_up's rows (cols, U)
  float* du = xw + (S > 1 ? cols * U : 0);
  float* wu = align16(du + (long long)nb * us);  // W_up's block rows transposed: (U, cols)
  float* os = wu + U * cols;
  float* ps = os + nb * cols;
  float* dos = ps + nb * cols;

  // the block's rows of W_up transposed, 0 past the layer's last channel (the copies arrive with the
  // first chunk's below)
  rows_to_shared<true>(wu, 1, cols, w_up + (long long)c0 * U, U, cols, U, C - c0, U);
  // only the upper layer's weights read so far: d_up, out and pre are the kernels before's (common.cuh)
  grid_dependency_wait_and_launch();
  // the block's channels of out and pre (nb, cols), 0 past the layer's last (they arrive with the first chunk's)
  rows_to_shared<true>(os, cols, 1, out + (long long)rows.r0 * C + c0, C, nb, cols, nb, C - c0);
  rows_to_shared<true>(ps, cols, 1, pre + (long long)rows.r0 * C + c0, C, nb, cols, nb, C - c0);

  // d_up's columns [j0, j0 + w) at a time: rows c of the upper layer's weight gradient over the block's rows (and
  // group 0 the upper bias's), then d_out += d_up[:, j0:j0+w] W_up[c, j0:j0+w]^T for the block's channels, each
  // (row, channel)'s thread reading back only its own partial sums from the chunk before
  const bool upper_bias = d_b_up != nullptr && group == 0;
  const RowThreads chunk(W);  // the chunks' copies (a division a chunk pushed the cluster kernels past 80 registers)
  const float* d_up_rows = d_up + (long long)rows.r0 * U;
  for (int j0 = 0; j0 < U; j0 += W) {
    const int w = min(W, U - j0);
    if (j0 > 0) __syncthreads();  // every read of the chunk before is done
    chunk.copy<false>(du, us, 1, d_up_rows + j0, U, nb, w);
    copies_arrived();
    __syncthreads();
    tower_outer(os, cols, du, us, w, nb, [&](int j2, int j, float v) {
      if (c0 + j2 >= C) return;
      if constexpr (S > 1) xw[j2 * U + j0 + j] = v;
      else d_w_up[(long long)(c0 + j2) * U + j0 + j] += v;
    });
    if (upper_bias)
      for (int j = threadIdx.x; j < w; j += blockDim.x) {
        double s = 0.0;
        for (int r = 0; r < nb; ++r) s += du[r * us + j];
        if constexpr (S > 1) xb[j0 + j] = s;
        else d_b_up[j0 + j] += (float)s;
      }
    tower_product(dos, du, us, wu + j0 * cols, cols, w, nb, nullptr, 0, 0, j0 > 0);
  }
  // then (S > 1) the cluster's shares, each block adding an S-th of them
  if constexpr (S > 1) {
    cluster_sync();  // the blocks' shares are read before the next exchange's barrier (cluster.sums below)
    const int step = (int)blockDim.x * S;
    for (int i = rows.rank * (int)blockDim.x + (int)threadIdx.x; i < cols * U; i += step) {
      const int j2 = i / U, j = i - j2 * U;
      if (c0 + j2 >= C) continue;
      float t = 0.0f;
      for (unsigned q = 0; q < (unsigned)S; ++q) t += cluster_map(xw, q)[i];
      d_w_up[(long long)(c0 + j2) * U + j] += t;
    }
    if (upper_bias)
      for (int j = rows.rank * (int)blockDim.x + (int)threadIdx.x; j < U; j += step) {
        double t = 0.0;
        for (unsigned q = 0; q < (unsigned)S; ++q) t += cluster_map(xb, q)[j];
        d_b_up[j] += (float)t;
      }
  }
  __syncthreads();

  const float p = valid && param != nullptr ? param[c] : 0.0f;
  if (mode == AUGUR_TOWER_BATCH_NORM) {
    const float mu = valid ? mean[c] : 0.0f, is = valid ? inv_std[c] : 0.0f;
    double s[2] = {0.0, 0.0};
    for (int r = th.ry; r < nb; r += th.rows) {
      const float dy = dos[r * cols + th.cx], xhat = (ps[r * cols + th.cx] - mu) * is;
      s[0] += dy;
      s[1] += (double)dy * xhat;
    }
    cluster.template sums<2>(s, scratch, th, cols);
    cluster.finish();
    if (!valid) return;
    if (th.ry == 0 && lead) {
      d_bias[c] += (float)s[0];
      d_param[c] += (float)s[1];
    }
    const float mean_dy = (float)(s[0] / B), mean_dyx = (float)(s[1] / B), scale = p * is;
    for (int r = th.ry; r < nb; r += th.rows) {
      const float dy = dos[r * cols + th.cx], xhat = (ps[r * cols + th.cx] - mu) * is;
      d_pre[(long long)(rows.r0 + r) * C + c] = scale * (dy - mean_dy - xhat * mean_dyx);
    }
    return;
  }

  double sums[2] = {0.0, 0.0};  // the thread's rows' shares of the bias's gradient and of the activation parameter's
  double dice_alpha = 0.0;      // Dice's parameter gradient, already summed over the rows
  if (mode == AUGUR_TOWER_DICE) {
    const float mu = valid ? mean[c] : 0.0f, is = valid ? inv_std[c] : 0.0f;
    double s[3] = {0.0, 0.0, 0.0};
    for (int r = th.ry; r < nb; r += th.rows) {
      const float x = ps[r * cols + th.cx], dy = dos[r * cols + th.cx];
      const DiceTerms d(x, dy, mu, is, p);
      s[0] += d.dz;
      s[1] += (double)d.dz * d.z;
      s[2] += (double)dy * x * (1 - d.p);
    }
    cluster.template sums<3>(s, scratch, th, cols);
    dice_alpha = s[2];
    const float mean_dz = (float)(s[0] / B), mean_dzz = (float)(s[1] / B);
    for (int r = th.ry; r < nb; r += th.rows) {
      const float x = ps[r * cols + th.cx], dy = dos[r * cols + th.cx];
      const float dx = DiceTerms(x, dy, mu, is, p).dx(dy, is, p, mean_dz, mean_dzz);
      if (valid) d_pre[(long long)(rows.r0 + r) * C + c] = dx;
      sums[0] += dx;
    }
  } else {
    for (int r = th.ry; r < nb; r += th.rows) {
      const float x = ps[r * cols + th.cx], dy = dos[r * cols + th.cx];
      float dx;
      if (mode == AUGUR_TOWER_PRELU) {
        dx = x > 0.0f ? dy : p * dy;
        sums[1] += x > 0.0f ? 0.0 : (double)x * dy;
      } else {
        const float y = os[r * cols + th.cx];
        dx = dy * y * (1 - y);
      }
      if (valid) d_pre[(long long)(rows.r0 + r) * C + c] = dx;
      sums[0] += dx;
    }
  }
  cluster.template sums<2>(sums, scratch, th, cols);
  cluster.finish();
  if (!valid || th.ry != 0 || !lead) return;
  d_bias[c] += (float)sums[0];
  if (mode == AUGUR_TOWER_DICE) d_param[c] += (float)dice_alpha;
  else if (mode == AUGUR_TOWER_PRELU) d_param[c] += (float)sums[1];
}

}  // namespace augur

// At most 80 registers a thread (3 blocks of 256 threads a multiprocessor, as at 72 before the chunk loop, which
// left to itself ptxas gave 96 in the cluster kernels: 2 blocks), without spills (KernelResourcesTest).
AUGUR_KERNEL void __launch_bounds__(256, 3) tower_backward_kernel(AUGUR_TOWER_BACKWARD_PARAMS) { augur::tower_backward<1>(AUGUR_TOWER_BACKWARD_ARGS); }
AUGUR_KERNEL void __launch_bounds__(256, 3) AUGUR_CLUSTER(2) tower_backward_cluster2_kernel(AUGUR_TOWER_BACKWARD_PARAMS) {
  augur::tower_backward<2>(AUGUR_TOWER_BACKWARD_ARGS);
}
AUGUR_KERNEL void __launch_bounds__(256, 3) AUGUR_CLUSTER(4) tower_backward_cluster4_kernel(AUGUR_TOWER_BACKWARD_PARAMS) {
  augur::tower_backward<4>(AUGUR_TOWER_BACKWARD_ARGS);
}
AUGUR_KERNEL void __launch_bounds__(256, 3) AUGUR_CLUSTER(8) tower_backward_cluster8_kernel(AUGUR_TOWER_BACKWARD_PARAMS) {
  augur::tower_backward<8>(AUGUR_TOWER_BACKWARD_ARGS);
}
AUGUR_KERNEL void __launch_bounds__(256, 3) AUGUR_CLUSTER(16) tower_backward_cluster16_kernel(AUGUR_TOWER_BACKWARD_PARAMS) {
  augur::tower_backward<16>(AUGUR_TOWER_BACKWARD_ARGS);
}
