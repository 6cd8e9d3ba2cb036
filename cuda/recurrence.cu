// DIEN's GRU family: the interest extractor (GRU) and the interest-evolution cells AUGRU and
// AGRU, forward and backward. CPU reference: io.augur.backend.cpu.Recurrence (forwardRef and
// backwardRef, the specification); formulas in io.augur.backend.Backend#recurrence.
//
// For sample b and t < len_b, h_{-1} = 0, G = 3H gate columns ordered [u, r, n]:
//   gx = x_t Wx + bx,  gh = h_{t-1} Wh + bh
//   u = sigmoid(gx_u + gh_u),  r = sigmoid(gx_r + gh_r),  n = tanh(gx_n + r gh_n)
//   z = u (GRU), a_t u (AUGRU), a_t (AGRU);   h_t = (1 - z) h_{t-1} + z n
// One block per sample walks its positions in time order; each step is a matrix-vector product
// of G outputs (one thread each) followed by the cell's elementwise update (one thread per
// hidden unit). What does not depend on the walk (the input's products forward, the input's
// gradient backward) is done for all of a sample's positions at once, outside it. Positions
// t >= len_b are neither computed nor read.
//
// Workspace (maxB, T, .) slices, unpacked (row b * T + t):
//   gates (., G)   u, r, n after their activations     hn (., H)   gh_n, before the reset gate
//   h     (., H)   h_t                                  dgx, dgh (., G)   the backward's gate gradients
// The weight gradients are sums over every valid position of every sample: the backward writes
// each position's gate gradients, and recurrence_weight_grad_kernel and its reduce sum them in a
// fixed order (no floating-point atomics).
#include "common.cuh"

namespace augur {

// The cell kinds, as io.augur.backend.Recurrence's ordinals.
constexpr int CELL_GRU = 0, CELL_AUGRU = 1, CELL_AGRU = 2;

// The CPU reference's sigmoid and tanh (Recurrence.sigmoid, Recurrence.tanh): one exp each.
__device__ __forceinline__ float gru_sigmoid(float v) { return 1.0f / (1.0f + expf(-v)); }
__device__ __forceinline__ float gru_tanh(float v) { return 1.0f - 2.0f / (expf(2.0f * v) + 1.0f); }

// sum over k < n of v[k] w[k stride + j], as four interleaved partial sums combined in a fixed
// order: each step of the walk is a chain of such dot products, and four independent chains of
// n / 4 multiply-adds finish in about a quarter of the time of one chain of n.
__device__ __forceinline__ float strided_dot(const float* v, const float* __restrict__ w, int n, int stride, int j) {
  float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
  int k = 0;
  for (; k + 3 < n; k += 4) {
    s0 += v[k] * w[(long long)k * stride + j];
    s1 += v[k + 1] * w[(long long)(k + 1) * stride + j];
    s2 += v[k + 2] * w[(long long)(k + 2) * stride + j];
    s3 += v[k + 3] * w[(long long)(k + 3) * stride + j];
  }
  for (; k < n; ++k) s0 += v[k] * w[(long long)k * stride + j];
  return (s0 + s1) + (s2 + s3);
}

// sum over k < n of v[k], the same way.
__device__ __forceinline__ float interleaved_sum(const float* v, int n) {
  float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
  int k = 0;
  for (; k + 3 < n; k += 4) {
    s0 += v[k];
    s1 += v[k + 1];
    s2 += v[k + 2];
    s3 += v[k + 3];
  }
  for (; k < n; ++k) s0 += v[k];
  return (s0 + s1) + (s2 + s3);
}

}  // namespace augur

// Forward. grid (B), block >= G threads (a multiple of 32); dynamic shared: H + G floats.
//   hOut (B, T, H) or nullptr: h_t for t < len, 0 after    hLast (B, H) or nullptr: h_{len-1}, 0 when len = 0
//   gates, hn, h: the workspace    x (B, T, E)   att (B, T) or nullptr (GRU)   lengths (B)
//   wx (E, G)   wh (H, G)   bx, bh (G)
// The input's products gx = x_t Wx + bx do not depend on h, so they are not part of the walk: the
// block computes them for all its positions first, every thread taking (t, column) pairs, into
// gates (where each position's u, r, n later replace them, written by the one thread that read
// them). A step of the walk is then h_{t-1} Wh (thread j: column j, the products' only chain),
// a barrier, the cell's update (thread j: hidden unit j), which also loads the next position's gx
// and attention score, so that no load from memory waits on the walk, and a barrier.
AUGUR_KERNEL void __launch_bounds__(1024) recurrence_forward_kernel(float* __restrict__ hOut, float* __restrict__ hLast, float* __restrict__ gates,
                                            float* __restrict__ hn, float* __restrict__ hs, int* status,
                                            const float* __restrict__ x, const float* __restrict__ att,
                                            const int* __restrict__ lengths, const float* __restrict__ wx,
                                            const float* __restrict__ wh, const float* __restrict__ bx,
                                            const float* __restrict__ bh, int kind, int T, int E, int H) {
  extern __shared__ double smem_d[];   // declared double as elsewhere in augur.cu; used as floats
  float* smem = reinterpret_cast<float*>(smem_d);
  const int G = 3 * H;
  float* hp = smem;        // (H)  h_{t-1}
  float* sgh = hp + H;     // (G)  h_{t-1} Wh + bh
  const int b = blockIdx.x, j = threadIdx.x;
  const int len = augur::checked_length(lengths, b, T, status);
  const long long first = (long long)b * T;
  for (int k = j; k < H; k += blockDim.x) hp[k] = 0.0f;
  for (int e = j; e < len * G; e += blockDim.x) {
    const int t = e / G, q = e % G;
    gates[(first + t) * G + q] = bx[q] + augur::strided_dot(x + (first + t) * E, wx, E, G, q);
  }
  __syncthreads();  // every gx (and hp) written before any is read
  float gu = 0.0f, gr = 0.0f, gn = 0.0f, a = 1.0f;  // position t's gx columns j, H + j, 2H + j and attention score (thread j < H)
  if (j < H && len > 0) {
    gu = gates[first * G + j];
    gr = gates[first * G + H + j];
    gn = gates[first * G + 2 * H + j];
    a = att == nullptr ? 1.0f : att[first];
  }
  for (int t = 0; t < len; ++t) {
    const long long row = first + t;
    if (j < G) sgh[j] = bh[j] + augur::strided_dot(hp, wh, H, G, j);
    __syncthreads();  // sgh complete
    if (j < H) {
      const float u = augur::gru_sigmoid(gu + sgh[j]);
      const float r = augur::gru_sigmoid(gr + sgh[H + j]);
      const float hc = sgh[2 * H + j];
      const float c = augur::gru_tanh(gn + r * hc);
      const float z = kind == augur::CELL_GRU ? u : kind == augur::CELL_AUGRU ? a * u : a;
      const float hNew = (1.0f - z) * hp[j] + z * c;
      gates[row * G + j] = u;
      gates[row * G + H + j] = r;
      gates[row * G + 2 * H + j] = c;
      hn[row * H + j] = hc;
      hs[row * H + j] = hNew;
      if (hOut != nullptr) hOut[row * H + j] = hNew;
      // Every read of h_{t-1} by other threads (the gh products) came before the barrier above;
      // thread j alone reads hp[j] after it, so it may overwrite it now.
      hp[j] = hNew;
      if (t + 1 < len) {
        gu = gates[(row + 1) * G + j];
        gr = gates[(row + 1) * G + H + j];
        gn = gates[(row + 1) * G + 2 * H + j];
        a = att == nullptr ? 1.0f : att[row + 1];
      }
    }
    __syncthreads();  // h_t complete before the next products read it, and sgh read before they rewrite it
  }
  for (int k = j; k < H; k += blockDim.x) {
    if (hLast != nullptr) hLast[(long long)b * H + k] = hp[k];  // 0 when len = 0
  }
  if (hOut != nullptr) {
    for (long long i = (long long)len * H + j; i < (long long)T * H; i += blockDim.x) hOut[(long long)b * T * H + i] = 0.0f;
  }
}

// The backward's weights read along its threads: wxT (G, E) = Wx^T, whT (G, H) = Wh^T, written by
// recurrence_transpose_kernel before each backward. Each step's dx = dgx Wx^T and dh = dgh Wh^T
// have thread j (an input or hidden unit) walk the G gate columns; with the weights as stored,
// consecutive threads read G floats apart, every load of a warp a different cache line, and that
// inside the walk's serial chain.   grid-stride over G (E + H)
AUGUR_KERNEL void recurrence_transpose_kernel(float* __restrict__ wxT, float* __restrict__ whT, const float* __restrict__ wx,
                                              const float* __restrict__ wh, int E, int H) {
  const int G = 3 * H;
  AUGUR_GRID_STRIDE(i, (long long)G * (E + H)) {
    if (i < (long long)E * G) {
      const int e = (int)i / G, q = (int)i - e * G;  // i < E G, wx's size: an int
      wxT[(long long)q * E + e] = wx[i];
    } else {
      const long long m = i - (long long)E * G;
      const int k = (int)m / G, q = (int)m - k * G;  // m < H G, wh's size
      whT[(long long)q * H + k] = wh[m];
    }
  }
}

// Backward, after the forward of the same batch. grid (B), block >= max(G, E) threads (a
// multiple of 32); dynamic shared: 4G + 2H floats.
//   dx (B, T, E) =, 0 at padded positions     dAtt (B, T) = or nullptr (GRU), 0 at padded positions
//   dgx, dgh (B, T, G) =: each position's gate gradients, 0 at padded positions (for the weight sums)
//   dHOut (B, T, H) or nullptr    dHLast (B, H) or nullptr    wxT (G, E), whT (G, H): recurrence_transpose_kernel
// A step of the walk back: the cell's backward (thread j: hidden unit j, from the gradient reaching
// h_t, which the same thread computed, and the position's saved values, loaded during the step
// before), the gate gradients into one of two sets of buffers, a barrier, then dh_{t-1} = ... + dgh
// Wh^T (thread j), the gate gradients stored and thread 0's dAtt. The next position writes the other
// set, so one barrier a step keeps every read of a set before its rewrite two positions on. The
// input's gradient dx = dgx Wx^T is not part of the walk: it is computed after it, for every
// position at once, from the stored dgx.
AUGUR_KERNEL void __launch_bounds__(1024) recurrence_backward_kernel(float* __restrict__ dx, float* __restrict__ dAtt, float* __restrict__ dgx,
                                             float* __restrict__ dgh, int* status, const float* __restrict__ dHOut,
                                             const float* __restrict__ dHLast, const float* __restrict__ gates,
                                             const float* __restrict__ hn, const float* __restrict__ hs,
                                             const float* __restrict__ att, const int* __restrict__ lengths,
                                             const float* __restrict__ wxT, const float* __restrict__ whT, int kind, int T,
                                             int E, int H) {
  extern __shared__ double smem_d[];
  float* smem = reinterpret_cast<float*>(smem_d);
  const int G = 3 * H;
  float* sgx = smem;           // (2, G)
  float* sgh = sgx + 2 * G;    // (2, G)
  float* sda = sgh + 2 * G;    // (2, H)  each unit's term of dAtt
  const int b = blockIdx.x, j = threadIdx.x;
  const int len = augur::checked_length(lengths, b, T, status);
  const long long first = (long long)b * T;
  // padded positions: zero gradients
  for (long long i = (long long)len * E + j; i < (long long)T * E; i += blockDim.x) dx[first * E + i] = 0.0f;
  for (long long i = (long long)len * G + j; i < (long long)T * G; i += blockDim.x) {
    dgx[first * G + i] = 0.0f;
    dgh[first * G + i] = 0.0f;
  }
  if (dAtt != nullptr) {
    for (int t = len + j; t < T; t += blockDim.x) dAtt[first + t] = 0.0f;
  }
  // thread j < H: the gradient reaching h_t, and position t's saved values (loaded one position ahead)
  float dh = 0.0f, dOut = 0.0f, a = 1.0f, u = 0.0f, r = 0.0f, c = 0.0f, hc = 0.0f, hprev = 0.0f;
  auto load = [&](int t) {
    const long long row = first + t;
    dOut = dHOut != nullptr ? dHOut[row * H + j] : 0.0f;
    a = att == nullptr ? 1.0f : att[row];
    u = gates[row * G + j];
    r = gates[row * G + H + j];
    c = gates[row * G + 2 * H + j];
    hc = hn[row * H + j];
    hprev = t > 0 ? hs[(row - 1) * H + j] : 0.0f;
  };
  if (j < H && len > 0) {
    dh = dHLast != nullptr ? dHLast[(long long)b * H + j] : 0.0f;
    load(len - 1);
  }
  for (int t = len - 1; t >= 0; --t) {
    const long long row = first + t;
    float* gx = sgx + (t & 1) * G;
    float* gh = sgh + (t & 1) * G;
    float* da = sda + (t & 1) * H;
    float dhp = 0.0f;
    if (j < H) {
      float d = dh;
      if (dHOut != nullptr) d += dOut;
      const float z = kind == augur::CELL_GRU ? u : kind == augur::CELL_AUGRU ? a * u : a;
      const float dz = d * (c - hprev);
      const float du = kind == augur::CELL_GRU ? dz : kind == augur::CELL_AUGRU ? a * dz : 0.0f;
      da[j] = kind == augur::CELL_AUGRU ? dz * u : kind == augur::CELL_AGRU ? dz : 0.0f;
      const float dcPre = d * z * (1.0f - c * c);
      const float drPre = dcPre * hc * r * (1.0f - r);
      const float duPre = du * u * (1.0f - u);
      gx[j] = duPre;
      gx[H + j] = drPre;
      gx[2 * H + j] = dcPre;
      gh[j] = duPre;
      gh[H + j] = drPre;
      gh[2 * H + j] = dcPre * r;
      dhp = d * (1.0f - z);
      if (t > 0) load(t - 1);
    }
    __syncthreads();  // this position's gate gradients complete
    if (j < H) dh = dhp + augur::strided_dot(gh, whT, G, H, j);
    if (j < G) {
      dgx[row * G + j] = gx[j];
      dgh[row * G + j] = gh[j];
    }
    // thread 0 also walks the dAtt sum: four short chains keep it from setting the step's pace
    if (j == 0 && dAtt != nullptr) dAtt[row] = augur::interleaved_sum(da, H);
  }
  __syncthreads();  // every position's dgx stored before dx reads it
  for (int e = j; e < len * E; e += blockDim.x) {
    const int t = e / E, k = e % E;
    dx[(first + t) * E + k] = augur::strided_dot(dgx + (first + t) * G, wxT, G, E, k);
  }
}

// The weight and bias gradients of one projection from the backward's per-position gate
// gradients, in two fixed-order stages (no floating-point atomics, the same sums on every run):
//   partial[c, i] = for i < K G: sum over samples b of chunk c, t < len_b, of A_{b,t}[k] dG[b, t, q]
//                   with A_{b,t} = A[b, t - shift] (shift 1: h_{t-1}, nothing at t = 0);
//                   for the G more: sum of dG[b, t, q]
//   (recurrence_weight_grad_kernel: blockIdx.y = chunk c of `chunk` samples)
//   gW[k, q] += sum over chunks of partial[c, k G + q];  gB[q] += ... of partial[c, K G + q]
//   (both stages sum in four interleaved partial sums, added in a fixed order)
//   (recurrence_weight_grad_reduce_kernel)
// Chunks of samples put enough blocks on the device when K G is small (DIEN: 36 x 108): each
// thread's walk over its chunk's positions is a chain of loads, so many short walks in flight
// finish sooner than a few long ones (CudaBackend.WEIGHT_GRAD_CHUNKS).
//   partial (chunks, K G + G)   A (B, T, K)   dG (B, T, G)   lengths (B)
AUGUR_KERNEL void recurrence_weight_grad_kernel(float* __restrict__ partial, const float* __restrict__ A,
                                                const float* __restrict__ dG, const int* __restrict__ lengths, int B, int T,
                                                int K, int G, int shift, int chunk) {
  const long long outputs = (long long)K * G + G;
  const int b0 = blockIdx.y * chunk, b1 = min(B, b0 + chunk);
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < outputs; i += (long long)blockDim.x * gridDim.x) {
    const bool bias = i >= (long long)K * G;
    const int k = bias ? 0 : (int)(i / G);
    const int q = bias ? (int)(i - (long long)K * G) : (int)(i % G);
    // four sums over positions t = 4m + {0, 1, 2, 3} of each sample (their loads in flight together),
    // added in a fixed order at the end; the next sample's length is loaded before this one's walk
    float acc0 = 0.0f, acc1 = 0.0f, acc2 = 0.0f, acc3 = 0.0f;
    int next = b0 < b1 ? augur::clamped_length(lengths, b0, T) : 0;
    for (int b = b0; b < b1; ++b) {
      const int len = next;
      if (b + 1 < b1) next = augur::clamped_length(lengths, b + 1, T);
      const float* g = dG + (long long)b * T * G + q;
      const float* x = A + (long long)b * T * K + k;   // row t's A is row t - shift, which t >= shift keeps in the sample
      int t = bias ? 0 : shift;
      if (bias) {
        for (; t + 3 < len; t += 4) {
          acc0 += g[(long long)t * G];
          acc1 += g[(long long)(t + 1) * G];
          acc2 += g[(long long)(t + 2) * G];
          acc3 += g[(long long)(t + 3) * G];
        }
        for (; t < len; ++t) acc0 += g[(long long)t * G];
      } else {
        for (; t + 3 < len; t += 4) {
          acc0 += x[(long long)(t - shift) * K] * g[(long long)t * G];
          acc1 += x[(long long)(t + 1 - shift) * K] * g[(long long)(t + 1) * G];
          acc2 += x[(long long)(t + 2 - shift) * K] * g[(long long)(t + 2) * G];
          acc3 += x[(long long)(t + 3 - shift) * K] * g[(long long)(t + 3) * G];
        }
        for (; t < len; ++t) acc0 += x[(long long)(t - shift) * K] * g[(long long)t * G];
      }
    }
    partial[(long long)blockIdx.y * outputs + i] = (acc0 + acc1) + (acc2 + acc3);
  }
}

//   gW (K, G) +=   gB (G) +=   partial (chunks, K G + G)
AUGUR_KERNEL void recurrence_weight_grad_reduce_kernel(float* __restrict__ gW, float* __restrict__ gB,
                                                       const float* __restrict__ partial, int K, int G, int chunks) {
  const long long outputs = (long long)K * G + G;
  AUGUR_GRID_STRIDE(i, outputs) {
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;   // chunks c = 4m + {0, 1, 2, 3}, their loads in flight together
    int c = 0;
    for (; c + 3 < chunks; c += 4) {
      s0 += partial[(long long)c * outputs + i];
      s1 += partial[(long long)(c + 1) * outputs + i];
      s2 += partial[(long long)(c + 2) * outputs + i];
      s3 += partial[(long long)(c + 3) * outputs + i];
    }
    for (; c < chunks; ++c) s0 += partial[(long long)c * outputs + i];
    const float acc = (s0 + s1) + (s2 + s3);
    if (i < (long long)K * G) gW[i] += acc;
    else gB[i - (long long)K * G] += acc;
  }
}
