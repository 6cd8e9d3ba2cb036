#!/usr/bin/env bash
# Builds java/src/main/native/augur_launch.c into <out>/libaugur_launch.so (cuLaunchKernelEx for
# programmatic dependent launch, which JCuda does not bind; the jar carries it as
# cuda/libaugur_launch.so). Called by Maven (generate-resources). Without a C compiler or the
# JDK's jni.h it says so and succeeds: the CUDA backend then launches every kernel the plain way.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/target/kernels}"
mkdir -p "$out"
rm -f "$out/libaugur_launch.so"
cc_bin="$(command -v cc || command -v gcc || true)"
if [[ -z "$cc_bin" ]]; then
  echo "[augur] no C compiler: building without libaugur_launch.so (kernels launch without programmatic dependent launch)"
  exit 0
fi
if [[ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]]; then
  echo "[augur] libaugur_launch.so is built for Linux x86-64 only; this is $(uname -s)-$(uname -m)"
  exit 0
fi
java_home="${JAVA_HOME:-}"
if [[ -z "$java_home" || ! -f "$java_home/include/jni.h" ]]; then
  javac_bin="$(command -v javac || true)"
  [[ -n "$javac_bin" ]] && java_home="$(dirname "$(dirname "$(readlink -f "$javac_bin")")")"
fi
if [[ -z "$java_home" || ! -f "$java_home/include/jni.h" ]]; then
  echo "[augur] no jni.h (set JAVA_HOME to a JDK): building without libaugur_launch.so"
  exit 0
fi
# With the CUDA toolkit's cuda.h at hand, the two structs' layouts and the attribute's id are
# checked against it at compile time (the library itself needs no toolkit).
# The toolkit's nvtx3/ headers (NVTX 3 is header-only) give the library its NVTX ranges
# (io.augur.backend.cuda.Nvtx); without them it is built without, and Nvtx says so.
cuda_h=()
nvtx=()
for d in "${CUDA_HOME:-}" "$(dirname "$(dirname "$(command -v nvcc || echo /none/bin/nvcc)")")" /usr/local/cuda; do
  if [[ -n "$d" && -f "$d/include/cuda.h" ]]; then
    cuda_h=(-DAUGUR_CUDA_H -I "$d/include")
    [[ -f "$d/include/nvtx3/nvToolsExt.h" ]] && nvtx=(-DAUGUR_NVTX)
    break
  fi
done
"$cc_bin" -std=c11 -O2 -fPIC -shared -Wall -Werror -I "$java_home/include" -I "$java_home/include/linux" "${cuda_h[@]}" "${nvtx[@]}" \
  -o "$out/libaugur_launch.so" "$root/java/src/main/native/augur_launch.c" -ldl
# For the tests only (not in the jar): an NVTX tool that writes what it is told to a file
# (java/src/test/native/nvtx_probe.c; NvtxTest loads it through NVTX_INJECTION64_PATH).
rm -f "$out/libaugur_nvtx_probe.so"
if [[ ${#nvtx[@]} -gt 0 ]]; then
  "$cc_bin" -std=c11 -O2 -fPIC -shared -Wall -Werror "${cuda_h[@]:1}" \
    -o "$out/libaugur_nvtx_probe.so" "$root/java/src/test/native/nvtx_probe.c" -lpthread
fi
# The bundle runs on GPU boxes whose glibc may be older than this machine's: the library must not
# need a symbol version newer than the JDK's own baseline (glibc 2.17).
if command -v objdump >/dev/null; then
  newest="$(objdump -T "$out/libaugur_launch.so" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1)"
  if [[ -n "$newest" && "$(printf '%s\n2.17\n' "$newest" | sort -V | tail -1)" != 2.17 ]]; then
    rm -f "$out/libaugur_launch.so"
    echo "[augur] libaugur_launch.so needs glibc $newest (objdump -T); at most 2.17 is allowed" >&2
    exit 1
  fi
fi
echo "[augur] libaugur_launch.so: $out/libaugur_launch.so${cuda_h:+ (layouts checked against ${cuda_h[2]}/cuda.h)}, NVTX $([[ ${#nvtx[@]} -gt 0 ]] && echo on || echo 'off (no nvtx3 headers)')"
