// Adam on a dense parameter, L2 weight decay added to the gradient. CPU reference: io.augur.backend.cpu.Adam.
#include "common.cuh"

// g = grad + wd p;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
// p -= lr (m / bc1) / (sqrt(v / bc2) + eps)        bc1 = 1 - b1^t, bc2 = 1 - b2^t, t = *step
// grad is read, not cleared.   p, grad, m, v (n)
AUGUR_KERNEL void adam_kernel(float* __restrict__ p, const float* __restrict__ grad, float* __restrict__ m,
                              float* __restrict__ v, const int* __restrict__ step, int n, float lr, float b1, float b2,
                              float eps, float wd) {
  const int t = *step;
  const float bc1 = augur::bias_correction(b1, t), bc2 = augur::bias_correction(b2, t);
  AUGUR_GRID_STRIDE(i, n) {
    const float g = grad[i] + wd * p[i];
    const float mi = b1 * m[i] + (1 - b1) * g;
    const float vi = b2 * v[i] + (1 - b2) * g * g;
    m[i] = mi;
    v[i] = vi;
    p[i] -= lr * (mi / bc1) / (sqrtf(vi / bc2) + eps);
  }
}

// The optimizer's step counter in device memory: *step += 1 (one thread). The host launches it
// once per optimizer step, before the step's first update (CudaBackend.deviceStep).
AUGUR_KERNEL void step_advance_kernel(int* __restrict__ step) {
  if (blockIdx.x == 0 && threadIdx.x == 0) *step += 1;
}
