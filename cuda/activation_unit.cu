// The activation unit (DIN's local attention; DIEN's attention over GRU states), fused.
// CPU reference: io.augur.backend.cpu.ActivationUnit. For sample b and valid position t < len_b:
//   z     = [q, k, q - k, q * k]                (4W)
//   a1    = act(z W1 + b1)                      (h1)        act: sigmoid or PReLU
//   a2    = act(a1 W2 + b2)                     (h2)
//   score = a2 w3 + b3
//   w_bt  = score, or its softmax over t < len_b;  w_bt = 0 for t >= len_b
//   out_b = sum_t w_bt k_bt
// Projection trick (as the CPU fast path): z W1 = q (Wq + Wd) + k (Wk - Wd) + (q * k) Wp, so the
// per-sample term P_b = q Ma + b1 (Ma = Wq + Wd) costs W x h1 once per chunk and each position
// a 2W x h1 product with M2 = [Wk - Wd ; Wp] on r = [k, q * k].
//
// The MLP's work is split into items, a chunk of `rows` positions of one sample each (item
// b * chunks + j holds positions [j rows, min((j + 1) rows, len_b)); items past the length are
// empty), so a long history spreads over several blocks instead of setting the step's time on
// one: at batch 128 one sample of 100 positions would otherwise be a single block's work while
// the rest of the GPU waits. The softmax and the weighted sum, which need a sample's every
// position, are the per-sample pool kernels below. Kernels, in launch order:
//   activation_unit_prepare_kernel        Ma (W, h1), M2 (2W, h1) from W1 into the workspace, and
//                                         the transposes Mat, M2t, W2t the backward reads
//   activation_unit_forward_kernel        items strided over the grid: r built on the fly, the MLP
//                                         on the chunk in shared memory, score (B, T) at its positions
//   activation_unit_pool_forward_kernel   per sample: the weights (masked, softmax if asked), out
// and backward:
//   activation_unit_backward_kernel       the items that hold positions, dealt out evenly over a.blocks
//                                         blocks (count_items): the pool's backward at
//                                         the chunk's positions (d score, through the softmax, and
//                                         the pool's share of dKeys), then recomputes the chunk's
//                                         hidden activations (nothing of size (B, T, h1) is stored),
//                                         adds the chunk's dKeys (+=), writes its share of dQuery to
//                                         dq_partials (=) and adds the parameter gradients into the
//                                         block's own slice of `partials` (no atomics)
//   activation_unit_reduce_kernel         sums the slices in block order into the parameter gradients
//                                         (+=), W1's four blocks from Ma and M2, and each sample's
//                                         chunks of dq_partials in chunk order into dQuery (+=)
// The per-position products (R M2, A1 W2 and, backward, D2 W2^T, A1^T D2, R^T D1, D1 M2^T) run
// through tiled_product: each thread keeps a 4 x 4 tile of outputs in registers, so an inner step
// is 8 loads for 16 FMAs, and every weight matrix is read along its rows (coalesced).
// With `--precision tf32` the same kernels run as activation_unit_forward_tf32_kernel and
// activation_unit_backward_tf32_kernel: every tiled_product becomes an mma_product on the TF32
// tensor cores (compute capability 8.0 and newer), nothing else changes.
// Dice in the unit normalises over all valid positions of the batch, which a per-chunk kernel
// cannot see: that unit runs layer by layer (activation_unit_unfused.cu) and shares the pool kernels.
#include "common.cuh"

// One argument block for the prepare, forward, backward and reduce kernels (apex's habit: one
// struct instead of thirty arguments). io.augur.backend.cuda.AttentionArgs writes it byte for
// byte: 33 pointers, then 10 ints.
struct AttentionArgs {
  float* score;        // (B, T) forward: written at valid positions
  const float* d_out;    // (B, W) backward: d loss / d out, or nullptr (the pool's backward, done in the MLP's items)
  float* dq_partials;  // (B, chunks, W) backward: each item's share of dQuery
  float* d_query;      // (B, W) +=
  float* d_keys;       // (B, T, W) +=
  float* partials;     // (blocks, PARTIAL) per-block parameter gradients
  int* status;
  float* ma;           // (W, h1)  Wq + Wd
  float* mat;          // (h1, W)  Ma transposed
  float* m2;           // (2W, h1) [Wk - Wd ; Wp]
  float* m2t;          // (h1, 2W) M2 transposed
  float* w2t;          // (h2, h1) W2 transposed
  const float* query;  // (B, W)
  const float* keys;   // (B, T, W)
  const int* lengths;  // (B)
  const float* w1;     // (4W, h1)
  const float* b1;     // (h1)
  const float* alpha1; // (h1) or nullptr (sigmoid)
  const float* w2;     // (h1, h2)
  const float* b2;     // (h2)
  const float* alpha2; // (h2) or nullptr
  const float* w3;     // (h2)
  const float* b3;     // (1)
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
  int B, T, W, h1, h2;
  int rows;     // positions per chunk (item)
  int act;      // 0 sigmoid, 1 PReLU
  int blocks;   // backward grid size = slices of `partials`
  int local;    // backward: accumulate the block's partial gradients in shared memory (1) or in its slice of `partials` (0)
  int softmax;  // backward: the weights are the scores' softmax (1) or the scores (0)
};

namespace {

__device__ __forceinline__ float act_forward(int act, float x, float alpha) {
  return act == 0 ? augur::sigmoidf(x) : (x > 0.0f ? x : alpha * x);
}

// d(act)/dx from the saved input and output.
__device__ __forceinline__ float act_derivative(int act, float pre, float post, float alpha) {
  return act == 0 ? post * (1.0f - post) : (pre > 0.0f ? 1.0f : alpha);
}

// Per-block partial gradients, in floats: dM2 (2W, h1), db1, dAlpha1 (h1), dW2 (h1, h2), db2,
// dAlpha2, dW3 (h2), db3 (1), then dMa (W, h1). With a.local the block keeps [0, dma) in shared
// memory and adds dMa in its slice in global memory: each item adds into dMa once (W h1 floats,
// a quarter of its partial-gradient updates), and leaving those 11.5 KB (Amazon config) off chip
// lets a third block of the backward onto an H200 multiprocessor (72 KB a block instead of 84).
struct PartialLayout {
  int dm2, db1, da1, dw2, db2, da2, dw3, db3, dma, size;
  __device__ PartialLayout(int W, int h1, int h2) {
    dm2 = 0;
    db1 = dm2 + 2 * W * h1;
    da1 = db1 + h1;
    dw2 = da1 + h1;
    db2 = dw2 + h1 * h2;
    da2 = db2 + h2;
    dw3 = da2 + h2;
    db3 = dw3 + h2;
    dma = db3 + 1;
    size = dma + W * h1;
  }
};

__device__ __forceinline__ int clamp_length(const AttentionArgs& a, int b) {
  return augur::checked_length(a.lengths, b, a.T, a.status);
}

// P[j] = b1[j] + sum_c q[c] Ma[c, j]
__device__ __forceinline__ void per_sample_term(float* P, const float* q, const AttentionArgs& a) {
  for (int j = threadIdx.x; j < a.h1; j += blockDim.x) {
    float s = 0.0f;
#pragma unroll 8  // the loads in flight together: this sits on every item's critical path
    for (int c = 0; c < a.W; ++c) s += q[c] * a.ma[c * a.h1 + j];
    P[j] = s + a.b1[j];
  }
}

// Register-tiled product of two small matrices, for every i < M, j < N:
//   epi(i, j, sum over k < K, in k order, of A[i a_i + k a_k] Bm[k b_k + j b_j])
// (strides let either operand be read transposed). The block's threads share ceil(M / TM) x
// ceil(N / TN) tiles; a thread's tile has the rows tm + tiles_m ii and the columns tn + tiles_n jj,
// so consecutive threads read consecutive columns of Bm (with b_j = 1: coalesced from global
// memory, no bank conflicts from shared memory) and a warp reads a few neighbouring rows of A.
// Out-of-range rows and columns are clamped for the loads and skipped by the epilogue. epi is
// called once per element by the thread that owns it; no synchronisation inside.
// One tile t (< tiles_m tiles_n) of tiled_product, by the calling thread.
template <int TM, int TN, class Epi>
__device__ __forceinline__ void product_tile(int t, int M, int N, int K, const float* A, int a_i, int a_k, const float* Bm,
                                             int b_k, int b_j, Epi epi) {
  const int tiles_m = (M + TM - 1) / TM, tiles_n = (N + TN - 1) / TN;
  {
    const int tm = t / tiles_n, tn = t % tiles_n;
    const float* ap[TM];
    const float* bp[TN];
#pragma unroll
    for (int ii = 0; ii < TM; ++ii) ap[ii] = A + min(tm + tiles_m * ii, M - 1) * a_i;
#pragma unroll
    for (int jj = 0; jj < TN; ++jj) bp[jj] = Bm + min(tn + tiles_n * jj, N - 1) * b_j;
    float acc[TM][TN];
#pragma unroll
    for (int ii = 0; ii < TM; ++ii)
#pragma unroll
      for (int jj = 0; jj < TN; ++jj) acc[ii][jj] = 0.0f;
#pragma unroll 4
    for (int k = 0; k < K; ++k) {
      float av[TM], bv[TN];
#pragma unroll
      for (int ii = 0; ii < TM; ++ii) av[ii] = ap[ii][k * a_k];
#pragma unroll
      for (int jj = 0; jj < TN; ++jj) bv[jj] = bp[jj][k * b_k];
#pragma unroll
      for (int ii = 0; ii < TM; ++ii)
#pragma unroll
        for (int jj = 0; jj < TN; ++jj) acc[ii][jj] += av[ii] * bv[jj];
    }
#pragma unroll
    for (int ii = 0; ii < TM; ++ii) {
      const int i = tm + tiles_m * ii;
#pragma unroll
      for (int jj = 0; jj < TN; ++jj) {
        const int j = tn + tiles_n * jj;
        if (i < M && j < N) epi(i, j, acc[ii][jj]);
      }
    }
  }
}

template <int TM, int TN, class Epi>
__device__ __forceinline__ void tiled_product(int M, int N, int K, const float* A, int a_i, int a_k, const float* Bm,
                                              int b_k, int b_j, Epi epi) {
  if (M <= 0 || N <= 0) return;
  const int tiles = ((M + TM - 1) / TM) * ((N + TN - 1) / TN);
  for (int t = threadIdx.x; t < tiles; t += blockDim.x) product_tile<TM, TN>(t, M, N, K, A, a_i, a_k, Bm, b_k, b_j, epi);
}

constexpr int TILE = 4;  // tiled_product's TM = TN throughout

// A product's shape and operands, as tiled_product takes them.
struct Operands {
  int M, N, K;
  const float* A;
  int a_i, a_k;
  const float* Bm;
  int b_k, b_j;
  __device__ int tiles() const { return M > 0 && N > 0 ? ((M + TILE - 1) / TILE) * ((N + TILE - 1) / TILE) : 0; }
};

// Two independent products of one stage of the backward, P with few tiles over a long K (a chunk's
// rows times a weight matrix) and Q with many over a short K (a weight gradient over the chunk's
// rows), shared out by cost: P's tiles one per thread (when they are fewer than the threads), then
// each thread without a P tile takes up to K_P / K_Q of Q's tiles while the others do P, and the
// rest of Q goes round all the threads. At 16 rows (Amazon config) the stages' longest threads walk
// 56 and 96 k steps instead of 72 and 128 (P first, then Q, each strided over the block). The same
// elements, each summed in k order by one thread, as tiled_product sums them.
template <class EpiP, class EpiQ>
__device__ __forceinline__ void tiled_product_pair(const Operands& p, EpiP epi_p, const Operands& q, EpiQ epi_q) {
  const int n_p = p.tiles(), n_q = q.tiles(), threads = blockDim.x, t = threadIdx.x;
  if (n_p == 0 || n_q == 0 || n_p >= threads) {  // the same for the whole block
    tiled_product<TILE, TILE>(p.M, p.N, p.K, p.A, p.a_i, p.a_k, p.Bm, p.b_k, p.b_j, epi_p);
    tiled_product<TILE, TILE>(q.M, q.N, q.K, q.A, q.a_i, q.a_k, q.Bm, q.b_k, q.b_j, epi_q);
    return;
  }
  const int idle = threads - n_p;  // threads without a P tile
  const int each = min(p.K / max(q.K, 1), (n_q + idle - 1) / idle);
  const int first = min(n_q, idle * each);  // Q's tiles [0, first) go to the idle threads, `each` apiece
  if (t < n_p) product_tile<TILE, TILE>(t, p.M, p.N, p.K, p.A, p.a_i, p.a_k, p.Bm, p.b_k, p.b_j, epi_p);
  else
    for (int u = t - n_p; u < first; u += idle) product_tile<TILE, TILE>(u, q.M, q.N, q.K, q.A, q.a_i, q.a_k, q.Bm, q.b_k, q.b_j, epi_q);
  for (int u = first + t; u < n_q; u += threads) product_tile<TILE, TILE>(u, q.M, q.N, q.K, q.A, q.a_i, q.a_k, q.Bm, q.b_k, q.b_j, epi_q);
}

// tiled_product's contract on the TF32 tensor cores (`--precision tf32`, compute capability 8.0
// and newer): A and Bm are rounded to TF32 as they are loaded and the products summed in fp32 by
// mma.sync (common.cuh's mma_tf32), in the tensor core's order rather than k order. Each warp
// takes 16 x 16 tiles of the output (two m16n8k8 products per k step, sharing A's fragment); rows,
// columns and k past the ends load as zero, so any M, N, K work. epi(i, j, s) is called once per
// element by the lane that holds it. blockDim.x is a multiple of 32 and every thread calls it.
template <class Epi>
__device__ __forceinline__ void mma_product(int M, int N, int K, const float* A, int a_i, int a_k, const float* Bm,
                                            int b_k, int b_j, Epi epi) {
  if (M <= 0 || N <= 0) return;
  const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3, warps = blockDim.x >> 5;
  const int tiles_m = (M + 15) / 16, tiles_n = (N + 15) / 16;
  for (int tile = threadIdx.x >> 5; tile < tiles_m * tiles_n; tile += warps) {  // the same for a warp's lanes
    const int m0 = tile / tiles_n * 16, n0 = tile % tiles_n * 16;
    const int r_lo = m0 + g, r_hi = m0 + g + 8;
    float d[2][4] = {{0.0f, 0.0f, 0.0f, 0.0f}, {0.0f, 0.0f, 0.0f, 0.0f}};
    for (int k0 = 0; k0 < K; k0 += 8) {
      const int k_lo = k0 + t, k_hi = k0 + t + 4;
      const bool in_lo = k_lo < K, in_hi = k_hi < K;
      uint32_t a[4], b[2];
      a[0] = r_lo < M && in_lo ? augur::to_tf32(A[r_lo * a_i + k_lo * a_k]) : 0u;
      a[1] = r_hi < M && in_lo ? augur::to_tf32(A[r_hi * a_i + k_lo * a_k]) : 0u;
      a[2] = r_lo < M && in_hi ? augur::to_tf32(A[r_lo * a_i + k_hi * a_k]) : 0u;
      a[3] = r_hi < M && in_hi ? augur::to_tf32(A[r_hi * a_i + k_hi * a_k]) : 0u;
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int col = n0 + 8 * h + g;
        b[0] = col < N && in_lo ? augur::to_tf32(Bm[k_lo * b_k + col * b_j]) : 0u;
        b[1] = col < N && in_hi ? augur::to_tf32(Bm[k_hi * b_k + col * b_j]) : 0u;
        augur::mma_tf32(d[h], a, b);
      }
    }
#pragma unroll
    for (int h = 0; h < 2; ++h)
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        const int i = m0 + g + 8 * (q >> 1), j = n0 + 8 * h + 2 * t + (q & 1);
        if (i < M && j < N) epi(i, j, d[h][q]);
      }
  }
}

// The unit's products: fp32 FMAs (tiled_product) or, with TF32, the tensor cores (mma_product).
template <bool TF32, class Epi>
__device__ __forceinline__ void product(int M, int N, int K, const float* A, int a_i, int a_k, const float* Bm, int b_k,
                                        int b_j, Epi epi) {
  if constexpr (TF32) mma_product(M, N, K, A, a_i, a_k, Bm, b_k, b_j, epi);
  else tiled_product<TILE, TILE>(M, N, K, A, a_i, a_k, Bm, b_k, b_j, epi);
}

// For the n positions [t0, t0 + n) of a sample: R = [k, q * k], H1 = R M2 + P, A1 = act(H1),
// H2 = A1 W2 + b2, A2 = act(H2). H1 / H2 may be nullptr (forward keeps only the outputs).
template <bool TF32>
__device__ void chunk_forward(float* R, float* H1, float* A1, float* H2, float* A2, const float* q, const float* P,
                              const float* kb, int t0, int n, const AttentionArgs& a) {
  const int W = a.W, W2 = 2 * a.W, h1 = a.h1, h2 = a.h2;
  for (int e = threadIdx.x; e < n * W; e += blockDim.x) {
    const int r = e / W, c = e % W;
    const float k = kb[(long long)(t0 + r) * W + c];
    R[r * W2 + c] = k;
    R[r * W2 + W + c] = q[c] * k;
  }
  __syncthreads();
  product<TF32>(n, h1, W2, R, W2, 1, a.m2, h1, 1, [&](int r, int j, float s) {
    s += P[j];
    if (H1 != nullptr) H1[r * h1 + j] = s;
    A1[r * h1 + j] = act_forward(a.act, s, a.alpha1 != nullptr ? a.alpha1[j] : 0.0f);
  });
  __syncthreads();
  product<TF32>(n, h2, h1, A1, h1, 1, a.w2, h2, 1, [&](int r, int j, float s) {
    s += a.b2[j];
    if (H2 != nullptr) H2[r * h2 + j] = s;
    A2[r * h2 + j] = act_forward(a.act, s, a.alpha2 != nullptr ? a.alpha2[j] : 0.0f);
  });
  __syncthreads();
}

}  // namespace

// Ma[c, j] = W1[c, j] + W1[2W + c, j];  M2[c, j] = W1[W + c, j] - W1[2W + c, j];  M2[W + c, j] = W1[3W + c, j];
// Mat = Ma^T, M2t = M2^T, W2t = W2^T (for the backward's G Ma^T, D1 M2^T and D2 W2^T, read along rows)
AUGUR_KERNEL void activation_unit_prepare_kernel(AttentionArgs a) {
  const int W = a.W, W2 = 2 * a.W, h1 = a.h1, h2 = a.h2;
  AUGUR_GRID_STRIDE(idx, (long long)W * h1 + (long long)h1 * h2) {
    if (idx < (long long)W * h1) {
      const int c = (int)(idx / h1), j = (int)(idx % h1);
      const float wq = a.w1[c * h1 + j], wk = a.w1[(W + c) * h1 + j];
      const float wd = a.w1[(2 * W + c) * h1 + j], wp = a.w1[(3 * W + c) * h1 + j];
      a.ma[idx] = wq + wd;
      a.mat[j * W + c] = wq + wd;
      a.m2[idx] = wk - wd;
      a.m2[(W + c) * h1 + j] = wp;
      a.m2t[j * W2 + c] = wk - wd;
      a.m2t[j * W2 + W + c] = wp;
    } else {
      const int e = (int)(idx - (long long)W * h1), i = e / h2, j = e % h2;
      a.w2t[j * h1 + i] = a.w2[e];
    }
  }
}

// Grid: any size, the B * chunks items strided over it. Dynamic shared memory, in floats: q (W),
// P (h1), R (rows, 2W), A1 (rows, h1), A2 (rows, h2). score is written at the valid positions alone.
namespace {
template <bool TF32>
__device__ void forward_items(const AttentionArgs& a) {
  extern __shared__ double smem[];
  const int W = a.W, T = a.T, h1 = a.h1, h2 = a.h2, rows = a.rows, chunks = (T + rows - 1) / rows;
  float* q = reinterpret_cast<float*>(smem);
  float* P = q + W;
  float* R = P + h1;
  float* A1 = R + rows * 2 * W;
  float* A2 = A1 + rows * h1;
  for (long long item = blockIdx.x; item < (long long)a.B * chunks; item += gridDim.x) {
    const int b = (int)(item / chunks), t0 = (int)(item % chunks) * rows;
    const int len = clamp_length(a, b);
    if (t0 >= len) continue;  // the same for the whole block
    const int n = min(rows, len - t0);
    const float* kb = a.keys + (long long)b * T * W;
    for (int c = threadIdx.x; c < W; c += blockDim.x) q[c] = a.query[(long long)b * W + c];
    __syncthreads();
    per_sample_term(P, q, a);
    __syncthreads();
    chunk_forward<TF32>(R, nullptr, A1, nullptr, A2, q, P, kb, t0, n, a);
    for (int r = threadIdx.x; r < n; r += blockDim.x) {
      float s = 0.0f;
      for (int j = 0; j < h2; ++j) s += A2[r * h2 + j] * a.w3[j];
      a.score[(long long)b * T + t0 + r] = s + a.b3[0];
    }
    __syncthreads();  // the next item reuses q, P and A2
  }
}

}  // namespace

AUGUR_KERNEL void activation_unit_forward_kernel(AttentionArgs a) { forward_items<false>(a); }
// The same with the MLP's products on the TF32 tensor cores (compute capability 8.0 and newer).
AUGUR_KERNEL void activation_unit_forward_tf32_kernel(AttentionArgs a) { forward_items<true>(a); }

// Grid: a.blocks blocks, the items that hold positions dealt out over them. Dynamic shared memory,
// in floats: with a.local the block's partial gradients but dMa (PartialLayout::dma), then q, dq (W each),
// P, G (h1 each), dsc (rows), R (rows, 2W), H1, A1, D1 (rows, h1 each), H2, A2, D2 (rows, h2
// each), dR (rows, 2W). Every item adds into dM2 and dW2 (about 9,000 floats in the Amazon
// config), so with a.local those read-modify-writes stay on chip and the slice is written once at
// the end.
namespace {
// The pool's backward at positions [t0, t0 + n) of sample b (len valid), into dsc (n): with
// g_t = d_weights[b, t] + d_out[b] . k_t (either term absent when its pointer is nullptr),
// d score_t = g_t, or through the softmax w_t (g_t - sum_{s < len} w_s g_s), the sum over the
// sample's every position (each of its items computes it, in the same order). The arithmetic of
// activation_unit_pool_backward_kernel, which the unfused (Dice) unit still launches. Every thread
// calls it (the softmax's sum is a block reduction).
// The pool's g_t = d_weights[row0 + t] + d_out_b . k_t (kb: the sample's keys; either term absent
// when its pointer is nullptr), summed in c order. Both pool backwards use it.
__device__ __forceinline__ float pool_score_grad(const float* d_weights, const float* dob, const float* kb, long long row0,
                                                 int t, int W) {
  float g = d_weights != nullptr ? d_weights[row0 + t] : 0.0f;
  if (dob != nullptr)
#pragma unroll 8
    for (int c = 0; c < W; ++c) g += dob[c] * kb[(long long)t * W + c];
  return g;
}

__device__ void pool_backward_chunk(float* dsc, int b, int t0, int n, int len, const AttentionArgs& a) {
  __shared__ double scratch[32];
  const int W = a.W, T = a.T;
  const long long row0 = (long long)b * T;
  const float* kb = a.keys + row0 * W;
  const float* dob = a.d_out != nullptr ? a.d_out + (long long)b * W : nullptr;
  auto g_at = [&](int t) { return pool_score_grad(a.d_weights, dob, kb, row0, t, W); };
  if (!a.softmax) {
    for (int r = threadIdx.x; r < n; r += blockDim.x) dsc[r] = g_at(t0 + r);
    return;
  }
  // the chunk's own g_t are kept from the sum's pass (dsc, read after block_sum's barriers), not
  // computed a second time: one W-long chain of loads fewer on every item's critical path
  double dot = 0.0;
  for (int t = threadIdx.x; t < len; t += blockDim.x) {
    const float g = g_at(t);
    if (t >= t0 && t < t0 + n) dsc[t - t0] = g;
    dot += (double)a.weights[row0 + t] * g;
  }
  dot = augur::block_sum(dot, scratch);
  for (int r = threadIdx.x; r < n; r += blockDim.x) dsc[r] = a.weights[row0 + t0 + r] * (float)(dsc[r] - dot);
}

// The backward's items are the chunks that hold positions (chunk j of sample b when j rows < len_b),
// numbered in (b, j) order, and block i takes the i-th, (i + gridDim.x)-th, ... of them: every
// block gets the same number of items, give or take one. (Striding over all B * chunks slots, as
// the forward does with a grid of one slot per block, would hand some blocks three or four real
// items and others none, since only the first chunk or two of a history hold positions: at batch
// 128 on an H200 the busiest blocks set the kernel's 141 µs.)
// Each thread counts the items of `per` consecutive samples; run_start[s] is the ordinal of run
// s's first item and run_start[blockDim.x] the number of items. blockDim.x: a multiple of 32, at
// most MAX_THREADS. Every thread calls it.
constexpr int MAX_THREADS = 256;

__device__ __forceinline__ int chunks_in(const AttentionArgs& a, int b) {
  return (augur::clamped_length(a.lengths, b, a.T) + a.rows - 1) / a.rows;
}

__device__ void count_items(int* run_start, int per, const AttentionArgs& a) {
  __shared__ int warp_total[MAX_THREADS / 32];
  const int t = threadIdx.x, lane = t & 31, warp = t >> 5;
  int count = 0;
#pragma unroll 8  // a run's lengths in flight together (16 samples a thread at batch 2048)
  for (int b = t * per, end = min(a.B, (t + 1) * per); b < end; ++b) count += chunks_in(a, b);
  int v = count;  // inclusive scan over the warp
  for (int o = 1; o < 32; o <<= 1) {
    const int u = __shfl_up_sync(0xffffffffu, v, o);
    if (lane >= o) v += u;
  }
  if (lane == 31) warp_total[warp] = v;
  __syncthreads();
  for (int w = 0; w < warp; ++w) v += warp_total[w];
  run_start[t] = v - count;
  if (t == (int)blockDim.x - 1) run_start[blockDim.x] = v;
  __syncthreads();
}

// Item ordinal k (< run_start[blockDim.x]) -> sample b and chunk j: the run whose items hold k
// (the last s with run_start[s] <= k), then its samples one by one.
__device__ __forceinline__ void item_at(const int* run_start, int per, int k, const AttentionArgs& a, int& b, int& j) {
  int lo = 0, hi = blockDim.x;  // run_start[lo] <= k < run_start[hi]
  while (hi - lo > 1) {
    const int mid = (lo + hi) >> 1;
    if (run_start[mid] <= k) lo = mid;
    else hi = mid;
  }
  int r = k - run_start[lo];
  for (b = lo * per;; ++b) {
    const int c = chunks_in(a, b);
    if (r < c) break;
    r -= c;
  }
  j = r;
}

template <bool TF32>
__device__ void backward_items(const AttentionArgs& a) {
  extern __shared__ double smem[];
  const int W = a.W, W2 = 2 * a.W, T = a.T, h1 = a.h1, h2 = a.h2, rows = a.rows, chunks = (T + rows - 1) / rows;
  const PartialLayout L(W, h1, h2);
  float* slice = a.partials + (long long)blockIdx.x * L.size;
  float* part = a.local ? reinterpret_cast<float*>(smem) : slice;
  float* q = reinterpret_cast<float*>(smem) + (a.local ? L.dma : 0);
  float* dq = q + W;
  float* P = dq + W;
  float* G = P + h1;
  float* dsc = G + h1;
  float* R = dsc + rows;
  float* H1 = R + rows * W2;
  float* A1 = H1 + rows * h1;
  float* D1 = A1 + rows * h1;
  float* H2 = D1 + rows * h1;
  float* A2 = H2 + rows * h2;
  float* D2 = A2 + rows * h2;
  float* dR = D2 + rows * h2;

  __shared__ int run_start[MAX_THREADS + 1];
  const int per = (a.B + blockDim.x - 1) / blockDim.x;
  for (int e = threadIdx.x; e < L.dma; e += blockDim.x) part[e] = 0.0f;
  for (int e = L.dma + threadIdx.x; e < L.size; e += blockDim.x) slice[e] = 0.0f;  // dMa: in global memory either way
  count_items(run_start, per, a);  // its barriers also order the zeroing above
  const int items = run_start[blockDim.x];

  for (int k = blockIdx.x; k < items; k += gridDim.x) {  // the same for the whole block
    int b, j;
    item_at(run_start, per, k, a, b, j);
    const long long item = (long long)b * chunks + j;  // dq_partials' slot
    const int t0 = j * rows, len = augur::clamped_length(a.lengths, b, T);
    const int n = min(rows, len - t0);
    const float* kb = a.keys + (long long)b * T * W;
    float* dkb = a.d_keys + (long long)b * T * W;
    for (int c = threadIdx.x; c < W; c += blockDim.x) q[c] = a.query[(long long)b * W + c];
    pool_backward_chunk(dsc, b, t0, n, len, a);
    __syncthreads();
    per_sample_term(P, q, a);
    __syncthreads();
    chunk_forward<TF32>(R, H1, A1, H2, A2, q, P, kb, t0, n, a);
    // layer 3 and the second activation, one thread per hidden unit j (fixed row order)
    for (int j = threadIdx.x; j < h2; j += blockDim.x) {
      const float w3 = a.w3[j], alpha = a.alpha2 != nullptr ? a.alpha2[j] : 0.0f;
      float s_w3 = 0.0f, s_alpha = 0.0f, s_b2 = 0.0f;
      for (int r = 0; r < n; ++r) {
        const float ds = dsc[r], pre = H2[r * h2 + j], post = A2[r * h2 + j];
        const float da = ds * w3;
        s_w3 += post * ds;
        if (a.act == 1 && pre <= 0.0f) s_alpha += pre * da;
        const float d = da * act_derivative(a.act, pre, post, alpha);
        D2[r * h2 + j] = d;
        s_b2 += d;
      }
      part[L.dw3 + j] += s_w3;
      part[L.da2 + j] += s_alpha;
      part[L.db2 + j] += s_b2;
    }
    if (threadIdx.x == 0) {
      float s = 0.0f;
      for (int r = 0; r < n; ++r) s += dsc[r];
      part[L.db3] += s;
    }
    __syncthreads();
    // dA1 = D2 W2^T, and dW2 += A1^T D2
    {
      auto epi_d1 = [&](int r, int i, float s) { D1[r * h1 + i] = s; };
      auto epi_dw2 = [&](int i, int j, float s) { part[L.dw2 + i * h2 + j] += s; };
      if constexpr (TF32) {
        product<TF32>(n, h1, h2, D2, h2, 1, a.w2t, h1, 1, epi_d1);
        product<TF32>(h1, h2, n, A1, 1, h1, D2, h2, 1, epi_dw2);
      } else {
        tiled_product_pair(Operands{n, h1, h2, D2, h2, 1, a.w2t, h1, 1}, epi_d1, Operands{h1, h2, n, A1, 1, h1, D2, h2, 1}, epi_dw2);
      }
    }
    __syncthreads();
    // the first activation, one thread per hidden unit i: D1 becomes dH1; G = sum_r dH1
    for (int i = threadIdx.x; i < h1; i += blockDim.x) {
      const float alpha = a.alpha1 != nullptr ? a.alpha1[i] : 0.0f;
      float s_alpha = 0.0f, s_g = 0.0f;
      for (int r = 0; r < n; ++r) {
        const float da = D1[r * h1 + i], pre = H1[r * h1 + i], post = A1[r * h1 + i];
        if (a.act == 1 && pre <= 0.0f) s_alpha += pre * da;
        const float d = da * act_derivative(a.act, pre, post, alpha);
        D1[r * h1 + i] = d;
        s_g += d;
      }
      part[L.da1 + i] += s_alpha;
      G[i] = s_g;
    }
    __syncthreads();
    // dM2 += R^T dH1;  dR = dH1 M2^T
    {
      auto epi_dm2 = [&](int c, int i, float s) { part[L.dm2 + c * h1 + i] += s; };
      auto epi_dr = [&](int r, int c, float s) { dR[r * W2 + c] = s; };
      if constexpr (TF32) {
        product<TF32>(W2, h1, n, R, 1, W2, D1, h1, 1, epi_dm2);
        product<TF32>(n, W2, h1, D1, h1, 1, a.m2t, W2, 1, epi_dr);
      } else {
        tiled_product_pair(Operands{n, W2, h1, D1, h1, 1, a.m2t, W2, 1}, epi_dr, Operands{W2, h1, n, R, 1, W2, D1, h1, 1}, epi_dm2);
      }
    }
    __syncthreads();
    // back through r = [k, q * k]: dq = sum_r dR[:, W:] * k;  dk += dR[:, :W] + dR[:, W:] * q
    for (int c = threadIdx.x; c < W; c += blockDim.x) {
      float s = 0.0f;
      for (int r = 0; r < n; ++r) s += dR[r * W2 + W + c] * R[r * W2 + c];
      dq[c] = s;
    }
    // the pool's share w_t d_out first, then the MLP's: the sums activation_unit_pool_backward_kernel
    // and this kernel made one after the other
    const float* dob = a.d_out != nullptr ? a.d_out + (long long)b * W : nullptr;
    const float* wb = a.weights + (long long)b * T;
    for (int e = threadIdx.x; e < n * W; e += blockDim.x) {
      const int r = e / W, c = e % W;
      float* dk = dkb + (long long)(t0 + r) * W + c;
      const float pooled = dob != nullptr ? *dk + wb[t0 + r] * dob[c] : *dk;
      *dk = pooled + (dR[r * W2 + c] + dR[r * W2 + W + c] * q[c]);
    }
    __syncthreads();
    // the per-sample term: this item's dQuery share G Ma^T + dq;  dMa += q^T G;  db1 += G
    for (int c = threadIdx.x; c < W; c += blockDim.x) {
      float s = 0.0f;
#pragma unroll 8
      for (int i = 0; i < h1; ++i) s += G[i] * a.mat[i * W + c];
      a.dq_partials[item * W + c] = s + dq[c];
    }
    for (int e = threadIdx.x; e < W * h1; e += blockDim.x) slice[L.dma + e] += q[e / h1] * G[e % h1];
    for (int i = threadIdx.x; i < h1; i += blockDim.x) part[L.db1 + i] += G[i];
    __syncthreads();  // the next item reuses every buffer
  }
  if (a.local)
    for (int e = threadIdx.x; e < L.dma; e += blockDim.x) slice[e] = part[e];
}

}  // namespace

AUGUR_KERNEL void activation_unit_backward_kernel(AttentionArgs a) { backward_items<false>(a); }
// The same with the MLP's products on the TF32 tensor cores (compute capability 8.0 and newer).
AUGUR_KERNEL void activation_unit_backward_tf32_kernel(AttentionArgs a) { backward_items<true>(a); }

// Sums the a.blocks slices of `partials` and adds them into the gradients (+=): dWq += dMa,
// dWk += dMb, dWd += dMa - dMb, dWp += dMp (dMb, dMp the two W-row blocks of dM2); then
// dQuery[b, c] += the sample's non-empty items' dq_partials, in chunk order. Blocks of
// (32, REDUCE_GROUPS) threads over 32 consecutive elements (the parameter gradients' elements
// followed by the B * W of dQuery), grid-strided: thread (x, y) sums the slices y, y + GROUPS, ...
// in order, and row 0 adds the groups' sums in group order: a fixed order, with 8 times the loads
// in flight of one thread walking all of the slices (2 per SM: a few hundred, at any batch size).
constexpr int REDUCE_GROUPS = 8;

AUGUR_KERNEL void activation_unit_reduce_kernel(AttentionArgs a) {
  __shared__ float sums[3][REDUCE_GROUPS][32];
  const int W = a.W, h1 = a.h1, h2 = a.h2;
  const PartialLayout L(W, h1, h2);
  const int n_w1 = W * h1, n_b1 = h1, n_a1 = h1, n_w2 = h1 * h2, n_b2 = h2, n_a2 = h2, n_w3 = h2;
  const long long n_params = (long long)n_w1 + n_b1 + n_a1 + n_w2 + n_b2 + n_a2 + n_w3 + 1;
  const long long total = n_params + (long long)a.B * W;
  const int chunks = (a.T + a.rows - 1) / a.rows;
  const int x = threadIdx.x, y = threadIdx.y;
  for (long long base = (long long)blockIdx.x * 32; base < total; base += (long long)gridDim.x * 32) {  // the same for the block
    const long long idx = base + x;
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f;
    float* dst = nullptr;  // a gradient other than W1's: its element e
    int e = 0;
    if (idx < n_params) {
      e = (int)idx;
      if (e < n_w1) {
        const int c = e / h1, i = e % h1;
#pragma unroll 4  // loads of 4 slices in flight; still summed in slice order
        for (int blk = y; blk < a.blocks; blk += REDUCE_GROUPS) {
          const float* p = a.partials + (long long)blk * L.size;
          s0 += p[L.dma + e];
          s1 += p[L.dm2 + c * h1 + i];
          s2 += p[L.dm2 + (W + c) * h1 + i];
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
        if (dst != nullptr) {  // none: no slopes for sigmoid
#pragma unroll 4
          for (int blk = y; blk < a.blocks; blk += REDUCE_GROUPS) s0 += a.partials[(long long)blk * L.size + off + e];
        }
      }
    } else if (idx < total && y == 0) {
      const long long q = idx - n_params;
      const int b = (int)(q / W), c = (int)(q % W);
      const int used = (augur::clamped_length(a.lengths, b, a.T) + a.rows - 1) / a.rows;
      for (int j = 0; j < used; ++j) s0 += a.dq_partials[((long long)b * chunks + j) * W + c];
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
        a.d_query[idx - n_params] += t0;  // the other groups added nothing
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
// Dynamic shared memory: T floats. blockDim.x: at most POOL_MAX_THREADS.
constexpr int POOL_MAX_THREADS = 256;

AUGUR_KERNEL void activation_unit_pool_forward_kernel(float* __restrict__ out, float* __restrict__ weights,
                                                      int* status, const float* __restrict__ score,
                                                      const float* __restrict__ keys,
                                                      const int* __restrict__ lengths, const int* __restrict__ row_start,
                                                      int T, int W, int softmax) {
  extern __shared__ float w[];
  __shared__ double scratch[32];
  const int b = blockIdx.x;
  const int len = augur::checked_length(lengths, b, T, status);
  const float* s = score + (row_start != nullptr ? (long long)row_start[b] : (long long)b * T);
  for (int t = threadIdx.x; t < len; t += blockDim.x) w[t] = s[t];
  if (softmax && len > 0) {
    const float inv = augur::softmax_exponentials(w, len, scratch);
    for (int t = threadIdx.x; t < len; t += blockDim.x) w[t] *= inv;
  }
  for (int t = len + threadIdx.x; t < T; t += blockDim.x) w[t] = 0.0f;
  __syncthreads();
  for (int t = threadIdx.x; t < T; t += blockDim.x) weights[(long long)b * T + t] = w[t];
  if (out == nullptr) return;
  __shared__ float part[POOL_MAX_THREADS];
  const float* kb = keys + (long long)b * T * W;
  const int groups = max(1, (int)blockDim.x / W);
  if (groups == 1) {  // W >= blockDim.x: a thread per column (or several)
    for (int c = threadIdx.x; c < W; c += blockDim.x) {
      float acc = 0.0f;
#pragma unroll 8
      for (int t = 0; t < len; ++t) acc += w[t] * kb[(long long)t * W + c];
      out[(long long)b * W + c] = acc;
    }
    return;
  }
  const int c = threadIdx.x % W, g = threadIdx.x / W;
  if (g < groups) {
    float acc = 0.0f;
#pragma unroll 8
    for (int t = g; t < len; t += groups) acc += w[t] * kb[(long long)t * W + c];
    part[g * W + c] = acc;
  }
  __syncthreads();
  if ((int)threadIdx.x < W) {
    float acc = part[threadIdx.x];
    for (int h = 1; h < groups; ++h) acc += part[h * W + threadIdx.x];
    out[(long long)b * W + threadIdx.x] = acc;
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
  const long long row0 = (long long)b * T;
  float* ds = d_score + (row_start != nullptr ? (long long)row_start[b] : row0);
  const float* kb = keys + row0 * W;
  const float* db = d_out != nullptr ? d_out + (long long)b * W : nullptr;
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
    for (long long e = threadIdx.x; e < (long long)len * W; e += blockDim.x) {
      const int t = (int)(e / W), c = (int)(e - (long long)t * W);
      d_keys[(row0 + t) * W + c] += weights[row0 + t] * db[c];
    }
}
