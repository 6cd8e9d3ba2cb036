// Embedding gather with masking, its backward into a sparse gradient, and masked sum pooling.
// CPU reference: io.augur.backend.cpu.Embedding and io.augur.backend.cpu.SumPool.
#include "common.cuh"
#include "sparse_grad.cuh"

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
  AUGUR_GRID_STRIDE(i, (long long)rows * D) {
    const int r = (int)(i / D);
    const int c = (int)(i % D);
    bool valid = true;
    if (lengths != nullptr) {
      const int len = lengths[r / T];
      if (c == 0 && r % T == 0 && (len < 0 || len > T)) augur::set_status(status, AUGUR_STATUS_BAD_LENGTH);
      valid = (r % T) < len;
    }
    float v = 0.0f;
    if (valid) {
      const int id = ids[r];
      if (id >= 0 && id < V) {
        v = table[(long long)id * D + c];
      } else if (c == 0) {
        augur::set_status(status, AUGUR_STATUS_BAD_ID);
      }
    }
    out[(long long)r * out_stride + off + c] = v;
  }
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
  AUGUR_GRID_STRIDE(i, (long long)rows * D) {
    const int r = (int)(i / D);
    const int c = (int)(i % D);
    if (lengths != nullptr && (r % T) >= lengths[r / T]) continue;
    const int id = ids[r];
    if (id < 0 || id >= V) continue;  // reported by the forward
    const float g = dout[(long long)r * out_stride + off + c];
    if (!isfinite(g)) augur::set_status(status, AUGUR_STATUS_NONFINITE_GRAD);
    atomicAdd(reinterpret_cast<unsigned long long*>(acc + (long long)id * D + c),
              static_cast<unsigned long long>(augur::to_fixed(g)));
    if (c == 0) augur::touch_row(touched_flag, touched_list, touched_count, status, id, capacity);
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
    const int len = min(max(lengths[b], 0), T);
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
