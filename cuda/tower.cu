// The top tower (BatchNorm -> [linear -> Dice/PReLU/sigmoid] per hidden layer -> the logit), one
// launch per hidden layer and direction, for batches small enough that a layer's whole input fits
// in one block's shared memory (CudaBackend.fusedTower decides; larger batches take the
// layer-by-layer ops). CPU reference: what the tower is made of, Backend.towerForward and
// towerBackward's defaults (batchNorm, linear, dice / prelu / sigmoid and their backwards).
//
// A block owns `cols` channels of one layer for all B rows. The statistics over the batch that
// Dice and BatchNorm need are then the block's own sums (fixed order, doubles): no partials, no
// second launch. At batch 128 the DIN tower and its loss take 5 launches each step instead of 16:
// the top layer's forward also makes the logits and the loss.
//
// tower_forward_kernel, hidden layer l with input h (B, K), K = the layer below's width:
//   first layer only: h = BatchNorm(x) over K channels, which every block computes for itself
//   (block 0 writes the statistics, block i the rows r = i (mod grid) of bn_y);
//   pre = h W + b;  out = act(pre)                      pre, out (B, C)   W (K, C)
//   top layer only: logits = out head_w + head_b         logits (B, 1)     head_w (C, 1)
//   and, training, the loss with them as bce_with_logits_kernel: loss (1), d_logits (B)
// tower_backward_kernel, top down; U = the width of the layer above (1 above the last hidden
// layer, whose upper layer is the logit) and d_up (B, U) its input gradient (dLogits, or d_pre of
// the layer above):
//   d_w_up[c, :] += sum_r out[r, c] d_up[r, :]    (the upper layer's weight gradient, row c)
//   d_b_up       += sum_r d_up[r, :]              (block 0, where given: the logit's bias)
//   d_out[r, c]   = sum_j d_up[r, j] W_up[c, j]
//   d_pre         = act's backward of d_out (=);  act's parameter gradient (+=);
//   d_bias[c]    += sum_r d_pre[r, c]
// Mode BatchNorm ends the chain: pre = x, out = bn_y, and the BatchNorm's backward takes the
// activation's place (d_param = dGamma, d_bias = dBeta, d_pre = dx).
#include "common.cuh"
#include "normalization.cuh"

#define AUGUR_TOWER_SIGMOID 0
#define AUGUR_TOWER_PRELU 1
#define AUGUR_TOWER_DICE 2
#define AUGUR_TOWER_BATCH_NORM 3

namespace augur {

// Thread t of a tower block works on channel t % cols of the block's cols and on the rows
// r = t / cols (mod blockDim.x / cols).
struct TowerThread {
  int cx, ry, rows;
  __device__ TowerThread(int cols) {
    cx = (int)threadIdx.x % cols;
    ry = (int)threadIdx.x / cols;
    rows = (int)blockDim.x / cols;
  }
};

// A row stride for shared-memory matrices that a warp reads down a column: odd, so that rows fall
// on different banks.
__device__ __forceinline__ int odd_stride(int n) { return n | 1; }

// Per channel sums of N values over the block's thread rows, in thread-row order; every thread of
// the channel gets its totals. `scratch` holds N * blockDim.x doubles; every thread must call it.
template <int N>
__device__ __forceinline__ void tower_sums(double (&v)[N], double* scratch, const TowerThread& th, int cols) {
  __syncthreads();  // scratch may still be read by a previous call
  for (int i = 0; i < N; ++i) scratch[i * blockDim.x + threadIdx.x] = v[i];
  __syncthreads();
  for (int i = 0; i < N; ++i) {
    double t = 0.0;
    for (int y = 0; y < th.rows; ++y) t += scratch[i * blockDim.x + y * cols + th.cx];
    v[i] = t;
  }
}

// dst[r * stride + k] = src[r * K + k] for the n = B K elements of a row-major (B, K) matrix.
__device__ __forceinline__ void load_rows(float* dst, int stride, const float* __restrict__ src, int B, int K) {
  if (K <= 0) return;
  int r = (int)threadIdx.x / K, k = (int)threadIdx.x - r * K;
  const int step = (int)blockDim.x, dr = step / K, dk = step - dr * K;
  for (long long i = threadIdx.x; i < (long long)B * K; i += step) {
    dst[r * stride + k] = src[i];
    r += dr;
    k += dk;
    if (k >= K) {
      k -= K;
      ++r;
    }
  }
}

// acc[q] = init + sum_k a[r0 + q step][k] w[k * w_step] for q < NR, over the shared matrix a (row
// stride lda).
template <int NR>
__device__ __forceinline__ void tower_dot(float (&acc)[4], const float* a, int lda, const float* w, int w_step, int K,
                                          int r0, int step, float init) {
  int off[NR];
#pragma unroll
  for (int q = 0; q < NR; ++q) {
    acc[q] = init;
    off[q] = (r0 + q * step) * lda;
  }
  for (int k = 0; k < K; ++k) {
    const float wk = w[k * w_step];
#pragma unroll
    for (int q = 0; q < NR; ++q) acc[q] = fmaf(a[off[q] + k], wk, acc[q]);
  }
}

// The same for the thread's rows r0 + q step below B, q < 4 (as many as there are: at batch 128
// with 64 thread rows a thread has 2, and computes no more).
__device__ __forceinline__ void tower_dot_rows(float (&acc)[4], const float* a, int lda, const float* w, int w_step, int K,
                                               int r0, int step, int B, float init) {
  const int n = min(4, (B - r0 + step - 1) / step);
  switch (n) {
    case 1: tower_dot<1>(acc, a, lda, w, w_step, K, r0, step, init); break;
    case 2: tower_dot<2>(acc, a, lda, w, w_step, K, r0, step, init); break;
    case 3: tower_dot<3>(acc, a, lda, w, w_step, K, r0, step, init); break;
    default: tower_dot<4>(acc, a, lda, w, w_step, K, r0, step, init); break;
  }
}

}  // namespace augur

// One hidden layer forward (see the top of this file). bn_y == nullptr: no BatchNorm before it;
// logits == nullptr: not the top layer, or the logit's product runs as a launch of its own.
// Dynamic shared memory: 3 blockDim.x doubles, then floats h (B, odd_stride(K)), W's block columns
// (K, cols) and pre's (B, cols).
//   pre, out (B, C); mean, inv_std, run_mean, run_var, alpha, bias (C); in (B, K); w (K, C);
//   bn_y (B, K); bn_mean, bn_inv_std, bn_run_mean, bn_run_var, gamma, beta (K);
//   logits (B); head_w (C); head_b (1); partial (gridDim.x, B) scratch; done (1) zero between launches;
//   labels (B) or nullptr (no loss); loss (1); d_logits (B)
AUGUR_KERNEL void tower_forward_kernel(float* __restrict__ pre, float* __restrict__ out, float* __restrict__ mean,
                                       float* __restrict__ inv_std, float* __restrict__ run_mean,
                                       float* __restrict__ run_var, float* __restrict__ bn_y,
                                       float* __restrict__ bn_mean, float* __restrict__ bn_inv_std,
                                       float* __restrict__ bn_run_mean, float* __restrict__ bn_run_var,
                                       const float* __restrict__ in, const float* __restrict__ w,
                                       const float* __restrict__ bias, const float* __restrict__ alpha,
                                       const float* __restrict__ gamma, const float* __restrict__ beta, int B, int K,
                                       int C, int cols, int act, int training, float momentum, float eps,
                                       float bn_momentum, float bn_eps, float* __restrict__ logits,
                                       const float* __restrict__ head_w, const float* __restrict__ head_b,
                                       float* __restrict__ partial, unsigned* __restrict__ done,
                                       const float* __restrict__ labels, float* __restrict__ loss,
                                       float* __restrict__ d_logits, float scale) {
  extern __shared__ double smem[];
  __shared__ int tower_last;
  if (B <= 0) return;
  const augur::TowerThread th(cols);
  const int c = (int)blockIdx.x * cols + th.cx, ks = augur::odd_stride(K);
  const bool valid = c < C;
  double* scratch = smem;
  float* h = reinterpret_cast<float*>(smem + 3 * blockDim.x);
  float* ws = h + (long long)B * ks;
  float* ys = ws + K * cols;

  augur::load_rows(h, ks, in, B, K);
  for (int i = threadIdx.x; i < K * cols; i += blockDim.x) {
    const int k = i / cols, cc = (int)blockIdx.x * cols + (i - k * cols);
    ws[i] = cc < C ? w[(long long)k * C + cc] : 0.0f;
  }
  __syncthreads();

  if (bn_y != nullptr) {  // every block normalises all K channels of the input itself
    for (int k = threadIdx.x; k < K; k += blockDim.x) {
      float mu, is;
      if (training) {
        double s = 0.0;
        for (int r = 0; r < B; ++r) s += h[r * ks + k];
        mu = (float)(s / B);
        double q = 0.0;
        for (int r = 0; r < B; ++r) {
          const double d = (double)h[r * ks + k] - mu;
          q += d * d;
        }
        const double var = q / B;
        is = (float)(1.0 / sqrt(var + bn_eps));
        if (blockIdx.x == 0) {
          bn_mean[k] = mu;
          bn_inv_std[k] = is;
          augur::update_running(bn_run_mean, bn_run_var, k, (double)mu, var, (double)B, bn_momentum);
        }
      } else {
        mu = bn_run_mean[k];
        is = (float)(1.0 / sqrt((double)bn_run_var[k] + bn_eps));
        if (blockIdx.x == 0) {
          bn_mean[k] = mu;
          bn_inv_std[k] = is;
        }
      }
      const float g = gamma[k], bt = beta[k];
      for (int r = 0; r < B; ++r) h[r * ks + k] = (h[r * ks + k] - mu) * is * g + bt;
    }
    __syncthreads();
    for (int r = blockIdx.x; r < B; r += gridDim.x)
      for (int k = threadIdx.x; k < K; k += blockDim.x) bn_y[(long long)r * K + k] = h[r * ks + k];
  }

  // pre = h W + b: the thread's rows ry + j rows (j = 0, 1, ...), up to four together; it reads back only those rows below
  const float b = valid ? bias[c] : 0.0f;
  for (int r0 = th.ry; r0 < B; r0 += 4 * th.rows) {
    float acc[4];
    augur::tower_dot_rows(acc, h, ks, ws + th.cx, cols, K, r0, th.rows, B, b);
    for (int q = 0; q < 4; ++q) {
      const int r = r0 + q * th.rows;
      if (r >= B) break;
      ys[r * cols + th.cx] = acc[q];
      if (valid) pre[(long long)r * C + c] = acc[q];
    }
  }

  if (act == AUGUR_TOWER_DICE) {
    float mu = 0.0f, is = 0.0f;
    if (training) {
      double s[1] = {0.0};
      for (int r = th.ry; r < B; r += th.rows) s[0] += ys[r * cols + th.cx];
      augur::tower_sums<1>(s, scratch, th, cols);
      mu = (float)(s[0] / B);
      double q[1] = {0.0};
      for (int r = th.ry; r < B; r += th.rows) {
        const double d = (double)ys[r * cols + th.cx] - mu;
        q[0] += d * d;
      }
      augur::tower_sums<1>(q, scratch, th, cols);
      const double var = q[0] / B;
      is = (float)(1.0 / sqrt(var + eps));
      if (valid && th.ry == 0) {
        mean[c] = mu;
        inv_std[c] = is;
        augur::update_running(run_mean, run_var, c, (double)mu, var, (double)B, momentum);
      }
    } else if (valid) {
      mu = run_mean[c];
      is = (float)(1.0 / sqrt((double)run_var[c] + eps));
      if (th.ry == 0) {
        mean[c] = mu;
        inv_std[c] = is;
      }
    }
    const float a = valid ? alpha[c] : 0.0f;
    for (int r = th.ry; r < B; r += th.rows) {
      const float v = valid ? augur::dice_value(ys[r * cols + th.cx], mu, is, a) : 0.0f;
      if (valid) out[(long long)r * C + c] = v;
      ys[r * cols + th.cx] = v;  // the thread's own rows: the logit's share below reads them after a barrier
    }
  } else {
    const float a = valid && act == AUGUR_TOWER_PRELU ? alpha[c] : 0.0f;
    for (int r = th.ry; r < B; r += th.rows) {
      const float p = ys[r * cols + th.cx];
      const float v = !valid ? 0.0f : act == AUGUR_TOWER_PRELU ? (p > 0.0f ? p : a * p) : augur::sigmoidf(p);
      if (valid) out[(long long)r * C + c] = v;
      ys[r * cols + th.cx] = v;
    }
  }
  if (logits == nullptr) return;

  // The top layer also makes the logits: each block's share out[r, c0:c0+cols] head_w[c0:c0+cols]
  // into its slice of `partial` (B floats a block); the last block to count itself done in `done`
  // adds the slices in block order and the bias (the same sum whichever block finishes last, as
  // gemm_split_done) and sets the counter back to zero for the next launch.
  __syncthreads();
  const int c0 = (int)blockIdx.x * cols;
  for (int r = threadIdx.x; r < B; r += blockDim.x) {
    float v = 0.0f;
    for (int j = 0; j < cols && c0 + j < C; ++j) v = fmaf(ys[r * cols + j], head_w[c0 + j], v);
    partial[(long long)blockIdx.x * B + r] = v;
  }
  __threadfence();  // this block's share, visible to the block that sums them
  __syncthreads();
  if (threadIdx.x == 0) {
    tower_last = atomicAdd(done, 1u) == gridDim.x - 1;
    if (tower_last) *done = 0u;
  }
  __syncthreads();
  if (!tower_last) return;
  __threadfence();
  const float hb = head_b[0];
  double sum = 0.0;
  for (int r = threadIdx.x; r < B; r += blockDim.x) {
    float v = 0.0f;
    for (unsigned blk = 0; blk < gridDim.x; ++blk) v += __ldcg(partial + (long long)blk * B + r);  // L2: other blocks' writes
    v += hb;
    logits[r] = v;
    if (labels == nullptr) continue;
    // the loss with them, as bce_with_logits_kernel (bce.cu) computes it from the stored logit
    const double z = v, y = labels[r];
    sum += fmax(z, 0.0) - z * y + log1p(exp(-fabs(z)));
    d_logits[r] = (float)(scale * (1.0 / (1.0 + exp(-z)) - y) / B);
  }
  if (labels == nullptr) return;
  sum = augur::block_sum(sum, scratch);
  if (threadIdx.x == 0) loss[0] = (float)(sum / B);
}

// One hidden layer backward, or with mode AUGUR_TOWER_BATCH_NORM the BatchNorm's (see the top of
// this file). d_b_up: nullptr but above the last hidden layer. param: alpha (PReLU, Dice) or gamma
// (BatchNorm), unused by sigmoid; d_param its gradient. Dynamic shared memory: 3 blockDim.x
// doubles, then floats d_up (B, odd_stride(U)), W_up's block rows (cols, odd_stride(U)), and the
// block's columns of out, pre and d_out (B, cols) each.
//   d_pre, out, pre (B, C); d_param, d_bias, mean, inv_std, param (C); d_w_up, w_up (C, U);
//   d_b_up (U); d_up (B, U)
AUGUR_KERNEL void tower_backward_kernel(float* __restrict__ d_pre, float* __restrict__ d_param,
                                        float* __restrict__ d_bias, float* __restrict__ d_w_up,
                                        float* __restrict__ d_b_up, const float* __restrict__ d_up,
                                        const float* __restrict__ w_up, const float* __restrict__ out,
                                        const float* __restrict__ pre, const float* __restrict__ mean,
                                        const float* __restrict__ inv_std, const float* __restrict__ param, int B,
                                        int C, int U, int cols, int mode) {
  extern __shared__ double smem[];
  if (B <= 0) return;
  const augur::TowerThread th(cols);
  const int c0 = (int)blockIdx.x * cols, c = c0 + th.cx, us = augur::odd_stride(U);
  const bool valid = c < C;
  double* scratch = smem;
  float* du = reinterpret_cast<float*>(smem + 3 * blockDim.x);
  float* wu = du + (long long)B * us;
  float* os = wu + cols * us;
  float* ps = os + B * cols;
  float* dos = ps + B * cols;

  augur::load_rows(du, us, d_up, B, U);
  for (int i = threadIdx.x; i < cols * U; i += blockDim.x) {
    const int j2 = i / U, j = i - j2 * U;
    wu[j2 * us + j] = c0 + j2 < C ? w_up[(long long)(c0 + j2) * U + j] : 0.0f;
  }
  for (int i = threadIdx.x; i < B * cols; i += blockDim.x) {
    const int r = i / cols, cc = c0 + (i - r * cols);
    os[i] = cc < C ? out[(long long)r * C + cc] : 0.0f;
    ps[i] = cc < C ? pre[(long long)r * C + cc] : 0.0f;
  }
  __syncthreads();

  // rows c of the upper layer's weight gradient, and block 0 the upper bias's
  for (int i = threadIdx.x; i < cols * U; i += blockDim.x) {
    const int j2 = i / U, j = i - j2 * U;
    if (c0 + j2 >= C) continue;
    float acc = 0.0f;
    for (int r = 0; r < B; ++r) acc = fmaf(os[r * cols + j2], du[r * us + j], acc);
    d_w_up[(long long)(c0 + j2) * U + j] += acc;
  }
  if (d_b_up != nullptr && blockIdx.x == 0)
    for (int j = threadIdx.x; j < U; j += blockDim.x) {
      double s = 0.0;
      for (int r = 0; r < B; ++r) s += du[r * us + j];
      d_b_up[j] += (float)s;
    }

  // d_out = d_up W_up^T for the block's channels; each thread reads back only its own rows below
  for (int r0 = th.ry; r0 < B; r0 += 4 * th.rows) {
    float acc[4];
    augur::tower_dot_rows(acc, du, us, wu + th.cx * us, 1, U, r0, th.rows, B, 0.0f);
    for (int q = 0; q < 4; ++q) {
      const int r = r0 + q * th.rows;
      if (r >= B) break;
      dos[r * cols + th.cx] = acc[q];
    }
  }

  const float p = valid && param != nullptr ? param[c] : 0.0f;
  if (mode == AUGUR_TOWER_BATCH_NORM) {
    const float mu = valid ? mean[c] : 0.0f, is = valid ? inv_std[c] : 0.0f;
    double s[2] = {0.0, 0.0};
    for (int r = th.ry; r < B; r += th.rows) {
      const float dy = dos[r * cols + th.cx], xhat = (ps[r * cols + th.cx] - mu) * is;
      s[0] += dy;
      s[1] += (double)dy * xhat;
    }
    augur::tower_sums<2>(s, scratch, th, cols);
    if (!valid) return;
    if (th.ry == 0) {
      d_bias[c] += (float)s[0];
      d_param[c] += (float)s[1];
    }
    const float mean_dy = (float)(s[0] / B), mean_dyx = (float)(s[1] / B), scale = p * is;
    for (int r = th.ry; r < B; r += th.rows) {
      const float dy = dos[r * cols + th.cx], xhat = (ps[r * cols + th.cx] - mu) * is;
      d_pre[(long long)r * C + c] = scale * (dy - mean_dy - xhat * mean_dyx);
    }
    return;
  }

  double sums[2] = {0.0, 0.0};  // the thread's rows' shares of the bias's gradient and of the activation parameter's
  double dice_alpha = 0.0;      // Dice's parameter gradient, already summed over the rows
  if (mode == AUGUR_TOWER_DICE) {
    const float mu = valid ? mean[c] : 0.0f, is = valid ? inv_std[c] : 0.0f;
    double s[3] = {0.0, 0.0, 0.0};
    for (int r = th.ry; r < B; r += th.rows) {
      const float x = ps[r * cols + th.cx], dy = dos[r * cols + th.cx];
      const augur::DiceTerms d(x, dy, mu, is, p);
      s[0] += d.dz;
      s[1] += (double)d.dz * d.z;
      s[2] += (double)dy * x * (1 - d.p);
    }
    augur::tower_sums<3>(s, scratch, th, cols);
    dice_alpha = s[2];
    const float mean_dz = (float)(s[0] / B), mean_dzz = (float)(s[1] / B);
    for (int r = th.ry; r < B; r += th.rows) {
      const float x = ps[r * cols + th.cx], dy = dos[r * cols + th.cx];
      const float dx = augur::DiceTerms(x, dy, mu, is, p).dx(dy, is, p, mean_dz, mean_dzz);
      if (valid) d_pre[(long long)r * C + c] = dx;
      sums[0] += dx;
    }
  } else {
    for (int r = th.ry; r < B; r += th.rows) {
      const float x = ps[r * cols + th.cx], dy = dos[r * cols + th.cx];
      float dx;
      if (mode == AUGUR_TOWER_PRELU) {
        dx = x > 0.0f ? dy : p * dy;
        sums[1] += x > 0.0f ? 0.0 : (double)x * dy;
      } else {
        const float y = os[r * cols + th.cx];
        dx = dy * y * (1 - y);
      }
      if (valid) d_pre[(long long)r * C + c] = dx;
      sums[0] += dx;
    }
  }
  augur::tower_sums<2>(sums, scratch, th, cols);
  if (!valid || th.ry != 0) return;
  d_bias[c] += (float)sums[0];
  if (mode == AUGUR_TOWER_DICE) d_param[c] += (float)dice_alpha;
  else if (mode == AUGUR_TOWER_PRELU) d_param[c] += (float)sums[1];
}
