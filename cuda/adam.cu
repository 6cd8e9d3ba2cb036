// Adam on a dense parameter, L2 weight decay added to the gradient. CPU reference: io.augur.backend.cpu.Adam.
#include "common.cuh"
#include "multi_tensor.cuh"

// g = grad + wd p;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
// p -= lr (m / bc1) / (sqrt(v / bc2) + eps)        bc1 = 1 - b1^t, bc2 = 1 - b2^t, t = *step
// grad is read, not cleared.   p, grad, m, v (n)
namespace augur {

// One element's update from its four values: pi, mi, vi are updated in place.
__device__ __forceinline__ void adam_values(float& pi, float gi, float& mi, float& vi, float lr, float b1, float b2, float eps, float wd,
                                            float bc1, float bc2) {
  const float g = gi + wd * pi;
  mi = b1 * mi + (1 - b1) * g;
  vi = b2 * vi + (1 - b2) * g * g;
  pi -= lr * (mi / bc1) / (sqrtf(vi / bc2) + eps);
}

__device__ __forceinline__ void adam_element(float* __restrict__ p, const float* __restrict__ grad, float* __restrict__ m,
                                             float* __restrict__ v, long long i, float lr, float b1, float b2, float eps, float wd,
                                             float bc1, float bc2) {
  float pi = p[i], mi = m[i], vi = v[i];
  adam_values(pi, grad[i], mi, vi, lr, b1, b2, eps, wd, bc1, bc2);
  m[i] = mi;
  v[i] = vi;
  p[i] = pi;
}

}  // namespace augur

AUGUR_KERNEL void adam_kernel(float* __restrict__ p, const float* __restrict__ grad, float* __restrict__ m,
                              float* __restrict__ v, const int* __restrict__ step, int n, float lr, float b1, float b2,
                              float eps, float wd) {
  const int t = *step;
  const float bc1 = augur::bias_correction(b1, t), bc2 = augur::bias_correction(b2, t);
  AUGUR_GRID_STRIDE(i, n) { augur::adam_element(p, grad, m, v, i, lr, b1, b2, eps, wd, bc1, bc2); }
}

// The same update on up to MULTI_MAX dense parameters at once (Optimizer.step's one launch for
// all of them): tensor e has p = list.a[e], grad = list.b[e], m = list.c[e], v = list.d[e], n[e]
// floats. Element for element the arithmetic of adam_kernel, so the two give the same bits.
// t = *step + advance; with advance = 1 the launch also advances the counter (common.cuh's
// step_advance_when_done, `done` its count of finished blocks).
namespace augur {

// Elements a thread of a list update takes at a time: their 16 loads in flight together, then
// the arithmetic and the stores (MULTI_CHUNK / 256 threads = 4: one round). Element after element,
// each waited for its loads behind the previous one's stores.
constexpr int ADAM_BATCH = 4;

// Block `block` of a list update (MultiTensor's blocks), at step t.
__device__ __forceinline__ void adam_list_block(const MultiTensor& list, int block, int t, float lr, float b1, float b2, float eps,
                                                float wd) {
  int begin, end;
  const int e = multi_tensor_entry(list, block, &begin, &end);
  const float bc1 = bias_correction(b1, t), bc2 = bias_correction(b2, t);
  float* p = list.a[e];
  const float* grad = list.b[e];
  float* m = list.c[e];
  float* v = list.d[e];
  staged_copy<ADAM_BATCH, float4>(end - begin, [&](int i) {
    const int k = begin + i;
    return make_float4(p[k], grad[k], m[k], v[k]);
  }, [&](int i, float4 x) {
    const int k = begin + i;
    adam_values(x.x, x.y, x.z, x.w, lr, b1, b2, eps, wd, bc1, bc2);
    m[k] = x.z;
    v[k] = x.w;
    p[k] = x.x;
  });
}

}  // namespace augur

AUGUR_KERNEL void adam_multi_kernel(augur::MultiTensor list, int* step, unsigned* done, int advance, float lr, float b1, float b2,
                                    float eps, float wd) {
  augur::adam_list_block(list, blockIdx.x, augur::step_of(step, advance), lr, b1, b2, eps, wd);
  augur::step_advance_when_done(step, done, advance);
}

// The optimizer's step counter in device memory: *step += 1 (one thread). The host launches it
// before a single-tensor update that needs the next step (CudaBackend.deviceStep); the list
// updates advance the counter themselves (step_advance_when_done).
AUGUR_KERNEL void step_advance_kernel(int* __restrict__ step) {
  if (blockIdx.x == 0 && threadIdx.x == 0) *step += 1;
}
