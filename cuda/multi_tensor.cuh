// Several tensors handled by one launch (the "multi-tensor apply" of fused optimizers): the host
// passes this struct by value as a kernel parameter (io.augur.backend.cuda.MultiTensorArgs writes
// it byte for byte). Tensor e owns blocks [first_block[e], first_block[e + 1]), each block
// MULTI_CHUNK consecutive elements of it (the last block of a tensor fewer). A list longer than
// MULTI_MAX tensors is split over several launches by the host.
//   a, b, c, d   up to four arrays of tensor e, each of n[e] floats (a kernel says which it uses;
//                unused ones are nullptr)
#pragma once
#include "common.cuh"

namespace augur {

// Tensors per launch: 64 cover every dense parameter of DIEN in one launch (24 took two), and the struct
// (2,568 bytes) with a kernel's other arguments stays within the 4 KiB of parameters every
// architecture takes.
constexpr int MULTI_MAX = 64;
constexpr int MULTI_CHUNK = 1024;  // elements per block

struct MultiTensor {
  float* a[MULTI_MAX];
  float* b[MULTI_MAX];
  float* c[MULTI_MAX];
  float* d[MULTI_MAX];
  int n[MULTI_MAX];
  int first_block[MULTI_MAX + 1];  // first_block[count] = the grid size
  int count;
};
// MultiTensorArgs.BYTES on the Java side: 4 * 8 * 64 + 4 * 64 + 4 * 65 + 4
static_assert(sizeof(MultiTensor) == 2568, "MultiTensor's layout changed: update io.augur.backend.cuda.MultiTensorArgs");

// The tensor that owns this block (binary search over first_block) and the block's element range.
__device__ __forceinline__ int multi_tensor_entry(const MultiTensor& t, int block, int* begin, int* end) {
  int lo = 0, hi = t.count - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) >> 1;
    if (t.first_block[mid] <= block) lo = mid; else hi = mid - 1;
  }
  *begin = (block - t.first_block[lo]) * MULTI_CHUNK;
  *end = min(t.n[lo], *begin + MULTI_CHUNK);
  return lo;
}

// Block `block` of a launch that clears or copies the list's tensors: its chunk of tensor e set to 0, or, where b[e]
// is set, copied from b[e] as 32-bit words (ints or floats, as bits). zero_multi_kernel's lists have no b; copy_multi_kernel's
// have b everywhere; a step's first launch (embedding_gather_multi_forward_zero_kernel) may hold both: the dense
// gradients to clear and the batch's inputs from the staging slot (CudaBackend.embeddingGather).
__device__ __forceinline__ void zero_or_copy_block(const MultiTensor& t, int block) {
  int begin, end;
  const int e = multi_tensor_entry(t, block, &begin, &end);
  unsigned* __restrict__ to = reinterpret_cast<unsigned*>(t.a[e]);
  const unsigned* __restrict__ from = reinterpret_cast<const unsigned*>(t.b[e]);
  if (from == nullptr) {
    for (int i = begin + threadIdx.x; i < end; i += blockDim.x) to[i] = 0u;
  } else {
    for (int i = begin + threadIdx.x; i < end; i += blockDim.x) to[i] = from[i];
  }
}

}  // namespace augur
