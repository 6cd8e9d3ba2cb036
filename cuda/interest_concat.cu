// The interest block of the feature vector and the split of its gradient.
// CPU reference: io.augur.backend.cpu.InterestConcat.
#include "common.cuh"

// x[b, off : off + 3E + V] = [ea[b], s[b], ea[b] * s[b], v[b]]     (v only when V > 0)
//   x (B, x_stride)   ea, s (B, E)   v (B, V) or nullptr
// With hist != nullptr the history's sum pool is done here too (one launch instead of two):
//   s[b, c] = sum_{t < len_b} hist[b, t, c], in t order as sum_pool_forward_kernel sums it, is
//   written to s and used; hist (B, T, E), lengths (B). Otherwise s is read.
// One thread per (b, c < E) writes the three E-wide parts, one per (b, j < V) the v part.
AUGUR_KERNEL void interest_concat_forward_kernel(float* __restrict__ x, const float* __restrict__ ea,
                                                 float* __restrict__ s, const float* __restrict__ v,
                                                 int B, int E, int V, int x_stride, int off,
                                                 const float* __restrict__ hist, const int* __restrict__ lengths,
                                                 int T) {
  const int width = E + V;
  AUGUR_GRID_STRIDE(i, (long long)B * width) {
    const int b = (int)i / width, j = (int)i - b * width;  // i < B width, within x's size: an int
    float* row = x + (long long)b * x_stride + off;
    if (j < E) {
      const long long k = (long long)b * E + j;
      float sv;
      if (hist != nullptr) {
        const int len = augur::clamped_length(lengths, b, T);
        sv = augur::positions_sum(hist + (long long)b * T * E + j, len, E);  // sum_pool_forward_kernel's, bit for bit
        s[k] = sv;
      } else {
        sv = s[k];
      }
      const float e = ea[k];
      row[j] = e;
      row[E + j] = sv;
      row[2 * E + j] = e * sv;
    } else {
      row[3 * E + j - E] = v[(long long)b * V + j - E];
    }
  }
}

// dEa = dx[ea] + dx[ea * s] * s,  dS = dx[s] + dx[ea * s] * ea,  dV = dx[v]     (all =)
//   dEa, dS (B, E)   dV (B, V) or nullptr   dx (B, x_stride)
// With d_hist != nullptr the sum pool's backward is done here too: d_hist[b, t, c] = dS[b, c] for
// t < len_b, else 0 (=; d_hist (B, T, E), lengths (B)), as sum_pool_backward_kernel writes it.
AUGUR_KERNEL void interest_concat_backward_kernel(float* __restrict__ d_ea, float* __restrict__ d_s,
                                                  float* __restrict__ d_v, const float* __restrict__ dx,
                                                  const float* __restrict__ ea, const float* __restrict__ s,
                                                  int B, int E, int V, int x_stride, int off,
                                                  float* __restrict__ d_hist, const int* __restrict__ lengths, int T) {
  const int width = E + (d_v != nullptr ? V : 0);
  AUGUR_GRID_STRIDE(i, (long long)B * width) {
    const int b = (int)i / width, j = (int)i - b * width;  // i < B width, within x's size: an int
    const float* row = dx + (long long)b * x_stride + off;
    if (j < E) {
      const long long k = (long long)b * E + j;
      const float d_prod = row[2 * E + j];
      const float ds = row[E + j] + d_prod * ea[k];
      d_ea[k] = row[j] + d_prod * s[k];
      d_s[k] = ds;
      if (d_hist != nullptr) {
        const int len = augur::clamped_length(lengths, b, T);
        float* dh = d_hist + (long long)b * T * E + j;
        for (int t = 0; t < T; ++t) dh[(long long)t * E] = t < len ? ds : 0.0f;
      }
    } else {
      d_v[(long long)b * V + j - E] = row[3 * E + j - E];
    }
  }
}
