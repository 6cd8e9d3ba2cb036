// The part of the CUDA driver API that Augur calls, on the CPU (cuda/emu/README.md). Built as
// libcuda.so.1: put its folder first on LD_LIBRARY_PATH and JCuda's driver binding, CudaProbe and
// the GPU tests run against it; the kernels are cuda/*.cu compiled as C++ (scheduler.cpp runs
// them). Streams run concurrently as far as their events allow: each stream's operations wait in
// its queue, and at every driver call a seeded random number of them run, each time from a stream
// picked at random among those whose next operation is not waiting for an event; a synchronising
// call (a stream or event synchronize, a synchronous copy, a free) runs what it needs first. So a
// missing cuStreamWaitEvent, or a host write into a pinned buffer that a queued copy still reads,
// gives wrong values here as on a GPU (AUGUR_EMU_STREAMS=immediate runs every operation when it
// is issued instead). A stream being captured records its operations into a graph, and a graph
// launch runs them again in order. Device memory is host memory with an unmapped page after each allocation
// (a read past the end faults) and is filled with 0xff bytes when allocated (NaN floats), as
// cuMemAlloc promises nothing about its contents. Functions JCuda binds that are not here answer
// CUDA_ERROR_NOT_SUPPORTED (stubs.cpp, generated) and say so on stderr.
#include "emu.h"
#include "emu_internal.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

using CUresult = int;
using CUdeviceptr = unsigned long long;
using CUdevice = int;

namespace augur_emu {
std::map<std::string, Kernel>& registry() {
  static std::map<std::string, Kernel> r;
  return r;
}
}  // namespace augur_emu

namespace {

constexpr CUresult OK = 0, INVALID_VALUE = 1, OUT_OF_MEMORY = 2, INVALID_DEVICE = 101, INVALID_IMAGE = 200, INVALID_CONTEXT = 201,
                   INVALID_HANDLE = 400, ILLEGAL_STATE = 401, NOT_FOUND = 500, ILLEGAL_ADDRESS = 700, LAUNCH_FAILED = 719,
                   CAPTURE_UNSUPPORTED = 900, CAPTURE_INVALIDATED = 901, NOT_READY = 600, INVALID_CLUSTER_SIZE = 912,
                   NOT_SUPPORTED = 801;

// What each emulated device claims to have and hands out: 16 GiB, or AUGUR_EMU_MEMORY_MIB=n MiB (1 to
// 1,048,576), so that a test can run out of device memory with a small plan.
size_t total_bytes() {
  static const size_t n = [] {
    const char* v = std::getenv("AUGUR_EMU_MEMORY_MIB");
    const long long k = v != nullptr && *v != '\0' ? std::atoll(v) : 0;
    return (k >= 1 && k <= (1LL << 20) ? (size_t)k : (size_t)16 << 10) << 20;
  }();
  return n;
}
constexpr size_t PAGE = 4096;

// AUGUR_EMU_DEVICES=n (1 to MAX_DEVICES, default 1): how many devices the emulator shows. Each has
// its primary context; a thread has none current until cuCtxSetCurrent, as with NVIDIA's driver,
// and the calls that work in the current context (need_context below) fail without one. Memory,
// modules, functions and streams belong to the context current when they were made, and a launch
// is refused when its function, its stream or an allocation its arguments point into belongs to
// another device's context than the thread's current one (on a GPU: CUDA_ERROR_INVALID_CONTEXT,
// or, for the memory, a fault in the kernel without peer access; refused here with
// CUDA_ERROR_INVALID_VALUE, the context left usable).
constexpr int MAX_DEVICES = 8;
int device_count() {
  static const int n = [] {
    const char* v = std::getenv("AUGUR_EMU_DEVICES");
    const int k = v != nullptr && *v != '\0' ? std::atoi(v) : 1;
    return k >= 1 && k <= MAX_DEVICES ? k : 1;
  }();
  return n;
}
bool valid_device(CUdevice d) { return d >= 0 && d < device_count(); }

struct Context {
  int device;
};
Context contexts[MAX_DEVICES] = {{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}};
thread_local Context* current_context = nullptr;
size_t device_bytes_of[MAX_DEVICES] = {};

std::recursive_mutex lock;  // the driver API is callable from any thread; the emulator runs one call at a time
using Guard = std::lock_guard<std::recursive_mutex>;

struct Graph {
  std::vector<std::function<CUresult()>> ops;
  bool invalidated = false;
  bool programmatic = false;  // a programmatic launch was captured into it
};

struct Event {
  double ms = 0;
  Graph* recorded_in = nullptr;  // set when recorded into a capture
  unsigned long long recorded = 0, completed = 0;  // records issued outside captures, and run
};

// One queued operation: work to run, or (run empty) a wait until `event` has completed record `gen`.
struct Op {
  std::function<CUresult()> run;
  Event* event = nullptr;
  unsigned long long gen = 0;
};

struct Stream {
  Context* context = nullptr;  // where it was created (nullptr: the legacy default stream, every context's)
  Graph* capture = nullptr;  // non-null while this stream is being captured
  bool origin = false;       // the stream cuStreamBeginCapture was called on
  bool blocking = true;      // synchronises with the legacy default stream (not CU_STREAM_NON_BLOCKING)
  std::deque<Op> queue;      // issued, not yet run
};

// The emulated device's multiprocessors, as many as an H200 has (MULTIPROCESSOR_COUNT).
constexpr int MULTIPROCESSORS = 132;
// The largest cluster a kernel takes without opting in (CUDA's portable size); an H100 or H200 places
// clusters of up to 16 blocks for a kernel given NON_PORTABLE_CLUSTER_SIZE_ALLOWED, the emulator's
// default limit below.
constexpr int PORTABLE_CLUSTER = 8;

struct Function {
  Context* context;
  std::string name;
  augur_emu::Kernel kernel;
  int max_dynamic_shared = (int)augur_emu::SHARED_DEFAULT_LIMIT;
  bool non_portable_cluster = false;  // cuFuncSetAttribute(NON_PORTABLE_CLUSTER_SIZE_ALLOWED, 1)
};

struct Allocation {
  void* base;
  size_t mapped;
  size_t bytes;
  int device;
};

std::map<CUdeviceptr, Allocation> device_allocations;
std::set<Graph*> capturing;  // graphs being captured
// The legacy default stream (a null CUstream): the synchronous copies and memsets run on it. A
// CU_STREAM_NON_BLOCKING stream (Augur's compute and copy streams) does not synchronise with it,
// so work issued there after a synchronous host-to-device copy or memset may run before it, as
// the CUDA documentation allows ("API synchronization behavior").
Stream legacy;
std::set<Stream*> streams{&legacy};

Stream* stream_of(void* hstream) { return hstream != nullptr ? static_cast<Stream*>(hstream) : &legacy; }
CUresult sticky = OK;  // the first failure of a queued operation, returned by the next synchronising call (CUDA's sticky error)

bool deferred_streams() {
  static const bool deferred = [] {
    const char* v = std::getenv("AUGUR_EMU_STREAMS");
    return v == nullptr || std::strcmp(v, "immediate") != 0;
  }();
  return deferred;
}

uint64_t stream_rng() {  // splitmix64, seeded: the same interleaving on every run of the same calls
  static uint64_t state = 0x5eed5eed12345678ULL;
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

bool ready(const Stream* s) {
  if (s->queue.empty()) return false;
  const Op& op = s->queue.front();
  return op.event == nullptr || op.event->completed >= op.gen;
}

// Operations run so far (queued ones as they run, a graph's one by one), so that a programmatic
// launch knows whether the operation just before it was the kernel it may overlap (launch()).
uint64_t op_serial = 0;

// Runs the next operation of one ready stream, picked at random; false if none is ready.
bool run_one() {
  std::vector<Stream*> candidates;
  for (Stream* s : streams)
    if (ready(s)) candidates.push_back(s);
  if (candidates.empty()) return false;
  Stream* s = candidates[stream_rng() % candidates.size()];
  Op op = std::move(s->queue.front());
  s->queue.pop_front();
  ++op_serial;
  if (op.run) {
    const CUresult r = op.run();
    if (r != OK && sticky == OK) sticky = r;
  }
  return true;
}

bool pending() {
  for (Stream* s : streams)
    if (!s->queue.empty()) return true;
  return false;
}

// Runs queued operations until done() holds; a wait that nothing can satisfy is reported.
template <class Done>
void run_until(Done done) {
  while (!done())
    if (!run_one()) {
      std::fprintf(stderr, "[augur-emu] a stream waits for an event that no queued operation records: the streams are stuck\n");
      std::abort();
    }
}

void drain_all() { run_until([] { return !pending(); }); }

// After each call that issues work, a few queued operations may run: none in five calls of eight,
// else 1, 2 or 4. Fewer than are issued on average, so queues grow between synchronising calls
// and the streams drift far apart (one runs well ahead of another, or behind it), as on a GPU
// whose copy engine and compute engine each go at their own pace.
void progress() {
  static const int runs[8] = {0, 0, 0, 0, 0, 1, 2, 4};
  for (int k = runs[stream_rng() % 8]; k > 0; --k)
    if (!run_one()) return;
}

std::map<const char*, size_t> pinned_allocations;  // page-locked host memory: start -> bytes

// Whether host address p lies in memory from cuMemHostAlloc. An asynchronous copy from or to any
// other (pageable) host memory behaves as the driver's does: host to device stages the bytes
// before returning, device to host returns when the copy is done.
bool pinned(const void* p) {
  const char* c = static_cast<const char*>(p);
  auto it = pinned_allocations.upper_bound(c);
  if (it == pinned_allocations.begin()) return false;
  --it;
  return c < it->first + it->second;
}

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void say(const std::string& s) { std::fprintf(stderr, "[augur-emu] %s\n", s.c_str()); }

// A call that works in the calling thread's current context, made on a thread that has none
// (cuCtxSetCurrent never called there): NVIDIA's driver answers CUDA_ERROR_INVALID_CONTEXT.
CUresult need_context(const char* call) {
  if (current_context != nullptr) return OK;
  say(std::string(call) + ": no context is current on this thread (CUDA_ERROR_INVALID_CONTEXT; call cuCtxSetCurrent on it first)");
  return INVALID_CONTEXT;
}

// A synchronous call while a capture is open: real drivers refuse it and spoil the capture.
bool refused_during_capture(const char* call) {
  if (capturing.empty()) return false;
  say(std::string(call) + " during a stream capture: refused, and the capture is invalidated");
  for (Graph* g : capturing) g->invalidated = true;
  return true;
}

CUresult submit(void* hstream, std::function<CUresult()> op) {
  Stream* s = stream_of(hstream);
  if (s->capture != nullptr) {
    s->capture->ops.push_back(std::move(op));
    return OK;
  }
  if (s == &legacy && !capturing.empty()) {  // the legacy default stream joins nothing
    if (refused_during_capture("an operation on the default stream")) return CAPTURE_UNSUPPORTED;
  }
  if (sticky != OK) return sticky;
  if (!deferred_streams()) {
    ++op_serial;
    const CUresult r = op();
    if ((r == LAUNCH_FAILED || r == ILLEGAL_ADDRESS) && sticky == OK) sticky = r;
    return r;
  }
  // Blocking streams and the legacy stream wait for each other's earlier work (here: it runs first).
  if (s == &legacy) {
    for (Stream* b : streams)
      if (b != &legacy && b->blocking) run_until([b] { return b->queue.empty(); });
  } else if (s->blocking) {
    run_until([] { return legacy.queue.empty(); });
  }
  s->queue.push_back(Op{std::move(op)});
  progress();
  return OK;
}

// Issues op on the legacy stream and waits until it (and everything before it there) has run.
CUresult submit_legacy_and_wait(std::function<CUresult()> op) {
  const CUresult r = submit(nullptr, std::move(op));
  if (r != OK) return r;
  run_until([] { return legacy.queue.empty(); });
  return sticky;
}


void* map_with_guard(size_t bytes, size_t* mapped) {
  const size_t pages = (bytes + PAGE - 1) / PAGE + 1;
  void* m = mmap(nullptr, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) return nullptr;
  char* guard = static_cast<char*>(m) + (pages - 1) * PAGE;
  mprotect(guard, PAGE, PROT_NONE);
  *mapped = pages * PAGE;
  return m;
}

// AUGUR_EMU_SKIP_KERNELS=1: launches are checked and then not run, so that a run times only the
// host's side (Java, JCuda, the driver calls); what the kernels would compute is then garbage.
bool skip_kernels() {
  static const bool skip = [] {
    const char* v = std::getenv("AUGUR_EMU_SKIP_KERNELS");
    return v != nullptr && *v != '\0' && std::strcmp(v, "0") != 0;
  }();
  return skip;
}

// AUGUR_EMU_TRACE=1: each launch, as it is issued, on stderr (name, grid, block, dynamic shared
// memory, programmatic or not), to see what a step is made of without a GPU.
bool trace_launches() {
  static const bool trace = [] {
    const char* v = std::getenv("AUGUR_EMU_TRACE");
    return v != nullptr && *v != '\0' && std::strcmp(v, "0") != 0;
  }();
  return trace;
}

// AUGUR_EMU_LAUNCH_LOG=DIR: the name of each kernel that ran to completion, once per process, appended
// to DIR/launched-<pid>.txt as it first does. The emulated test run sets it, and KernelCoverageTest
// then checks that every kernel of Kernels.ALL ran in some test. Skipped and failed launches are
// not written.
void log_launch(const std::string& name) {
  static const std::string dir = [] {
    const char* v = std::getenv("AUGUR_EMU_LAUNCH_LOG");
    return std::string(v != nullptr ? v : "");
  }();
  if (dir.empty()) return;
  static std::set<std::string> logged;
  if (!logged.insert(name).second) return;
  const std::string path = dir + "/launched-" + std::to_string((long)getpid()) + ".txt";
  if (FILE* f = std::fopen(path.c_str(), "a")) {
    std::fprintf(f, "%s\n", name.c_str());
    std::fclose(f);
  } else {
    say("AUGUR_EMU_LAUNCH_LOG: cannot append to " + path);
  }
}

// AUGUR_EMU_MAX_GRID_Y=n: a grid's y and z dimensions go up to n blocks (a GPU's 65,535 by
// default), so that a test reaches the limit with a small launch (EmulatorGuardTest).
int max_grid_yz() {
  static const int n = [] {
    const char* v = std::getenv("AUGUR_EMU_MAX_GRID_Y");
    const int k = v != nullptr && *v != '\0' ? std::atoi(v) : 65535;
    return k >= 1 && k <= 65535 ? k : 65535;
  }();
  return n;
}

// AUGUR_EMU_MAX_CLUSTER=n: a device that cannot place clusters of more than n blocks (a GPU's
// limit depends on the blocks' shared memory and the SMs free in a GPC; default 16, an H200's for a
// kernel opted in to clusters above the portable 8), for the backend's probe
int max_cluster_blocks() {
  static const int max_cluster = [] {
    const char* v = std::getenv("AUGUR_EMU_MAX_CLUSTER");
    return v != nullptr && *v != '\0' ? std::atoi(v) : 16;
  }();
  return max_cluster;
}

// What the driver refuses when a launch is issued (before anything runs).
CUresult check_launch(Function* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned shared) {
  std::string why;
  if (gx == 0 || gy == 0 || gz == 0 || bx == 0 || by == 0 || bz == 0) why = "a grid or block dimension of 0";
  else if (gy > (unsigned)max_grid_yz() || gz > (unsigned)max_grid_yz()) why = "grid y or z above " + std::to_string(max_grid_yz());
  else if (bz > 64 || (unsigned long long)bx * by * bz > 1024) why = "more than 1024 threads in a block, or blockDim.z above 64";
  else if (gx % f->kernel.cluster != 0)
    why = "a grid of " + std::to_string(gx) + " blocks in x for a kernel of clusters of " + std::to_string(f->kernel.cluster) + " (it must divide)";
  else if ((int)shared > f->max_dynamic_shared)
    why = std::to_string(shared) + " bytes of dynamic shared memory, above the kernel's limit of " + std::to_string(f->max_dynamic_shared) +
          " (raise it with cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES))";
  if (!why.empty()) {
    say(f->name + ": launch refused: " + why);
    return INVALID_VALUE;
  }
  if (f->kernel.cluster > PORTABLE_CLUSTER && !f->non_portable_cluster) {
    say(f->name + ": launch refused: clusters of " + std::to_string(f->kernel.cluster) + " blocks, above the portable " +
        std::to_string(PORTABLE_CLUSTER) + ", and the kernel was not opted in (cuFuncSetAttribute(NON_PORTABLE_CLUSTER_SIZE_ALLOWED, 1))");
    return INVALID_CLUSTER_SIZE;
  }
  const int max_cluster = max_cluster_blocks();
  if (f->kernel.cluster > max_cluster) {
    say(f->name + ": launch refused: clusters of " + std::to_string(f->kernel.cluster) + " blocks, and this device places at most " +
        std::to_string(max_cluster) + " (AUGUR_EMU_MAX_CLUSTER)");
    return INVALID_CLUSTER_SIZE;
  }
  return OK;
}

// The allocation a device address lies in (up to one past its end), or 0.
CUdeviceptr allocation_of(uint64_t p) {
  auto it = device_allocations.upper_bound(p);
  if (it == device_allocations.begin()) return 0;
  --it;
  return p <= it->first + it->second.bytes ? it->first : 0;
}

// AUGUR_EMU_TENSOR_ALLOCATIONS=1 (the emulated test run, whose tensors are allocations of their
// own): two pointers into one allocation point into one tensor.
bool tensor_allocations() {
  static const bool on = [] {
    const char* v = std::getenv("AUGUR_EMU_TENSOR_ALLOCATIONS");
    return v != nullptr && std::strcmp(v, "1") == 0;
  }();
  return on;
}

// Two __restrict__ pointer parameters of one launch that point to the same tensor, one of them
// written through: the compiler may then keep a value in a register across the other's store, or
// read it through the read-only cache, and a GPU gives what g++'s code here may not. Equal
// pointers always count; with AUGUR_EMU_TENSOR_ALLOCATIONS=1 so do pointers into one allocation.
// "" when there are none.
std::string restrict_aliasing(const Function* f, const std::vector<uint64_t>& pointers) {
  const std::string& kinds = f->kernel.restricted;
  if (kinds.size() != pointers.size()) return "";  // a signature the build script could not read: not checked
  for (size_t i = 0; i < pointers.size(); ++i) {
    if (kinds[i] == '-' || pointers[i] == 0) continue;
    for (size_t j = i + 1; j < pointers.size(); ++j) {
      if (kinds[j] == '-' || pointers[j] == 0 || (kinds[i] != 'w' && kinds[j] != 'w')) continue;
      bool same = pointers[i] == pointers[j];
      if (!same && tensor_allocations()) {
        const CUdeviceptr a = allocation_of(pointers[i]);
        same = a != 0 && a == allocation_of(pointers[j]);
      }
      if (same)
        return "its __restrict__ pointer parameters " + std::to_string(i) + " and " + std::to_string(j) +
               " point to the same tensor, and one is written through (refused here; on a GPU the result is undefined)";
    }
  }
  return "";
}

// The allocations a launch's arguments point into (by value: pointers, and pointers inside
// structs), each once.
std::vector<CUdeviceptr> allocations_named(const std::vector<uint64_t>& words) {
  std::vector<CUdeviceptr> out;
  auto add = [&out](CUdeviceptr start) {
    if (std::find(out.begin(), out.end(), start) == out.end()) out.push_back(start);
  };
  for (uint64_t w : words) {
    auto next = device_allocations.upper_bound(w);
    if (next != device_allocations.end() && w + PAGE >= next->first) add(next->first);  // a pointer into the lead before it
    if (const CUdeviceptr a = allocation_of(w)) add(a);
  }
  return out;
}

// The bytes of an allocation's first page before its start are 0xff (a float read there is a NaN,
// an int -1); a kernel that writes there is found after its launch, in the allocations its
// arguments point into. "" or what was overwritten.
std::string overwritten_lead(const std::vector<CUdeviceptr>& named) {
  static const std::vector<unsigned char> ff(PAGE, 0xff);
  for (CUdeviceptr start : named) {
    auto found = device_allocations.find(start);
    if (found == device_allocations.end()) continue;  // freed since
    Allocation& a = found->second;
    const unsigned char* base = static_cast<const unsigned char*>(a.base);
    const size_t lead = reinterpret_cast<const unsigned char*>(start) - base;
    if (lead == 0 || std::memcmp(base, ff.data(), lead) == 0) continue;
    size_t first = 0;
    while (base[first] == 0xff) ++first;
    std::memset(a.base, 0xff, lead);  // reported once
    char where[64];
    std::snprintf(where, sizeof where, "%p", reinterpret_cast<const void*>(start));
    return "a write " + std::to_string(lead - first) + " bytes before the start of the " + std::to_string(a.bytes) + "-byte allocation at " +
           where + " (a GPU's CUDA_ERROR_ILLEGAL_ADDRESS)";
  }
  return "";
}

// Programmatic launches (cuLaunchKernelEx with CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION):
// once one has been issued, every launch records which of the allocations its arguments name it
// wrote (their bytes compared before and after; with AUGUR_EMU_TENSOR_ALLOCATIONS=1, where each
// is one tensor), so that a programmatic launch right after it on the same stream can run its
// first block with those protected until its threads pass griddepcontrol.wait (scheduler.cpp).
// Memory a kernel reaches through pointers stored in device memory is not seen.
bool programmatic_seen = false;
constexpr size_t HASHED_BYTES = 64ULL << 20;  // larger allocations are left out of the check
struct KernelRun {
  uint64_t serial = 0;  // op_serial when it ran
  const void* stream = nullptr;
  std::vector<CUdeviceptr> written, read;
} previous_kernel;

uint64_t allocation_hash(const Allocation& a) {
  const unsigned char* p = static_cast<const unsigned char*>(a.base);
  const size_t n = a.mapped - PAGE;
  uint64_t h = 0x9e3779b97f4a7c15ULL;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * 0x100000001b3ULL;
    h ^= h >> 29;
  }
  for (; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

augur_emu::Region region_of(const Allocation& a) { return augur_emu::Region{a.base, a.mapped - PAGE}; }

CUresult launch(Function* f, augur_emu::Body body, const std::vector<CUdeviceptr>& named, unsigned gx, unsigned gy, unsigned gz,
                unsigned bx, unsigned by, unsigned bz, unsigned shared, const void* stream, bool programmatic) {
  dim3 grid{gx, gy, gz}, block{bx, by, bz};
  if (skip_kernels()) return OK;
  const uint64_t me = op_serial;
  const bool tracked = programmatic_seen && tensor_allocations();
  augur_emu::Programmatic pdl;
  pdl.on = programmatic;
  if (programmatic && tracked && previous_kernel.serial + 1 == me && previous_kernel.stream == stream) {
    for (CUdeviceptr a : previous_kernel.written)
      if (auto it = device_allocations.find(a); it != device_allocations.end()) pdl.written.push_back(region_of(it->second));
    for (CUdeviceptr a : previous_kernel.read)
      if (auto it = device_allocations.find(a); it != device_allocations.end()) pdl.read.push_back(region_of(it->second));
  }
  std::vector<std::pair<CUdeviceptr, uint64_t>> before;
  if (tracked)
    for (CUdeviceptr a : named)
      if (auto it = device_allocations.find(a); it != device_allocations.end() && it->second.bytes <= HASHED_BYTES)
        before.emplace_back(a, allocation_hash(it->second));
  std::string why = augur_emu::run_launch(body, grid, block, shared, (size_t)f->max_dynamic_shared, f->kernel.cluster, pdl);
  if (tracked) {
    previous_kernel = KernelRun{me, stream, {}, {}};
    for (const auto& [a, h] : before)
      if (auto it = device_allocations.find(a); it != device_allocations.end())
        (allocation_hash(it->second) != h ? previous_kernel.written : previous_kernel.read).push_back(a);
  }
  bool illegal = augur_emu::last_failure_was_illegal_address();
  if (why.empty()) {
    why = overwritten_lead(named);
    illegal = !why.empty();
  }
  if (!why.empty()) {
    say(f->name + " <<<(" + std::to_string(gx) + "," + std::to_string(gy) + "," + std::to_string(gz) + "), (" + std::to_string(bx) + "," +
        std::to_string(by) + "," + std::to_string(bz) + ")>>> failed: " + why);
    return illegal ? ILLEGAL_ADDRESS : LAUNCH_FAILED;
  }
  log_launch(f->name);
  return OK;
}

}  // namespace

namespace augur_emu {
std::string describe_device_address(const void* p) {
  const char* c = static_cast<const char*>(p);
  auto hex = [](const void* q) {
    char b[32];
    std::snprintf(b, sizeof b, "%p", q);
    return std::string(b);
  };
  for (const auto& [start, a] : device_allocations) {
    const char* s = reinterpret_cast<const char*>(start);
    const char* base = static_cast<const char*>(a.base);
    if (c < base || c >= base + a.mapped) continue;
    const std::string which = "the " + std::to_string(a.bytes) + "-byte allocation at " + hex(s);
    if (c >= s + a.bytes) return "at " + hex(p) + ", " + std::to_string(c - (s + a.bytes)) + " bytes past the end of " + which;
    if (c < s) return "at " + hex(p) + ", " + std::to_string(s - c) + " bytes before the start of " + which;
    return "at " + hex(p) + ", inside " + which;
  }
  return "at " + hex(p) + ", outside every device allocation (freed memory, or an address that was never the device's)";
}
}  // namespace augur_emu

extern "C" {

CUresult cuInit(unsigned) { return OK; }
CUresult cuDriverGetVersion(int* v) {
  if (v == nullptr) return INVALID_VALUE;
  *v = 13000;
  return OK;
}
CUresult cuDeviceGetCount(int* n) {
  if (n == nullptr) return INVALID_VALUE;
  *n = device_count();
  return OK;
}
CUresult cuDeviceGet(CUdevice* d, int ordinal) {
  if (d == nullptr) return INVALID_VALUE;
  if (!valid_device(ordinal)) return INVALID_DEVICE;
  *d = ordinal;
  return OK;
}
// Device 0 is "Augur CPU emulator (not a GPU)", device d > 0 the same with ", device d" (so a test
// can tell which one a backend opened; a machine's GPUs may differ as well).
CUresult cuDeviceGetName(char* name, int len, CUdevice d) {
  if (!valid_device(d)) return INVALID_DEVICE;
  if (name == nullptr || len <= 0) return INVALID_VALUE;
  const std::string base = skip_kernels() ? "Augur CPU emulator (not a GPU; kernels skipped)" : "Augur CPU emulator (not a GPU)";
  std::snprintf(name, (size_t)len, "%s", d == 0 ? base.c_str() : (base + ", device " + std::to_string(d)).c_str());
  return OK;
}
CUresult cuDeviceTotalMem_v2(size_t* bytes, CUdevice d) {
  if (!valid_device(d)) return INVALID_DEVICE;
  *bytes = total_bytes();
  return OK;
}
CUresult cuDeviceGetAttribute(int* v, int attr, CUdevice d) {
  if (!valid_device(d)) return INVALID_DEVICE;
  switch (attr) {
    case 1: *v = 1024; return OK;      // MAX_THREADS_PER_BLOCK
    case 2: case 3: *v = 1024; return OK;
    case 4: *v = 64; return OK;
    case 5: *v = 2147483647; return OK;
    case 6: case 7: *v = max_grid_yz(); return OK;  // MAX_GRID_DIM_Y, _Z
    case 8: *v = 48 * 1024; return OK;  // MAX_SHARED_MEMORY_PER_BLOCK
    case 10: *v = 32; return OK;        // WARP_SIZE
    case 16: *v = MULTIPROCESSORS; return OK;  // MULTIPROCESSOR_COUNT
    case 75: *v = 9; return OK;         // COMPUTE_CAPABILITY_MAJOR
    case 76: *v = 0; return OK;         // COMPUTE_CAPABILITY_MINOR
    case 81: *v = 228 * 1024; return OK;  // MAX_SHARED_MEMORY_PER_MULTIPROCESSOR (an H200's)
    case 97: *v = augur_emu::SHARED_OPTIN_LIMIT; return OK;    // MAX_SHARED_MEMORY_PER_BLOCK_OPTIN
    default: say("cuDeviceGetAttribute(" + std::to_string(attr) + ") is not emulated"); return INVALID_VALUE;
  }
}

CUresult cuDevicePrimaryCtxRetain(void** ctx, CUdevice d) {
  if (!valid_device(d)) return INVALID_DEVICE;
  if (ctx == nullptr) return INVALID_VALUE;
  *ctx = &contexts[d];
  return OK;
}
CUresult cuDevicePrimaryCtxRelease_v2(CUdevice d) { return valid_device(d) ? OK : INVALID_DEVICE; }
CUresult cuCtxSetCurrent(void* ctx) {
  Context* c = static_cast<Context*>(ctx);
  if (c != nullptr && (c < contexts || c >= contexts + device_count())) return INVALID_CONTEXT;
  current_context = c;
  return OK;
}
CUresult cuCtxGetCurrent(void** ctx) {
  if (ctx == nullptr) return INVALID_VALUE;
  *ctx = current_context;
  return OK;
}
CUresult cuCtxSynchronize() {
  Guard g(lock);
  if (const CUresult r = need_context("cuCtxSynchronize")) return r;
  if (refused_during_capture("cuCtxSynchronize")) return CAPTURE_UNSUPPORTED;
  drain_all();
  return sticky;
}

// One module per context, which it belongs to (the kernels are compiled into this library; the
// image is not read).
struct Module {
  Context* context;
};
CUresult cuModuleLoadData(void** module, const void* image) {
  Guard g(lock);
  if (module == nullptr || image == nullptr) return INVALID_VALUE;
  if (const CUresult r = need_context("cuModuleLoadData")) return r;
  static Module modules[MAX_DEVICES];
  Module* m = &modules[current_context->device];
  m->context = current_context;
  *module = m;
  return OK;
}
CUresult cuModuleUnload(void*) { return OK; }
CUresult cuModuleGetFunction(void** f, void* hmod, const char* name) {
  Guard g(lock);
  const Module* m = static_cast<const Module*>(hmod);
  if (m == nullptr || m->context == nullptr) return INVALID_HANDLE;
  auto it = augur_emu::registry().find(name);
  if (it == augur_emu::registry().end()) return NOT_FOUND;
  static std::map<std::pair<int, std::string>, std::unique_ptr<Function>> functions;
  auto& fn = functions[{m->context->device, name}];
  if (!fn) fn.reset(new Function{m->context, name, it->second});  // copies the binder and the parameters' kinds
  *f = fn.get();
  return OK;
}
CUresult cuFuncSetAttribute(void* hf, int attr, int value) {
  Function* f = static_cast<Function*>(hf);
  if (f == nullptr) return INVALID_HANDLE;
  if (attr == 8) {  // MAX_DYNAMIC_SHARED_SIZE_BYTES
    if (value < 0 || value > (int)augur_emu::SHARED_OPTIN_LIMIT) return INVALID_VALUE;
    f->max_dynamic_shared = value;
    return OK;
  }
  if (attr == 14) {  // NON_PORTABLE_CLUSTER_SIZE_ALLOWED
    if (value != 0 && value != 1) return INVALID_VALUE;
    f->non_portable_cluster = value == 1;
    return OK;
  }
  return OK;
}

// The occupancy calculator, as far as the emulator knows a kernel: blocks of `block` threads
// and `dynamic` bytes of dynamic shared memory on one multiprocessor, by its 2,048 threads and its
// 228 KB of shared memory (each block also taking the 1 KB the driver reserves; the kernel's static
// shared memory is not known here). Registers are not emulated, so a GPU may answer fewer. A
// block above the kernel's dynamic shared limit gets 0, as it could not launch.
CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(int* num, void* hf, int block, size_t dynamic) {
  Function* f = static_cast<Function*>(hf);
  if (f == nullptr) return INVALID_HANDLE;
  if (num == nullptr || block <= 0 || block > 1024) return INVALID_VALUE;
  if (dynamic > (size_t)f->max_dynamic_shared) {
    *num = 0;
    return OK;
  }
  const size_t by_threads = 2048 / (size_t)block, by_shared = (228 * 1024) / (dynamic + 1024);
  *num = (int)std::min<size_t>(std::min(by_threads, by_shared), 32);
  return OK;
}

namespace {
CUresult launch_kernel(void* hf, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned shared, void* stream,
                       void** params, void** extra, bool programmatic) {
  Function* f = static_cast<Function*>(hf);
  if (f == nullptr) return INVALID_HANDLE;
  if (extra != nullptr) {
    say(f->name + ": the `extra` form of kernel arguments is not emulated");
    return INVALID_VALUE;
  }
  if (const CUresult r = need_context(f->name.c_str())) return r;
  const Stream* into = stream_of(stream);
  if (f->context != current_context || (into->context != nullptr && into->context != current_context)) {
    say(f->name + ": launch refused: " + (f->context != current_context ? "the function was loaded in device " + std::to_string(f->context->device)
                                                                          : "the stream was created in device " + std::to_string(into->context->device)) +
        "'s context, and the thread's current context is device " + std::to_string(current_context->device) + "'s (CUDA_ERROR_INVALID_CONTEXT)");
    return INVALID_CONTEXT;
  }
  const CUresult refused = check_launch(f, gx, gy, gz, bx, by, bz, shared);
  if (trace_launches())
    std::fprintf(stderr, "[augur-emu] launch %s <<<(%u,%u,%u), (%u,%u,%u), %u>>>%s%s\n", f->name.c_str(), gx, gy, gz, bx, by, bz, shared,
                 programmatic ? " programmatic" : "", refused != OK ? " refused" : "");
  if (refused != OK) return refused;
  augur_emu::ArgumentWords seen;
  augur_emu::Body body = f->kernel.binder(params, &seen);  // the arguments are copied now, as the driver does
  const std::string aliased = restrict_aliasing(f, seen.pointers);
  if (!aliased.empty()) {
    say(f->name + ": " + aliased);
    return INVALID_VALUE;
  }
  const std::vector<CUdeviceptr> named = allocations_named(seen.words);
  for (CUdeviceptr a : named) {
    const int dev = device_allocations.at(a).device;
    if (dev != current_context->device) {
      say(f->name + ": launch refused: an argument points into memory allocated on device " + std::to_string(dev) + ", and the kernel runs on device " +
          std::to_string(current_context->device) + " (refused here; on a GPU without peer access the kernel faults: CUDA_ERROR_ILLEGAL_ADDRESS)");
      return INVALID_VALUE;
    }
  }
  if (programmatic) programmatic_seen = true;
  const void* st = stream_of(stream);
  return submit(stream, [=]() { return launch(f, body, named, gx, gy, gz, bx, by, bz, shared, st, programmatic); });
}
}  // namespace

CUresult cuLaunchKernel(void* hf, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned shared, void* stream,
                        void** params, void** extra) {
  Guard g(lock);
  return launch_kernel(hf, gx, gy, gz, bx, by, bz, shared, stream, params, extra, false);
}

// cuLaunchKernelEx, CUDA 12.0's launch with attributes: its config as cuda.h lays it out. The one
// attribute emulated is CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION (6; launch() checks
// what the kernel reads before griddepcontrol.wait); CU_LAUNCH_ATTRIBUTE_IGNORE (0) is skipped,
// and any other is refused.
struct LaunchAttribute {
  int id;
  char pad[4];
  union {
    char bytes[64];
    int value;
  };
};
struct LaunchConfig {
  unsigned grid_x, grid_y, grid_z, block_x, block_y, block_z, shared;
  void* stream;
  LaunchAttribute* attrs;
  unsigned attr_count;
};
static_assert(sizeof(LaunchAttribute) == 72 && sizeof(LaunchConfig) == 56, "cuda.h's CUlaunchAttribute and CUlaunchConfig");

// AUGUR_EMU_PDL: how programmatic launches are taken, to test the backend's ways out of a driver
// that will not: unset, as a GPU of compute capability 9.0 takes them; "refuse": cuLaunchKernelEx
// with the attribute returns CUDA_ERROR_NOT_SUPPORTED; "refuse-in-capture": only into a stream
// capture, which the refusal invalidates (CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED); "no-graph": taken
// into a capture, but cuGraphInstantiate of a graph holding one returns CUDA_ERROR_NOT_SUPPORTED.
const std::string& pdl_mode() {
  static const std::string mode = [] {
    const char* v = std::getenv("AUGUR_EMU_PDL");
    return std::string(v == nullptr ? "" : v);
  }();
  return mode;
}

CUresult cuLaunchKernelEx(const LaunchConfig* config, void* hf, void** params, void** extra) {
  Guard g(lock);
  if (config == nullptr || (config->attr_count > 0 && config->attrs == nullptr)) return INVALID_VALUE;
  bool programmatic = false;
  for (unsigned i = 0; i < config->attr_count; ++i) {
    const LaunchAttribute& a = config->attrs[i];
    if (a.id == 0) continue;
    if (a.id == 6) {
      programmatic = a.value != 0;
      continue;
    }
    say("cuLaunchKernelEx: launch attribute " + std::to_string(a.id) + " is not emulated");
    return NOT_SUPPORTED;
  }
  if (programmatic && !pdl_mode().empty()) {
    Graph* capture = stream_of(config->stream)->capture;
    if (pdl_mode() == "refuse") return NOT_SUPPORTED;
    if (pdl_mode() == "refuse-in-capture" && capture != nullptr) {
      capture->invalidated = true;
      return CAPTURE_UNSUPPORTED;
    }
    if (pdl_mode() == "no-graph" && capture != nullptr) capture->programmatic = true;
  }
  return launch_kernel(hf, config->grid_x, config->grid_y, config->grid_z, config->block_x, config->block_y, config->block_z, config->shared,
                       config->stream, params, extra, programmatic);
}

// cuOccupancyMaxActiveClusters (CUDA 11.8): the clusters of `config`'s launch that the device holds
// at once, for a kernel compiled with its cluster size (__cluster_dims__; a cluster-dimension
// attribute is not emulated). Here: the occupancy calculator's blocks a multiprocessor (above)
// times the 132 multiprocessors, divided by the cluster size; 0 for clusters above
// AUGUR_EMU_MAX_CLUSTER, and 0 for a kernel without a compiled cluster size (and no cluster
// attribute). A GPU places a cluster's blocks in one GPC, so it can answer fewer.
CUresult cuOccupancyMaxActiveClusters(int* num, void* hf, const LaunchConfig* config) {
  Function* f = static_cast<Function*>(hf);
  if (f == nullptr) return INVALID_HANDLE;
  if (num == nullptr || config == nullptr || (config->attr_count > 0 && config->attrs == nullptr)) return INVALID_VALUE;
  for (unsigned i = 0; i < config->attr_count; ++i)
    if (config->attrs[i].id != 0) {
      say("cuOccupancyMaxActiveClusters: launch attribute " + std::to_string(config->attrs[i].id) + " is not emulated");
      return NOT_SUPPORTED;
    }
  if (f->kernel.cluster <= 1) {  // as an H200 with driver 580 answers (2026-11-26): no error, no clusters
    *num = 0;
    return OK;
  }
  int per_sm = 0;
  const CUresult r = cuOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, hf, (int)(config->block_x * config->block_y * config->block_z),
                                                                  config->shared);
  if (r != OK) return r;
  const bool placed = f->kernel.cluster <= max_cluster_blocks() && (f->kernel.cluster <= PORTABLE_CLUSTER || f->non_portable_cluster);
  *num = placed ? per_sm * MULTIPROCESSORS / f->kernel.cluster : 0;
  return OK;
}

CUresult cuMemAlloc_v2(CUdeviceptr* p, size_t bytes) {
  Guard g(lock);
  if (p == nullptr || bytes == 0) return INVALID_VALUE;
  if (const CUresult r = need_context("cuMemAlloc")) return r;
  size_t& device_bytes = device_bytes_of[current_context->device];
  if (device_bytes + bytes > total_bytes()) return OUT_OF_MEMORY;
  size_t mapped = 0;
  void* m = map_with_guard(bytes, &mapped);
  if (m == nullptr) return OUT_OF_MEMORY;
  // Ends at the guard page (sizes rounded up to 4 bytes), so the first float past the end faults.
  // A GPU aligns an allocation to 256 bytes; here a size that is a multiple of 256 (Augur's arena
  // segments and staging slots) keeps that alignment, one that is a multiple of 8 (tensors of
  // doubles or 64-bit integers) keeps 8, and others get 4 (a separate arena's float tensors).
  const size_t rounded = (bytes + 3) & ~size_t(3);
  char* start = static_cast<char*>(m) + mapped - PAGE - rounded;
  std::memset(m, 0xff, mapped - PAGE);  // the allocation, and the lead before it that launch() checks
  *p = reinterpret_cast<CUdeviceptr>(start);
  device_allocations[*p] = Allocation{m, mapped, bytes, current_context->device};
  device_bytes += bytes;
  return OK;
}
CUresult cuMemFree_v2(CUdeviceptr p) {
  Guard g(lock);
  if (const CUresult r = need_context("cuMemFree")) return r;
  drain_all();  // cuMemFree waits for the device
  if (p == 0) return OK;
  auto it = device_allocations.find(p);
  if (it == device_allocations.end()) return INVALID_VALUE;
  munmap(it->second.base, it->second.mapped);
  device_bytes_of[it->second.device] -= it->second.bytes;
  device_allocations.erase(it);
  return OK;
}
CUresult cuMemGetInfo_v2(size_t* free_bytes, size_t* total) {
  Guard g(lock);
  if (const CUresult r = need_context("cuMemGetInfo")) return r;
  *free_bytes = total_bytes() - device_bytes_of[current_context->device];
  *total = total_bytes();
  return OK;
}
CUresult cuMemHostAlloc(void** p, size_t bytes, unsigned) {
  Guard g(lock);
  if (p == nullptr) return INVALID_VALUE;
  if (const CUresult r = need_context("cuMemHostAlloc")) return r;
  const size_t rounded = (bytes + 4095) & ~size_t(4095);
  *p = std::aligned_alloc(4096, rounded);
  if (*p == nullptr) return OUT_OF_MEMORY;
  pinned_allocations[static_cast<const char*>(*p)] = rounded;
  return OK;
}
CUresult cuMemAllocHost_v2(void** p, size_t bytes) { return cuMemHostAlloc(p, bytes, 0); }
CUresult cuMemFreeHost(void* p) {
  Guard g(lock);
  if (const CUresult r = need_context("cuMemFreeHost")) return r;
  drain_all();
  pinned_allocations.erase(static_cast<const char*>(p));
  std::free(p);
  return OK;
}
CUresult cuPointerGetAttribute(void* data, int attr, CUdeviceptr p) {
  if (attr != 3) {  // DEVICE_POINTER
    say("cuPointerGetAttribute(" + std::to_string(attr) + ") is not emulated");
    return INVALID_VALUE;
  }
  *static_cast<CUdeviceptr*>(data) = p;
  return OK;
}

// The synchronous copies and memsets run on the legacy default stream, with the host-side
// behaviour the CUDA documentation gives ("API synchronization behavior"): host to device from
// pageable memory returns once the bytes are staged, the copy itself may still be queued; from
// pinned memory, and device to host, return when the copy is done; device to device and a memset
// of device memory return at once.
CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void* src, size_t n) {
  Guard g(lock);
  if (const CUresult r = need_context("cuMemcpyHtoD")) return r;
  if (refused_during_capture("cuMemcpyHtoD")) return CAPTURE_UNSUPPORTED;
  if (pinned(src)) {
    return submit_legacy_and_wait([=]() {
      std::memcpy(reinterpret_cast<void*>(dst), src, n);
      return OK;
    });
  }
  auto staged = std::make_shared<std::vector<char>>(static_cast<const char*>(src), static_cast<const char*>(src) + n);
  return submit(nullptr, [=]() {
    std::memcpy(reinterpret_cast<void*>(dst), staged->data(), n);
    return OK;
  });
}
CUresult cuMemcpyDtoH_v2(void* dst, CUdeviceptr src, size_t n) {
  Guard g(lock);
  if (const CUresult r = need_context("cuMemcpyDtoH")) return r;
  if (refused_during_capture("cuMemcpyDtoH")) return CAPTURE_UNSUPPORTED;
  return submit_legacy_and_wait([=]() {
    std::memcpy(dst, reinterpret_cast<const void*>(src), n);
    return OK;
  });
}
CUresult cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t n) {
  Guard g(lock);
  if (const CUresult r = need_context("cuMemcpy")) return r;
  if (refused_during_capture("cuMemcpy")) return CAPTURE_UNSUPPORTED;
  return submit(nullptr, [=]() {
    std::memmove(reinterpret_cast<void*>(dst), reinterpret_cast<const void*>(src), n);
    return OK;
  });
}
CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void* src, size_t n, void* stream) {
  Guard g(lock);
  if (const CUresult r = need_context("cuMemcpyHtoDAsync")) return r;
  if (!pinned(src)) {  // pageable: the driver stages the bytes now, the host may reuse them on return
    auto staged = std::make_shared<std::vector<char>>(static_cast<const char*>(src), static_cast<const char*>(src) + n);
    return submit(stream, [=]() {
      std::memcpy(reinterpret_cast<void*>(dst), staged->data(), n);
      return OK;
    });
  }
  return submit(stream, [=]() {  // pinned: read when the copy runs
    std::memcpy(reinterpret_cast<void*>(dst), src, n);
    return OK;
  });
}
CUresult cuMemcpyDtoHAsync_v2(void* dst, CUdeviceptr src, size_t n, void* stream) {
  Guard g(lock);
  if (const CUresult r = need_context("cuMemcpyDtoHAsync")) return r;
  const CUresult r = submit(stream, [=]() {
    std::memcpy(dst, reinterpret_cast<const void*>(src), n);
    return OK;
  });
  Stream* st = stream_of(stream);
  if (r == OK && !pinned(dst) && st->capture == nullptr) {  // pageable: done on return
    run_until([st] { return st->queue.empty(); });
    return sticky;
  }
  return r;
}
CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, void* stream) {
  Guard g(lock);
  if (const CUresult r = need_context("cuMemcpyDtoDAsync")) return r;
  return submit(stream, [=]() {
    std::memmove(reinterpret_cast<void*>(dst), reinterpret_cast<const void*>(src), n);
    return OK;
  });
}
CUresult cuMemsetD32_v2(CUdeviceptr dst, unsigned v, size_t n) {
  Guard g(lock);
  if (const CUresult r = need_context("cuMemsetD32")) return r;
  if (refused_during_capture("cuMemsetD32")) return CAPTURE_UNSUPPORTED;
  return submit(nullptr, [=]() {
    unsigned* d = reinterpret_cast<unsigned*>(dst);
    for (size_t i = 0; i < n; ++i) d[i] = v;
    return OK;
  });
}
CUresult cuMemsetD32Async(CUdeviceptr dst, unsigned v, size_t n, void* stream) {
  Guard g(lock);
  if (const CUresult r = need_context("cuMemsetD32Async")) return r;
  return submit(stream, [=]() {
    unsigned* d = reinterpret_cast<unsigned*>(dst);
    for (size_t i = 0; i < n; ++i) d[i] = v;
    return OK;
  });
}

CUresult cuStreamCreate(void** s, unsigned flags) {
  Guard g(lock);
  if (const CUresult r = need_context("cuStreamCreate")) return r;
  Stream* st = new Stream();
  st->context = current_context;
  st->blocking = (flags & 1) == 0;  // CU_STREAM_NON_BLOCKING = 1
  streams.insert(st);
  *s = st;
  return OK;
}
CUresult cuStreamDestroy_v2(void* s) {
  Guard g(lock);
  Stream* st = static_cast<Stream*>(s);
  if (streams.count(st) == 0) return INVALID_HANDLE;
  run_until([st] { return st->queue.empty(); });  // its queued work still completes
  streams.erase(st);
  delete st;
  return OK;
}
CUresult cuStreamSynchronize(void* s) {
  Guard g(lock);
  Stream* st = static_cast<Stream*>(s);
  if (st != nullptr && st->capture != nullptr) {
    refused_during_capture("cuStreamSynchronize on a capturing stream");
    return CAPTURE_UNSUPPORTED;
  }
  Stream* q = stream_of(s);
  run_until([q] { return q->queue.empty(); });
  return sticky;
}
CUresult cuEventCreate(void** e, unsigned) {
  if (const CUresult r = need_context("cuEventCreate")) return r;
  *e = new Event();
  return OK;
}
CUresult cuEventDestroy_v2(void* e) {
  Guard g(lock);
  drain_all();  // its queued records and waits run first (the driver releases it once they have)
  delete static_cast<Event*>(e);
  return OK;
}
CUresult cuEventRecord(void* he, void* stream) {
  Guard g(lock);
  Event* e = static_cast<Event*>(he);
  if (e == nullptr) return INVALID_HANDLE;
  Stream* st = static_cast<Stream*>(stream);
  e->recorded_in = st != nullptr ? st->capture : nullptr;
  if (e->recorded_in != nullptr) {
    return submit(stream, [e]() {
      e->ms = now_ms();
      return OK;
    });
  }
  const unsigned long long gen = ++e->recorded;
  return submit(stream, [e, gen]() {
    e->ms = now_ms();
    if (e->completed < gen) e->completed = gen;
    return OK;
  });
}
CUresult cuStreamWaitEvent(void* stream, void* he, unsigned) {
  Guard g(lock);
  Stream* st = static_cast<Stream*>(stream);
  Event* e = static_cast<Event*>(he);
  if (e == nullptr) return INVALID_HANDLE;
  if (st != nullptr && e->recorded_in != nullptr && st->capture == nullptr) st->capture = e->recorded_in;  // the stream joins the capture
  if (st != nullptr && st->capture != nullptr) return OK;
  if (e->recorded_in != nullptr || !deferred_streams()) return OK;
  if (e->completed >= e->recorded) return OK;  // what the event marks has already run
  stream_of(stream)->queue.push_back(Op{{}, e, e->recorded});  // the work issued to st after this waits for the event's latest record
  progress();
  return OK;
}
CUresult cuEventSynchronize(void* he) {
  Guard g(lock);
  Event* e = static_cast<Event*>(he);
  if (e != nullptr && e->recorded_in != nullptr && capturing.count(e->recorded_in)) {
    refused_during_capture("cuEventSynchronize on an event recorded in a capture");
    return CAPTURE_UNSUPPORTED;
  }
  if (e != nullptr) run_until([e] { return e->completed >= e->recorded; });
  return sticky;
}
CUresult cuEventQuery(void* he) {
  Guard g(lock);
  Event* e = static_cast<Event*>(he);
  if (e == nullptr) return INVALID_HANDLE;
  progress();
  if (sticky != OK) return sticky;
  return e->completed >= e->recorded ? OK : NOT_READY;
}
CUresult cuEventElapsedTime(float* ms, void* start, void* end) {
  Guard g(lock);
  Event *a = static_cast<Event*>(start), *b = static_cast<Event*>(end);
  if (a->completed < a->recorded || b->completed < b->recorded) return NOT_READY;
  *ms = (float)(b->ms - a->ms);
  return OK;
}

CUresult cuStreamBeginCapture_v2(void* stream, int) {
  Guard g(lock);
  Stream* st = static_cast<Stream*>(stream);
  if (st == nullptr) return CAPTURE_UNSUPPORTED;  // the legacy default stream cannot be captured
  if (st->capture != nullptr) return ILLEGAL_STATE;
  st->capture = new Graph();
  st->origin = true;
  capturing.insert(st->capture);
  return OK;
}
CUresult cuStreamEndCapture(void* stream, void** graph) {
  Guard g(lock);
  Stream* st = static_cast<Stream*>(stream);
  if (st == nullptr || st->capture == nullptr || !st->origin) return ILLEGAL_STATE;
  Graph* gr = st->capture;
  for (Stream* s : streams)
    if (s->capture == gr) {
      s->capture = nullptr;
      s->origin = false;
    }
  capturing.erase(gr);
  if (gr->invalidated) {
    delete gr;
    *graph = nullptr;
    return CAPTURE_INVALIDATED;
  }
  *graph = gr;
  return OK;
}
CUresult cuStreamIsCapturing(void* stream, int* status) {
  Guard g(lock);
  Stream* st = static_cast<Stream*>(stream);
  *status = st != nullptr && st->capture != nullptr ? (st->capture->invalidated ? 2 : 1) : 0;
  return OK;
}
CUresult cuGraphInstantiateWithFlags(void** exec, void* graph, unsigned long long) {
  Guard g(lock);
  if (const CUresult r = need_context("cuGraphInstantiate")) return r;
  if (graph == nullptr) return INVALID_VALUE;
  if (pdl_mode() == "no-graph" && static_cast<Graph*>(graph)->programmatic) return NOT_SUPPORTED;
  *exec = new Graph(*static_cast<Graph*>(graph));
  return OK;
}
CUresult cuGraphUpload(void*, void*) { return OK; }
CUresult cuGraphLaunch(void* exec, void* stream) {
  Guard g(lock);
  if (const CUresult r = need_context("cuGraphLaunch")) return r;
  Graph* gr = static_cast<Graph*>(exec);
  if (gr == nullptr) return INVALID_HANDLE;
  return submit(stream, [gr]() {
    for (auto& op : gr->ops) {
      ++op_serial;
      CUresult r = op();
      if (r != OK) return r;
    }
    return OK;
  });
}
CUresult cuGraphExecDestroy(void* exec) {
  delete static_cast<Graph*>(exec);
  return OK;
}
CUresult cuGraphDestroy(void* graph) {
  delete static_cast<Graph*>(graph);
  return OK;
}

CUresult cuGetErrorName(CUresult r, const char** s) {
  static std::map<int, std::string> names;
  std::string& n = names[r];
  if (n.empty()) n = "CUDA_ERROR_" + std::to_string(r);
  *s = n.c_str();
  return OK;
}
CUresult cuGetErrorString(CUresult r, const char** s) { return cuGetErrorName(r, s); }

}  // extern "C"
