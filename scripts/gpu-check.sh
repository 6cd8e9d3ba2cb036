#!/usr/bin/env bash
# Checks Augur on a GPU box from inside the bundle (scripts/dist.sh), with no JDK needed:
#
#   tar xf augur-*.tar.xz && ./augur-*/scripts/gpu-check.sh "$OUT"
#
# 1. records nvidia-smi, the bundle's BUILD.txt and `augur info`;
# 2. runs the GPU parity tests (JUnit tag `gpu`: every kernel against the CPU reference, BaseModel
#    and DIN trained 50 steps on both) and fails if any fails or is skipped; the tests that cannot run
#    here by design are left out by tag and named (`emulator`: the emulator's own checks; `two-gpus`
#    where one device is visible; `real-gpu` where the device is the CPU emulator);
# 3. runs the training benchmark on the GPU (`augur bench --device cuda`, the benchmark world of
#    the Amazon shape: D = 18, T = 100, attention 80-40, MLP 200-80), DIN and BaseModel at batch
#    128 and 2048, median of 3 runs, with --profile (each kernel's share of the step, CUDA events)
#    and --ceilings (the GPU's measured fp32 GEMM rate and copy bandwidth); then prints a short table.
#
# Everything goes into the folder given as argument, at most 8 files and one folder level, so
# that it can come back as a device run's $OUT: env.txt (nvidia-smi, build, info, every command
# run, and the benchmarks' logs), tests.log, junit/TEST-junit-jupiter.xml, bench-<model>.json
# (din, base, dien), bench-din-eager.json (DIN at batch 128 with --no-cuda-graphs, for
# comparison), summary.txt.
# The benchmark's data is generated into $AUGUR_WORK (default: <bundle>/work), not into the folder.
# Knobs: MODELS="din base dien", BATCHES=128,2048, REPEATS=3, EAGER_MODELS=din (empty: no eager run),
# EAGER_BATCHES=128, TF32_MODELS (default none; e.g. "din": bench-din-tf32.json, the same benchmark
# with --precision tf32, a ninth file, so run it in a second call with MODELS= EAGER_MODELS=),
# TF32X3_MODELS (default none; e.g. "din": bench-din-tf32x3.json, with --precision tf32x3: the unit's
# products on the tensor cores with split operands, fp32's accuracy),
# RESIDENT_MODELS (default none; e.g. "din": bench-din-resident.json, with --resident-data),
# AUTOTUNE_MODELS (default none; e.g. "din": bench-din-autotune.json, with --autotune: the kernel
# settings chosen by measuring, every trial in the record, then the runs under the settings chosen),
# TF32_AUTOTUNE_MODELS (default none; e.g. "din": bench-din-tf32-autotune.json, --precision tf32 --autotune:
# under TF32 the unit layer by layer runs its products on gemm_tf32_kernel's tensor cores),
# TUNING_OUT (default <folder>/tuning.json: the autotune runs' choices, --save-tuning; a table that
# train and bench take with --tuning FILE, and that becomes the defaults on this device when copied
# to java/src/main/resources/io/augur/backend/cuda/tuning.json),
# SANITIZE_CLASSES (default none; e.g. io.augur.backend.cuda.CudaOpsParityTest: those test classes
# again under compute-sanitizer, each tool of SANITIZE_TOOLS, default memcheck; e.g. "memcheck
# racecheck"), SKIP_TESTS=1, SKIP_BENCH=1, AUGUR_JAVA_OPTS (JVM options of every run, e.g. the
# activation unit's -Daugur.attention.* settings; the bench records keep them), and for
# trying the script without a GPU, DEVICE=cpu and BENCH_ARGS (default "--profile --ceilings"; e.g.
# "--smoke" for a quick try).
set -uo pipefail
b="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:?usage: gpu-check.sh OUTPUT_FOLDER}"
mkdir -p "$out" && out="$(cd "$out" && pwd)"
work="${AUGUR_WORK:-$b/work}"
mkdir -p "$work"
models="${MODELS-din base dien}"  # MODELS= (empty): none
batches="${BATCHES:-128,2048}"
repeats="${REPEATS:-3}"
device="${DEVICE:-cuda}"
read -r -a bench_args <<<"${BENCH_ARGS:---profile --ceilings}"
env_txt="$out/env.txt" summary="$out/summary.txt"
# compute-sanitizer as every run under it is started (the JVM is a child of bin/augur-test)
sanitizer=(compute-sanitizer --target-processes all --print-limit 20)
: >"$env_txt"
status=0

# Runs a command, appending "$ command" and its output to the file given first.
logged() {
  local file="$1"; shift
  printf '$ %s\n' "$*" >>"$file"
  "$@" >>"$file" 2>&1
  local rc=$?
  printf '[exit %d]\n\n' "$rc" >>"$file"
  return $rc
}

echo "[gpu-check] bundle $b, writing to $out"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host: $(uname -srm)"
  echo "cpu:  $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ //') ($(nproc) cores)"
  echo
  cat "$b/BUILD.txt" 2>/dev/null
  echo
  echo "AUGUR_JAVA_OPTS: ${AUGUR_JAVA_OPTS:-(none)}"
  echo
} >>"$env_txt"
if command -v nvidia-smi >/dev/null; then
  logged "$env_txt" nvidia-smi
  logged "$env_txt" nvidia-smi --query-gpu=name,driver_version,compute_cap,memory.total,clocks.sm,clocks.max.sm,power.limit,persistence_mode --format=csv
else
  echo "nvidia-smi: not found" >>"$env_txt"
fi
# the profilers this machine has (profile.sh's nsys needs QdstrmImporter to turn its .qdstrm into a report)
{
  echo "profilers:"
  for tool in ncu nsys compute-sanitizer QdstrmImporter; do echo "  $tool on PATH: $(command -v "$tool" || echo no)"; done
  find /opt/nvidia /usr/local/cuda* /usr/lib/nsight-systems -maxdepth 6 \( -name nsys -o -name QdstrmImporter -o -name ncu \) -type f 2>/dev/null \
    | head -20 | sed 's/^/  found: /'
  echo
} >>"$env_txt"
info_from=$(($(wc -l <"$env_txt") + 1))
(cd "$work" && logged "$env_txt" "$b/bin/augur" info) || status=1
info="$(tail -n +"$info_from" "$env_txt")"
# What the tests can use here (augur info prints a "device" line per visible device): the tests of
# tag two-gpus need a second device, those of tag real-gpu a device that is not the CPU emulator, and
# those of tag emulator (the emulator's own checks, run by mvn's emulated run) the emulator. A test
# that cannot run here by design is left out and named in the summary, so that an aborted test
# (skipped by an assumption) still means a GPU the tests could not use.
devices="$(grep -c '^device ' <<<"$info")"
emulated=0
if grep -q '^device .*Augur CPU emulator' <<<"$info"; then emulated=1; fi
tag_args=(--include-tag gpu --exclude-tag emulator)
left_out=("tag emulator (the emulator's own checks: mvn's emulated run)")
if ((devices < 2)); then
  tag_args+=(--exclude-tag two-gpus)
  left_out+=("tag two-gpus ($devices device$( ((devices == 1)) || echo s) visible)")
fi
if ((emulated)); then
  tag_args+=(--exclude-tag real-gpu)
  left_out+=("tag real-gpu (the device is the CPU emulator)")
fi

tests_line="not run"
if [[ "${SKIP_TESTS:-0}" != 1 ]]; then
  echo "[gpu-check] GPU parity tests (tests.log)"
  rm -rf "$out/junit"
  logged "$out/tests.log" "$b/bin/augur-test" --disable-ansi-colors --include-engine junit-jupiter "${tag_args[@]}" --reports-dir "$out/junit"
  trc=$?
  count() { sed -n "s/^\[ *\([0-9]*\) tests $1 *\]$/\1/p" "$out/tests.log" | tail -1; }
  ok="$(count successful)" failed="$(count failed)" aborted="$(count aborted)" skipped="$(count skipped)"
  tests_line="${ok:-?} passed, ${failed:-?} failed, ${aborted:-?} aborted (skipped by an assumption), ${skipped:-?} skipped"
  tests_line="$tests_line; left out: $(IFS=';'; echo "${left_out[*]}" | sed 's/;/; /g')"
  if (( trc != 0 )) || [[ "${ok:-0}" == 0 || "${aborted:-1}" != 0 || "${failed:-1}" != 0 ]]; then
    status=1
    tests_line="FAILED: $tests_line (launcher exit $trc)"
  fi
  echo "[gpu-check] tests: $tests_line"
  # each aborted test and its assumption's message (at most 10), for the summary
  aborted_lines="$(awk '/<testcase /{match($0, / name="[^"]*"/); n=substr($0, RSTART + 7, RLENGTH - 8)
      match($0, /classname="[^"]*"/); c=substr($0, RSTART + 11, RLENGTH - 12); sub(/.*\./, "", c)}
    /TestAbortedException/{r=$0; sub(/.*TestAbortedException: (Assumption failed: )?/, "", r); printf "  aborted: %s.%s: %s\n", c, n, r}' \
    "$out"/junit/*.xml 2>/dev/null | head -10)"
  # A kernel fault leaves the CUDA context unusable, so every later test of the JVM fails too:
  # each class with a failure runs again alone, in a fresh JVM with CUDA_LAUNCH_BLOCKING=1 (a
  # fault then names the launch that made it), optionally under compute-sanitizer (SANITIZE=1,
  # with every tensor its own allocation, -Daugur.cuda.separateAllocations=true, so that memcheck
  # sees a kernel that runs past a tensor's end instead of into the next slice of the arena),
  # appended to tests.log; the summary says which classes fail on their own. A class that fails
  # alone runs once more without programmatic dependent launches (-Daugur.cuda.pdl=off).
  failing="$(awk '/<testcase /{match($0, /classname="[^"]*"/); c=substr($0, RSTART + 11, RLENGTH - 12)} /<(failure|error)[ >]/{if (c != "") print c}' \
    "$out"/junit/*.xml 2>/dev/null | sort -u)"
  if [[ -n "$failing" ]]; then
    alone=()
    for c in $failing; do
      echo "[gpu-check] again alone: $c"
      runner=()
      opts="${AUGUR_JAVA_OPTS:-}"
      if [[ "${SANITIZE:-0}" == 1 ]] && command -v compute-sanitizer >/dev/null; then
        runner=("${sanitizer[@]}" --tool memcheck)
        opts="$opts -Daugur.cuda.separateAllocations=true"
      fi
      if AUGUR_JAVA_OPTS="$opts" CUDA_LAUNCH_BLOCKING=1 logged "$out/tests.log" "${runner[@]}" "$b/bin/augur-test" --disable-ansi-colors --include-engine junit-jupiter \
          "${tag_args[@]}" --select-class "$c"; then
        alone+=("${c##*.} passes alone")
      elif AUGUR_JAVA_OPTS="$opts -Daugur.cuda.pdl=off" CUDA_LAUNCH_BLOCKING=1 logged "$out/tests.log" "$b/bin/augur-test" \
          --disable-ansi-colors --include-engine junit-jupiter "${tag_args[@]}" --select-class "$c"; then
        # the one change that only a GPU exercises: programmatic dependent launches (sm_90)
        alone+=("${c##*.} FAILS alone, passes with -Daugur.cuda.pdl=off")
      else
        alone+=("${c##*.} FAILS alone, with -Daugur.cuda.pdl=off too")
      fi
    done
    tests_line="$tests_line; again one class per JVM (tests.log): $(IFS=';'; echo "${alone[*]}" | sed 's/;/; /g')"
  fi
fi

# Classes run again under compute-sanitizer on the GPU (SANITIZE_CLASSES, SANITIZE_TOOLS), every
# tensor its own allocation so that memcheck sees a kernel that runs past a tensor's end; the
# output goes into tests.log, a line per class and tool into the summary.
sanitize_line="not run"
if [[ -n "${SANITIZE_CLASSES:-}" ]]; then
  if command -v compute-sanitizer >/dev/null; then
    parts=()
    for tool in ${SANITIZE_TOOLS:-memcheck}; do
      for c in $SANITIZE_CLASSES; do
        echo "[gpu-check] compute-sanitizer --tool $tool: $c (tests.log)"
        AUGUR_JAVA_OPTS="${AUGUR_JAVA_OPTS:-} -Daugur.cuda.separateAllocations=true" logged "$out/tests.log" \
          "${sanitizer[@]}" --tool "$tool" --error-exitcode 99 \
          "$b/bin/augur-test" --disable-ansi-colors --include-engine junit-jupiter "${tag_args[@]}" --select-class "$c"
        src=$?
        case $src in
          0) parts+=("$tool ${c##*.}: clean") ;;
          99) parts+=("$tool ${c##*.}: ERRORS (tests.log)"); status=1 ;;
          *) parts+=("$tool ${c##*.}: exit $src (tests.log)"); status=1 ;;
        esac
      done
    done
    sanitize_line="$(IFS=';'; echo "${parts[*]}" | sed 's/;/; /g')"
  else
    sanitize_line="compute-sanitizer not found"
    status=1
  fi
fi

declare -a rows=() commands=()
# bench_one LABEL MODEL BATCHES EXTRA...: one `augur bench` into bench-LABEL.json, its rows into the table
bench_one() {
  local label="$1" m="$2" bs_list="$3"
  shift 3
  local cmd=("$b/bin/augur" bench --model "$m" --device "$device" --batch-sizes "$bs_list" --repeats "$repeats" "$@" --json)
  commands+=("${cmd[*]}")
  echo "[gpu-check] ${cmd[*]}"
  printf '$ (cd %s && %s)\n' "$work" "${cmd[*]}" >>"$env_txt"
  (cd "$work" && "${cmd[@]}" >"$out/bench-$label.json" 2>>"$env_txt")
  local rc=$?
  printf '[exit %d]\n\n' "$rc" >>"$env_txt"
  if (( rc != 0 )); then
    status=1
    rows+=("$(printf '%-10s %8s %16s %12s  %s' "$label" "-" "FAILED" "-" "see env.txt")")
    return
  fi
  # Jackson writes one field per line (augur-bench/2): each result's batch_size, then its
  # train_samples_per_s, then "p50" inside its step_ms object.
  local before=${#rows[@]} bs sps p50 target
  # a row per result, named by the result's own model (--smoke measures several in one file)
  local rm row_label
  while read -r rm bs sps p50; do
    row_label="$rm${label#"$m"}"
    target=""
    if [[ "$row_label" == din && "$bs" == 128 ]]; then target="target >= 1,000,000"; fi
    if [[ "$row_label" == din && "$bs" == 2048 ]]; then target="target >= 4,000,000"; fi
    rows+=("$(printf '%-10s %8s %16.0f %12.3f  %s' "$row_label" "$bs" "$sps" "$p50" "$target")")
  done < <(awk -F' : ' '
    /^ *"model" :/ { gsub(/[ ,"]/, "", $2); model = $2 }
    /^ *"batch_size" :/ { gsub(/[ ,]/, "", $2); bs = $2; sps = "" }
    /^ *"train_samples_per_s" :/ && bs != "" { gsub(/[ ,]/, "", $2); sps = $2 }
    /^ *"p50" :/ && bs != "" && sps != "" { gsub(/[ ,]/, "", $2); print model, bs, sps, $2; bs = "" }
  ' "$out/bench-$label.json")
  if (( ${#rows[@]} == before )); then
    status=1
    rows+=("$(printf '%-10s %8s %16s %12s  %s' "$label" "-" "NO RESULTS" "-" "bench-$label.json has no result this script can read")")
  fi
}

if [[ "${SKIP_BENCH:-0}" != 1 ]]; then
  for m in $models; do bench_one "$m" "$m" "$batches" "${bench_args[@]}"; done
  # the same model without CUDA graphs (every op launched from Java), for the graphs' share
  for m in ${EAGER_MODELS-din}; do bench_one "$m-eager" "$m" "${EAGER_BATCHES:-128}" --no-cuda-graphs; done
  # the linear layers' and the activation unit's products on the TF32 tensor cores
  for m in ${TF32_MODELS:-}; do bench_one "$m-tf32" "$m" "$batches" "${bench_args[@]}" --precision tf32; done
  # only the unit's products there, each operand split in two TF32 parts (three products for one)
  for m in ${TF32X3_MODELS:-}; do bench_one "$m-tf32x3" "$m" "$batches" "${bench_args[@]}" --precision tf32x3; done
  # the training histories kept on the device, each batch sent as row numbers
  for m in ${RESIDENT_MODELS:-}; do bench_one "$m-resident" "$m" "$batches" "${bench_args[@]}" --resident-data; done
  # the kernel settings chosen by measuring (Autotuner), then the runs under them
  tuning_out="${TUNING_OUT:-$out/tuning.json}"
  for m in ${AUTOTUNE_MODELS:-}; do bench_one "$m-autotune" "$m" "$batches" "${bench_args[@]}" --autotune --save-tuning "$tuning_out"; done
  for m in ${TF32_AUTOTUNE_MODELS:-}; do
    bench_one "$m-tf32-autotune" "$m" "$batches" "${bench_args[@]}" --precision tf32 --autotune --save-tuning "$tuning_out"
  done
fi

{
  echo "Augur GPU check, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "bundle: $(sed -n 's/^bundle: *//p' "$b/BUILD.txt" 2>/dev/null)"
  echo "gpu:    $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo 'nvidia-smi failed')"
  echo "tests:  $tests_line"
  if [[ -n "${aborted_lines:-}" ]]; then echo "$aborted_lines"; fi
  echo "compute-sanitizer: $sanitize_line"
  echo
  if ((${#rows[@]})); then
    echo "training samples/s, --device $device (median of $repeats runs; steady state, warm-up excluded)"
    printf '%-10s %8s %16s %12s  %s\n' model batch samples/s "step p50 ms" ""
    printf '%s\n' "${rows[@]}"
    if [[ -n "${EAGER_MODELS-din}" ]]; then echo "(-eager: --no-cuda-graphs; the others replay each step as a CUDA graph)"; fi
    labels=()
    for m in ${AUTOTUNE_MODELS:-}; do labels+=("$m-autotune"); done
    for m in ${TF32_AUTOTUNE_MODELS:-}; do labels+=("$m-tf32-autotune"); done
    for label in "${labels[@]}"; do
      # each result's choice, in its batch size's order (Jackson writes "chosen" once per autotune object)
      awk -F' : ' -v m="$label" '/^ *"batch_size" :/ { gsub(/[ ,]/, "", $2); bs = $2 }
        /^ *"chosen" :/ { gsub(/^ *"|",?$/, "", $2); printf "(%s at %s: %s)\n", m, bs, $2 }' "$out/bench-$label.json" 2>/dev/null
    done
    echo
    echo "commands (run in $work):"
    for c in "${commands[@]}"; do echo "  $c"; done
  fi
  echo
  echo "result: $([[ $status == 0 ]] && echo PASS || echo FAIL)"
} | tee "$summary"
exit $status
