// Shared helpers for Augur's kernels.
//
// Conventions (DESIGN.md §4), the same as the Java reference in io.augur.backend.cpu:
//   - argument order: outputs, saved buffers, inputs, parameters, sizes; a kernel that validates
//     its input takes `int* status` right after its outputs (see AUGUR_STATUS_* below);
//   - B batch, T history length, D embedding width per field, E = 2D behaviour width,
//     C channels, W attention width, H hidden size;
//   - ids are int32, 0 is padding / unknown; lengths[b] is the true history length of sample b;
//   - backward kernels add (+=) into parameter gradients and overwrite (=) activation gradients,
//     unless a kernel's header says otherwise;
//   - no kernel uses floating-point atomics: every reduction has a fixed order, so a step gives
//     the same bits on every run (the sparse gradient adds 64-bit integers, which commute).
// Every kernel is extern "C" so its name in the fatbin, in Nsight and in the Java launcher
// (io.augur.backend.cuda.Kernels) is the plain name written here.
#pragma once

#include <cstdint>
#include <cstring>

#define AUGUR_KERNEL extern "C" __global__

// A kernel's blocks per thread-block cluster (compute capability 9.0 and up), written between
// `void` and its name: `AUGUR_KERNEL void AUGUR_CLUSTER(4) name(...)`. cuLaunchKernel then
// launches it in clusters of n consecutive blocks in x (the grid must be a multiple of n). For
// older architectures the kernel is compiled without clusters, and its cluster calls trap: the
// host launches it only on 9.0 and up. scripts/build-emulator.sh reads n from the source.
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#define AUGUR_CLUSTER(n) __cluster_dims__(n, 1, 1)
#elif !defined(AUGUR_CLUSTER)
#define AUGUR_CLUSTER(n)
#endif

// Bits of the device status word (one int in the arena). Kernels set them with atomicOr when
// their input breaks the contract; the host reads the word when it synchronizes and throws an
// exception naming the problem (io.augur.backend.cuda.DeviceStatus).
#define AUGUR_STATUS_BAD_ID 1          // an embedding id outside [0, V)
#define AUGUR_STATUS_BAD_LENGTH 2      // a history length outside [0, T]
#define AUGUR_STATUS_SPARSE_OVERFLOW 4 // more distinct rows than a sparse gradient was planned for
#define AUGUR_STATUS_NONFINITE_GRAD 8  // a NaN or infinite embedding gradient
#define AUGUR_STATUS_BAD_ROW 16        // a batch's row number outside the resident file (history_gather_kernel)

namespace augur {

// Logistic function without overflow: exp of a non-positive argument only, e = exp(-|x|), then
// 1 / (1 + e) for x >= 0 and e / (1 + e) below: one expf and one division whatever the sign. (Written
// as the two branches it was, a warp whose inputs had both signs ran both, two expf and two IEEE
// divisions with their slow-path checks, and every inlined call site carried both: 32 sites in the
// fused unit's backward.) The same operations on the same values as the branches, so the same bits,
// -0, infinities and NaN included.
__device__ __forceinline__ float sigmoidf(float x) {
  const float e = expf(-fabsf(x));
  return (x >= 0.0f ? 1.0f : e) / (1.0f + e);
}

// Adam's bias correction 1 - beta^t, in double as the CPU reference computes it, then rounded.
// t comes from the optimizer's step counter in device memory (step_advance_kernel), so a captured
// CUDA graph reads the current step instead of the one it was captured at.
__device__ __forceinline__ float bias_correction(float beta, int t) {
  return (float)(1.0 - pow((double)beta, (double)t));
}

// The last block of several to finish, for a launch whose last block finishes the work of all
// (sums the blocks' partial results, empties a list, advances a counter): called by every thread of
// each of `blocks` blocks once the writes the last block will read are done; counts the block done
// in *counter and returns, in every thread of the block, whether it was the last of them. That
// block sets the counter back to zero for the next launch. Each thread fences its own writes
// before the count and the last block fences again before it reads the others' (which it reads
// through L2: __ldcg). `flag`: one int of the block's shared memory.
__device__ __forceinline__ bool last_block_done(unsigned* counter, unsigned blocks, int* flag) {
  __threadfence();   // this thread's writes, visible to the block that reads them
  __syncthreads();
  if (threadIdx.x == 0 && threadIdx.y == 0) {
    const bool last = atomicAdd(counter, 1u) == blocks - 1;
    if (last) *counter = 0u;
    *flag = last;
  }
  __syncthreads();
  const bool last = *flag != 0;
  if (last) __threadfence();
  return last;
}

// An update launch that advances the step counter itself (advance = 1; step_advance_kernel's work
// without its launch): every block reads t = *step + advance, and the last block to finish stores
// *step += 1 and resets `done` for the next such launch. Every block has read the counter before
// it counts itself done, so none reads the new value. Called by every thread of every block once
// its reads of *step are done (advance is the same for the whole launch).
__device__ __forceinline__ int step_of(const int* step, int advance) { return *step + advance; }

__device__ __forceinline__ void step_advance_when_done(int* step, unsigned* done, int advance) {
  __shared__ int last;
  if (!advance) return;
  if (last_block_done(done, gridDim.x, &last) && threadIdx.x == 0) *step += 1;
}

__device__ __forceinline__ void set_status(int* status, int bit) {
  if (status != nullptr) atomicOr(status, bit);
}

// A thread's walk over its elements i = first, first + step, ... (i = r D + c, with row r = b T + t the
// position t of sample b): each element's column, sample and position by additions and a compare
// each, from divisions made once, and its row by one multiply-add. The lookups (embedding.cu) divided
// every i by D and every row by T: four divisions an element at some 20 instructions each (I2F,
// MUFU.RCP, F2I and their corrections), most of the 1,385 instructions of a thread's round of 8
// elements in sm_90's SASS, so that at batch 2048 they issued more than they moved bytes. The sparse
// updates (sparse_update.cu, with T = 1: the row is b, and t stays 0) walk their elements this way; the
// lookups have since gone further (a lane a row for its length and id, embedding.cu).
struct ElementWalk {
  long long i;  // the element
  int c, b, t;  // its column, sample and position (row b T + t)
  int dc, db, dt;  // step = (db T + dt) D + dc, dc < D, dt < T
  __device__ __forceinline__ ElementWalk(long long first, long long step, int D, int T) : i(first), c((int)(first % D)), dc((int)(step % D)) {
    const int r = (int)(first / D), dr = (int)(step / D);
    b = r / T;
    t = r - b * T;
    db = dr / T;
    dt = dr - db * T;
  }
  __device__ __forceinline__ int row(int T) const { return b * T + t; }
  __device__ __forceinline__ void next(long long step, int D, int T) {
    i += step;
    c += dc;
    b += db;
    t += dt;
    if (c >= D) {  // a column past the row: the next row's
      c -= D;
      ++t;
    }
    if (t >= T) {  // t < 2T here, as dt < T
      t -= T;
      ++b;
    }
  }
};

// lengths[b] clamped to [0, T].
__device__ __forceinline__ int clamped_length(const int* lengths, int b, int T) {
  return min(max(lengths[b], 0), T);
}

// lengths[b] clamped to [0, T]; one outside sets AUGUR_STATUS_BAD_LENGTH (from thread 0 of the block).
__device__ __forceinline__ int checked_length(const int* lengths, int b, int T, int* status) {
  const int len = lengths[b];
  if ((len < 0 || len > T) && threadIdx.x == 0) set_status(status, AUGUR_STATUS_BAD_LENGTH);
  return min(max(len, 0), T);
}

// The valid positions of a batch, counted by one block: thread i sums the clamped lengths of the
// samples [i per, (i + 1) per) (per = ceil(B / blockDim.x), a run), a warp scan and the warps'
// totals turn the sums into run_start[i], the first packed row of run i (sample b's rows are
// [start_b, start_b + len_b), in b order), and run_start[blockDim.x] is their count. Lengths
// outside [0, T] are clamped, not reported (the callers' other kernels report them). blockDim.x: a
// multiple of 32, at most 1024; run_start holds blockDim.x + 1 ints. Every thread calls it; it
// ends with a barrier.
__device__ __forceinline__ void length_runs(int* run_start, const int* lengths, int B, int T) {
  __shared__ int warp_total[32];
  const int t = threadIdx.x, lane = t & 31, warp = t >> 5, per = (B + blockDim.x - 1) / blockDim.x;
  int count = 0;
#pragma unroll 8  // a run's lengths in flight together (16 samples a thread at batch 2048)
  for (int b = t * per, end = min(B, (t + 1) * per); b < end; ++b) count += clamped_length(lengths, b, T);
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

// A compiler barrier for memory (no load or store is moved across it; it emits no instruction).
// Between a round of loads into registers and their uses under a condition (a store only for
// in-range elements, a sum that stops at the count), it keeps the compiler from sinking each load
// into its use's branch, which waits one memory round trip per element instead of one per round.
__device__ __forceinline__ void loads_issued() { asm volatile("" ::: "memory"); }

// store(i, load(i)) for every i < n (a copy, or an update whose store does the arithmetic), the
// block's threads taking i in turn, in rounds of N elements a thread whose loads are in flight
// together (load returns a V, and is also called for i = n - 1 in place of the indices past the
// end; store is called only for i < n). A plain loop of a load and a store per element waits a memory
// round trip per element, or per few with the compiler's unroll. Every thread of the block calls it; no barrier.
template <int N, class V, class Load, class Store>
__device__ __forceinline__ void staged_copy(int n, Load load, Store store) {
  for (int i0 = threadIdx.x; i0 < n; i0 += N * (int)blockDim.x) {
    V v[N];
#pragma unroll
    for (int u = 0; u < N; ++u) v[u] = load(min(i0 + u * (int)blockDim.x, n - 1));
    loads_issued();
#pragma unroll
    for (int u = 0; u < N; ++u) {
      const int i = i0 + u * (int)blockDim.x;
      if (i < n) store(i, v[u]);
    }
  }
}

// store(r, c, load(r, c)) for every row r < n and column c < W: a tile's rows moved between global and
// shared memory. Thread (c, g) = (tid % W, tid / W) of G = max(1, blockDim.x / W) groups takes column c
// (and c + blockDim.x, ... where W is wider than the block) at rows g, g + G, ..., N rows a round whose
// loads are in flight together (load is also called with row n - 1 in place of the rows past the end;
// store only for r < n); the threads past the G groups take no part. staged_copy over the n W elements
// does the same work with each element's index divided by W; here the division is once a call, and a
// round covers N G rows where staged_copy's covers N blockDim.x / W. Every thread of the block calls it;
// no barrier.
template <int N, class V, class Load, class Store>
__device__ __forceinline__ void row_copy(int n, int W, Load load, Store store) {
  const int G = max(1, (int)blockDim.x / W), g = (int)threadIdx.x / W;
  if (g >= G) return;
  for (int c = (int)threadIdx.x % W; c < W; c += (int)blockDim.x)
    for (int r0 = g; r0 < n; r0 += N * G) {
      V v[N];
#pragma unroll
      for (int u = 0; u < N; ++u) v[u] = load(min(r0 + u * G, n - 1), c);
      loads_issued();
#pragma unroll
      for (int u = 0; u < N; ++u) {
        const int r = r0 + u * G;
        if (r < n) store(r, c, v[u]);
      }
    }
}

// Copies from global into shared memory that hold no register and wait for nothing (cp.async,
// compute capability 8.0 and up; LDGSTS in SASS). copy_async(dst, src) starts moving the float at
// src into shared dst; copy_async_or_zero(dst, src, valid) moves it where valid and otherwise writes 0
// without reading (src must still be an address the kernel may read: no byte of it is). A thread's
// copies are all in flight together however many it starts, where a round of loads into registers
// (staged_copy, row_copy) holds N and waits for them before its stores; copies_arrived() waits for
// the calling thread's copies, and the block's other threads see them after a __syncthreads that
// follows it. Below 8.0 (sm_75) AUGUR_ASYNC_COPIES is 0 and the callers take rounds instead. The
// emulator reads each copy's source when it starts and writes its destination only at
// copies_arrived(), so that a read before it sees the NaN bytes shared memory starts with, and it
// fails the launch of a thread that returns with copies it never waited for (cuda/emu/README.md).
#if (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800) || defined(AUGUR_EMU)
#define AUGUR_ASYNC_COPIES 1
#else
#define AUGUR_ASYNC_COPIES 0
#endif

__device__ __forceinline__ void copy_async_or_zero(float* dst, const float* src, bool valid) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" ::"r"((unsigned)__cvta_generic_to_shared(dst)), "l"(src),
               "r"(valid ? 4 : 0)
               : "memory");
#elif defined(AUGUR_EMU)
  augur_emu::copy_async(dst, src, 4, valid ? 4 : 0);
#else
  *dst = valid ? *src : 0.0f;
#endif
}

__device__ __forceinline__ void copy_async(float* dst, const float* src) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4;" ::"r"((unsigned)__cvta_generic_to_shared(dst)), "l"(src) : "memory");
#else
  copy_async_or_zero(dst, src, true);
#endif
}

__device__ __forceinline__ void copies_arrived() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_all;" ::: "memory");
#elif defined(AUGUR_EMU)
  augur_emu::copies_arrived();
#endif
}

// dst[r d_row + k d_col] = src[r ld + k] for r < B, k < K: a block of a row-major matrix (rows ld
// apart) into shared memory, as rows d_row apart (d_col = 1) or transposed (d_row = 1). With ZERO,
// 0 where r >= Bv or k >= Kv, where src is not read (a block's channels past a layer's last). Thread
// (k, g) = (tid % Kt, tid / Kt) of G = max(1, blockDim.x / Kt) groups takes column k (and k +
// blockDim.x, ... where K is wider than the block) at rows g, g + G, ..., as row_copy does; RowThreads(Kt)
// reckons that once (two divisions) for copies of up to Kt columns (a loop over chunks of a matrix's
// columns, the last one narrower). Each element costs its two offsets and the copy (sm_90: 25
// instructions for 4 elements of a tower layer's input, where a walk over the B K elements in thread
// order, moving a column and testing for the row's end at every element, took 389 for 16 in rounds),
// at the price of the threads past the G groups (94 of 256 at K = 162). With async copies
// (AUGUR_ASYNC_COPIES) every element is in flight at once, and the caller calls copies_arrived() before
// the barrier after which the block reads them; below compute capability 8.0, row_copy's rounds of
// ROWS_BATCH loads (its own G for a narrower chunk). Every thread of the block calls it; no barrier.
constexpr int ROWS_BATCH = 16;

struct RowThreads {
  int G, g, k0;
  __device__ __forceinline__ explicit RowThreads(int Kt) {
    G = max(1, (int)blockDim.x / Kt);
    g = (int)threadIdx.x / Kt;
    k0 = (int)threadIdx.x - g * Kt;
  }

  template <bool ZERO>
  __device__ __forceinline__ void copy(float* dst, int d_row, int d_col, const float* __restrict__ src, int ld, int B, int K, int Bv = 0,
                                       int Kv = 0) const {
#if AUGUR_ASYNC_COPIES
    if (g >= G) return;
    for (int k = k0; k < K; k += (int)blockDim.x) {
#pragma unroll 4
      for (int r = g; r < B; r += G) {
        if constexpr (ZERO) {
          const bool valid = r < Bv && k < Kv;
          copy_async_or_zero(dst + (r * d_row + k * d_col), valid ? src + (r * ld + k) : src, valid);
        } else {
          copy_async(dst + (r * d_row + k * d_col), src + (r * ld + k));
        }
      }
    }
#else
    row_copy<ROWS_BATCH, float>(B, K, [&](int r, int k) { return !ZERO || (r < Bv && k < Kv) ? src[r * ld + k] : 0.0f; },
                                [&](int r, int k, float v) { dst[r * d_row + k * d_col] = v; });
#endif
  }
};

template <bool ZERO>
__device__ __forceinline__ void rows_to_shared(float* dst, int d_row, int d_col, const float* __restrict__ src, int ld, int B, int K,
                                               int Bv = 0, int Kv = 0) {
  if (B > 0 && K > 0) RowThreads(K).copy<ZERO>(dst, d_row, d_col, src, ld, B, K, Bv, Kv);
}

// Brings up to four read-only arrays ([p_i, p_i + n_i) floats; nullptr or n_i = 0 for none) into
// the L1 cache of the calling block's multiprocessor. A product that walks a weight matrix from
// global memory k step by k step waits one memory round trip per group of steps (tiled_product's
// unroll of 4), and while the matrix is only in L2 each trip is some 250-600 cycles against about
// 35 from L1: the activation unit's first tile waits on about 70 such trips in the backward. Here
// each thread loads one float of up to WARM_LOADS of the arrays' 32-byte sectors (the unit an L1
// miss fills), all in flight together, so one round trip brings in the lot (4,096 sectors, 128 KB,
// at 256 threads; past that the rest is left to the products). Nothing depends on the values:
// their sum is stored to a device float that nothing reads, and only when it is exactly -2^127
// (harmless if it ever is), which keeps the compiler from dropping the loads. Every thread
// of the block calls it, or any subset; no barrier.
constexpr int WARM_LOADS = 16;
__device__ float warm_sink;

__device__ __forceinline__ void warm_l1(const float* p0, int n0, const float* p1, int n1, const float* p2, int n2,
                                        const float* p3, int n3) {
  const int s0 = p0 != nullptr ? (n0 + 7) / 8 : 0, s1 = p1 != nullptr ? (n1 + 7) / 8 : 0;
  const int s2 = p2 != nullptr ? (n2 + 7) / 8 : 0, s3 = p3 != nullptr ? (n3 + 7) / 8 : 0;
  const int total = s0 + s1 + s2 + s3;
  float v[WARM_LOADS];
#pragma unroll
  for (int u = 0; u < WARM_LOADS; ++u) {
    int k = (int)threadIdx.x + u * (int)blockDim.x;
    v[u] = 0.0f;
    if (k < total) {
      const float* p;
      if (k < s0) p = p0;
      else if ((k -= s0) < s1) p = p1;
      else if ((k -= s1) < s2) p = p2;
      else {
        k -= s2;
        p = p3;
      }
      v[u] = p[8 * k];
    }
  }
  float sum = 0.0f;
#pragma unroll
  for (int u = 0; u < WARM_LOADS; ++u) sum += v[u];
  if (sum == -0x1p127f) *static_cast<volatile float*>(&warm_sink) = sum;  // volatile: the store, so the loads, stay
}

// sum_{t < len} x[t * stride], in t order with up to 16 loads in flight: the history's sum pool of
// one column (sum_pool_forward_kernel, interest_concat_forward_kernel and the activation unit's
// pooling launch share it, so their sums are the same bits).
__device__ __forceinline__ float positions_sum(const float* x, int len, long long stride) {
  float s = 0.0f;
#pragma unroll 16
  for (int t = 0; t < len; ++t) s += x[(long long)t * stride];
  return s;
}

// Sum over a warp (every lane gets the total).
__device__ __forceinline__ double warp_sum(double v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum of one value per thread over a 1-D block, in a fixed order; every thread gets the total.
// `scratch` holds at least 32 doubles of shared memory; blockDim.x is a multiple of 32.
__device__ __forceinline__ double block_sum(double v, double* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // scratch may still be read by a previous call
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  double t = 0.0;
  for (int w = 0; w < warps; ++w) t += scratch[w];
  return t;
}

__device__ __forceinline__ float block_max(float v, double* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float m = -INFINITY;
  for (int w = 0; w < warps; ++w) m = fmaxf(m, (float)scratch[w]);
  return m;
}

// The block's part of a softmax over v[0, len), len > 0: v[t] = exp(v[t] - max_t v[t]) in place,
// returning 1 / sum_t v[t] (summed in double); the softmax is v[t] times that. Each thread touches
// the t = threadIdx.x + k blockDim.x it owns, so a caller that wrote v the same way needs no
// barrier before; every thread must call it (it synchronises through `scratch`, 32 doubles).
__device__ __forceinline__ float softmax_exponentials(float* v, int len, double* scratch) {
  float m = -INFINITY;
  for (int t = threadIdx.x; t < len; t += blockDim.x) m = fmaxf(m, v[t]);
  m = block_max(m, scratch);
  double sum = 0.0;
  for (int t = threadIdx.x; t < len; t += blockDim.x) {
    const float e = expf(v[t] - m);
    v[t] = e;
    sum += e;
  }
  return (float)(1.0 / block_sum(sum, scratch));
}

// The entry of a by-value launch list (embedding.cu's GatherList, sparse_update.cu's
// SparseUpdateList) that owns this block: entries e[0, count) start at increasing first_block.
template <class List>
__device__ __forceinline__ int list_entry(const List& l, int block) {
  int e = 0;
  while (e + 1 < l.count && l.e[e + 1].first_block <= block) ++e;
  return e;
}

// Grid-stride loop over [0, n).
#define AUGUR_GRID_STRIDE(i, n) \
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (long long)(n); \
       i += (long long)blockDim.x * gridDim.x)

// Column reductions over a (B, C) row-major matrix use blocks of (32, COL_ROWS) threads: x is the
// column within a 32-column tile (coalesced), y strides over the rows.
constexpr int COL_ROWS = 16;

// Sum over the threadIdx.y of a (32, COL_ROWS) block, per threadIdx.x, in a fixed order.
// `scratch` holds 32 * COL_ROWS doubles of shared memory; every thread of a column gets its total.
__device__ __forceinline__ double column_sum(double v, double* scratch) {
  __syncthreads();
  scratch[threadIdx.y * 32 + threadIdx.x] = v;
  __syncthreads();
  double t = 0.0;
  for (int y = 0; y < COL_ROWS; ++y) t += scratch[y * 32 + threadIdx.x];
  return t;
}

// ---------------------------------------------------------------- TF32 tensor cores
// `--precision tf32` (io.augur.backend.Precision): products whose operands are rounded to TF32
// (fp32's 8 exponent bits, 10 of its 23 mantissa bits) and accumulated in fp32 by the tensor
// cores of compute capability 8.0 and newer, through the warp-wide PTX instruction
// mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32, D (16 x 8) = A (16 x 8) B (8 x 8) + C.
// Its operands are spread over the 32 lanes as the PTX ISA specifies; with g = lane / 4 and
// t = lane % 4:
//   A: a[0] (g, t)   a[1] (g + 8, t)   a[2] (g, t + 4)   a[3] (g + 8, t + 4)     (row, k)
//   B: b[0] (t, g)   b[1] (t + 4, g)                                             (k, column)
//   C, D: d[q] (g + 8 (q / 2), 2 t + q % 2)                                      (row, column)
// Every lane of the warp must make the call (the CPU emulator fails a launch otherwise).

// x rounded to TF32, to nearest with ties away from zero (cvt.rna.tf32.f32), as fp32 bits with
// the 13 low mantissa bits zero. Infinities and NaNs stay what they are.
__device__ __forceinline__ uint32_t to_tf32(float x) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  uint32_t r;
  asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));
  return r;
#else
  uint32_t u;
  memcpy(&u, &x, 4);
  if ((u & 0x7f800000u) == 0x7f800000u) return (u & 0x1fffu) != 0 ? (u | 0x00400000u) & ~0x1fffu : u;
  return (u + 0x1000u) & ~0x1fffu;
#endif
}

// x as the sum of two TF32 numbers (`--precision tf32x3`): hi is x rounded to TF32, to nearest
// with ties away from zero (to_tf32's rounding for every finite x, in two integer instructions
// where cvt.rna.tf32 takes more), and lo what is left, x - hi (exact in fp32: hi agrees with x
// but for x's low 13 mantissa bits and the rounding's carry), truncated to TF32 bits as the tensor
// core would read it. |x - hi| <= 2^-11 |x| and lo keeps 11 of its bits, so hi + lo is x to within
// 2^-21 relative, and hi*b_hi + hi*b_lo + lo*b_hi (three products on the tensor cores) is a*b to
// within about 2^-20 (the two truncations and the dropped lo*lo term), against 2^-24 for an fp32
// multiply and 2^-11 per operand for TF32. Finite x only: an infinite or NaN x, or one within a
// TF32 rounding of fp32's largest value, gives lo = NaN or an infinite hi.
__device__ __forceinline__ void split_tf32(float x, uint32_t& hi, uint32_t& lo) {
  uint32_t u;
#if defined(__CUDA_ARCH__)
  u = __float_as_uint(x);
#else
  memcpy(&u, &x, 4);
#endif
  hi = (u + 0x1000u) & ~0x1fffu;
#if defined(__CUDA_ARCH__)
  lo = __float_as_uint(x - __uint_as_float(hi)) & ~0x1fffu;
#else
  float h, r;
  memcpy(&h, &hi, 4);
  r = x - h;
  memcpy(&lo, &r, 4);
  lo &= ~0x1fffu;
#endif
}

// d (this lane's four elements of D) += A B, the lane's elements of A and B in a and b (TF32 bits).
__device__ __forceinline__ void mma_tf32(float d[4], const uint32_t a[4], const uint32_t b[2]) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#elif defined(AUGUR_EMU)
  augur_emu::mma_tf32(d, a, b);
#elif defined(__CUDA_ARCH__)
  __trap();  // the host never selects a TF32 kernel below compute capability 8.0
#endif
}

// Thread-block clusters (AUGUR_CLUSTER): the block's rank in its cluster, the barrier over every
// thread of the cluster (arrive with release, wait with acquire: shared-memory writes before it
// are visible to the cluster's blocks after it), and the address in the shared memory of the
// cluster's block `rank` that corresponds to `p` in the caller's. A block must not read another's
// shared memory after that block may have returned: a kernel ends with a cluster barrier after
// its last such read.
__device__ __forceinline__ unsigned cluster_rank() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  return __clusterRelativeBlockRank();
#elif defined(AUGUR_EMU)
  return augur_emu::cluster_rank();
#elif defined(__CUDA_ARCH__)
  __trap();  // the host launches cluster kernels only on compute capability 9.0 and up
  return 0;
#else
  return 0;
#endif
}

__device__ __forceinline__ void cluster_sync() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  __cluster_barrier_arrive();
  __cluster_barrier_wait();
#elif defined(AUGUR_EMU)
  augur_emu::cluster_sync();
#elif defined(__CUDA_ARCH__)
  __trap();
#endif
}

// Programmatic dependent launch (compute capability 9.0; the host launches a kernel of
// Kernels.PROGRAMMATIC with CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION where it may,
// CudaRuntime). Such a grid may start while the kernel before it in the stream still runs, so
// before grid_dependency_wait() its threads may read only what that kernel does not write (the
// model's weights, which only the optimizer writes) and write only their own shared memory;
// grid_dependency_wait() returns once the kernel before has finished and its writes are visible.
// Every thread calls it, before any return: a block that returned without it could let this grid
// finish before the one it depends on, and the kernel after this one relies on that order.
// grid_dependents_launch() then lets the next kernel's blocks start (their own waits hold them);
// without it they start when this grid's blocks have all returned. Launched the plain way, both are
// no-ops. The emulator checks the rule (cuda/emu/README.md).
__device__ __forceinline__ void grid_dependency_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#elif defined(AUGUR_EMU)
  augur_emu::grid_dependency_wait();
#endif
}

__device__ __forceinline__ void grid_dependents_launch() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// Both, as a kernel whose earlier part reads only weights calls them.
__device__ __forceinline__ void grid_dependency_wait_and_launch() {
  grid_dependency_wait();
  grid_dependents_launch();
}

template <class T>
__device__ __forceinline__ T* cluster_map(T* p, unsigned rank) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  return static_cast<T*>(__cluster_map_shared_rank(static_cast<void*>(p), rank));
#elif defined(AUGUR_EMU)
  return static_cast<T*>(augur_emu::cluster_map_shared(static_cast<void*>(p), rank));
#else
  (void)rank;
  return p;
#endif
}

}  // namespace augur
