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
"$cc_bin" -std=c11 -O2 -fPIC -shared -Wall -Werror -I "$java_home/include" -I "$java_home/include/linux" \
  -o "$out/libaugur_launch.so" "$root/java/src/main/native/augur_launch.c" -ldl
echo "[augur] libaugur_launch.so: $out/libaugur_launch.so"
