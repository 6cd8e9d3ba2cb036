// The interest block of the feature vector and the split of its gradient.
// CPU reference: io.augur.backend.cpu.InterestConcat.
#include "common.cuh"

// x[b, off : off + 3E + V] = [ea[b], s[b], ea[b] * s[b], v[b]]     (v only when V > 0)
//   x (B, x_stride)   ea, s (B, E)   v (B, V) or nullptr
AUGUR_KERNEL void interest_concat_forward_kernel(float* __restrict__ x, const float* __restrict__ ea,
                                                 const float* __restrict__ s, const float* __restrict__ v,
                                                 int B, int E, int V, int x_stride, int off) {
  const int width = 3 * E + V;
  AUGUR_GRID_STRIDE(i, (long long)B * width) {
    const int b = (int)(i / width);
    const int j = (int)(i % width);
    float out;
    if (j < E) {
      out = ea[b * E + j];
    } else if (j < 2 * E) {
      out = s[b * E + j - E];
    } else if (j < 3 * E) {
      out = ea[b * E + j - 2 * E] * s[b * E + j - 2 * E];
    } else {
      out = v[(long long)b * V + j - 3 * E];
    }
    x[(long long)b * x_stride + off + j] = out;
  }
}

// dEa = dx[ea] + dx[ea * s] * s,  dS = dx[s] + dx[ea * s] * ea,  dV = dx[v]     (all =)
//   dEa, dS (B, E)   dV (B, V) or nullptr   dx (B, x_stride)
AUGUR_KERNEL void interest_concat_backward_kernel(float* __restrict__ d_ea, float* __restrict__ d_s,
                                                  float* __restrict__ d_v, const float* __restrict__ dx,
                                                  const float* __restrict__ ea, const float* __restrict__ s,
                                                  int B, int E, int V, int x_stride, int off) {
  const int width = E + (d_v != nullptr ? V : 0);
  AUGUR_GRID_STRIDE(i, (long long)B * width) {
    const int b = (int)(i / width);
    const int j = (int)(i % width);
    const float* row = dx + (long long)b * x_stride + off;
    if (j < E) {
      const int k = b * E + j;
      const float d_prod = row[2 * E + j];
      d_ea[k] = row[j] + d_prod * s[k];
      d_s[k] = row[E + j] + d_prod * ea[k];
    } else {
      d_v[(long long)b * V + j - E] = row[3 * E + j - E];
    }
  }
}
