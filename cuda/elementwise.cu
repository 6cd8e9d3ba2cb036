// Small elementwise and sequence ops. CPU reference: io.augur.backend.cpu.Sigmoid and
// io.augur.backend.cpu.Elementwise.
#include "common.cuh"
#include "multi_tensor.cuh"

// y = sigmoid(x)   y, x (n)
AUGUR_KERNEL void sigmoid_forward_kernel(float* __restrict__ y, const float* __restrict__ x, int n) {
  AUGUR_GRID_STRIDE(i, n) { y[i] = augur::sigmoidf(x[i]); }
}

// dx = dy y (1 - y)   (=)
AUGUR_KERNEL void sigmoid_backward_kernel(float* __restrict__ dx, const float* __restrict__ dy,
                                          const float* __restrict__ y, int n) {
  AUGUR_GRID_STRIDE(i, n) { dx[i] = dy[i] * y[i] * (1.0f - y[i]); }
}

// y += x   (joins the gradients of an activation with several consumers)
AUGUR_KERNEL void add_into_kernel(float* __restrict__ y, const float* __restrict__ x, int n) {
  AUGUR_GRID_STRIDE(i, n) { y[i] += x[i]; }
}

// out[b, t, :] = t < lengths[b] ? w[b, t] * x[b, t, :] : 0     out, x (B, T, C)   w (B, T)
AUGUR_KERNEL void scale_sequence_forward_kernel(float* __restrict__ out, const float* __restrict__ x,
                                                const float* __restrict__ w, const int* __restrict__ lengths,
                                                int B, int T, int C) {
  AUGUR_GRID_STRIDE(i, (long long)B * T * C) {
    const int bt = (int)i / C, t = bt % T, b = bt / T;  // i < B T C, x's size: an int
    out[i] = t < lengths[b] ? w[bt] * x[i] : 0.0f;
  }
}

// dX[b, t, :] = w[b, t] dOut[b, t, :];  dW[b, t] = sum_c dOut[b, t, c] x[b, t, c]   (both =, 0 when padded)
// One thread per (b, t): C is small (E or H) and the sum runs in the reference's order.
AUGUR_KERNEL void scale_sequence_backward_kernel(float* __restrict__ dX, float* __restrict__ dW,
                                                 const float* __restrict__ dOut, const float* __restrict__ x,
                                                 const float* __restrict__ w, const int* __restrict__ lengths,
                                                 int B, int T, int C) {
  AUGUR_GRID_STRIDE(bt, (long long)B * T) {
    const int t = (int)bt % T, b = (int)bt / T;  // bt < B T, w's size: an int
    const long long o = bt * C;
    if (t < lengths[b]) {
      const float a = w[bt];
      float g = 0.0f;
      for (int c = 0; c < C; ++c) {
        const float d = dOut[o + c];
        dX[o + c] = a * d;
        g += d * x[o + c];
      }
      dW[bt] = g;
    } else {
      for (int c = 0; c < C; ++c) dX[o + c] = 0.0f;
      dW[bt] = 0.0f;
    }
  }
}

// Zeroes up to MULTI_MAX tensors in one launch (the dense gradients before a step): tensor e is
// list.a[e], n[e] floats; b, c, d unused.
AUGUR_KERNEL void zero_multi_kernel(augur::MultiTensor list) { augur::zero_or_copy_block(list, blockIdx.x); }

// A batch's staged inputs from the device staging slot into the tensors the step reads (InputStaging),
// up to MULTI_MAX of them in one launch: tensor e gets list.b[e] into list.a[e], n[e] 32-bit words
// (ints or floats, copied as bits); c, d unused. One launch where there was a cuMemcpyDtoDAsync per
// input, 7 a step for DIN, each a copy of about 0.9 us on the stream and some 5 us of host time under
// nsys (H200, batch 128); DIN's step at 128 went from 0.189 to 0.179 ms (docs/perf, 2026-11-26).
// Launched plainly (no programmatic serialization), inside the step's graph where the step's first
// launch cannot carry the copies itself (CudaBackend.runStep), else before whatever reads them.
AUGUR_KERNEL void copy_multi_kernel(augur::MultiTensor list) { augur::zero_or_copy_block(list, blockIdx.x); }
