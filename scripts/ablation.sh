#!/usr/bin/env bash
# The DIEN ablation on a synthetic world whose interests drift (DESIGN.md §3; the DIEN paper's
# Table 3 / Figure 4 in spirit): BaseModel, DIN, the two-layer GRU-attention baseline and DIEN with
# AUGRU / AGRU / AIGRU evolution and with the auxiliary loss off, each trained by `augur train`
# with the same seed and schedule. Writes a Markdown table (test AUC, GAUC, logloss, best epoch,
# training samples/s, the command of each row) and keeps every run folder.
#
#   scripts/ablation.sh                          the default world (data/default), 3 epochs, seed 42
#   DATA=data/amazon EPOCHS=2 scripts/ablation.sh
#   RUNS="din dien-augru" scripts/ablation.sh    a subset (names below)
#
# Output: $OUT (default docs/experiments/<UTC date>-ablation-<world>.md) and runs under
# runs/ablation-<date>/<name>/. Not a test: each DIEN run takes minutes on 2 cores.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
data="${DATA:-data/default}"
epochs="${EPOCHS:-3}"
seed="${SEED:-42}"
stamp="$(date -u +%Y-%m-%d)"
worldname="$(basename "$data")"
out="${OUT:-docs/experiments/$stamp-ablation-$worldname.md}"
runs_dir="runs/ablation-$stamp"
all="base din gru-att dien-augru dien-agru dien-aigru dien-augru-noaux"
runs="${RUNS:-$all}"

args_of() {
  case "$1" in
    base) echo "--model base" ;;
    din) echo "--model din" ;;
    gru-att) echo "--model gru-att" ;;
    dien-augru) echo "--model dien --evolution augru --aux-weight 1" ;;
    dien-agru) echo "--model dien --evolution agru --aux-weight 1" ;;
    dien-aigru) echo "--model dien --evolution aigru --aux-weight 1" ;;
    dien-augru-noaux) echo "--model dien --evolution augru --aux-weight 0" ;;
    *) echo "unknown run '$1' (expected one of: $all)" >&2; exit 2 ;;
  esac
}
for r in $runs; do args_of "$r" >/dev/null; done

mkdir -p "$(dirname "$out")" "$runs_dir"
scripts/augur --version >/dev/null # builds first, outside the timed runs
rows=()
for r in $runs; do
  cmd="scripts/augur train $(args_of "$r") --data $data --epochs $epochs --seed $seed --out $runs_dir/$r"
  echo "[ablation] $(date -u +%H:%M:%S) $r: $cmd" >&2
  rm -rf "$runs_dir/$r"
  $cmd >"$runs_dir/$r.stdout" 2>"$runs_dir/$r.stderr" || { echo "[ablation] $r failed (see $runs_dir/$r.stderr)" >&2; exit 1; }
  summary="$runs_dir/$r/summary.json"
  [[ -f "$summary" ]] || { echo "[ablation] $r: no $summary (see $runs_dir/$r.stderr)" >&2; exit 1; }
  # one Markdown row from the run's summary.json
  row="$(python3 - "$summary" "$r" "$cmd" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"| {sys.argv[2]} | {s['test_auc']:.4f} | {s['test_gauc']:.4f} | {s['test_logloss']:.4f} |"
      f" {s['best_valid_auc']:.4f} (epoch {s['best_epoch']}) | {s['train_samples_per_s']:,.0f} | `{sys.argv[3]}` |")
PY
)"
  echo "[ablation] $row" >&2
  rows+=("$row")
done

{
  echo "# Ablation on \`$data\`, $stamp"
  echo
  echo "Written by \`scripts/ablation.sh\` (DATA=$data EPOCHS=$epochs SEED=$seed): each model trained by \`augur train\` on"
  echo "the CPU for at most $epochs epochs with early stopping on valid AUC; the test figures are those of the"
  echo "best-valid checkpoint. Samples/s is the training throughput the run reported (wall clock, while"
  echo "nothing else ran on purpose). Machine: $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n1), $(nproc) cores,"
  echo "$(java -version 2>&1 | head -n1 | tr -d '"'); commit $(git rev-parse --short HEAD)$([[ -n "$(git status --porcelain --untracked-files=no)" ]] && echo "+dirty")."
  echo
  echo "| run | test AUC | test GAUC | test logloss | best valid AUC | train samples/s | command |"
  echo "|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} >"$out"
echo "[ablation] wrote $out" >&2
cat "$out"
