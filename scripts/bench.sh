#!/usr/bin/env bash
# Training-throughput benchmarks, written under docs/perf/ with the machine and the command.
#   scripts/bench.sh                 DIN and BaseModel on the CPU, batch 128 and 1024, median of 3 runs
#   MODELS="din" BATCHES=128 scripts/bench.sh
# The benchmark world (20,000 users, ~21 behaviours each, T = 100) is generated into data/bench
# on first use. Run on an otherwise idle machine: the figures are wall-clock throughput.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
models="${MODELS:-din base}"
batches="${BATCHES:-128,1024}"
device="${DEVICE:-cpu}"
repeats="${REPEATS:-3}"
stamp="$(date -u +%Y-%m-%d)"
outdir="docs/perf"
mkdir -p "$outdir"
for m in $models; do
  cmd="scripts/augur bench --model $m --device $device --batch-sizes $batches --repeats $repeats --json"
  echo "[bench] $cmd" >&2
  json="$($cmd)"
  file="$outdir/$stamp-$device-$m.json"
  printf '%s\n' "$json" > "$file"
  echo "[bench] wrote $file" >&2
  printf '%s\n' "$json" | grep -E '"(batch_size|samples_per_s)"' >&2 || true
done
