// The emulator's thread scheduler: runs one kernel launch on the CPU, a block at a time (a
// cluster's blocks together, for kernels declared with AUGUR_CLUSTER), each
// CUDA thread as a fiber with its own stack. A fiber runs until it reaches a barrier
// (__syncthreads, a warp shuffle or __syncwarp) or returns; the scheduler then releases a
// barrier once every live thread it waits for has arrived, and reports a launch whose threads can
// never meet (a __syncthreads inside divergent code, a shuffle with a lane that has exited).
// The order in which threads and blocks run is a seeded permutation that changes with every
// launch, so a kernel that reads another thread's write without a barrier between them gives
// wrong values here rather than right ones by luck (AUGUR_EMU_ORDER=forward turns that off).
// A kernel thread that touches an unmapped or protected page (the guard page after each device
// allocation, driver.cpp) fails its launch with the address and the allocation it ran past, as a
// GPU reports CUDA_ERROR_ILLEGAL_ADDRESS, instead of ending the process: the scheduler's SIGSEGV
// handler switches from the faulting fiber back to the scheduler. Faults anywhere else (the JVM
// uses SIGSEGV itself) go to the handler that was installed before it.
// x86-64 only: the context switch is eight instructions of assembly.
#include "emu.h"
#include "emu_internal.h"

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

dim3 threadIdx, blockIdx, blockDim, gridDim;

extern "C" void augur_emu_switch(void** save_sp, void* to_sp);
asm(R"(
.text
.globl augur_emu_switch
.type augur_emu_switch,@function
augur_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
.size augur_emu_switch, .-augur_emu_switch
)");

namespace augur_emu {
namespace {

enum State { READY, AT_BLOCK, AT_WARP, AT_CLUSTER, DONE };

struct Fiber {
  void* sp = nullptr;
  State state = READY;
  unsigned mask = 0;  // the lanes an AT_WARP fiber waits for
  bool waited = false;  // has passed grid_dependency_wait
};

// An asynchronous copy into shared memory (common.cuh's augur::copy_async): its value, read when it
// started, and where it goes once the thread calls copies_arrived.
struct PendingCopy {
  void* dst;
  int bytes;
  unsigned char value[16];
};

constexpr size_t STACK_BYTES = 256 * 1024;
// The most threads that run together: a block of 1,024, or a cluster's blocks (cuda/emu/README.md).
constexpr int MAX_THREADS = 4096;
constexpr int MAX_CLUSTER = 16;  // an H100's or H200's non-portable cluster size (8 is the portable one)

char* stacks = nullptr;  // MAX_THREADS stacks, each with a guard page below it
Fiber fibers[MAX_THREADS];
std::vector<PendingCopy> pending[MAX_THREADS];  // each fiber's copies not yet waited for
uint64_t exchange[MAX_THREADS];
int nthreads = 0;       // the fibers that run together: cluster_blocks blocks of block_threads
int block_threads = 0;  // threads of one block
int cluster_blocks = 1;
dim3 cluster_first;  // the block index of the running cluster's rank 0
int current = -1;
void* scheduler_sp = nullptr;
const Body* body = nullptr;
// A launch's dynamic shared memory ends at an unmapped page, so a thread that runs past it faults
// (and the launch fails naming it) instead of writing into whatever the heap holds next.
// Each block of a cluster has a region of its own.
unsigned char* shared_guard[MAX_CLUSTER] = {};  // the unmapped page after each region
unsigned char* shared_base[MAX_CLUSTER] = {};   // this launch's dynamic shared memory, per block of the cluster
bool shared_closed[MAX_CLUSTER] = {};           // the block has returned: its region is unmapped until the next cluster
size_t shared_size = 0;
size_t shared_limit = SHARED_DEFAULT_LIMIT;  // the kernel's dynamic shared memory limit as set (run_launch)
size_t block_static_bytes = 0;              // the static __shared__ variables this block has passed (fresh_shared)
size_t shared_mapped = 0;  // bytes mapped before each guard page
std::string failure;  // the first problem of this launch
uint64_t launches = 0;
bool forward_order = false;
std::vector<int> thread_order;  // run_block's, kept here: a faulting launch leaves run_block by a switch

// The fault handler's view: whether a fiber of a launch is running, and on which OS thread.
volatile sig_atomic_t in_fiber = 0;
pthread_t kernel_thread;
struct Fault {
  bool happened = false;
  const void* address = nullptr;
  bool write = false;
  int thread = -1;
  dim3 block;
  int guarded = 0;  // guarded_region of the address when it faulted
} fault;
bool illegal_address = false;  // the last failed launch's cause
struct sigaction previous_segv, previous_bus;

// A programmatic launch (emu_internal.h): the memory of the kernel before it, protected from the
// start of the launch's first block (or cluster) until that block's threads have met at the wait.
const Programmatic* programmatic = nullptr;
bool checking = false;  // the running block is the checked one
bool guarded = false;   // the protections are in force
bool block_waited[MAX_CLUSTER] = {};

void guard(bool on) {
  if (on == guarded || programmatic == nullptr) return;
  for (const Region& r : programmatic->written) mprotect(r.p, r.n, on ? PROT_NONE : PROT_READ | PROT_WRITE);
  for (const Region& r : programmatic->read) mprotect(r.p, r.n, on ? PROT_READ : PROT_READ | PROT_WRITE);
  guarded = on;
}

// Whether p lies in one of the protected regions: 1 written by the kernel before, 2 read by it, 0 neither.
int guarded_region(const void* p) {
  if (!guarded) return 0;
  const char* c = static_cast<const char*>(p);
  for (const Region& r : programmatic->written)
    if (c >= static_cast<const char*>(r.p) && c < static_cast<const char*>(r.p) + r.n) return 1;
  for (const Region& r : programmatic->read)
    if (c >= static_cast<const char*>(r.p) && c < static_cast<const char*>(r.p) + r.n) return 2;
  return 0;
}

void fail(const std::string& what) {
  if (failure.empty()) failure = what;
}

void set_thread_index(int t) {
  const int b = t / block_threads, i = t % block_threads;
  threadIdx.x = i % blockDim.x;
  threadIdx.y = (i / blockDim.x) % blockDim.y;
  threadIdx.z = i / (blockDim.x * blockDim.y);
  blockIdx = cluster_first;
  blockIdx.x += (unsigned)b;  // a cluster's blocks are consecutive in x
}

// The fibers of the block that fiber t belongs to: [first, first + block_threads).
int block_first(int t) { return t / block_threads * block_threads; }

void yield_to_scheduler() { augur_emu_switch(&fibers[current].sp, scheduler_sp); }

// Passes a fault that is not a kernel's on to the handler installed before ours (the JVM's).
void chain(int sig, siginfo_t* info, void* context) {
  const struct sigaction& prev = sig == SIGBUS ? previous_bus : previous_segv;
  if (prev.sa_flags & SA_SIGINFO) {
    if (prev.sa_sigaction != nullptr) prev.sa_sigaction(sig, info, context);
    return;
  }
  if (prev.sa_handler == SIG_IGN) return;
  if (prev.sa_handler == SIG_DFL) {  // the instruction faults again, and the default action ends the process
    sigaction(sig, &prev, nullptr);
    return;
  }
  prev.sa_handler(sig);
}

// A kernel's fault: recorded, and the fiber abandoned (its stack is rebuilt at the next launch).
// The switch leaves this handler without returning, so the faulting thread still has SIGSEGV
// blocked until run_launch unblocks it.
void on_fault(int sig, siginfo_t* info, void* context) {
  if (in_fiber && current >= 0 && pthread_equal(pthread_self(), kernel_thread)) {
    in_fiber = 0;
    fault.happened = true;
    fault.address = info->si_addr;
    fault.write = context != nullptr && (static_cast<ucontext_t*>(context)->uc_mcontext.gregs[REG_ERR] & 2) != 0;
    fault.thread = current % block_threads;
    fault.block = blockIdx;
    fault.guarded = guarded_region(info->si_addr);
    fibers[current].state = DONE;
    augur_emu_switch(&fibers[current].sp, scheduler_sp);
    std::abort();  // never resumed
  }
  chain(sig, info, context);
}

void install_fault_handler() {
  static bool installed = false;
  if (installed) return;
  installed = true;
  struct sigaction sa {};
  sa.sa_sigaction = &on_fault;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &previous_segv);
  sigaction(SIGBUS, &sa, &previous_bus);
}

void fiber_main() {
  (*body)();
  fibers[current].state = DONE;
  yield_to_scheduler();
  std::abort();  // a finished fiber is never resumed
}

void ensure_shared() {
  if (shared_guard[0] != nullptr) return;
  const size_t page = 4096, bytes = (SHARED_OPTIN_LIMIT + 16 + page - 1) / page * page;
  shared_mapped = bytes;
  for (int b = 0; b < MAX_CLUSTER; ++b) {
    void* m = mmap(nullptr, bytes + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) {
      std::fprintf(stderr, "[augur-emu] cannot map %zu bytes of shared memory\n", bytes + page);
      std::abort();
    }
    shared_guard[b] = static_cast<unsigned char*>(m) + bytes;
    mprotect(shared_guard[b], page, PROT_NONE);
  }
}

// A returned block's shared memory, which the rest of its cluster must no longer read (on a GPU
// it may already hold the next block's): unmapped, so that a read faults and fails the launch.
void close_shared(int b) {
  if (shared_closed[b]) return;
  shared_closed[b] = true;
  mprotect(shared_guard[b] - shared_mapped, shared_mapped, PROT_NONE);
}

void open_shared() {
  for (int b = 0; b < cluster_blocks; ++b) {
    if (shared_closed[b]) mprotect(shared_guard[b] - shared_mapped, shared_mapped, PROT_READ | PROT_WRITE);
    shared_closed[b] = false;
    std::memset(shared_base[b], 0xff, shared_size);  // NaN floats and doubles, -1 ints
  }
}

void ensure_stacks() {
  if (stacks != nullptr) return;
  const size_t page = 4096, each = STACK_BYTES + page;
  void* m = mmap(nullptr, each * MAX_THREADS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) {
    std::fprintf(stderr, "[augur-emu] cannot map %zu bytes of fiber stacks\n", each * MAX_THREADS);
    std::abort();
  }
  stacks = static_cast<char*>(m);
  for (int i = 0; i < MAX_THREADS; ++i) mprotect(stacks + i * each, page, PROT_NONE);  // overflow faults
}

void start_fiber(int t) {
  const size_t page = 4096, each = STACK_BYTES + page;
  uintptr_t top = reinterpret_cast<uintptr_t>(stacks + (size_t)(t + 1) * each) & ~uintptr_t(15);
  uint64_t* s = reinterpret_cast<uint64_t*>(top);
  *--s = 0;                                          // fiber_main's return address: never used
  *--s = reinterpret_cast<uint64_t>(&fiber_main);    // where augur_emu_switch's ret goes
  for (int r = 0; r < 6; ++r) *--s = 0;              // rbp rbx r12 r13 r14 r15
  fibers[t].sp = s;
  fibers[t].state = READY;
  fibers[t].mask = 0;
  fibers[t].waited = false;
  pending[t].clear();
}

struct Rng {
  uint64_t s;
  uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
};

void permute(std::vector<int>& order, Rng& rng) {
  for (size_t i = 0; i < order.size(); ++i) order[i] = (int)i;
  if (forward_order) return;
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.next() % i]);
}

// Releases what can be released; false when nothing could (the threads are stuck).
bool release_barriers() {
  bool released = false;
  for (int t0 = 0; t0 < nthreads; t0 += block_threads)
    for (int w = 0; w * 32 < block_threads; ++w) {
      const int first = t0 + w * 32, lanes = std::min(32, block_threads - w * 32);
      int waiting = -1;
      for (int l = 0; l < lanes; ++l)
        if (fibers[first + l].state == AT_WARP) { waiting = first + l; break; }
      if (waiting < 0) continue;
      const unsigned mask = fibers[waiting].mask;
      bool all = true;
      for (int l = 0; l < 32; ++l) {
        if (!(mask >> l & 1u)) continue;
        if (l >= lanes) {
          fail("a warp-synchronous call names lane " + std::to_string(l) + " of warp " + std::to_string(w) + ", which this block does not have");
          continue;
        }
        const State s = fibers[first + l].state;
        if (s == DONE) fail("a warp-synchronous call waits for lane " + std::to_string(l) + " of warp " + std::to_string(w) + ", which has already returned");
        if (s != AT_WARP) all = false;
      }
      if (all) {
        for (int l = 0; l < lanes; ++l)
          if (mask >> l & 1u) fibers[first + l].state = READY;
        released = true;
      }
    }
  if (released) return true;
  // __syncthreads: a block's live threads all there
  int live_all = 0, at_cluster = 0, done_all = 0;
  for (int t0 = 0; t0 < nthreads; t0 += block_threads) {
    int live = 0, at_block = 0;
    for (int t = t0; t < t0 + block_threads; ++t) {
      if (fibers[t].state != DONE) ++live;
      if (fibers[t].state == AT_BLOCK) ++at_block;
    }
    if (live > 0 && at_block == live) {
      for (int t = t0; t < t0 + block_threads; ++t)
        if (fibers[t].state == AT_BLOCK) fibers[t].state = READY;
      released = true;
    }
  }
  if (released) return true;
  for (int t = 0; t < nthreads; ++t) {
    if (fibers[t].state != DONE) ++live_all; else ++done_all;
    if (fibers[t].state == AT_CLUSTER) ++at_cluster;
  }
  if (live_all == 0) return false;
  // the cluster barrier: every thread of every block of the cluster, none of them returned
  if (at_cluster == nthreads) {
    for (int t = 0; t < nthreads; ++t) fibers[t].state = READY;
    return true;
  }
  std::string where = cluster_blocks > 1 ? "cluster at block (" : "block (";
  where += std::to_string(cluster_first.x) + "," + std::to_string(cluster_first.y) + "," + std::to_string(cluster_first.z) + ")";
  if (at_cluster > 0 && at_cluster == live_all)
    fail("the threads of the " + where + " cannot meet: " + std::to_string(at_cluster) + " wait at the cluster barrier while " +
         std::to_string(done_all) + " have returned (every thread of the cluster must arrive)");
  else
    fail("the threads of the " + where + " cannot meet: " + std::to_string(at_cluster) + " wait at the cluster barrier, the rest at a "
         "__syncthreads or a warp-synchronous call, " + std::to_string(done_all) + " have returned (a barrier in divergent code?)");
  return false;
}

uint64_t block_serial = 0;  // counts blocks run, for fresh_shared
struct StaticShared {
  void* p;
  uint64_t block;  // the block that last filled it
};
std::vector<StaticShared> static_shared;

// Runs one block, or the blocks of one cluster together.
void run_block(Rng& rng) {
  ++block_serial;
  block_static_bytes = 0;
  for (int t = 0; t < nthreads; ++t) start_fiber(t);
  for (int b = 0; b < cluster_blocks; ++b) block_waited[b] = false;
  open_shared();
  int returned[MAX_CLUSTER] = {};  // per block of the cluster, its threads that have returned
  std::vector<int>& order = thread_order;
  order.resize(nthreads);
  for (;;) {
    permute(order, rng);
    for (int t : order) {
      if (fibers[t].state != READY) continue;
      current = t;
      set_thread_index(t);
      in_fiber = 1;
      augur_emu_switch(&scheduler_sp, fibers[t].sp);
      in_fiber = 0;
      if (fault.happened) {
        current = -1;
        return;  // the other fibers are abandoned with it
      }
      if (fibers[t].state == DONE && !pending[t].empty())
        fail("thread (" + std::to_string(threadIdx.x) + "," + std::to_string(threadIdx.y) + "," + std::to_string(threadIdx.z) + ") of block (" +
             std::to_string(blockIdx.x) + "," + std::to_string(blockIdx.y) + "," + std::to_string(blockIdx.z) + ") returned with " +
             std::to_string(pending[t].size()) + " asynchronous copies into shared memory that it never waited for (augur::copies_arrived)");
      // a block's last thread returned: the rest of the cluster may no longer read its shared memory
      if (fibers[t].state == DONE && ++returned[t / block_threads] == block_threads && cluster_blocks > 1) close_shared(t / block_threads);
    }
    current = -1;
    bool all_done = true;
    for (int b = 0; b < cluster_blocks; ++b) all_done = all_done && returned[b] == block_threads;
    if (all_done) {
      if (programmatic != nullptr && programmatic->on)
        for (int b = 0; b < cluster_blocks; ++b)
          if (!block_waited[b])
            fail("block (" + std::to_string(cluster_first.x + b) + "," + std::to_string(cluster_first.y) + "," + std::to_string(cluster_first.z) +
                 ") of a programmatic launch returned without any of its threads passing griddepcontrol.wait "
                 "(augur::grid_dependency_wait): the grid could then finish before the kernel it depends on");
      return;
    }
    if (!release_barriers()) return;  // stuck: `failure` says why; the fibers are abandoned
  }
}

}  // namespace

void syncthreads() {
  fibers[current].state = AT_BLOCK;
  yield_to_scheduler();
}

void syncwarp(unsigned mask) {
  fibers[current].state = AT_WARP;
  fibers[current].mask = mask;
  yield_to_scheduler();
}

uint64_t warp_exchange(unsigned mask, uint64_t mine, int src) {
  const int me = current, base = block_first(me), first = base + ((me - base) & ~31);
  exchange[me] = mine;
  syncwarp(mask);
  uint64_t r = mine;
  if (src < 0 || src > 31 || !(mask >> src & 1u) || first + src >= base + block_threads)
    fail("a shuffle reads lane " + std::to_string(src) + ", which is not in its mask");
  else
    r = exchange[first + src];
  syncwarp(mask);  // nobody overwrites its slot before every lane has read
  return r;
}

unsigned warp_ballot(unsigned mask, bool pred) {
  const int me = current, base = block_first(me), first = base + ((me - base) & ~31);
  if (!(mask >> ((me - base) & 31) & 1u)) fail("a ballot from a lane outside its mask");
  exchange[me] = pred ? 1u : 0u;
  syncwarp(mask);
  unsigned r = 0;
  for (int l = 0; l < 32; ++l)
    if ((mask >> l & 1u) && first + l < base + block_threads && exchange[first + l] != 0) r |= 1u << l;
  syncwarp(mask);  // nobody overwrites its slot before every lane has read
  return r;
}

void* dynamic_shared() { return shared_base[current / block_threads]; }

void cluster_sync() {
  fibers[current].state = AT_CLUSTER;
  yield_to_scheduler();
}

unsigned cluster_rank() { return (unsigned)(current / block_threads); }

void grid_dependency_wait() {
  const bool first = !fibers[current].waited;
  fibers[current].waited = true;
  block_waited[current / block_threads] = true;
  if (checking && first) {
    // the checked block's threads all reach the wait before the protections go (two mprotect
    // rounds a launch rather than two per thread); the other blocks run through it as a GPU does
    syncthreads();
    guard(false);
  }
}

void copy_async(void* dst, const void* src, int bytes, int src_bytes) {
  PendingCopy c{dst, bytes, {}};
  if (src_bytes > 0) std::memcpy(c.value, src, (size_t)src_bytes);  // the rest stays 0, as cp.async's zero fill
  pending[current].push_back(c);
}

void copies_arrived() {
  for (const PendingCopy& c : pending[current]) std::memcpy(c.dst, c.value, (size_t)c.bytes);
  pending[current].clear();
}

void* cluster_map_shared(void* p, unsigned rank) {
  unsigned char* mine = shared_base[current / block_threads];
  const unsigned char* c = static_cast<const unsigned char*>(p);
  if (rank >= (unsigned)cluster_blocks) {
    fail("a block maps the shared memory of cluster rank " + std::to_string(rank) + " in a cluster of " + std::to_string(cluster_blocks));
    return p;
  }
  if (c < mine || c > mine + shared_size) {
    fail("a block maps an address that is not in its dynamic shared memory into another block's");
    return p;
  }
  return shared_base[rank] + (c - mine);
}

void fresh_shared(void* p, size_t n) {
  if (cluster_blocks > 1)  // statics are one copy here, and a cluster's blocks run together
    fail("a static __shared__ variable in a cluster launch (not emulated: the kernel must use dynamic shared memory)");
  StaticShared* known = nullptr;
  for (StaticShared& s : static_shared)
    if (s.p == p) {
      known = &s;
      break;
    }
  if (known != nullptr && known->block == block_serial) return;  // this block has passed it before
  std::memset(p, 0xff, n);
  if (known != nullptr) known->block = block_serial;
  else static_shared.push_back(StaticShared{p, block_serial});
  // On a GPU a kernel's static shared memory comes out of the same per-block limit as its dynamic
  // part: without the opt-in the two together may have 48 KiB (the attribute's default is 48 KiB
  // less the statics), and cuFuncSetAttribute refuses a limit that leaves the statics no room
  // within the device's opt-in maximum. Here the statics are counted as a block passes them.
  block_static_bytes += n;
  const bool raised = shared_limit != SHARED_DEFAULT_LIMIT;
  if (!raised && block_static_bytes + shared_size > SHARED_DEFAULT_LIMIT)
    fail("static __shared__ variables of " + std::to_string(block_static_bytes) + " bytes beside " + std::to_string(shared_size) +
         " bytes of dynamic shared memory: more than the " + std::to_string(SHARED_DEFAULT_LIMIT) +
         " bytes a block has without cuFuncSetAttribute(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES); a GPU refuses the launch");
  else if (raised && block_static_bytes + shared_limit > SHARED_OPTIN_LIMIT)
    fail("static __shared__ variables of " + std::to_string(block_static_bytes) + " bytes beside a dynamic shared memory limit of " +
         std::to_string(shared_limit) + " bytes: more than the device's " + std::to_string(SHARED_OPTIN_LIMIT) +
         " bytes a block; a GPU refuses that cuFuncSetAttribute");
}

bool last_failure_was_illegal_address() { return illegal_address; }

namespace {
// Where a faulting address lies: past the launch's dynamic shared memory, or among the device
// allocations (driver.cpp).
std::string describe_fault_address(const void* p) {
  const unsigned char* c = static_cast<const unsigned char*>(p);
  if (const int g = fault.guarded)
    return describe_device_address(p) + (g == 1 ? ", which the kernel before it in the stream wrote," : ", which the kernel before it in the stream reads,") +
           " before passing griddepcontrol.wait (augur::grid_dependency_wait) in a programmatic launch, which may run beside that kernel";
  for (int b = 0; b < cluster_blocks; ++b) {
    if (c >= shared_guard[b] && c < shared_guard[b] + 4096)
      return "dynamic shared memory " + std::to_string(c - (shared_base[b] + shared_size)) + " bytes past the end of the launch's " +
             std::to_string(shared_size) + " bytes";
    if (shared_closed[b] && c >= shared_guard[b] - shared_mapped && c < shared_guard[b])
      return "the dynamic shared memory of cluster rank " + std::to_string(b) + ", which had returned";
  }
  return describe_device_address(p);
}
}  // namespace

namespace {
struct MmaSlot {
  uint32_t a[4], b[2];
};
MmaSlot mma_slots[MAX_THREADS];

// What the tensor core reads of a TF32 operand: the top 19 bits (sign, exponent, 10 mantissa bits).
float tf32_operand(uint32_t bits) {
  bits &= ~0x1fffu;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
}  // namespace

// Each lane publishes its fragments, every lane rebuilds A (16 x 8) and B (8 x 8) from the 32
// lanes as PTX lays them out, and computes its own four elements of D. The products of two TF32
// values are exact in double; the sum of the eight and C is rounded once to fp32 (the tensor
// core's internal order and rounding are not specified; the parity tests' tolerances cover it).
void mma_tf32(float d[4], const uint32_t a[4], const uint32_t b[2]) {
  const int me = current, base = block_first(me), first = base + ((me - base) & ~31), lane = (me - base) & 31;
  for (int i = 0; i < 4; ++i) mma_slots[me].a[i] = a[i];
  for (int i = 0; i < 2; ++i) mma_slots[me].b[i] = b[i];
  syncwarp(0xffffffffu);  // the whole warp: fails the launch if a lane is missing or elsewhere
  if (first + 31 < base + block_threads) {
    float A[16][8], B[8][8];
    for (int l = 0; l < 32; ++l) {
      const MmaSlot& s = mma_slots[first + l];
      const int g = l >> 2, t = l & 3;
      A[g][t] = tf32_operand(s.a[0]);
      A[g + 8][t] = tf32_operand(s.a[1]);
      A[g][t + 4] = tf32_operand(s.a[2]);
      A[g + 8][t + 4] = tf32_operand(s.a[3]);
      B[t][g] = tf32_operand(s.b[0]);
      B[t + 4][g] = tf32_operand(s.b[1]);
    }
    const int g = lane >> 2, t = lane & 3;
    for (int q = 0; q < 4; ++q) {
      const int row = g + 8 * (q >> 1), col = 2 * t + (q & 1);
      double acc = d[q];
      for (int k = 0; k < 8; ++k) acc += (double)A[row][k] * (double)B[k][col];
      d[q] = (float)acc;
    }
  }
  syncwarp(0xffffffffu);  // nobody overwrites its slot before every lane has read
}

std::string run_launch(const Body& kernel, dim3 grid, dim3 block, size_t shared, size_t dynamic_limit, int cluster, const Programmatic& pdl) {
  ensure_stacks();
  install_fault_handler();
  kernel_thread = pthread_self();
  fault = Fault{};
  illegal_address = false;
  static const bool forward = [] {
    const char* o = std::getenv("AUGUR_EMU_ORDER");
    return o != nullptr && std::string(o) == "forward";
  }();
  forward_order = forward;
  // AUGUR_EMU_SEED=n: another family of orders (the default, 0, is the one the test suite has always run under)
  static const uint64_t seed = [] {
    const char* v = std::getenv("AUGUR_EMU_SEED");
    return v == nullptr ? 0ULL : (uint64_t)std::strtoull(v, nullptr, 10);
  }();
  const long long threads = (long long)block.x * block.y * block.z;
  if (threads < 1 || threads > 1024) return "a block of " + std::to_string(threads) + " threads (1 to 1024 allowed)";
  if (cluster < 1 || cluster > MAX_CLUSTER || grid.x % cluster != 0)
    return "a cluster of " + std::to_string(cluster) + " blocks for a grid of " + std::to_string(grid.x) + " in x (1 to 16, dividing it)";
  if (threads * cluster > MAX_THREADS)
    return "a cluster of " + std::to_string(cluster) + " blocks of " + std::to_string(threads) + " threads (the emulator runs at most " +
           std::to_string(MAX_THREADS) + " threads together)";
  failure.clear();
  block_threads = (int)threads;
  cluster_blocks = cluster;
  nthreads = (int)threads * cluster;
  body = &kernel;
  blockDim = block;
  gridDim = grid;
  ensure_shared();
  if (shared > SHARED_OPTIN_LIMIT) return "a launch with " + std::to_string(shared) + " bytes of dynamic shared memory (at most " + std::to_string(SHARED_OPTIN_LIMIT) + ")";
  shared_size = shared;
  shared_limit = dynamic_limit;
  for (int b = 0; b < MAX_CLUSTER; ++b)
    shared_base[b] = shared_guard[b] - ((shared + 15) & ~size_t(15));  // 16-byte aligned, ending within 15 bytes of the guard
  Rng rng{0x9e3779b97f4a7c15ULL ^ (++launches * 0x2545f4914f6cdd1dULL) ^ (seed * 0xbf58476d1ce4e5b9ULL)};
  const long long blocks = (long long)grid.x * grid.y * grid.z, clusters = blocks / cluster;
  std::vector<long long> order(clusters);
  for (long long i = 0; i < clusters; ++i) order[i] = i;
  if (!forward_order)
    for (long long i = clusters; i > 1; --i) std::swap(order[i - 1], order[rng.next() % i]);
  programmatic = &pdl;
  checking = pdl.on && (!pdl.written.empty() || !pdl.read.empty());
  for (long long q : order) {
    const long long b = q * cluster;  // its first block; the others follow in x
    cluster_first.x = (unsigned)(b % grid.x);
    cluster_first.y = (unsigned)((b / grid.x) % grid.y);
    cluster_first.z = (unsigned)(b / ((long long)grid.x * grid.y));
    blockIdx = cluster_first;
    if (checking) guard(true);
    run_block(rng);
    guard(false);
    checking = false;  // the first block only: on a GPU the blocks that start early are the first few
    if (fault.happened) {
      sigset_t faults;  // the handler never returned, so its signal is still blocked on this thread
      sigemptyset(&faults);
      sigaddset(&faults, SIGSEGV);
      sigaddset(&faults, SIGBUS);
      pthread_sigmask(SIG_UNBLOCK, &faults, nullptr);
      illegal_address = true;
      failure = "thread (" + std::to_string(fault.thread % blockDim.x) + "," + std::to_string(fault.thread / blockDim.x % blockDim.y) + "," +
                std::to_string(fault.thread / (blockDim.x * blockDim.y)) + ") of block (" + std::to_string(fault.block.x) + "," +
                std::to_string(fault.block.y) + "," + std::to_string(fault.block.z) + ") " + (fault.write ? "wrote" : "read") + " " +
                describe_fault_address(fault.address) + " (a GPU's CUDA_ERROR_ILLEGAL_ADDRESS)";
      break;
    }
    if (!failure.empty()) break;
  }
  body = nullptr;
  guard(false);
  programmatic = nullptr;
  checking = false;
  return failure;
}

}  // namespace augur_emu
