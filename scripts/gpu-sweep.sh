#!/usr/bin/env bash
# Everything a short GPU session should measure, in one command from inside the bundle
# (scripts/dist.sh), within a time budget, its results packed into one file:
#
#   tar xJf augur-*.tar.xz && ./augur-*/scripts/gpu-sweep.sh "$OUT"
#
# In order, each step only if the budget (SWEEP_SECONDS, default 560) leaves it room, and only the
# parts named in PARTS (default: all of them, "check autotune tf32 nsys ncu torch sanitize variants"; a second
# call can pick up what the first one's budget left out, e.g. PARTS="tf32 nsys ncu"):
#   check     gpu-check.sh: the GPU parity tests, then base/din/dien at batch 128 and 2048 (+ DIN eager);
#   autotune  DIN at batch 128 and 2048 with --autotune: a short run under each value of each kernel
#             setting the step consults (PDL, the tower fused, its clusters and channels, the unit's
#             partial gradients, tiles, blocks and threads, the unit fused or layer by layer), one at a time on top of the best so
#             far, then the benchmark's runs under the settings chosen; what each setting is worth
#             on this device, for about a minute (the variants below measure the same settings one
#             full benchmark each); the choices go into tuning.json (--save-tuning), which the
#             parts after it (nsys, ncu) then run with (-Daugur.tuning), and which is the file to
#             commit as java/src/main/resources/io/augur/backend/cuda/tuning.json;
#   tf32      DIN with --precision tf32, with --precision tf32x3, with --resident-data, and with --precision tf32 --autotune
#             (the unit layer by layer puts its products on the TF32 tensor cores; its choices into
#             the same tuning.json);
#   nsys      Nsight Systems on short training runs, NSYS_RUNS (default "din:128 din:2048 dien:2048",
#             model:batch; profile.sh, SKIP_NCU=1): each kernel's time inside the replayed step graphs as they really run
#             (no cache flush, no serialisation, unlike ncu), the launch gaps, and Augur's NVTX
#             ranges (how long the host takes to issue a step, how long it waits for one); the
#             summary keeps the kernel and NVTX tables, the reports themselves are left out; a run
#             that makes no report (no nsys, or no QdstrmImporter for its .qdstrm) skips the rest;
#   ncu       Nsight Compute on one DIN training step at batch 128 and at 2048 (profile.sh,
#             NCU_SET=basic: each kernel's time, throughput and occupancy), then every section
#             (--set full: stall reasons, cache hit rates, shared-memory conflicts, the carveout the
#             driver chose) for the activation unit's launches: its forward and backward at batch 128
#             (ncu-unit128), its backward (or the _3blocks_ form) at 2048 (ncu-unit2048), and the fused
#             tower's five launches at 2048 (ncu-tower2048), each with the source page's warp samples per
#             SASS instruction (ncu-source.csv, ncu-source-top.txt: scripts/ncu_source_top.py); then the
#             basic sections of the tower's launches at 2048 with warm caches (ncu-tower-warm2048) and at 128
#             fused in clusters of 8 (ncu-tower128, fused there for the run); the reports left out;
#   torch     the PyTorch reference (scripts/torch_ref.py, the machine's python3 and its PyTorch) on the
#             same GPU and the same world as the benchmark (data/bench under AUGUR_WORK, generated if
#             the check part did not, exported to npy): first --selfcheck (the reference's values
#             against the golden scripts', under that PyTorch), then each of TORCH_RUNS (default
#             "din:eager din:compile dien:eager", model:mode, one process each at batch 128 and
#             2048, so a run cut short by the budget loses only itself) into torch-<model>-<mode>.json:
#             the records docs/PERFORMANCE.md's GPU table sets beside Augur's (PYTHON, default
#             python3; TORCH_ARGS, more torch_ref.py options, e.g. "--steps 100"; TORCH_DEVICE, default
#             cuda: cpu tries the part on a machine without a GPU);
#   sanitize  CudaOpsParityTest and CudaTowerParityTest under compute-sanitizer memcheck;
#   variants  DIN again with each of VARIANTS (JVM options, one run each; default, the newest
#             questions first: a step's batch copies in a launch before its graph, outside it (as before
#             2026-11-26's forty-third session, which put them in the graph's first launch; not yet timed);
#             the unit forward's products summed whole at batch 128 (as before the forty-second session's
#             split K; not yet timed); the lookups' backward in a launch of its own after the unit's reduce (as
#             before 2026-11-26's fortieth session, which put it in the reduce's launch; not yet timed);
#             at batch 128 the unit's forward tiles of 8 rows (286 tiles for 396 blocks, where 16 give 143:
#             the tile's copies and per-sample terms half as long, its products' walks the same; not yet timed);
#             at batch 128 the tower fused in clusters of 8, 16 and 4 blocks (see below); then the unit
#             backward's per-sample query sums (off by default since 2026-11-26, when
#             they lost by 4 and 7%); the activation unit's products on scalar tiles instead of vector tiles (float4 loads; the same bits,
#             fewer instructions, not yet timed); at batch 128, the unit's launches asking for the shared memory
#             of the planned 32-row tiles rather than of the 16-row tiles they run (less L1; as before
#             2026-11-25, not yet timed); at batch 2048, every tower launch at 4 channels a block (as before
#             the twenty-fourth session: the forwards then take 4 and 2 rounds of clusters, each staging the
#             input again, where the per-launch choice takes one round each; not yet timed); at batch 2048, the
#             tower's backwards staging the gradient from the layer above whole (as the twenty-fourth session
#             left them: the BatchNorm's in three rounds of clusters, the 200-wide layer's in two, where chunks
#             of 112 and 48 columns take one each; not yet timed); the activation unit layer by layer (whole-batch products); without programmatic dependent launch; the top tower layer by layer instead of
#             fused; the activation unit's partial gradients, or only dM3, in global memory (more L1
#             for the weights); its backward tiles of 16 rows; 128 threads a block (the tower's clusters
#             at 128: 16, 8 and 32 rows a block; the shipped table runs it layer by layer there, and fused
#             it had only been measured in clusters of 1, all 128 rows a block, which lost by 5 to 10%):
#             the alternatives to each default the code only reasons for. A variant OPTION@B[,B...] runs at those batch sizes only: the tiles of 16 rows at
#             2048 (at 128 they are the default), the tower's clusters at 128 (at 2048 clusters of 8 are
#             the default). OPTION+OPTION... is one variant of several options: a tower setting alone
#             changes nothing where the tower runs layer by layer, which consults none of them (the
#             variants -Daugur.tower.cluster=2@128 and =4@128 of 2026-11-26 measured the default
#             again). DIN's step at 2048 has no GEMM while the tower is fused, so the small GEMM's
#             settings are left to VARIANTS).
# Writes OUT/summary.txt (each step's table) and OUT/sweep.tar.xz (every step's folder: env.txt
# with nvidia-smi and the commands, the bench-*.json records, tests.log, the ncu tables, torch/). Copy the
# records into docs/perf/ as <date>-cuda-<model>[-<variant>].json and torch/'s as
# <date>-cuda-torch-<model>-<mode>.json, then run scripts/perf_report.py.
set -uo pipefail
b="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:?usage: gpu-sweep.sh OUTPUT_FOLDER}"
mkdir -p "$out" && out="$(cd "$out" && pwd)"
budget="${SWEEP_SECONDS:-560}"
res="$(mktemp -d)"
summary="$out/summary.txt"
# the autotune runs' choices (--save-tuning), OUT/tuning.json; TUNING names a table from an earlier call to
# start from (a device call's OUT starts empty: carry the first call's tuning.json into the second), copied
# into OUT so that what this call adds comes back
tuning="$out/tuning.json"
if [[ -n "${TUNING:-}" && "$TUNING" != "$tuning" ]]; then cp "$TUNING" "$tuning" || { echo "TUNING=$TUNING: cannot copy it" >&2; exit 2; }; fi
t0=$SECONDS
left() { echo $((budget - (SECONDS - t0))); }
# OUT/sweep.tar.xz again after each part, whole or not at all (a temporary file, then a rename): a
# call stopped before the end (the device lease's time running out under the call's limit) still
# brings back every part that finished, with summary.txt, which grows line by line
pack() { tar cJf "$out/sweep.tar.xz.part" -C "$res" . 2>/dev/null && mv -f "$out/sweep.tar.xz.part" "$out/sweep.tar.xz"; }
say() { echo "[gpu-sweep] $(date -u +%T) +$((SECONDS - t0))s: $*" | tee -a "$summary"; }
: >"$summary"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv 2>&1 | tee -a "$summary"

parts=" ${PARTS:-check autotune tf32 nsys ncu torch sanitize variants} "
want() { [[ "$parts" == *" $1 "* ]]; }

if want check; then
  say "gpu-check (tests and benchmarks)"
  timeout "$(( $(left) > 300 ? 300 : $(left) ))" "$b/scripts/gpu-check.sh" "$res/gc" >/dev/null 2>&1
  sed -n '/^tests:/,/^result:/p' "$res/gc/summary.txt" 2>/dev/null | grep -v '^  /' | tee -a "$summary"
fi
pack
if want autotune; then
  if (( $(left) >= 150 )); then
    say "DIN with --autotune"
    SKIP_TESTS=1 EAGER_MODELS= MODELS= AUTOTUNE_MODELS=din BENCH_ARGS=--profile TUNING_OUT="$tuning" timeout 200 \
      "$b/scripts/gpu-check.sh" "$res/autotune" 2>/dev/null | grep -E '^din|^\(din-autotune' | tee -a "$summary"
  else
    say "skipped: autotune"
  fi
fi
pack
if want tf32; then
  if (( $(left) >= 290 )); then
    say "DIN with --precision tf32, with --precision tf32x3, with --resident-data, and with --precision tf32 --autotune"
    SKIP_TESTS=1 EAGER_MODELS= MODELS= TF32_MODELS=din TF32X3_MODELS=din RESIDENT_MODELS=din TF32_AUTOTUNE_MODELS=din BENCH_ARGS=--profile TUNING_OUT="$tuning" timeout 270 \
      "$b/scripts/gpu-check.sh" "$res/tf32" 2>/dev/null | grep -E '^din|^\(din-tf32-autotune' | tee -a "$summary"
  else
    say "skipped: tf32 and resident"
  fi
fi
pack
# the profiles below under the settings the autotune runs chose, the variants under the built-in ones
profile_opts="${AUGUR_JAVA_OPTS:-}"
if [[ -s "$tuning" ]]; then profile_opts="$profile_opts -Daugur.tuning=$tuning"; fi
if want nsys; then
  nsys_failed=""
  for run in ${NSYS_RUNS:-din:128 din:2048 dien:2048}; do
    model="${run%%:*}" bs="${run##*:}"
    if (( $(left) < 100 )); then say "skipped: nsys, $model at batch $bs"; continue; fi
    # an nsys that made no report once (no nsys, or no importer for its .qdstrm) makes none the next
    # time either: the rest of the part's minutes go to the parts after it
    if [[ -n "$nsys_failed" ]]; then say "skipped: nsys, $model at batch $bs ($nsys_failed)"; continue; fi
    say "nsys, $model at batch $bs"
    SKIP_NCU=1 AUGUR_JAVA_OPTS="$profile_opts" timeout 90 "$b/scripts/profile.sh" "$res/nsys-$model$bs" --model "$model" --batch-size "$bs" >/dev/null 2>&1
    # the kernels (total, instances, average) and the NVTX ranges, as nsys stats printed them
    grep -E '_kernel|train step|wait for|fill batch|\(replay\)|\(eager\)' "$res/nsys-$model$bs/nsys-stats.txt" 2>/dev/null | head -40 | tee -a "$summary"
    # the replayed steps' timeline, launch by launch (what each adds to the step's span; the idle time between
    # replays), from the SQLite export that nsys stats left beside the report
    if [[ -s "$res/nsys-$model$bs/augur-nsys.sqlite" ]]; then
      python3 "$b/scripts/nsys_steps.py" "$res/nsys-$model$bs/augur-nsys.sqlite" >"$res/nsys-$model$bs/nsys-steps.txt" 2>&1
      grep -E '^graph:|^  span' "$res/nsys-$model$bs/nsys-steps.txt" | head -6 | tee -a "$summary"
    fi
    if [[ ! -s "$res/nsys-$model$bs/nsys-stats.txt" ]]; then
      nsys_failed="no report from the $model run at batch $bs"
      why="$(grep -E '^\[profile\] nsys' "$res/nsys-$model$bs/profile.log" 2>/dev/null | head -1 | sed 's/; whatever.*//')"
      say "$nsys_failed: ${why:-no word from profile.sh (cut off at 90 s?), see its profile.log in the pack}"
    fi
    rm -f "$res/nsys-$model$bs"/*.nsys-rep "$res/nsys-$model$bs"/*.sqlite "$res/nsys-$model$bs"/*.qdstrm
    pack
  done
fi
pack
if want ncu; then
  for bs in 128 2048; do
    if (( $(left) < 100 )); then say "skipped: ncu at batch $bs"; continue; fi
    say "ncu, DIN at batch $bs"
    SKIP_NSYS=1 NCU_SKIP=300 NCU_COUNT=30 NCU_SET=basic AUGUR_JAVA_OPTS="$profile_opts" timeout 90 "$b/scripts/profile.sh" "$res/ncu$bs" --batch-size "$bs" >/dev/null 2>&1
    grep '^"[0-9]' "$res/ncu$bs/profile.log" 2>/dev/null | awk -F'","' '{s += $12} END {printf "  %d kernels, %.1f us in all (gpu__time_duration)\n", NR, s}' | tee -a "$summary"
    rm -f "$res/ncu$bs"/*.ncu-rep
  done
  # every section for the unit's launches: at 128 the forward and the backward (is the warmed weights'
  # L1 there, and which carveout did the driver give the smaller requests: "Shared Memory Configuration
  # Size"), at 2048 the backward; 4 launches at 128 hold a forward and a backward of one step
  # Then the fused tower's five launches of one step at 2048 (ncu-tower2048): 181 us a step in call 4 of
  # 2026-11-26 for some 0.6 GFLOP, each launch 25 to 45 us even where a block has 256 rows of 4 channels.
  # Each with the source page (NCU_SOURCE=1): where the warps' samples fall, per SASS instruction.
  # Last, the same five tower launches with the caches as the launches before them left them (cache none), the basic
  # sections, no source page: against ncu-tower2048's (caches flushed before each) this says how much of each launch is a
  # cold start. Each tower kernel is 144 to 192 KB of code (9,000 to 12,000 SASS instructions), most of it run once a
  # launch, and a flush empties the instruction caches too; in the step's graph the L2 still holds that code.
  # Last of all, the tower fused in clusters of 8 at batch 128 (ncu-tower128; the shipped table runs it layer by
  # layer there): each of its five launches' time against the sixteen launches of the layers in ncu128.
  tower='^tower_(forward|backward)_cluster8_kernel$'
  for unit in "128 unit ^activation_unit_(forward(_split)?|backward(_3blocks)?)_kernel\$ 6 4 full all 1 -" \
              "2048 unit ^activation_unit_backward(_3blocks)?_kernel\$ 3 1 full all 1 -" \
              "2048 tower $tower 10 5 full all 1 -" "2048 tower-warm $tower 10 5 basic none 0 -" \
              "128 tower $tower 10 5 basic all 0 -Daugur.tower.fused=auto+-Daugur.tower.cluster=8"; do
    read -r bs what regex skip count set cache source opts <<<"$unit"
    [[ $opts == - ]] && opts="" || opts="${opts//+/ }"
    need=100; [[ $set == full ]] || need=60   # seconds left that the run needs
    if (( $(left) < need )); then say "skipped: ncu --set $set --cache-control $cache on the $what at batch $bs"; continue; fi
    say "ncu --set $set --cache-control $cache, the $what's kernels ($regex) at batch $bs"
    SKIP_NSYS=1 NCU_KERNEL="$regex" NCU_SKIP=$skip NCU_COUNT=$count NCU_SET=$set NCU_CACHE=$cache NCU_SOURCE=$source \
      AUGUR_JAVA_OPTS="$profile_opts${opts:+ $opts}" timeout 120 "$b/scripts/profile.sh" "$res/ncu-$what$bs" --batch-size "$bs" >/dev/null 2>&1
    grep -E '^ +[A-Za-z0-9_]+_kernel |^ +(Duration|Elapsed Cycles|SM Active Cycles|Achieved Occupancy|L1/TEX Hit Rate|L2 Hit Rate|Executed Ipc Active|Registers Per Thread|Dynamic Shared Memory Per Block|Shared Memory Configuration Size) ' \
      "$res/ncu-$what$bs/ncu-details.txt" 2>/dev/null | sed -E 's/, Context .*//; s/^ +([A-Za-z0-9_]+_kernel )/\1/; s/^ +/  /' | tee -a "$summary"
    grep -E '^== |^   (samples|by opcode):' "$res/ncu-$what$bs/ncu-source-top.txt" 2>/dev/null | tee -a "$summary"
    rm -f "$res/ncu-$what$bs"/*.ncu-rep
  done
fi
pack
if want torch; then
  py="${PYTHON:-python3}" tdev="${TORCH_DEVICE:-cuda}" tdir="$res/torch"
  mkdir -p "$tdir"
  tlog="$tdir/torch.log"
  twork="${AUGUR_WORK:-$b/work}"
  data="$twork/data/bench" npy="$twork/data/bench-npy"
  read -r -a targs <<<"${TORCH_ARGS:-}"
  if ! "$py" -c 'import sys, numpy, torch
print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())
sys.exit(0 if sys.argv[1] == "cpu" or torch.cuda.is_available() else 1)' "$tdev" >>"$tlog" 2>&1; then
    say "skipped: torch ($py: no numpy, no PyTorch, or no GPU for it; torch/torch.log)"
  elif (( $(left) < 90 )); then
    say "skipped: torch"
  else
    say "the PyTorch reference on the same world ($(head -1 "$tlog"))"
    mkdir -p "$twork/data"
    if [[ ! -f "$data/dataset.json" ]]; then
      printf '$ %s\n' "augur generate --preset bench --out $data" >>"$tlog"
      "$b/bin/augur" generate --preset bench --out "$data" >>"$tlog" 2>&1
    fi
    printf '$ %s\n' "augur export --format npy --data $data --out $npy --splits train,valid" >>"$tlog"
    rm -rf "$npy"
    "$b/bin/augur" export --format npy --data "$data" --out "$npy" --splits train,valid >>"$tlog" 2>&1
    (cd "$b/scripts" && timeout 60 "$py" torch_ref.py --selfcheck) >"$tdir/selfcheck.txt" 2>&1
    echo "  selfcheck: $(tail -1 "$tdir/selfcheck.txt")" | tee -a "$summary"
    # the records name the bundle's commit, as Augur's do
    AUGUR_BUILD_COMMIT="$(awk '/^commit:/ { print substr($2, 1, 10) (/uncommitted/ ? "+dirty" : "") }' "$b/BUILD.txt" 2>/dev/null)"
    export AUGUR_BUILD_COMMIT
    for run in ${TORCH_RUNS:-din:eager din:compile dien:eager}; do
      model="${run%%:*}" mode="${run##*:}"
      if (( $(left) < 60 )); then say "skipped: torch, $model $mode"; continue; fi
      tcmd=("$py" "$b/scripts/torch_ref.py" --device "$tdev" --data "$npy" --models "$model" --modes "$mode"
            --batch-sizes 128,2048 --repeats 3 "${targs[@]}" --out "$tdir/torch-$model-$mode.json")
      printf '$ %s\n' "${tcmd[*]}" >>"$tlog"
      # its table (stdout) beside the record; its progress (stderr) into the log
      timeout "$(( $(left) - 20 > 180 ? 180 : $(left) - 20 ))" "${tcmd[@]}" >"$tdir/torch-$model-$mode.txt" 2>>"$tlog"
      rc=$?
      printf '[exit %d]\n' "$rc" >>"$tlog"
      if (( rc != 0 )); then
        echo "  torch $model $mode: exit $rc$( ((rc == 124)) && echo ', cut short by the budget'); torch/torch.log" | tee -a "$summary"
      fi
      # the record's results, whole or (torch_ref.py writes it after each result) what finished before a stop
      "$py" - "$tdir/torch-$model-$mode.json" <<'PY' 2>&1 | tee -a "$summary"
import json, sys
try:
    rec = json.load(open(sys.argv[1]))
except (OSError, ValueError):
    rec = {}
for r in rec.get("results", []):
    sps = r.get("train_samples_per_s")
    print("  torch %-8s %-6s %6d %s" % (r["mode"], r["model"], r["batch_size"], "{:,.0f} samples/s".format(sps) if sps else "skipped: " + str(r.get("skipped"))))
if rec.get("complete") is not True:
    print("  (%d results kept in the record)" % len(rec.get("results", [])))
PY
    done
    rm -rf "$npy"
  fi
fi
pack
if want sanitize; then
  if (( $(left) >= 60 )); then
    say "compute-sanitizer memcheck: CudaOpsParityTest, CudaTowerParityTest"
    SKIP_TESTS=1 SKIP_BENCH=1 SANITIZE_CLASSES="io.augur.backend.cuda.CudaOpsParityTest io.augur.backend.cuda.CudaTowerParityTest" timeout "$(( $(left) - 20 ))" \
      "$b/scripts/gpu-check.sh" "$res/san" 2>/dev/null | grep 'compute-sanitizer' | tee -a "$summary"
  else
    say "skipped: compute-sanitizer"
  fi
fi
pack
if want variants; then
  if [[ -n "${VARIANTS+x}" ]]; then read -r -a variants <<<"$VARIANTS"
  # the newest questions first, as the budget may end the list: the lookups' backward in its own launch again, the fused tower's clusters at 128
  else variants=(-Daugur.cuda.stepInputs=before -Daugur.attention.splitK=off@128 -Daugur.attention.reduceGathers=off -Daugur.attention.rowsForward=8@128 -Daugur.tower.fused=auto+-Daugur.tower.cluster=8@128 -Daugur.tower.fused=auto+-Daugur.tower.cluster=16@128 -Daugur.tower.fused=auto+-Daugur.tower.cluster=4@128 -Daugur.attention.querySums=auto -Daugur.attention.vectorTiles=off -Daugur.attention.rowGroups=1 -Daugur.attention.sharedAsPlanned=true@128 -Daugur.tower.cols=4@2048 -Daugur.tower.chunk=all@2048 -Daugur.attention.fused=off -Daugur.cuda.pdl=off -Daugur.tower.fused=off -Daugur.attention.partialsOnChip=false -Daugur.attention.dm3OnChip=false -Daugur.attention.rowsBackward=16@2048 -Daugur.attention.threads=128); fi
  i=0
  for spec in "${variants[@]}"; do
    i=$((i + 1))
    v="${spec%@*}" vb=""   # OPTION@B[,B...]: that option at those batch sizes only
    if [[ "$spec" == *@* ]]; then vb="${spec##*@}"; fi
    v="${v//+/ }"          # OPTION+OPTION: several options in one variant
    if (( $(left) < 100 )); then say "skipped: $spec"; continue; fi
    say "DIN with $v${vb:+ at batch $vb}"
    SKIP_TESTS=1 EAGER_MODELS= MODELS=din BATCHES="${vb:-${BATCHES:-128,2048}}" BENCH_ARGS=--profile AUGUR_JAVA_OPTS="$v" timeout 90 \
      "$b/scripts/gpu-check.sh" "$res/v$i" 2>/dev/null | grep '^din ' | tee -a "$summary"
    echo "$v" >"$res/v$i/variant.txt"
    pack
  done
fi
pack && rm -rf "$res"
say "done: $out/summary.txt, $out/sweep.tar.xz"
