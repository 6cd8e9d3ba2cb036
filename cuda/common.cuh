// Shared helpers for Augur's kernels.
//
// Conventions (DESIGN.md §4), the same as the Java reference in io.augur.backend.cpu:
//   - argument order: outputs, saved buffers, inputs, parameters, sizes;
//   - B batch, T history length, D embedding width per field, E = 2D behaviour width;
//   - ids are int32, 0 is padding / unknown; lengths[b] is the true history length of sample b;
//   - backward kernels add (+=) into parameter gradients and overwrite (=) activation gradients,
//     unless a kernel's header says otherwise.
// Every kernel is extern "C" so its name in the fatbin, in Nsight and in the Java launcher is the
// plain name written here (e.g. embedding_gather_forward_kernel).
#pragma once

#include <cstdint>

#define AUGUR_KERNEL extern "C" __global__

namespace augur {

__device__ __forceinline__ float sigmoidf(float x) { return 1.0f / (1.0f + __expf(-x)); }

// Grid-stride loop over [0, n).
#define AUGUR_GRID_STRIDE(i, n) \
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (long long)(n); \
       i += (long long)blockDim.x * gridDim.x)

}  // namespace augur
