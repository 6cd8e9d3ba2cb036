// Host-side definitions that let cuda/*.cu compile as plain C++ for the CPU emulator of the
// driver API (cuda/emu/README.md). scripts/build-emulator.sh includes this file first in every
// kernel source, after rewriting `__shared__` (see there). Nothing here is used by nvcc.
#pragma once

#include <math.h>

#include <cmath>
#include <cstdint>
#include <cstring>

// Kernel sources test this where the emulator stands in for an instruction (common.cuh's mma_tf32).
#define AUGUR_EMU 1

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
// A kernel's blocks per cluster (common.cuh): read from the source by scripts/build-emulator.sh.
#define AUGUR_CLUSTER(n)

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
};

// The scheduler sets these before it resumes a thread (cuda/emu/scheduler.cpp).
extern dim3 threadIdx, blockIdx, blockDim, gridDim;

namespace augur_emu {
// Barrier over the block: returns when every live thread of the block has reached one.
void syncthreads();
// Barrier over the lanes of `mask` in the caller's warp; reports lanes that have exited.
void syncwarp(unsigned mask);
// Exchange of 8 bytes through the warp: returns the value lane `src` wrote.
uint64_t warp_exchange(unsigned mask, uint64_t mine, int src);
// The predicates of the warp's lanes in mask, lane l's at bit l (__ballot_sync).
unsigned warp_ballot(unsigned mask, bool pred);
// The launch's dynamic shared memory (filled with NaN bytes at each block's start).
void* dynamic_shared();
// A static __shared__ variable's declaration passed (cuda/emu/shared.awk): fills its n bytes with
// 0xff the first time the running block passes it, so no block reads what the previous one left.
void fresh_shared(void* p, size_t n);
// The warp-wide TF32 tensor-core product (common.cuh's augur::mma_tf32): every lane of the
// warp must call it; d += A B with the fragments' lane layout of PTX's m16n8k8 .tf32.
void mma_tf32(float d[4], const uint32_t a[4], const uint32_t b[2]);
// Thread-block clusters (kernels declared with AUGUR_CLUSTER(n), whose n blocks run together
// here): the block's rank in its cluster; the barrier over every thread of the cluster; and the
// address in block `rank`'s dynamic shared memory of `p`, an address in the caller's.
unsigned cluster_rank();
void cluster_sync();
void* cluster_map_shared(void* p, unsigned rank);
// griddepcontrol.wait (common.cuh's augur::grid_dependency_wait): marks the thread as past it.
// Where the launch is programmatic (cuLaunchKernelEx, cuda/emu/README.md) the memory of the kernel
// before it is protected for the launch's first block until its threads pass it, and every block
// must have a thread that passes it.
void grid_dependency_wait();
// cp.async (common.cuh's augur::copy_async): reads src_bytes of src now (0: none; the rest of the
// bytes are zeros) and queues them for dst; copies_arrived() (cp.async.wait_all) writes the calling
// thread's queued copies. A thread that returns with copies queued fails the launch.
void copy_async(void* dst, const void* src, int bytes, int src_bytes);
void copies_arrived();
}  // namespace augur_emu

inline void __syncthreads() { augur_emu::syncthreads(); }
// Fibers of one process share memory with no reordering visible to another block: a no-op.
inline void __threadfence() {}
inline void __syncwarp(unsigned mask = 0xffffffffu) { augur_emu::syncwarp(mask); }
// A load that bypasses L1 on a GPU (another block's writes, after its fence): a plain load here.
template <class T>
inline T __ldcg(const T* p) { return *p; }

template <class T>
inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask) {
  static_assert(sizeof(T) <= 8, "shuffle of more than 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  const int lane = (int)(threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z)) & 31;
  bits = augur_emu::warp_exchange(mask, bits, lane ^ lane_mask);
  T r;
  std::memcpy(&r, &bits, sizeof(T));
  return r;
}

inline unsigned __ballot_sync(unsigned mask, int pred) { return augur_emu::warp_ballot(mask, pred != 0); }

template <class T>
inline T __shfl_sync(unsigned mask, T v, int src_lane) {
  static_assert(sizeof(T) <= 8, "shuffle of more than 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  bits = augur_emu::warp_exchange(mask, bits, src_lane & 31);
  T r;
  std::memcpy(&r, &bits, sizeof(T));
  return r;
}

template <class T>
inline T __shfl_down_sync(unsigned mask, T v, unsigned delta) {
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  const int lane = (int)(threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z)) & 31;
  const int src = lane + (int)delta < 32 ? lane + (int)delta : lane;
  bits = augur_emu::warp_exchange(mask, bits, src);
  T r;
  std::memcpy(&r, &bits, sizeof(T));
  return r;
}

template <class T>
inline T __shfl_up_sync(unsigned mask, T v, unsigned delta) {
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  const int lane = (int)(threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z)) & 31;
  const int src = lane >= (int)delta ? lane - (int)delta : lane;
  bits = augur_emu::warp_exchange(mask, bits, src);
  T r;
  std::memcpy(&r, &bits, sizeof(T));
  return r;
}

// Threads of a block run one at a time and switch only at barriers, so a read-modify-write is
// already atomic here.
template <class T>
inline T atomicAdd(T* p, T v) {
  T old = *p;
  *p = old + v;
  return old;
}
template <class T>
inline T atomicOr(T* p, T v) {
  T old = *p;
  *p = old | v;
  return old;
}
template <class T>
inline T atomicCAS(T* p, T compare, T v) {
  T old = *p;
  if (old == compare) *p = v;
  return old;
}
template <class T>
inline T atomicMax(T* p, T v) {
  T old = *p;
  if (v > old) *p = v;
  return old;
}

inline long long __double2ll_rn(double x) { return std::llrint(x); }
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }

inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline float min(float a, float b) { return std::fmin(a, b); }
inline float max(float a, float b) { return std::fmax(a, b); }

using std::isfinite;
using std::isinf;
using std::isnan;

struct float2 {
  float x, y;
};
struct float4 {
  float x, y, z, w;
};
inline float2 make_float2(float x, float y) { return float2{x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return float4{x, y, z, w}; }
