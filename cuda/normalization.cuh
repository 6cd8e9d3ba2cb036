// Batch statistics shared by BatchNorm and Dice (CPU: BatchNorm.statisticsRef / inferenceStatistics).
// Used inside column-tile kernels: blocks of (32, COL_ROWS) threads own 32 channels each.
#pragma once
#include "common.cuh"

namespace augur {

// The running statistics after a training batch of n rows (unbiased variance), in double then rounded.
__device__ __forceinline__ void update_running(float* run_mean, float* run_var, int c, double mean, double var, double n,
                                               float momentum) {
  const double unbiased = n > 1.0 ? var * n / (n - 1.0) : var;
  run_mean[c] = (float)(momentum * (double)run_mean[c] + (1 - momentum) * mean);
  run_var[c] = (float)(momentum * (double)run_var[c] + (1 - momentum) * unbiased);
}

// Rows of a column a thread row of a (32, COL_ROWS) block has in flight at a time (column_rows).
constexpr int COLUMN_LOADS = 8;

// use(r, load(r)) for the rows r = threadIdx.y, threadIdx.y + COL_ROWS, ... < n, in that order, their loads
// N rows at a time: a round's loads first, then its uses (common.cuh staged_copy's rounds, down a column). A
// loop of load-then-use waited a round trip to memory a row wherever `use` holds a branch that the compiler
// would not hoist a later row's loads above (Dice's sigmoid divides, and IEEE division keeps a slow path: on
// sm_90 dice_backward_kernel's two walks waited 16 round trips at batch 128, and took 9.5 us on 3 blocks; ncu,
// 2026-11-26), and twice a walk of 8 rows where it unrolled by 4. Rows past the end load row n - 1 in their
// place, unused. The uses of a full round go without a test, those of the last round, partly past n, test
// each row: with the tests in every round ptxas sank each load below its row's test, the PTX's order
// notwithstanding. Written as here, sm_90 issues a round's loads (16 at batch 128 in dice_backward_kernel)
// before its first use. At batch 128 a thread row has 8 rows: one full round a walk.
template <int N, class V, class Load, class Use>
__device__ __forceinline__ void column_rows(int n, Load load, Use use) {
  for (int r0 = threadIdx.y; r0 < n; r0 += N * COL_ROWS) {
    V v[N];
#pragma unroll
    for (int u = 0; u < N; ++u) v[u] = load(min(r0 + u * COL_ROWS, n - 1));
    loads_issued();
    if (r0 + (N - 1) * COL_ROWS < n) {  // a full round
#pragma unroll
      for (int u = 0; u < N; ++u) use(r0 + u * COL_ROWS, v[u]);
    } else {
#pragma unroll
      for (int u = 0; u < N; ++u) {
        if (r0 + u * COL_ROWS >= n) break;
        use(r0 + u * COL_ROWS, v[u]);
      }
    }
  }
}

// Training: mean and biased variance over the B rows of channel c (sums in double, two passes as
// the reference does); writes mean[c], inv_std[c] and the running statistics (unbiased variance)
// from the threadIdx.y == 0 thread; returns (mean, inv_std) to every thread of the column.
// Inference: the running statistics. Every thread of the block must call it (it synchronises).
__device__ __forceinline__ float2 channel_statistics(float* mean, float* inv_std, const float* __restrict__ x,
                                                     float* run_mean, float* run_var, int B, int C, int c,
                                                     bool training, float momentum, float eps, double* scratch) {
  if (!training) {
    float mu = 0.0f, is = 0.0f;
    if (c < C) {
      mu = run_mean[c];
      is = (float)(1.0 / sqrt((double)run_var[c] + eps));
      if (threadIdx.y == 0) { mean[c] = mu; inv_std[c] = is; }
    }
    return make_float2(mu, is);
  }
  double s = 0.0;
  auto load_x = [&](int r) { return x[(long long)r * C + c]; };
  if (c < C) column_rows<COLUMN_LOADS, float>(B, load_x, [&](int, float v) { s += v; });
  s = column_sum(s, scratch);
  const float mu = (float)(s / B);
  double q = 0.0;
  if (c < C)
    column_rows<COLUMN_LOADS, float>(B, load_x, [&](int, float v) {
      const double d = (double)v - mu;
      q += d * d;
    });
  q = column_sum(q, scratch);
  const double var = q / B;
  const float is = (float)(1.0 / sqrt(var + eps));
  if (c < C && threadIdx.y == 0) {
    mean[c] = mu;
    inv_std[c] = is;
    update_running(run_mean, run_var, c, (double)mu, var, (double)B, momentum);
  }
  return make_float2(mu, is);
}

// The sliced column kernels (batch_norm.cu, dice.cu, prelu.cu, gemm.cu's bias_grad_partials) spread the
// rows of an (R, C) matrix over a grid of (ceil(C / 32), S) blocks: block (x, s) owns 32 channels
// of the rows [s chunk, min((s + 1) chunk, R)). Which rows count: row r = b T + t of a (B, T, C)
// sequence iff t < lengths[b]; every row when lengths is nullptr (a plain (B, C) matrix, T = 1).
__device__ __forceinline__ bool row_counts(const int* lengths, int T, long long r) {
  if (lengths == nullptr) return true;
  const int b = (int)(r / T), t = (int)(r - (long long)b * T);
  return t < clamped_length(lengths, b, T);
}

// The rows of this block's slice.
struct RowSlice {
  long long r0, r1;
  __device__ RowSlice(long long rows, int chunk) {
    r0 = (long long)blockIdx.y * chunk;
    r1 = min(r0 + chunk, rows);
  }
};

// Where a slice's walk stops: its end, or with a row count in device memory (the packed rows of
// activation_unit_unfused.cu) the count where that comes first. Rows past it are neither read nor written.
__device__ __forceinline__ long long slice_end(const RowSlice& sl, const int* count) {
  return count != nullptr ? min(sl.r1, (long long)max(*count, 0)) : sl.r1;
}

// Chan et al.'s pairwise update: the part (n, m, q) (count, mean, sum of squared deviations)
// takes in another part's (nb, mb, qb); one division. A part of no row changes nothing.
__device__ __forceinline__ void merge_statistics(double& n, double& m, double& q, double nb, double mb, double qb) {
  if (nb == 0.0) return;
  const double nt = n + nb, f = nb / nt, delta = mb - m;
  m += delta * f;
  q += qb + delta * delta * n * f;
  n = nt;
}

// Stage 2 of the sliced statistics (batch_norm.cu's sliced_statistics_kernel): channel c's S
// slices (count, mean, sum of squared deviations; partials (S, 3, C) doubles) combined into the
// count, the mean and the biased variance over all counted rows. Thread row y merges slices y,
// y + COL_ROWS, ... in slice order, then the rows merge in a fixed tree (row y takes row y + h,
// h = COL_ROWS / 2 down to 1): an order that depends on S alone, with about S / COL_ROWS + 4
// merges on a thread's path. (Row 0 merging all 256 slices of DIEN's auxiliary BatchNorm one
// after another, two double divisions each, in every one of the launch's 768 blocks, took about
// 240 us a launch on the H200.) Every thread of the block must call it; the totals are row 0's.
// scratch: 3 * 32 * COL_ROWS doubles of shared memory.
struct Statistics {
  double n, mean, var;
};
__device__ __forceinline__ Statistics combine_statistics(const double* partials, int slices, int C, int c, double* scratch) {
  double n = 0.0, m = 0.0, q = 0.0;
  if (c < C) {
#pragma unroll 4
    for (int s = threadIdx.y; s < slices; s += COL_ROWS) {
      const double* p = partials + (long long)s * 3 * C;
      merge_statistics(n, m, q, p[c], p[C + c], p[2 * C + c]);
    }
  }
  double* sn = scratch;
  double* sm = scratch + 32 * COL_ROWS;
  double* sq = scratch + 2 * 32 * COL_ROWS;
  const int i = threadIdx.y * 32 + threadIdx.x;
  for (int h = COL_ROWS / 2; h > 0; h >>= 1) {
    __syncthreads();  // the previous level's reads are done
    if (threadIdx.y >= h && threadIdx.y < 2 * h) {
      sn[i] = n;
      sm[i] = m;
      sq[i] = q;
    }
    __syncthreads();
    if (threadIdx.y < h) merge_statistics(n, m, q, sn[i + 32 * h], sm[i + 32 * h], sq[i + 32 * h]);
  }
  return {n, m, n > 0.0 ? q / n : 0.0};
}

// Sums over the S slices of NV partial sums per channel (partials (S, NV, C) doubles) for the
// block's channel c: thread row y adds slices y, y + COL_ROWS, ... in slice order, then column_sum
// adds the rows in row order (an order that depends on S alone). Every thread of the block must
// call it; every thread of the column gets the totals. scratch: 32 * COL_ROWS doubles.
template <int NV>
__device__ __forceinline__ void slice_sums(double (&t)[NV], const double* partials, int slices, int C, int c, double* scratch) {
#pragma unroll
  for (int v = 0; v < NV; ++v) t[v] = 0.0;
  if (c < C) {
#pragma unroll 4
    for (int s = threadIdx.y; s < slices; s += COL_ROWS) {
      const double* p = partials + (long long)s * NV * C;
#pragma unroll
      for (int v = 0; v < NV; ++v) t[v] += p[(long long)v * C + c];
    }
  }
#pragma unroll
  for (int v = 0; v < NV; ++v) t[v] = column_sum(t[v], scratch);
}

// Stage 2 of a sliced forward (BatchNorm's and Dice's), for the block's 32 channels: training
// combines channel c's slices (combine_statistics), inference takes the running statistics; block
// row 0 writes mean, inv_std and, training, the running statistics. Every thread of the column
// gets the channel's mean and inv_std; `counted` is false when training counted no row (then
// nothing is written). Every thread of the block must call it (it synchronises).
struct ColumnStatistics {
  float mean, inv_std;
  bool counted;
};
__device__ __forceinline__ ColumnStatistics sliced_column_statistics(float* mean, float* inv_std, float* run_mean,
                                                                     float* run_var, const double* partials, int slices,
                                                                     int C, int c, bool training, float momentum,
                                                                     float eps) {
  __shared__ float col_mean[32], col_is[32];
  __shared__ int col_rows;
  __shared__ double scratch[3 * 32 * COL_ROWS];
  Statistics st{0.0, 0.0, 0.0};
  if (training) st = combine_statistics(partials, slices, C, c, scratch);  // every thread (training is the launch's)
  if (threadIdx.y == 0) {
    float mu = 0.0f, is = 0.0f;
    double n = 0.0;
    if (c < C && training) {
      n = st.n;
      if (n > 0.0) {
        mu = (float)st.mean;
        is = (float)(1.0 / sqrt(st.var + eps));
        if (blockIdx.y == 0) {
          mean[c] = mu;
          inv_std[c] = is;
          update_running(run_mean, run_var, c, (double)mu, st.var, n, momentum);
        }
      }
    } else if (c < C) {
      mu = run_mean[c];
      is = (float)(1.0 / sqrt((double)run_var[c] + eps));
      n = 1.0;
      if (blockIdx.y == 0) {
        mean[c] = mu;
        inv_std[c] = is;
      }
    }
    col_mean[threadIdx.x] = mu;
    col_is[threadIdx.x] = is;
    if (threadIdx.x == 0) col_rows = (c < C && n > 0.0) ? 1 : 0;  // every channel sees the same count
  }
  __syncthreads();
  return {col_mean[threadIdx.x], col_is[threadIdx.x], col_rows != 0};
}

// Dice of one element, given its channel's statistics: p = sigmoid((x - mean) inv_std),
// p x + (1 - p) alpha x.
__device__ __forceinline__ float dice_value(float x, float mu, float is, float alpha) {
  const float p = sigmoidf((x - mu) * is);
  return p * x + (1 - p) * alpha * x;
}

// One element's terms of Dice's training backward: z = (x - mean) inv_std, p = sigmoid(z),
// dz = dy x (1 - alpha) p (1 - p). With the channel's means of dz and dz z over its rows:
// dx = dy (alpha + (1 - alpha) p) + inv_std (dz - mean(dz) - z mean(dz z)).
struct DiceTerms {
  float z, p, dz;
  __device__ __forceinline__ DiceTerms(float x, float dy, float mu, float is, float alpha) {
    z = (x - mu) * is;
    p = sigmoidf(z);
    dz = dy * x * (1 - alpha) * p * (1 - p);
  }
  __device__ __forceinline__ float dx(float dy, float is, float alpha, float mean_dz, float mean_dzz) const {
    return dy * (alpha + (1 - alpha) * p) + is * (dz - mean_dz - z * mean_dzz);
  }
};

}  // namespace augur
