// Embedding gather with masking, and masked sum pooling over a history.
// CPU reference: io.augur.backend.cpu.Embedding and io.augur.backend.cpu.SumPool.
#include "common.cuh"

// out[r, off + c] = table[ids[r], c] for r in [0, rows), c in [0, D); rows = B * T.
// With lengths != nullptr, row r is position t = r % T of sample b = r / T, and positions at or
// past lengths[b] are written as 0 (padding contributes exactly zero downstream).
//   out     (rows, out_stride)   written in columns [off, off + D)
//   ids     (rows)
//   lengths (B) or nullptr
//   table   (V, D)
AUGUR_KERNEL void embedding_gather_forward_kernel(float* __restrict__ out,
                                                  const int* __restrict__ ids,
                                                  const int* __restrict__ lengths,
                                                  const float* __restrict__ table,
                                                  int rows, int T, int D, int out_stride, int off) {
  AUGUR_GRID_STRIDE(i, (long long)rows * D) {
    const int r = (int)(i / D);
    const int c = (int)(i % D);
    const bool valid = lengths == nullptr || (r % T) < lengths[r / T];
    out[(long long)r * out_stride + off + c] = valid ? table[(long long)ids[r] * D + c] : 0.0f;
  }
}

// out[b, c] = sum_{t < lengths[b]} x[b, t, c]
//   out     (B, C)
//   x       (B, T, C)
//   lengths (B)
AUGUR_KERNEL void sum_pool_forward_kernel(float* __restrict__ out, const float* __restrict__ x,
                                          const int* __restrict__ lengths, int B, int T, int C) {
  AUGUR_GRID_STRIDE(i, (long long)B * C) {
    const int b = (int)(i / C);
    const int c = (int)(i % C);
    const int len = lengths[b];
    const float* xb = x + (long long)b * T * C + c;
    float acc = 0.0f;
    for (int t = 0; t < len; ++t) acc += xb[(long long)t * C];
    out[i] = acc;
  }
}

// dx[b, t, c] = dout[b, c] for t < lengths[b], else 0   (= into dx: the pool is dx's first consumer)
AUGUR_KERNEL void sum_pool_backward_kernel(float* __restrict__ dx, const float* __restrict__ dout,
                                           const int* __restrict__ lengths, int B, int T, int C) {
  AUGUR_GRID_STRIDE(i, (long long)B * T * C) {
    const int c = (int)(i % C);
    const int t = (int)((i / C) % T);
    const int b = (int)(i / ((long long)T * C));
    dx[i] = t < lengths[b] ? dout[(long long)b * C + c] : 0.0f;
  }
}
