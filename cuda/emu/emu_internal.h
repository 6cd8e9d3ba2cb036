// The emulator's pieces that kernels do not see: the kernel registry and the launcher.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace augur_emu {

// The most dynamic shared memory a kernel may opt in to, as on an H100/H200 (227 KiB).
constexpr size_t SHARED_OPTIN_LIMIT = 227 * 1024;

// A kernel bound to one launch's arguments; every thread of the launch calls it.
using Body = std::function<void()>;
// What a launch's arguments hold, for the driver's checks: every 8-byte-aligned word of them
// (pointers, and pointers inside structs passed by value), from which it finds the allocations a
// launch may touch, and each parameter's value where the parameter is a pointer (else 0).
struct ArgumentWords {
  std::vector<uint64_t> words;
  std::vector<uint64_t> pointers;
};
// Copies the arguments out of cuLaunchKernel's kernelParams and binds them to the kernel.
using Binder = std::function<Body(void** params, ArgumentWords* seen)>;

// A kernel as registered: its binder, and per parameter 'w' (a __restrict__ pointer it may write
// through), 'r' (a const __restrict__ pointer) or '-' (anything else), as its source declares it.
struct Kernel {
  Binder binder;
  std::string restricted;
  int cluster = 1;  // blocks per cluster in x, as AUGUR_CLUSTER declares it (1: no cluster)
};
std::map<std::string, Kernel>& registry();

// A launch with CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION (cuLaunchKernelEx): on a GPU
// its blocks may start while the kernel before it in the stream still runs, so until a thread
// passes griddepcontrol.wait it must not read what that kernel wrote (`written`, protected with
// PROT_NONE) nor write what it read (`read`, PROT_READ). The launch's first block (or cluster) runs
// with those pages protected until its threads, meeting there, pass the wait, so a read there
// fails the launch; and every block must have a thread that passes it.
struct Region {
  void* p;
  size_t n;
};
struct Programmatic {
  bool on = false;
  std::vector<Region> written, read;
};

// The dynamic shared memory a kernel may be launched with before cuFuncSetAttribute raises it.
constexpr size_t SHARED_DEFAULT_LIMIT = 48 * 1024;
// Runs a launch to the end, `cluster` consecutive blocks in x at a time; returns "" or what went
// wrong. `dynamic_limit`: the kernel's CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES as set
// (SHARED_DEFAULT_LIMIT where it was not raised), against which its static shared memory is counted.
std::string run_launch(const Body& kernel, dim3 grid, dim3 block, size_t shared, size_t dynamic_limit, int cluster,
                       const Programmatic& programmatic);
// Whether the last launch that failed did so by touching memory outside every allocation (a
// GPU's CUDA_ERROR_ILLEGAL_ADDRESS) rather than by threads that could not meet.
bool last_failure_was_illegal_address();
// Where a device address lies relative to the allocations (driver.cpp), for a fault's message.
std::string describe_device_address(const void* p);

template <class T>
void append_words(const T& v, ArgumentWords* seen) {
  for (size_t o = 0; o + 8 <= sizeof(T); o += 8) {
    uint64_t w;
    std::memcpy(&w, reinterpret_cast<const char*>(&v) + o, 8);
    seen->words.push_back(w);
  }
  if constexpr (std::is_pointer_v<T>)
    seen->pointers.push_back(reinterpret_cast<uint64_t>(v));
  else
    seen->pointers.push_back(0);
}

template <class... A, size_t... I>
Body bind_arguments(void (*f)(A...), void** params, ArgumentWords* seen, std::index_sequence<I...>) {
  auto args = std::make_tuple(*static_cast<std::remove_cv_t<std::remove_reference_t<A>>*>(params[I])...);
  std::apply([seen](const auto&... a) { (append_words(a, seen), ...); }, args);
  return [f, args]() { std::apply(f, args); };
}

// A kernel's number of parameters (build-emulator.sh checks restrict.awk's reading against it).
template <class... A>
constexpr size_t arity(void (*)(A...)) {
  return sizeof...(A);
}

// One per kernel, written by scripts/build-emulator.sh after each kernel source.
struct Registrar {
  template <class... A>
  Registrar(const char* name, void (*f)(A...), const char* restricted, int cluster) {
    registry()[name] = Kernel{[f](void** params, ArgumentWords* seen) { return bind_arguments(f, params, seen, std::index_sequence_for<A...>{}); },
                              restricted, cluster};
  }
};

}  // namespace augur_emu
