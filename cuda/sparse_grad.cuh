// The sparse gradient of a (V, D) embedding table on the GPU (io.augur.backend.cuda.CudaSparseGrad):
//   acc          (V, D) int64   the gradient in fixed point, value * 2^FIXED_SHIFT; zero outside
//                               the touched rows
//   touched_flag (V)            1 for rows in the list
//   touched_list (capacity)     rows touched since the last update, in no particular order
//   touched_count (1)           the list's length
// Backward of a gather adds with 64-bit integer atomics: integer addition commutes, so the sum
// is the same whatever order the threads run in (deterministic without sorting the ids), and
// 2^-40 resolution is far finer than fp32's rounding of the gradients (|g| < 2^22 per row).
// The update visits the touched list only, so a step costs O(touched rows), never O(V).
#pragma once
#include "common.cuh"

namespace augur {

constexpr int FIXED_SHIFT = 40;
// Per-element clamp (2^62 in fixed point): a sum of a few such values still fits in 64 bits.
constexpr double FIXED_LIMIT = 4611686018427387904.0;

__device__ __forceinline__ long long to_fixed(float g) {
  double s = (double)g * 1099511627776.0;  // 2^40
  s = fmin(fmax(s, -FIXED_LIMIT), FIXED_LIMIT);
  return __double2ll_rn(s);
}

__device__ __forceinline__ float from_fixed(long long v) {
  return (float)((double)v * (1.0 / 1099511627776.0));
}

// Appends row to the touched list the first time it is touched since the last update.
__device__ __forceinline__ void touch_row(int* flag, int* list, int* count, int* status, int row, int capacity) {
  if (atomicCAS(flag + row, 0, 1) == 0) {
    const int k = atomicAdd(count, 1);
    if (k < capacity) {
      list[k] = row;
    } else {
      set_status(status, AUGUR_STATUS_SPARSE_OVERFLOW);
    }
  }
}

}  // namespace augur
