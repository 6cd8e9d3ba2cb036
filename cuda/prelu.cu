// Parametric ReLU with one slope per channel. CPU reference: io.augur.backend.cpu.PRelu.
#include "common.cuh"
#include "normalization.cuh"

// y = x > 0 ? x : alpha[c] x      y, x (B, C)   alpha (C)
AUGUR_KERNEL void prelu_forward_kernel(float* __restrict__ y, const float* __restrict__ x,
                                       const float* __restrict__ alpha, int B, int C) {
  AUGUR_GRID_STRIDE(i, (long long)B * C) {
    const float v = x[i];
    y[i] = v > 0.0f ? v : alpha[(int)i % C] * v;  // i < B C, y's size: an int
  }
}

// dx = (x > 0 ? 1 : alpha) dy (=);  dAlpha[c] += sum_r (x > 0 ? 0 : x) dy (+=).
// Grid: ceil(C / 32) blocks of (32, COL_ROWS) threads.
AUGUR_KERNEL void prelu_backward_kernel(float* __restrict__ dx, float* __restrict__ d_alpha,
                                        const float* __restrict__ dy, const float* __restrict__ x,
                                        const float* __restrict__ alpha, int B, int C) {
  __shared__ double scratch[32 * augur::COL_ROWS];
  const int c = blockIdx.x * 32 + threadIdx.x;
  const float a = c < C ? alpha[c] : 0.0f;
  double s = 0.0;
  if (c < C)
    for (int r = threadIdx.y; r < B; r += augur::COL_ROWS) {
      const long long i = (long long)r * C + c;
      const float v = x[i], d = dy[i];
      if (v <= 0.0f) s += (double)v * d;
      dx[i] = v > 0.0f ? d : a * d;
    }
  s = augur::column_sum(s, scratch);
  if (c < C && threadIdx.y == 0) d_alpha[c] += (float)s;
}

// The backward over many rows, sliced (normalization.cuh RowSlice): grid (ceil(C / 32), S) blocks of
// (32, COL_ROWS) threads. dx as above (=) for the slice's rows, and partials[s, c] = the slice's
// sum of (x > 0 ? 0 : x) dy (doubles); gemm.cu's bias_grad_reduce_kernel then adds the S slices in
// order into dAlpha (+=). With count (the layer-by-layer activation unit's packed rows) the rows
// r < *count only: the rows past it are neither read nor written, and a slice wholly past it
// writes a zero partial.
AUGUR_KERNEL void prelu_sliced_backward_kernel(float* __restrict__ dx, double* __restrict__ partials,
                                               const float* __restrict__ dy, const float* __restrict__ x,
                                               const float* __restrict__ alpha, const int* __restrict__ count,
                                               int B, int C, int chunk) {
  __shared__ double scratch[32 * augur::COL_ROWS];
  const int c = blockIdx.x * 32 + threadIdx.x;
  const augur::RowSlice sl(B, chunk);
  const long long end = augur::slice_end(sl, count);
  const float a = c < C ? alpha[c] : 0.0f;
  double s = 0.0;
  if (c < C)
    for (long long r = sl.r0 + threadIdx.y; r < end; r += augur::COL_ROWS) {
      const long long i = r * C + c;
      const float v = x[i], d = dy[i];
      if (v <= 0.0f) s += (double)v * d;
      dx[i] = v > 0.0f ? d : a * d;
    }
  s = augur::column_sum(s, scratch);
  if (c < C && threadIdx.y == 0) partials[(long long)blockIdx.y * C + c] = s;
}
