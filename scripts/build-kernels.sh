#!/usr/bin/env bash
# Builds cuda/ into target/kernels/augur.fatbin with CMake when nvcc is on the machine.
# Called by Maven (generate-resources). Without nvcc it says so and succeeds: the CPU path
# needs no kernels, and the CUDA backend reports "no kernels in this build" at run time.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/target/kernels}"
mkdir -p "$out"
nvcc_bin="$(command -v nvcc || true)"
if [[ -z "$nvcc_bin" && -n "${CUDA_HOME:-}" && -x "$CUDA_HOME/bin/nvcc" ]]; then nvcc_bin="$CUDA_HOME/bin/nvcc"; fi
if [[ -z "$nvcc_bin" ]]; then
  echo "[augur] nvcc not found: building without CUDA kernels (the CPU backend still works)"
  rm -f "$out/augur.fatbin" "$out/resource-usage.txt"
  exit 0
fi
if ! command -v cmake >/dev/null; then
  echo "[augur] nvcc found but cmake is missing: install cmake to build the CUDA kernels" >&2
  exit 1
fi
build="$root/target/cmake"
echo "[augur] building CUDA kernels with $("$nvcc_bin" --version | tail -1)"
cmake -S "$root" -B "$build" -DAUGUR_NVCC="$nvcc_bin" -DAUGUR_FATBIN_DIR="$out" >/dev/null
# ptxas's per-kernel report (CMakeLists.txt: --resource-usage) goes into resource-usage.txt, not the
# log: a build that compiled the fatbin writes it again; an up-to-date one leaves it as it is
log="$build/build.log" rc=0 report='^ptxas info|^    [0-9]+ bytes stack frame'
cmake --build "$build" >"$log" 2>&1 || rc=$?
grep -Ev "$report" "$log" || true
if (( rc != 0 )); then exit "$rc"; fi
if grep -Eq "$report" "$log"; then
  grep -E "$report" "$log" >"$out/resource-usage.txt.part" && mv -f "$out/resource-usage.txt.part" "$out/resource-usage.txt"
fi
# nvcc's intermediate files (CMakeLists.txt: --keep): the PTX target's PTX becomes augur.ptx (KernelPtxTest
# reads which state space each kernel's loads and stores name); the rest (preprocessed sources, cubins) goes
keep="$out/nvcc-keep"
if [[ -d "$keep" ]]; then
  ptx_arch="$(sed -n 's/^set(AUGUR_PTX_ARCH \([0-9]*\).*/\1/p' "$root/CMakeLists.txt")"
  ptx="$(grep -l "^\.target sm_${ptx_arch}\b" "$keep"/*.ptx 2>/dev/null | head -1 || true)"
  if [[ -n "$ptx" ]]; then mv -f "$ptx" "$out/augur.ptx"; fi
  rm -rf "$keep"
fi
echo "[augur] fatbin: $out/augur.fatbin ($(stat -c %s "$out/augur.fatbin") bytes)"
