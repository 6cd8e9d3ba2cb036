// The built-in GEMM provider (io.augur.backend.cuda.BuiltinGemm) and the bias gradient.
// CPU reference: io.augur.backend.cpu.Linear. Row-major throughout:
//   C (M, N) = op(A) (M, K) * op(B) (K, N)  [+ C when accumulate]  [+ bias[n] when bias != nullptr]
//   op(A) = A (M, K), lda >= K           or, trans_a, A stored (K, M), lda >= M
//   op(B) = B (K, N), ldb >= N           or, trans_b, B stored (N, K), ldb >= K
// The linear layer uses it three ways: y = x W + b; dx = dy W^T (trans_b); dW += x^T dy (trans_a,
// accumulate). Each C element is summed by one thread in k order (gemm_kernel), or by 8 warps over
// interleaved k, their partial sums added in warp order (gemm_small_kernel): deterministic.
//
// Bias gradient in the same pass: with ones_row = M - 1 >= 0, the last of op(A)'s M rows is a row
// of ones (A holds the M - 1 others), so output row M - 1 is the column sums of op(B); it goes to
// bias[n] (+= with accumulate, else =), which is then that row's output and not added to C. A
// linear layer's dW += x^T dy then brings db += sum_r dy[r, :] with it. ones_row = -1: none.
// (One pointer for both uses, and the row as an index, keep the kernel within 64 registers on
// sm_80 to sm_90, 80 on sm_75, without spilling, the pipelined k loop and the epilogue's
// activation included.)
//
// Rows counted on the device: with rows_limit != nullptr the positions dimension stops at
// *rows_limit, M's rows when trans_a is 0 (y = x W and dx = dy W^T over a batch's rows) or K when
// trans_a is 1 (dW += x^T dy): the host sizes the grid for every row a batch may have, the blocks
// past the count return at once and nothing is written past it (the Dice activation unit's rows,
// packed valid positions whose number the host does not know; CudaBackend.unfusedActivationUnit).
// Not combined with split K over M; over K (trans_a) the splits divide the counted rows among
// themselves, whole k tiles each.
//
// Split K: a product with few output tiles (a batch of 128 gives the top MLP's products 2 to 12
// tiles of 64 x 64 on a GPU of 132 multiprocessors; dW at a large batch, 162 x 200 outputs over
// K = 2048, has 12) would leave most multiprocessors idle and walk its k tiles one after another.
// With partial != nullptr the grid's x dimension holds splits x row tiles; split s sums k in
// [s k_split, (s + 1) k_split) into partial[s] (M, N) and counts itself done in its tile's
// counter; the last split of a tile to finish (whichever it is) adds the tile's splits in split
// order, then bias and C, and sets the counter back to zero for the next launch. Still a fixed
// order, so still deterministic, and no second launch. (BuiltinGemm's default rule now gives most
// such products to gemm_small_kernel instead, all of the top MLP's at a batch of 128; the splits
// remain for the long K of weight gradients at large batches, and with -Daugur.gemm.small=off.)
//
// Grid: x over row tiles (times the splits), y over column tiles. Rows go on x because x takes up
// to 2^31 - 1 blocks and y only 65,535: a product over B * T rows (the unit layer by layer at
// B = 8,192, T = 512 has 4,194,304, 65,536 tiles of 64) would not launch with its rows on y.
//
// Activation in the epilogue: with act.out != nullptr (a linear layer y = x W + b followed by
// sigmoid or PReLU; not with accumulate or a ones row) each stored element v of C also goes to
// act.out as sigmoid(v) (act.kind 1) or v > 0 ? v : alpha[n] v (2), the arithmetic of
// sigmoid_forward_kernel and prelu_forward_kernel: the layer and its activation in one launch.
//
// The k loop is software-pipelined: each thread loads its share of the next k tile into
// registers before the products of the current one, and stores it into the other of two shared
// buffers after them, so the loads' latency (what a block of a small product waits on most) is
// spent computing. One barrier per k tile.
//
// Small products: gemm_small_kernel computes the same function (no split K) for the products
// BuiltinGemm.small picks, at a batch of 128 all of the top MLP's: blocks of 8 x 32 outputs, op(A)
// and op(B) staged 256 k at a time with every load of a chunk in flight at once, 8 warps summing
// interleaved k; it is described above its definition.
#include "common.cuh"

namespace {
constexpr int GEMM_BM = 64, GEMM_BN = 64, GEMM_BK = 16;
// Each of the 16 x 16 threads (tx, ty) computes a 4 x 4 tile of the block's 64 x 64: rows 4 ty .. 4 ty + 3 and
// columns 4 tx .. 4 tx + 3, whose four values at a k are one float4 each in shared memory (2 loads for 16 FMAs;
// rows ty + 16 i and columns tx + 16 j took 8, and on sm_90 the k tile's loop 684 instructions for 256 FMAs).
constexpr int GEMM_TM = 4, GEMM_TN = 4;

// This thread's share of one k tile of op(A) and op(B), into registers: As[k][m] and Bs[k][n]
// elements e = threadIdx.x + 256 i (i < 4), zero past the ends of M, N and this split's k range,
// op(A)'s row ones_row a row of ones; each value through conv (the identity, or rounding to TF32).
// 64 x 16 = 1024 elements each, four per thread; consecutive threads read along the stored rows.
constexpr int GEMM_PER_THREAD = GEMM_BM * GEMM_BK / 256;

template <class T, class Conv>
__device__ __forceinline__ void gemm_fetch(T (&ra)[GEMM_PER_THREAD], T (&rb)[GEMM_PER_THREAD], const float* __restrict__ A,
                                           const float* __restrict__ Bm, int M, int N, int lda, int ldb, int trans_a,
                                           int trans_b, int m0, int n0, int k0, int k_end, int ones_row, Conv conv) {
#pragma unroll
  for (int i = 0; i < GEMM_PER_THREAD; ++i) {
    const int e = threadIdx.x + 256 * i;
    int m, k;
    if (trans_a) { m = e % GEMM_BM; k = e / GEMM_BM; }  // consecutive threads walk m: coalesced in (K, M)
    else { k = e % GEMM_BK; m = e / GEMM_BK; }
    const int gm = m0 + m, gk = k0 + k;
    float v = 0.0f;
    if (gm < M && gk < k_end) v = gm == ones_row ? 1.0f : trans_a ? A[(long long)gk * lda + gm] : A[(long long)gm * lda + gk];
    ra[i] = conv(v);
  }
#pragma unroll
  for (int i = 0; i < GEMM_PER_THREAD; ++i) {
    const int e = threadIdx.x + 256 * i;
    int n, k;
    if (trans_b) { k = e % GEMM_BK; n = e / GEMM_BK; }
    else { n = e % GEMM_BN; k = e / GEMM_BN; }
    const int gn = n0 + n, gk = k0 + k;
    float v = 0.0f;
    if (gn < N && gk < k_end) v = trans_b ? Bm[(long long)gn * ldb + gk] : Bm[(long long)gk * ldb + gn];
    rb[i] = conv(v);
  }
}

// gemm_fetch's registers into one shared buffer (row stride LD), at the same elements.
template <int LD, class T>
__device__ __forceinline__ void gemm_put(T (*As)[LD], T (*Bs)[LD], const T (&ra)[GEMM_PER_THREAD], const T (&rb)[GEMM_PER_THREAD],
                                         int trans_a, int trans_b) {
#pragma unroll
  for (int i = 0; i < GEMM_PER_THREAD; ++i) {
    const int e = threadIdx.x + 256 * i;
    if (trans_a) As[e / GEMM_BM][e % GEMM_BM] = ra[i];
    else As[e % GEMM_BK][e / GEMM_BK] = ra[i];
  }
#pragma unroll
  for (int i = 0; i < GEMM_PER_THREAD; ++i) {
    const int e = threadIdx.x + 256 * i;
    if (trans_b) Bs[e % GEMM_BK][e / GEMM_BK] = rb[i];
    else Bs[e / GEMM_BN][e % GEMM_BN] = rb[i];
  }
}

// The epilogue's activation (act.out == nullptr: none).
struct GemmAct {
  float* out;          // (M, ldc) like C
  const float* alpha;  // (N), PReLU
  int kind;            // 1 sigmoid, 2 PReLU
};

// Where output element (gm, gn) of a block's tile goes: its split's partial product; or C (+= with
// accumulate), with bias added, and its activation to act.out; or, for op(A)'s ones row, bias
// itself (+= with accumulate).
__device__ __forceinline__ void gemm_store(float* __restrict__ C, float* __restrict__ bias, float* __restrict__ partial,
                                           int split, int M, int N, int ldc, int accumulate, int ones_row, int gm, int gn,
                                           float v, const GemmAct& act) {
  if (partial != nullptr) {
    partial[((long long)split * M + gm) * N + gn] = v;
    return;
  }
  if (bias != nullptr && ones_row < 0) v += bias[gn];
  float* c = gm == ones_row ? bias + gn : C + (long long)gm * ldc + gn;
  *c = accumulate ? *c + v : v;
  if (act.out != nullptr)
    act.out[(long long)gm * ldc + gn] = act.kind == 1 ? augur::sigmoidf(v) : (v > 0.0f ? v : act.alpha[gn] * v);
}

// A block's tile: the launch's splits and the block's own, first row and column, k range, and the
// rows that exist (M, or fewer with a device row count).
struct GemmTile {
  int splits, split, m0, n0, k_begin, k_end, rows;
  __device__ GemmTile(int M, int K, const float* partial, int k_split, int trans_a, const int* rows_limit) {
    const int m_tiles = (M + GEMM_BM - 1) / GEMM_BM;
    splits = (int)gridDim.x / m_tiles;
    const int limit = rows_limit != nullptr ? max(*rows_limit, 0) : 0x7fffffff;
    split = partial != nullptr ? (int)blockIdx.x / m_tiles : 0;
    m0 = ((int)blockIdx.x % m_tiles) * GEMM_BM;
    n0 = blockIdx.y * GEMM_BN;
    rows = trans_a ? M : min(M, limit);
    const int k = trans_a ? min(K, limit) : K;
    // with a device row count over K the splits share the rows that exist, not all K the host
    // sized the grid for (packed valid positions are a fifth of B * T or less)
    const int span = rows_limit != nullptr && partial != nullptr
                         ? ((k + splits - 1) / splits + GEMM_BK - 1) / GEMM_BK * GEMM_BK
                         : k_split;
    k_begin = partial != nullptr ? split * span : 0;
    k_end = partial != nullptr ? min(k, k_begin + span) : k;
  }
};

// The pipelined k loop over a block's tile (every thread calls it): each k tile of op(A) and
// op(B) is staged through conv into As[buf] / Bs[buf] (two buffers of [GEMM_BK][LD]), and
// products(As[buf], Bs[buf]) adds its products into the caller's accumulators while the next
// tile's loads are in flight. One barrier per k tile.
template <int LD, class T, class Conv, class Products>
__device__ __forceinline__ void gemm_k_loop(T (*As)[GEMM_BK][LD], T (*Bs)[GEMM_BK][LD], const GemmTile& tile,
                                            const float* __restrict__ A, const float* __restrict__ Bm, int N, int lda,
                                            int ldb, int trans_a, int trans_b, int ones_row, Conv conv, Products products) {
  T ra[GEMM_PER_THREAD], rb[GEMM_PER_THREAD];
  if (tile.k_begin < tile.k_end) {
    gemm_fetch(ra, rb, A, Bm, tile.rows, N, lda, ldb, trans_a, trans_b, tile.m0, tile.n0, tile.k_begin, tile.k_end, ones_row,
               conv);
    gemm_put(As[0], Bs[0], ra, rb, trans_a, trans_b);
  }
  __syncthreads();
  for (int k0 = tile.k_begin, buf = 0; k0 < tile.k_end; k0 += GEMM_BK, buf ^= 1) {
    const bool next = k0 + GEMM_BK < tile.k_end;
    if (next)  // the next k tile's loads, in flight during this one's products
      gemm_fetch(ra, rb, A, Bm, tile.rows, N, lda, ldb, trans_a, trans_b, tile.m0, tile.n0, k0 + GEMM_BK, tile.k_end,
                 ones_row, conv);
    products(As[buf], Bs[buf]);
    // the other buffer was last read before the previous barrier
    if (next) gemm_put(As[buf ^ 1], Bs[buf ^ 1], ra, rb, trans_a, trans_b);
    __syncthreads();
  }
}

// The end of a split block (every thread calls it, after writing its outputs to partial[split]):
// the block counts itself done in its tile's counter, and the tile's last split to do so adds the
// tile's splits in split order (the same sum whichever split finished last) and stores the
// sum where gemm_store puts an unsplit product. The counter is set back to zero for the next
// launch. Split launches have no device row count over M (BuiltinGemm), so no block of one
// returns early and every split is counted.
__device__ __forceinline__ void gemm_split_done(float* __restrict__ C, float* __restrict__ bias,
                                                const float* __restrict__ partial, unsigned* __restrict__ counters, int M,
                                                int N, int ldc, int accumulate, int ones_row, const GemmTile& tile,
                                                const GemmAct& act) {
  __shared__ int last;
  const int m0 = tile.m0, n0 = tile.n0, splits = tile.splits;
  if (!augur::last_block_done(counters + (m0 / GEMM_BM) * gridDim.y + blockIdx.y, (unsigned)splits, &last)) return;
  // the thread's 16 elements e = threadIdx.x + 256 j side by side, each summed in split order: a
  // split's 16 loads go out together, one memory round trip a split rather than one for every few
  // splits of each element in turn (which left the tile's last block walking about 4 splits x 16
  // round trips; long K now takes up to 64 splits)
  constexpr int PER = GEMM_BM * GEMM_BN / 256;
  float v[PER];
#pragma unroll
  for (int j = 0; j < PER; ++j) v[j] = 0.0f;
  // offsets in ints: the splits' partials fit the workspace (BuiltinGemm.WORKSPACE_FLOATS, 2^21)
  const int row = threadIdx.x / GEMM_BN, col = n0 + threadIdx.x % GEMM_BN, step = 256 / GEMM_BN;
  for (int sp = 0; sp < splits; ++sp) {
    const float* ps = partial + (long long)sp * M * N;
#pragma unroll
    for (int j = 0; j < PER; ++j) {
      const int gm = m0 + row + step * j;
      if (gm < M && col < N) v[j] += __ldcg(ps + gm * N + col);  // L2: other blocks' writes
    }
  }
#pragma unroll
  for (int j = 0; j < PER; ++j) {
    const int gm = m0 + row + step * j;
    if (gm < M && col < N) gemm_store(C, bias, nullptr, 0, M, N, ldc, accumulate, ones_row, gm, col, v[j], act);
  }
}
}  // namespace

AUGUR_KERNEL void __launch_bounds__(256) gemm_kernel(float* __restrict__ C, const float* __restrict__ A,
                                                     const float* __restrict__ Bm, float* __restrict__ bias,
                                                     int M, int N, int K, int lda, int ldb, int ldc,
                                                     int trans_a, int trans_b, int accumulate,
                                                     float* __restrict__ partial, int k_split, int ones_row,
                                                     const int* __restrict__ rows_limit,
                                                     unsigned* __restrict__ tile_counters, float* __restrict__ act_out,
                                                     const float* __restrict__ alpha, int act_kind) {
  // As[buffer][k][m], Bs[buffer][k][n], declared as float4s so that each row (68 floats) starts 16-byte aligned
  __shared__ float4 As4[2 * GEMM_BK * (GEMM_BM + 4) / 4];
  __shared__ float4 Bs4[2 * GEMM_BK * (GEMM_BN + 4) / 4];
  auto As = reinterpret_cast<float (*)[GEMM_BK][GEMM_BM + 4]>(As4);
  auto Bs = reinterpret_cast<float (*)[GEMM_BK][GEMM_BN + 4]>(Bs4);
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  const GemmTile tile(M, K, partial, k_split, trans_a, rows_limit);
  const GemmAct act{act_out, alpha, act_kind};
  if (tile.m0 >= tile.rows) return;  // past the device's row count: the whole block
  float acc[GEMM_TM][GEMM_TN];
#pragma unroll
  for (int i = 0; i < GEMM_TM; ++i)
#pragma unroll
    for (int j = 0; j < GEMM_TN; ++j) acc[i][j] = 0.0f;

  gemm_k_loop(As, Bs, tile, A, Bm, N, lda, ldb, trans_a, trans_b, ones_row, [](float v) { return v; },
              [&](const float (*as)[GEMM_BM + 4], const float (*bs)[GEMM_BN + 4]) {
#pragma unroll
                for (int k = 0; k < GEMM_BK; ++k) {
                  const float4 a4 = *reinterpret_cast<const float4*>(&as[k][GEMM_TM * ty]);
                  const float4 b4 = *reinterpret_cast<const float4*>(&bs[k][GEMM_TN * tx]);
                  const float a[GEMM_TM] = {a4.x, a4.y, a4.z, a4.w}, b[GEMM_TN] = {b4.x, b4.y, b4.z, b4.w};
#pragma unroll
                  for (int i = 0; i < GEMM_TM; ++i)
#pragma unroll
                    for (int j = 0; j < GEMM_TN; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
                }
              });
#pragma unroll
  for (int i = 0; i < GEMM_TM; ++i) {
    const int gm = tile.m0 + GEMM_TM * ty + i;
    if (gm >= tile.rows) continue;
#pragma unroll
    for (int j = 0; j < GEMM_TN; ++j) {
      const int gn = tile.n0 + GEMM_TN * tx + j;
      if (gn < N) gemm_store(C, bias, partial, tile.split, M, N, ldc, accumulate, ones_row, gm, gn, acc[i][j], act);
    }
  }
  if (partial != nullptr) gemm_split_done(C, bias, partial, tile_counters, M, N, ldc, accumulate, ones_row, tile, act);
}

// gemm_kernel's contract with the products on the TF32 tensor cores (`--precision tf32`, compute
// capability 8.0 and newer; common.cuh's mma_tf32): op(A) and op(B) are rounded to TF32 as they
// are staged in shared memory and summed in fp32 by mma.sync, in the tensor core's order: the same
// on every run, not the same as gemm_kernel's. The 8 warps of a 64 x 64 tile each take 32 x 16
// outputs (2 x 2 m16n8k8 products per k step of 8). The row stride of 72 words puts the 32 lanes'
// fragment loads (rows k + t, columns g) in 32 different banks.
AUGUR_KERNEL void __launch_bounds__(256, 2) gemm_tf32_kernel(float* __restrict__ C, const float* __restrict__ A,
                                                          const float* __restrict__ Bm, float* __restrict__ bias,
                                                          int M, int N, int K, int lda, int ldb, int ldc,
                                                          int trans_a, int trans_b, int accumulate,
                                                          float* __restrict__ partial, int k_split, int ones_row,
                                                          const int* __restrict__ rows_limit,
                                                          unsigned* __restrict__ tile_counters, float* __restrict__ act_out,
                                                          const float* __restrict__ alpha, int act_kind) {
  __shared__ uint32_t As[2][GEMM_BK][GEMM_BM + 8];  // TF32 bits, As[buffer][k][m]
  __shared__ uint32_t Bs[2][GEMM_BK][GEMM_BN + 8];  // TF32 bits, Bs[buffer][k][n]
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, t = lane & 3;
  const int wm = (warp & 1) * 32, wn = (warp >> 1) * 16;
  const GemmTile tile(M, K, partial, k_split, trans_a, rows_limit);
  const GemmAct act{act_out, alpha, act_kind};
  if (tile.m0 >= tile.rows) return;  // past the device's row count: the whole block
  float acc[2][2][4];
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j)
#pragma unroll
      for (int q = 0; q < 4; ++q) acc[i][j][q] = 0.0f;

  gemm_k_loop(As, Bs, tile, A, Bm, N, lda, ldb, trans_a, trans_b, ones_row, [](float v) { return augur::to_tf32(v); },
              [&](const uint32_t (*as)[GEMM_BM + 8], const uint32_t (*bs)[GEMM_BN + 8]) {
#pragma unroll
                for (int k = 0; k < GEMM_BK; k += 8) {
                  uint32_t a[2][4], b[2][2];
#pragma unroll
                  for (int i = 0; i < 2; ++i) {
                    const int m = wm + 16 * i + g;
                    a[i][0] = as[k + t][m];
                    a[i][1] = as[k + t][m + 8];
                    a[i][2] = as[k + t + 4][m];
                    a[i][3] = as[k + t + 4][m + 8];
                  }
#pragma unroll
                  for (int j = 0; j < 2; ++j) {
                    const int n = wn + 8 * j + g;
                    b[j][0] = bs[k + t][n];
                    b[j][1] = bs[k + t + 4][n];
                  }
#pragma unroll
                  for (int i = 0; i < 2; ++i)
#pragma unroll
                    for (int j = 0; j < 2; ++j) augur::mma_tf32(acc[i][j], a[i], b[j]);
                }
              });
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j)
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        const int gm = tile.m0 + wm + 16 * i + g + 8 * (q >> 1), gn = tile.n0 + wn + 8 * j + 2 * t + (q & 1);
        if (gm < tile.rows && gn < N) gemm_store(C, bias, partial, tile.split, M, N, ldc, accumulate, ones_row, gm, gn, acc[i][j][q], act);
      }
  if (partial != nullptr) gemm_split_done(C, bias, partial, tile_counters, M, N, ldc, accumulate, ones_row, tile, act);
}

// gemm_kernel's contract (the same arguments but the split's, the same results up to the order of
// the sums), shaped for latency: the products BuiltinGemm.small picks, e.g. all of the top MLP's at a
// batch of 128 (M = 128 or the 81 to 201 rows of a weight gradient with its ones row, N = 1 to 200,
// K = 1 to 200). There gemm_kernel has 2 to 12 tiles of 64 x 64, and even split along K each of its
// blocks walks 16-wide k tiles one barrier after another, then meets the other splits through
// global memory: 5 to 20 us a product on an H200 for a few MFLOP.
// Here a block of 256 threads (8 warps) owns 8 rows x 32 columns of C: 16 times the blocks of the
// 64 x 64 tiles (M = 128, N = 200: 16 x 7 = 112, one per multiprocessor of an H200), and each
// block's k range goes in chunks of GEMM_SMALL_KC = 256 (every K of those products is one chunk):
//   1. every thread issues its 8 loads of op(A)'s 8 x 256 slice and its 32 of op(B)'s 256 x 32
//      before it uses any (one memory round trip a chunk; zeros past M, N and K, ones in op(A)'s
//      ones row) and stores them in shared memory: As[k] the 8 rows at k (two float4, read by a
//      warp as two broadcasts), Bs[k][n] padded to 33 words, so that op(B) stored either way
//      (a warp's loads along n in B's rows or along k in B^T's) lands without bank conflicts;
//   2. warp w sums k = w, w + 8, ... of the chunk for the 8 rows at its lane's column: 8
//      accumulators a lane, and per k two 16-byte broadcast loads, one load and 8 FMAs;
//   3. after the last chunk the 8 warps' partial sums go through shared memory (over Bs) and the
//      thread of row (its warp) and column (its lane) adds them in warp order: a fixed order, so
//      deterministic, with no atomics and no second launch.
// C (with accumulate), bias and PReLU's alpha for the thread's output are loaded at the start, in
// flight with the first chunk's loads, and the epilogue is gemm_store's arithmetic on them. Per
// warp of y = x W1 (128 x 200 x 162) that is about 200 instructions to stage the chunk, 21
// iterations of ~12 to sum it and ~40 to reduce and store: ~500, two warps a scheduler, beside
// one memory round trip (gemm_kernel's split block of that product: 2 k tiles of 16 x 64 x 64
// FMAs behind 2 barriers, then the fence, the counter and the splits' sum).
// Later chunks are loaded after the previous one is summed (not pipelined: that would keep their
// 40 registers live during the sums; BuiltinGemm sends only K <= 1024, at most 4 chunks, here).
// 80 registers with no spills on sm_75 to sm_90 (__launch_bounds__(256, 3); without the bound
// ptxas takes 80 on sm_80 and sm_90 but 131 on sm_75; a variant templated on the transpositions
// took up to 173) and 41 KiB of shared memory: 3 blocks an SM on an H200. fp32 FMAs also under --precision tf32: more precise than the
// TF32 kernel, and at these sizes the tensor cores' rate does not matter.
// rows_limit as in gemm_kernel: over M the blocks past the count return at once, over K (trans_a)
// the chunks stop at it.
namespace {
constexpr int GEMM_SMALL_BM = 8, GEMM_SMALL_BN = 32, GEMM_SMALL_KC = 256;
constexpr int GEMM_SMALL_A = GEMM_SMALL_BM * GEMM_SMALL_KC / 256;  // op(A) loads a thread, a chunk: 8
constexpr int GEMM_SMALL_B = GEMM_SMALL_KC * GEMM_SMALL_BN / 256;  // op(B) loads a thread, a chunk: 32

// gemm_small_kernel's chunks (every thread calls it): into acc[r] this warp's share of op(A)'s
// row m0 + r times op(B)'s column n0 + lane, k = warp, warp + 8, ... below k_end.
__device__ __forceinline__ void gemm_small_sums(float (&acc)[GEMM_SMALL_BM], float4 (*As)[2], float (*Bs)[GEMM_SMALL_BN + 1],
                                                const float* __restrict__ A, const float* __restrict__ Bm, int lda,
                                                int ldb, int trans_a, int trans_b, int N, int m0, int n0, int rows,
                                                int k_end, int ones_row) {
  const int t = threadIdx.x, lane = t & 31, warp = t >> 5;
  // The staging: op(A) element i of a thread is As[ka + 32 i][ma] (a warp's 32 lanes: 4 k by 8
  // rows, consecutive words of As); op(B) element i is Bs[kb + 8 i][nb], a warp along n in a row
  // of B (128 contiguous bytes), or, trans_b, Bs[kb][i], a warp along k in a row of the stored
  // (N, K). In each case a thread's elements that exist are a prefix of its i, and their
  // addresses one pointer and one stride: one code path for the four layouts.
  const int ka = t / GEMM_SMALL_BM, am = m0 + t % GEMM_SMALL_BM;
  const bool a_ones = am == ones_row;
  const int kb = trans_b ? t : t / GEMM_SMALL_BN, nb = trans_b ? 0 : t % GEMM_SMALL_BN;
  const long long a_step = trans_a ? 32LL * lda : 32LL, b_step = trans_b ? (long long)ldb : 8LL * ldb;
  float* const as = reinterpret_cast<float*>(&As[0][0]);
  float* const bs = &Bs[kb][nb];
  const int bs_step = trans_b ? 1 : 8 * (GEMM_SMALL_BN + 1);
  for (int k0 = 0; k0 < k_end; k0 += GEMM_SMALL_KC) {
    const int kc = min(GEMM_SMALL_KC, k_end - k0);
    const int a_count = am < rows ? min(max((kc - ka + 31) / 32, 0), GEMM_SMALL_A) : 0;
    const int b_count = trans_b ? (kb < kc ? min(N - n0, GEMM_SMALL_B) : 0)
                                : (n0 + nb < N ? min(max((kc - kb + 7) / 8, 0), GEMM_SMALL_B) : 0);
    const float* pa = trans_a ? A + (long long)(k0 + ka) * lda + am : A + (long long)am * lda + k0 + ka;
    const float* pb = trans_b ? Bm + (long long)n0 * ldb + k0 + kb : Bm + (long long)(k0 + kb) * ldb + n0 + nb;
    float ra[GEMM_SMALL_A], rb[GEMM_SMALL_B];
#pragma unroll
    for (int i = 0; i < GEMM_SMALL_A; ++i) ra[i] = i < a_count ? (a_ones ? 1.0f : pa[i * a_step]) : 0.0f;
#pragma unroll
    for (int i = 0; i < GEMM_SMALL_B; ++i) rb[i] = i < b_count ? pb[i * b_step] : 0.0f;
    if (k0 > 0) __syncthreads();  // every warp done with the previous chunk
#pragma unroll
    for (int i = 0; i < GEMM_SMALL_A; ++i) as[t + 256 * i] = ra[i];
#pragma unroll
    for (int i = 0; i < GEMM_SMALL_B; ++i) bs[i * bs_step] = rb[i];
    __syncthreads();
#pragma unroll 4
    for (int k = warp; k < kc; k += 8) {
      const float4 lo = As[k][0], hi = As[k][1];
      const float bv = Bs[k][lane];
      acc[0] = fmaf(lo.x, bv, acc[0]);
      acc[1] = fmaf(lo.y, bv, acc[1]);
      acc[2] = fmaf(lo.z, bv, acc[2]);
      acc[3] = fmaf(lo.w, bv, acc[3]);
      acc[4] = fmaf(hi.x, bv, acc[4]);
      acc[5] = fmaf(hi.y, bv, acc[5]);
      acc[6] = fmaf(hi.z, bv, acc[6]);
      acc[7] = fmaf(hi.w, bv, acc[7]);
    }
  }
}
}  // namespace

namespace {
// Block (bx, by) of gemm_small_kernel's product: outputs [by 8, by 8 + 8) x [bx 32, bx 32 + 32), As and
// Bs the block's shared staging.
__device__ __forceinline__ void gemm_small_block(float* __restrict__ C, const float* __restrict__ A, const float* __restrict__ Bm,
                                                 float* __restrict__ bias, int M, int N, int K, int lda, int ldb, int ldc,
                                                 int trans_a, int trans_b, int accumulate, int ones_row,
                                                 const int* __restrict__ rows_limit, float* __restrict__ act_out,
                                                 const float* __restrict__ alpha, int act_kind, int bx, int by, float4 (*As)[2],
                                                 float (*Bs)[GEMM_SMALL_BN + 1]) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int m0 = by * GEMM_SMALL_BM, n0 = bx * GEMM_SMALL_BN;
  const int limit = rows_limit != nullptr ? max(*rows_limit, 0) : 0x7fffffff;
  const int rows = trans_a ? M : min(M, limit), k_end = trans_a ? min(K, limit) : K;
  if (m0 >= rows) return;  // past the device's row count: the whole block

  // this thread's output, row m0 + warp and column n0 + lane: what its epilogue reads, loaded now
  const int gm = m0 + warp, gn = n0 + lane;
  const bool mine = gm < rows && gn < N;
  float old = 0.0f, b = 0.0f, slope = 0.0f;
  if (mine) {
    if (accumulate) old = gm == ones_row ? bias[gn] : C[(long long)gm * ldc + gn];
    if (bias != nullptr && ones_row < 0) b = bias[gn];
    if (act_out != nullptr && act_kind == 2) slope = alpha[gn];
  }

  float acc[GEMM_SMALL_BM];
#pragma unroll
  for (int r = 0; r < GEMM_SMALL_BM; ++r) acc[r] = 0.0f;
  gemm_small_sums(acc, As, Bs, A, Bm, lda, ldb, trans_a, trans_b, N, m0, n0, rows, k_end, ones_row);

  // the warps' partial sums, red[w][r][n] over Bs, added in warp order by thread (r = warp, n = lane)
  float* const red = &Bs[0][0];
  __syncthreads();  // every warp done reading Bs
#pragma unroll
  for (int r = 0; r < GEMM_SMALL_BM; ++r) red[(warp * GEMM_SMALL_BM + r) * GEMM_SMALL_BN + lane] = acc[r];
  __syncthreads();
  float v = red[warp * GEMM_SMALL_BN + lane];
#pragma unroll
  for (int w = 1; w < 8; ++w) v += red[(w * GEMM_SMALL_BM + warp) * GEMM_SMALL_BN + lane];
  if (!mine) return;
  // gemm_store's arithmetic on the values loaded at the start
  if (bias != nullptr && ones_row < 0) v += b;
  const float out = accumulate ? old + v : v;
  if (gm == ones_row) bias[gn] = out;
  else C[(long long)gm * ldc + gn] = out;
  if (act_out != nullptr)
    act_out[(long long)gm * ldc + gn] = act_kind == 1 ? augur::sigmoidf(v) : (v > 0.0f ? v : slope * v);
}
}  // namespace

AUGUR_KERNEL void __launch_bounds__(256, 3) gemm_small_kernel(float* __restrict__ C, const float* __restrict__ A,
                                                           const float* __restrict__ Bm, float* __restrict__ bias,
                                                           int M, int N, int K, int lda, int ldb, int ldc,
                                                           int trans_a, int trans_b, int accumulate, int ones_row,
                                                           const int* __restrict__ rows_limit, float* __restrict__ act_out,
                                                           const float* __restrict__ alpha, int act_kind) {
  __shared__ float4 As[GEMM_SMALL_KC][2];                    // As[k]: op(A)'s 8 rows at k
  __shared__ float Bs[GEMM_SMALL_KC][GEMM_SMALL_BN + 1];     // Bs[k][n]; at the end the warps' partial sums
  gemm_small_block(C, A, Bm, bias, M, N, K, lda, ldb, ldc, trans_a, trans_b, accumulate, ones_row, rows_limit, act_out, alpha,
                   act_kind, (int)blockIdx.x, (int)blockIdx.y, As, Bs);
}

// Two independent products of gemm_small_kernel in one launch (a linear layer's backward: dx = dy W^T and
// dW += x^T dy with db in the ones row, BuiltinGemm.linearBackward), each as gemm_small_kernel computes it
// (no row count, no epilogue activation): one launch where there were two, the second's blocks running beside
// the first's instead of after them. Grid: 1-D, blocks0 blocks of product 0 (column blocks fastest, as
// gemm_small_kernel's x), then product 1's. Two blocks an SM (__launch_bounds__(256, 2), which the rule's one wave
// assumes, BuiltinGemm.SMALL_BLOCKS_PER_SM): held to 80 registers, the parameters chosen by product spilled (sm_90: 20
// bytes), and a copy of the block's code per product spilled on sm_75 and sm_80 (96 bytes).
AUGUR_KERNEL void __launch_bounds__(256, 2) gemm_small_pair_kernel(
    float* __restrict__ C0, const float* __restrict__ A0, const float* __restrict__ B0, float* __restrict__ bias0, int M0, int N0,
    int K0, int lda0, int ldb0, int ldc0, int trans_a0, int trans_b0, int accumulate0, int ones_row0, float* __restrict__ C1,
    const float* __restrict__ A1, const float* __restrict__ B1, float* __restrict__ bias1, int M1, int N1, int K1, int lda1, int ldb1,
    int ldc1, int trans_a1, int trans_b1, int accumulate1, int ones_row1, int blocks0) {
  __shared__ float4 As[GEMM_SMALL_KC][2];
  __shared__ float Bs[GEMM_SMALL_KC][GEMM_SMALL_BN + 1];
  // one copy of the block's code, its parameters chosen by product (uniform in the block)
  const bool first = (int)blockIdx.x < blocks0;
  const int b = first ? (int)blockIdx.x : (int)blockIdx.x - blocks0, N = first ? N0 : N1;
  const int gx = (N + GEMM_SMALL_BN - 1) / GEMM_SMALL_BN;
  gemm_small_block(first ? C0 : C1, first ? A0 : A1, first ? B0 : B1, first ? bias0 : bias1, first ? M0 : M1, N, first ? K0 : K1,
                   first ? lda0 : lda1, first ? ldb0 : ldb1, first ? ldc0 : ldc1, first ? trans_a0 : trans_a1,
                   first ? trans_b0 : trans_b1, first ? accumulate0 : accumulate1, first ? ones_row0 : ones_row1, nullptr, nullptr,
                   nullptr, 0, b % gx, b / gx, As, Bs);
}

// db[n] += sum_r dy[r, n]    dy (B, N)   (+=). Blocks of (32, COL_ROWS) threads, one per 32 columns.
AUGUR_KERNEL void bias_grad_kernel(float* __restrict__ db, const float* __restrict__ dy, int B, int N) {
  __shared__ double scratch[32 * augur::COL_ROWS];
  const int n = blockIdx.x * 32 + threadIdx.x;
  double s = 0.0;
  if (n < N)
    for (int r = threadIdx.y; r < B; r += augur::COL_ROWS) s += dy[(long long)r * N + n];
  s = augur::column_sum(s, scratch);
  if (n < N && threadIdx.y == 0) db[n] += (float)s;
}

// bias_grad_kernel for many rows (the activation unit's B * T positions), in two stages over row
// slices as dice.cu's dice_sliced_*: grid (ceil(N / 32), S) blocks of (32, COL_ROWS) threads, block
// (x, s) summing rows [s * chunk, min((s + 1) * chunk, B)) into partials[s, n] (doubles) ...
AUGUR_KERNEL void bias_grad_partials_kernel(double* __restrict__ partials, const float* __restrict__ dy, int B, int N,
                                            int chunk) {
  __shared__ double scratch[32 * augur::COL_ROWS];
  const int n = blockIdx.x * 32 + threadIdx.x;
  const long long r0 = (long long)blockIdx.y * chunk, r1 = min(r0 + chunk, (long long)B);
  double s = 0.0;
  if (n < N)
    for (long long r = r0 + threadIdx.y; r < r1; r += augur::COL_ROWS) s += dy[r * N + n];
  s = augur::column_sum(s, scratch);
  if (n < N && threadIdx.y == 0) partials[(long long)blockIdx.y * N + n] = s;
}

// ... then db[n] += sum_s partials[s, n], in slice order (+=). 1-D grid over N. Also the second
// stage of prelu_sliced_backward_kernel (db = dAlpha).
AUGUR_KERNEL void bias_grad_reduce_kernel(float* __restrict__ db, const double* __restrict__ partials, int N, int slices) {
  AUGUR_GRID_STRIDE(n, N) {
    double s = 0.0;
    for (int k = 0; k < slices; ++k) s += partials[(long long)k * N + n];
    db[n] += (float)s;
  }
}

// y[r, n] = bias[n]: the starting value of y = x W + b when a library GEMM adds x W into it.
AUGUR_KERNEL void bias_broadcast_kernel(float* __restrict__ y, const float* __restrict__ bias, int B, int N) {
  AUGUR_GRID_STRIDE(i, (long long)B * N) { y[i] = bias[(int)i % N]; }  // i < B N, y's size: an int
}
