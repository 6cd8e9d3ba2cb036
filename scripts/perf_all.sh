#!/usr/bin/env bash
# The full CPU measurement behind docs/PERFORMANCE.md, by hand, on an otherwise idle machine:
#
#   scripts/perf_all.sh
#
#  1. the benchmark world data/bench (`augur generate --preset bench`: the Amazon config's shape,
#     T = 100, 20,000 users; the world `augur bench` uses by default), generated if absent;
#  2. the cost model and the CPU's ceilings: `augur bench --cost-only --ceilings` for base, din, dien
#     at batch 128, 1024 and 2048 (2048 for the H200 floors);
#  3. Augur on the CPU: `augur bench` for base, din, dien at batch 128 and 1024, median of 3 runs;
#  4. the npy export of the same world (`augur export --format npy`, data/bench-npy), if stale;
#  5. the PyTorch reference on the CPU: scripts/torch_ref.py (/usr/bin/python3, Debian's
#     python3-torch) for the same models and batch sizes, median of 3, eager and torch.compile
#     (recorded as "not available" where the PyTorch has none), torch.set_num_threads(core count);
#  6. scripts/perf_report.py, which regenerates docs/PERFORMANCE.md from docs/perf/*.json.
#
# Records: docs/perf/<UTC date>-<device>-<tool>-<what>.json, e.g. 2026-11-23-cpu-augur-b128.json,
# 2026-11-23-cpu-torch-b1024.json, 2026-11-23-cpu-augur-cost.json (perf_report.py reads them all;
# for each tool, device, model, batch size and variant the newest record wins).
#
# Both tools run the same schedule per batch size: at least 5 steps and 3 s of untimed
# warm-up, then STEPS timed steps (batch 128: 60; batch 1024: 15), eval on EVAL batches.  Step
# counts are small on purpose: the figure is a steady-state rate, and on 2 cores the PyTorch DIEN
# (a Python loop over up to 100 AUGRU steps) takes seconds per step at batch 1024.
#
# Settings (environment): MODELS="base din dien", BATCHES="128 1024", REPEATS=3, PERF_DIR=docs/perf,
# REPORT=docs/PERFORMANCE.md, PYTHON=/usr/bin/python3, THREADS (default: the core count),
# STEPS_128, STEPS_1024, ... (timed steps per batch size), WARMUP_STEPS=5, WARMUP_S=3, EVAL_STEPS=10,
# SKIP_TORCH=1 / SKIP_AUGUR=1, DRY_RUN=1 (print the plan and the estimate only).  A trial of the pipeline in a minute (figures meaningless):
#   TRIAL=1 scripts/perf_all.sh      # 1 run of 2 steps each, records and page in /tmp/augur-perf-trial
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

models="${MODELS:-base din dien}"
batches="${BATCHES:-128 1024}"
repeats="${REPEATS:-3}"
trial="${TRIAL:-0}"
if [[ "$trial" == 1 ]]; then   # a trial never writes into docs/
  perf_dir="${PERF_DIR:-${TMPDIR:-/tmp}/augur-perf-trial}"; report="${REPORT:-$perf_dir/PERFORMANCE.md}"
else
  perf_dir="${PERF_DIR:-docs/perf}"; report="${REPORT:-docs/PERFORMANCE.md}"
fi
python="${PYTHON:-/usr/bin/python3}"
threads="${THREADS:-0}"   # 0: each tool uses all cores (augur --threads 0, torch.set_num_threads(os.cpu_count()))
warmup_steps="${WARMUP_STEPS:-5}"
warmup_s="${WARMUP_S:-3}"
eval_steps="${EVAL_STEPS:-10}"
data="data/bench"
npy="data/bench-npy"
if [[ "$trial" == 1 ]]; then
  repeats="${REPEATS:-1}"; warmup_steps=1; warmup_s=0; eval_steps=1
fi
steps_for() {   # timed steps for batch size $1
  local var="STEPS_$1"
  if [[ -n "${!var:-}" ]]; then echo "${!var}"; return; fi
  if [[ "$trial" == 1 ]]; then echo 2; return; fi
  if (( $1 <= 256 )); then echo 60; else echo 15; fi
}
csv() { tr ' ' ',' <<<"$*"; }
stamp="$(date -u +%Y-%m-%d)"
mkdir -p "$perf_dir"
start=$(date +%s)
phase() { echo "[perf_all] $(date -u +%H:%M:%S) (+$(( $(date +%s) - start )) s) $*" >&2; }

# ---------------------------------------------------------------- the estimate
# Rough rates on the 2-core development machine, quiet (samples/s, training; the run of 2026-11-23,
# which took 5.5 min): Augur base ~65k, din ~20k, dien ~5k; PyTorch 1.13 base ~12k, din ~2k, dien ~500.
# Eval runs at about 3x the training rate. Each run adds the warm-up (>= WARMUP steps, >= 3 s).
estimate=$(awk -v models="$models" -v batches="$batches" -v R="$repeats" -v W="$warmup_steps" -v WS="$warmup_s" \
  -v E="$eval_steps" -v steps="$(for b in $batches; do printf '%s ' "$(steps_for "$b")"; done)" -v skip_t="${SKIP_TORCH:-0}" \
  -v skip_a="${SKIP_AUGUR:-0}" 'BEGIN {
    rate["augur","base"]=65000; rate["augur","din"]=20000; rate["augur","dien"]=5000
    rate["torch","base"]=12000; rate["torch","din"]=2000;  rate["torch","dien"]=500
    nm=split(models, M, " "); nb=split(batches, B, " "); split(steps, S, " ")
    total = 60 + 30                                  # world (if absent), export (if stale), JVM starts
    for (t = 1; t <= 2; t++) {
      tool = (t == 1 ? "augur" : "torch")
      if ((tool == "torch" && skip_t == 1) || (tool == "augur" && skip_a == 1)) continue
      total += (tool == "torch" ? 45 * nb : 5)       # torch_ref loads and pads the histories per invocation
      for (i = 1; i <= nm; i++) for (j = 1; j <= nb; j++) {
        r = rate[tool, M[i]]; if (r == 0) r = 1000
        warm = W * B[j] / r; if (warm < WS) warm = WS
        total += R * (warm + S[j] * B[j] / r) + (E + 1) * B[j] / (3 * r)
      }
    }
    total += 15                                      # cost model and ceilings
    printf "%d", total
  }')
phase "plan: models [$models], batches [$batches], $repeats runs each, warm-up >= $warmup_steps steps and >= $warmup_s s," \
      "timed steps $(for b in $batches; do printf 'b%s=%s ' "$b" "$(steps_for "$b")"; done)on $([[ $threads == 0 ]] && echo "all $(nproc) cores" || echo "$threads threads"); records in $perf_dir"
phase "estimated duration on a quiet 2-core machine: about $(( (estimate + 59) / 60 )) min (rough rates in this script's header)"
load="$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo 0)"
if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
  phase "WARNING: load average $load: the machine is not idle, the figures will be low (each record keeps its load average)"
fi
if [[ "${DRY_RUN:-0}" == 1 ]]; then exit 0; fi

# ---------------------------------------------------------------- 1-2: world, cost model, ceilings
if [[ ! -f "$data/dataset.json" ]]; then
  phase "generating the benchmark world into $data"
  scripts/augur generate --preset bench --out "$data" >&2
fi
if [[ "${SKIP_AUGUR:-0}" != 1 ]]; then
  out="$perf_dir/$stamp-cpu-augur-cost.json"
  phase "cost model and ceilings -> $out"
  scripts/augur bench --data "$data" --device cpu --threads "$threads" --models "$(csv $models)" --batch-sizes "$(csv $batches 2048)" \
    --cost-only --ceilings --json --out "$out" > /dev/null

  # ---------------------------------------------------------------- 3: Augur
  for b in $batches; do
    out="$perf_dir/$stamp-cpu-augur-b$b.json"
    phase "augur bench, batch $b -> $out"
    scripts/augur bench --data "$data" --device cpu --threads "$threads" --models "$(csv $models)" --batch-sizes "$b" \
      --repeats "$repeats" --warmup-steps "$warmup_steps" --warmup-seconds "$warmup_s" --steps "$(steps_for "$b")" \
      --eval-steps "$eval_steps" --json --out "$out" > /dev/null
  done
fi

# ---------------------------------------------------------------- 4-5: export, PyTorch
if [[ "${SKIP_TORCH:-0}" != 1 ]]; then
  if [[ ! -f "$npy/meta.json" || -n "$(find "$data" -newer "$npy/meta.json" -name '*.arrow' -print -quit)" ]]; then
    phase "exporting $data to $npy (npy)"
    rm -rf "$npy"
    scripts/augur export --format npy --data "$data" --out "$npy" --splits train,valid >&2
  fi
  for b in $batches; do
    out="$perf_dir/$stamp-cpu-torch-b$b.json"
    phase "torch_ref.py, batch $b -> $out"
    "$python" scripts/torch_ref.py --data "$npy" --device cpu --threads "$threads" --models "$(csv $models)" --batch-sizes "$b" \
      --modes eager,compile --repeats "$repeats" --warmup-steps "$warmup_steps" --warmup-seconds "$warmup_s" \
      --steps "$(steps_for "$b")" --eval-steps "$eval_steps" --out "$out" > /dev/null
  done
fi

# ---------------------------------------------------------------- 6: the page
phase "regenerating $report"
"$python" scripts/perf_report.py --perf-dir "$perf_dir" --out "$report"
phase "done in $(( ($(date +%s) - start) / 60 )) min $(( ($(date +%s) - start) % 60 )) s (estimate was about $(( (estimate + 59) / 60 )) min)"
