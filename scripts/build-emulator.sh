#!/usr/bin/env bash
# Builds the CPU emulator of the CUDA driver (cuda/emu/README.md) into OUT/libcuda.so.1
# (default target/cuda-emu). Called by Maven (generate-test-resources). Without g++, or on a
# machine that is not x86-64, it says so and succeeds: the GPU tests then skip under the
# emulator as they do on any machine without a GPU.
#
# The kernels are cuda/augur.cu, the same translation unit nvcc compiles, rewritten in one way:
# `__shared__` becomes `static` (a block's threads run one after another in the same function
# frames, so a static is what they share), filled with 0xff bytes when a block first passes it
# (cuda/emu/shared.awk), and `extern __shared__ T x[];` becomes a pointer to the launch's dynamic
# shared memory. Each kernel is then registered under its extern "C" name.
#
# AUGUR_EMU_GCOV=1 builds it with gcov's counters (--coverage, -O1), for scripts/kernel-coverage.sh:
# the processes that load it then write which lines of cuda/*.cu ran (OUT/src/*.gcda) as they exit.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/target/cuda-emu}"
cxx="${CXX:-g++}"
if [[ "$(uname -m)" != x86_64 ]]; then
  echo "[augur] the CUDA emulator is x86-64 only: not built"
  rm -f "$out/libcuda.so.1"
  exit 0
fi
if ! command -v "$cxx" >/dev/null; then
  echo "[augur] no C++ compiler ($cxx): the CUDA emulator is not built (the GPU tests will skip under it)"
  rm -f "$out/libcuda.so.1"
  exit 0
fi
src="$out/src"
mkdir -p "$src"
stamp="$out/sources.sha256"
gcov="${AUGUR_EMU_GCOV:-0}"
sum="$( (cat "$root"/cuda/*.cu "$root"/cuda/*.cuh "$root"/cuda/emu/* "$0"; echo "gcov=$gcov") | sha256sum | cut -d' ' -f1)"
if [[ -f "$out/libcuda.so.1" && -f "$stamp" && "$(cat "$stamp")" == "$sum" ]]; then
  echo "[augur] CUDA emulator up to date: $out/libcuda.so.1"
  exit 0
fi

for f in "$root"/cuda/*.cu "$root"/cuda/*.cuh; do
  sed -E \
    -e 's/extern[[:space:]]+__shared__[[:space:]]+([A-Za-z_][A-Za-z0-9_]*)[[:space:]]+([A-Za-z_][A-Za-z0-9_]*)\[\];/\1* \2 = static_cast<\1*>(augur_emu::dynamic_shared());/' \
    "$f" | awk -f "$root/cuda/emu/shared.awk" > "$src/$(basename "$f")"
done
if grep -n "__shared__" "$src"/*.cu "$src"/*.cuh; then
  echo "[augur] build-emulator.sh: a __shared__ declaration it cannot rewrite (above)" >&2
  exit 1
fi
kernels="$(grep -ohE 'AUGUR_KERNEL[[:space:]]+void[[:space:]]+(__launch_bounds__\([^)]*\)[[:space:]]+)?(AUGUR_CLUSTER\([0-9]+\)[[:space:]]+)?[A-Za-z_][A-Za-z0-9_]*' "$root"/cuda/*.cu \
  | sed -E 's/.*[[:space:]]([A-Za-z_][A-Za-z0-9_]*)$/\1/' | sort -u)"
# Each kernel's parameters as its source declares them: w (a __restrict__ pointer written
# through), r (a const __restrict__ pointer) or -; the driver refuses a launch that aliases two
# of them with one written through (cuda/emu/restrict.awk). Then its blocks per cluster.
kinds="$(awk -f "$root/cuda/emu/restrict.awk" "$root"/cuda/*.cu)"
{
  echo '#include "augur.cu"'
  echo '#include "emu_internal.h"'
  for k in $kernels; do
    kk="$(awk -v k="$k" '$1 == k { print $2 }' <<<"$kinds")"
    kc="$(awk -v k="$k" '$1 == k { print $3 }' <<<"$kinds")"
    echo "static_assert(augur_emu::arity(&$k) == sizeof(\"$kk\") - 1, \"cuda/emu/restrict.awk misread the parameters of $k\");"
    echo "static augur_emu::Registrar augur_emu_register_$k(\"$k\", &$k, \"$kk\", ${kc:-1});"
  done
} > "$src/kernels.cpp"

# Every driver function JCuda's binding refers to and driver.cpp does not define answers
# CUDA_ERROR_NOT_SUPPORTED, so no call can end in an unresolved symbol.
defined="$(grep -oE '^CUresult (cu[A-Za-z0-9_]+)\(' "$root/cuda/emu/driver.cpp" | sed -E 's/^CUresult (.*)\($/\1/' | sort -u)"
{
  echo '#include <cstdio>'
  echo 'static int augur_emu_unsupported(const char* f) { std::fprintf(stderr, "[augur-emu] %s is not emulated\n", f); return 801; }'
  echo 'extern "C" {'
  comm -23 "$root/cuda/emu/jcuda-driver-symbols.txt" <(echo "$defined") | while read -r s; do
    echo "int $s() { return augur_emu_unsupported(\"$s\"); }"
  done
  echo '}'
} > "$src/stubs.cpp"

echo "[augur] building the CUDA emulator ($(echo "$kernels" | wc -w) kernels) with $("$cxx" --version | head -1)"
opt=(-O2)
link=()
if [[ "$gcov" == 1 ]]; then opt=(-O1 --coverage); link=(--coverage); fi
flags=(-std=c++17 "${opt[@]}" -g -fPIC -fno-strict-aliasing -Wall -Wno-unused-function -Wno-unused-variable -Wno-unknown-pragmas -I "$root/cuda/emu" -I "$src")
"$cxx" "${flags[@]}" -include "$root/cuda/emu/emu.h" -c "$src/kernels.cpp" -o "$src/kernels.o"
"$cxx" "${flags[@]}" -c "$root/cuda/emu/scheduler.cpp" -o "$src/scheduler.o"
"$cxx" "${flags[@]}" -c "$root/cuda/emu/driver.cpp" -o "$src/driver.o"
"$cxx" "${flags[@]}" -c "$src/stubs.cpp" -o "$src/stubs.o"
"$cxx" -shared -Wl,-soname,libcuda.so.1 -Wl,--no-undefined -o "$out/libcuda.so.1" "$src"/kernels.o "$src"/scheduler.o "$src"/driver.o "$src"/stubs.o -lpthread "${link[@]}"
echo "$sum" > "$stamp"
echo "[augur] CUDA emulator: $out/libcuda.so.1"
