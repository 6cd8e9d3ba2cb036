#!/usr/bin/env bash
# Everything a short GPU session should measure, in one command from inside the bundle
# (scripts/dist.sh), within a time budget, its results packed into one file:
#
#   tar xJf augur-*.tar.xz && ./augur-*/scripts/gpu-sweep.sh "$OUT"
#
# In order, each step only if the budget (SWEEP_SECONDS, default 560) leaves it room:
#   1. gpu-check.sh: the GPU parity tests, then base/din/dien at batch 128 and 2048 (+ DIN eager);
#   2. DIN again with each of VARIANTS (JVM options, one run each; default: the activation unit's
#      tiles of 16, its partial gradients in global memory (3 backward blocks per SM), the small
#      GEMM off, 128 threads a block: the alternatives to each default the code only reasons for);
#   3. DIN with --precision tf32 and with --resident-data;
#   4. Nsight Compute on one DIN training step at batch 128 and at 2048 (profile.sh, NCU_SET=basic:
#      each kernel's time, throughput and occupancy), the reports themselves left out;
#   5. CudaOpsParityTest under compute-sanitizer memcheck.
# Writes OUT/summary.txt (each step's table) and OUT/sweep.tar.xz (every step's folder: env.txt
# with nvidia-smi and the commands, the bench-*.json records, tests.log, the ncu tables). Copy the
# records into docs/perf/ as <date>-cuda-<model>[-<variant>].json, then run scripts/perf_report.py.
set -uo pipefail
b="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:?usage: gpu-sweep.sh OUTPUT_FOLDER}"
mkdir -p "$out" && out="$(cd "$out" && pwd)"
budget="${SWEEP_SECONDS:-560}"
res="$(mktemp -d)"
summary="$out/summary.txt"
t0=$SECONDS
left() { echo $((budget - (SECONDS - t0))); }
say() { echo "[gpu-sweep] $(date -u +%T) +$((SECONDS - t0))s: $*" | tee -a "$summary"; }
: >"$summary"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv 2>&1 | tee -a "$summary"

say "gpu-check (tests and benchmarks)"
timeout "$(( $(left) > 300 ? 300 : $(left) ))" "$b/scripts/gpu-check.sh" "$res/gc" >/dev/null 2>&1
sed -n '/^tests:/,/^result:/p' "$res/gc/summary.txt" 2>/dev/null | grep -v '^  /' | tee -a "$summary"

if [[ -n "${VARIANTS+x}" ]]; then read -r -a variants <<<"$VARIANTS"
else variants=(-Daugur.attention.rowsBackward=16 -Daugur.attention.partialsOnChip=false -Daugur.gemm.small=off -Daugur.attention.threads=128); fi
i=0
for v in "${variants[@]}"; do
  i=$((i + 1))
  if (( $(left) < 150 )); then say "skipped: $v"; continue; fi
  say "DIN with $v"
  SKIP_TESTS=1 EAGER_MODELS= MODELS=din BENCH_ARGS=--profile AUGUR_JAVA_OPTS="$v" timeout 90 \
    "$b/scripts/gpu-check.sh" "$res/v$i" 2>/dev/null | grep '^din ' | tee -a "$summary"
  echo "$v" >"$res/v$i/variant.txt"
done
if (( $(left) >= 130 )); then
  say "DIN with --precision tf32, and with --resident-data"
  SKIP_TESTS=1 EAGER_MODELS= MODELS= TF32_MODELS=din RESIDENT_MODELS=din BENCH_ARGS=--profile timeout 110 \
    "$b/scripts/gpu-check.sh" "$res/tf32" 2>/dev/null | grep '^din' | tee -a "$summary"
fi
for bs in 128 2048; do
  if (( $(left) < 100 )); then say "skipped: ncu at batch $bs"; continue; fi
  say "ncu, DIN at batch $bs"
  SKIP_NSYS=1 NCU_SKIP=300 NCU_COUNT=30 NCU_SET=basic timeout 90 "$b/scripts/profile.sh" "$res/ncu$bs" --batch-size "$bs" >/dev/null 2>&1
  grep '^"[0-9]' "$res/ncu$bs/profile.log" 2>/dev/null | awk -F'","' '{s += $12} END {printf "  %d kernels, %.1f us in all (gpu__time_duration)\n", NR, s}' | tee -a "$summary"
  rm -f "$res/ncu$bs"/*.ncu-rep
done
if (( $(left) >= 60 )); then
  say "compute-sanitizer memcheck: CudaOpsParityTest"
  SKIP_TESTS=1 SKIP_BENCH=1 SANITIZE_CLASSES=io.augur.backend.cuda.CudaOpsParityTest timeout "$(( $(left) - 20 ))" \
    "$b/scripts/gpu-check.sh" "$res/san" 2>/dev/null | grep 'compute-sanitizer' | tee -a "$summary"
else
  say "skipped: compute-sanitizer"
fi
tar cJf "$out/sweep.tar.xz" -C "$res" . && rm -rf "$res"
say "done: $out/summary.txt, $out/sweep.tar.xz"
