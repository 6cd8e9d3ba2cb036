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

// A kernel bound to one launch's arguments; every thread of the launch calls it.
using Body = std::function<void()>;
// Copies the arguments out of cuLaunchKernel's kernelParams and binds them to the kernel; appends
// every 8-byte-aligned word of the arguments to `words` (pointers, and pointers inside structs
// passed by value), from which the driver finds the allocations a launch may touch.
using Binder = std::function<Body(void** params, std::vector<uint64_t>* words)>;

std::map<std::string, Binder>& registry();

// Runs a launch to the end; returns "" or what went wrong.
std::string run_launch(const Body& kernel, dim3 grid, dim3 block, size_t shared);
// Whether the last launch that failed did so by touching memory outside every allocation (a
// GPU's CUDA_ERROR_ILLEGAL_ADDRESS) rather than by threads that could not meet.
bool last_failure_was_illegal_address();
// Where a device address lies relative to the allocations (driver.cpp), for a fault's message.
std::string describe_device_address(const void* p);

template <class T>
void append_words(const T& v, std::vector<uint64_t>* words) {
  for (size_t o = 0; o + 8 <= sizeof(T); o += 8) {
    uint64_t w;
    std::memcpy(&w, reinterpret_cast<const char*>(&v) + o, 8);
    words->push_back(w);
  }
}

template <class... A, size_t... I>
Body bind_arguments(void (*f)(A...), void** params, std::vector<uint64_t>* words, std::index_sequence<I...>) {
  auto args = std::make_tuple(*static_cast<std::remove_cv_t<std::remove_reference_t<A>>*>(params[I])...);
  std::apply([words](const auto&... a) { (append_words(a, words), ...); }, args);
  return [f, args]() { std::apply(f, args); };
}

// One per kernel, written by scripts/build-emulator.sh after each kernel source.
struct Registrar {
  template <class... A>
  Registrar(const char* name, void (*f)(A...)) {
    registry()[name] = [f](void** params, std::vector<uint64_t>* words) {
      return bind_arguments(f, params, words, std::index_sequence_for<A...>{});
    };
  }
};

}  // namespace augur_emu
