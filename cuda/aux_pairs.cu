// The packed input rows of DIEN's auxiliary network. CPU reference: io.augur.backend.cpu.AuxPairs.
// For b < B, 1 <= t < len_b, r = pair_start[b] + t - 1:
//   out[2r] = [h[b, t-1, :], pos[b, t, :]],   out[2r + 1] = [h[b, t-1, :], neg[b, t, :]]
// and rows 2P to `rows` (the padded row count a fixed-shape step runs the auxiliary network over)
// zeroed, so the padding never holds what an earlier step or nobody wrote there.
//   out (rows, H + E)   h (B, T, H)   pos, neg (B, T, E)   pair_start, lengths (B)
#include "common.cuh"
//
// Grid: samples on x (block b takes samples b, b + gridDim.x, ...), a sample's elements on its
// threads, with 32-bit index arithmetic. (Walking all B T (H + E) elements with 64-bit division and
// modulo for each, though about a fifth of the positions hold a pair, took 55 us forward and 63
// backward a step at batch 2048 on the H200.)

AUGUR_KERNEL void aux_pairs_forward_kernel(float* __restrict__ out, const float* __restrict__ h,
                                           const float* __restrict__ pos, const float* __restrict__ neg,
                                           const int* __restrict__ pair_start, const int* __restrict__ lengths,
                                           int B, int T, int H, int E, int rows) {
  const int W = H + E;
  const long long P = B > 0 ? pair_start[B - 1] + max(lengths[B - 1] - 1, 0) : 0;
  AUGUR_GRID_STRIDE(i, ((long long)rows - 2 * P) * W) { out[2 * P * W + i] = 0.0f; }
  for (int b = blockIdx.x; b < B; b += gridDim.x) {
    const int len = min(lengths[b], T);
    const long long first = (long long)b * T, r0 = pair_start[b];  // row pair r0 is position t = 1's
    for (int e = threadIdx.x; e < (len - 1) * W; e += blockDim.x) {  // positions 1 <= t < len
      const int t = 1 + e / W, c = e - (t - 1) * W;
      const long long bt = first + t, r = r0 + t - 1;
      float* click = out + 2 * r * W;
      float* no_click = click + W;
      if (c < H) {
        const float v = h[(bt - 1) * H + c];
        click[c] = v;
        no_click[c] = v;
      } else {
        click[c] = pos[bt * E + c - H];
        no_click[c] = neg[bt * E + c - H];
      }
    }
  }
}

// dH[b, t-1, :] += dOut[2r, :H] + dOut[2r + 1, :H]    (+=: the GRU states have other consumers)
// dPos[b, t, :] += dOut[2r, H:]                          (+=: so do the behaviour embeddings)
// dNeg[b, t, :]  = dOut[2r + 1, H:], 0 at t = 0 and at padded positions   (=)
// Each (b, t) is one thread's, so no two threads write one element. Grid as the forward's.
AUGUR_KERNEL void aux_pairs_backward_kernel(float* __restrict__ dH, float* __restrict__ dPos, float* __restrict__ dNeg,
                                            const float* __restrict__ dOut, const int* __restrict__ pair_start,
                                            const int* __restrict__ lengths, int B, int T, int H, int E) {
  const int W = H + E;
  for (int b = blockIdx.x; b < B; b += gridDim.x) {
    const int len = lengths[b];
    const long long first = (long long)b * T, r0 = pair_start[b];
    for (int e = threadIdx.x; e < T * W; e += blockDim.x) {
      const int t = e / W, c = e - t * W;
      const long long bt = first + t;
      if (c < H) {
        // position s = t is h_{t} feeding the pair of t + 1
        if (t + 1 < len) {
          const long long r = r0 + t;
          dH[bt * H + c] += dOut[2 * r * W + c] + dOut[(2 * r + 1) * W + c];
        }
      } else {
        const int k = c - H;
        if (t >= 1 && t < len) {
          const long long r = r0 + t - 1;
          dPos[bt * E + k] += dOut[2 * r * W + c];
          dNeg[bt * E + k] = dOut[(2 * r + 1) * W + c];
        } else {
          dNeg[bt * E + k] = 0.0f;
        }
      }
    }
  }
}
