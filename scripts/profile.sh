#!/usr/bin/env bash
# Profiles a short DIN training run on the GPU with Nsight Systems and Nsight Compute, from the
# bundle (scripts/dist.sh) or from a source checkout after `mvn package`:
#
#   scripts/profile.sh OUTPUT_FOLDER [extra `augur train` flags, e.g. --model base --batch-size 2048]
#
# The run: a small world of the benchmark shape (T = 100; 3,000 users) generated into
# $AUGUR_WORK (default: <bundle>/work), one epoch of `augur train --device cuda`.
#   nsys  --trace=cuda,nvtx,osrt: the timeline (launch gaps, copy/compute overlap on the two
#         streams, and Augur's NVTX ranges in the domain "augur": epochs, steps with their load,
#         forward, backward and update, graph capture and replay, waits, batch fills), then
#         `nsys stats` for the kernel, memcpy, API and NVTX summaries;
#         --cuda-graph-trace=node: training replays each step as a CUDA graph, which nsys by
#         default (graph) records as one range without the kernels inside it, so the kernel
#         summary would show only the eager first steps;
#   ncu   --clock-control none (the card's clocks as found: the numbers match the benchmark's, and
#         the card's settings are left alone), only our kernels (every name ends in _kernel),
#         NCU_SKIP launches skipped past the warm-up (default 300), NCU_COUNT profiled (default 30),
#         NCU_SET sections (default full), source correlation through -lineinfo; NCU_KERNEL, a
#         regular expression, narrows the kernels (skip and count then count its launches alone);
#         NCU_SOURCE=1 also writes the source page, per SASS instruction with its warp-state samples
#         (ncu-source.csv), and scripts/ncu_source_top.py's summary of it (ncu-source-top.txt);
#         NCU_CACHE=none profiles each launch with the caches as the launches before left them
#         (default all: flushed before each, ncu's default), which tells what a cold start costs it.
# Writes into OUTPUT_FOLDER: augur-nsys.nsys-rep (or the .qdstrm when the report cannot be made),
# nsys-stats.txt, augur-ncu.ncu-rep, ncu-details.txt, profile.log (every command and its output).
# The tools are looked up on PATH, then in /usr/local/cuda/bin and /opt/nvidia/nsight-*; set NSYS,
# QDSTRM_IMPORTER (nsys's importer of its raw .qdstrm) or NCU to choose. SKIP_NSYS=1 or SKIP_NCU=1
# leaves one out.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:?usage: profile.sh OUTPUT_FOLDER [augur train flags]}"
shift
mkdir -p "$out" && out="$(cd "$out" && pwd)"
if [[ -x "$here/bin/augur" ]]; then augur="$here/bin/augur"; else augur="$here/scripts/augur"; fi
work="${AUGUR_WORK:-$here/work}"
mkdir -p "$work"
log="$out/profile.log"
: >"$log"
status=0

find_tool() { # name, then glob patterns of install folders
  local name="$1"; shift
  if command -v "$name" >/dev/null; then command -v "$name"; return; fi
  local p
  for p in /usr/local/cuda/bin/"$name" "$@"; do
    [[ -x "$p" ]] && { echo "$p"; return; }
  done
  return 1
}
run() {
  printf '$ %s\n' "$*" | tee -a "$log"
  "$@" >>"$log" 2>&1
  local rc=$?
  printf '[exit %d]\n\n' "$rc" >>"$log"
  return $rc
}

data="$work/data/profile"
if [[ ! -f "$data/dataset.json" ]]; then
  (cd "$work" && run "$augur" generate --preset bench --users 3000 --out "$data") || { echo "generate failed, see $log"; exit 1; }
fi
train=("$augur" train --device cuda --data "$data" --epochs 1 --patience 1 "$@")

if [[ "${SKIP_NSYS:-0}" != 1 ]]; then
  shopt -s nullglob
  nsys="${NSYS:-$(find_tool nsys /opt/nvidia/nsight-systems*/bin/nsys /opt/nvidia/nsight-systems/*/bin/nsys \
    /usr/local/cuda/nsight-systems*/bin/nsys /opt/nvidia/nsight-compute/*/host/target-linux-x64/nsys)}"
  shopt -u nullglob
  if [[ -z "$nsys" ]]; then
    echo "[profile] nsys not found (set NSYS)" | tee -a "$log"; status=1
  else
    # nsys writes its raw .qdstrm, then turns it into the .nsys-rep with QdstrmImporter from Nsight
    # Systems' host folder, looked up on PATH; a CLI without that folder beside it (the copy of nsys
    # inside Nsight Compute, the only one on the lent H200s) leaves the .qdstrm alone. QDSTRM_IMPORTER
    # chooses one; else it is looked for beside nsys and in the usual install folders.
    shopt -s nullglob
    importer="${QDSTRM_IMPORTER:-$(find_tool QdstrmImporter "$(dirname "$nsys")/QdstrmImporter" \
      "$(dirname "$nsys")"/../host-linux-x64/QdstrmImporter /usr/lib/nsight-systems/host-linux-x64/QdstrmImporter \
      /opt/nvidia/nsight-systems*/host-linux-x64/QdstrmImporter /opt/nvidia/nsight-systems/*/host-linux-x64/QdstrmImporter /usr/local/cuda*/nsight-systems*/host-linux-x64/QdstrmImporter \
      /opt/nvidia/nsight-compute/*/host/*/QdstrmImporter)}"
    shopt -u nullglob
    if [[ -n "$importer" ]]; then
      echo "[profile] QdstrmImporter: $importer" >>"$log"
      export PATH="$PATH:$(dirname "$importer")"
    fi
    rm -f "$out/augur-nsys.qdstrm" "$out/augur-nsys.nsys-rep"
    (cd "$work" && run "$nsys" profile --trace=cuda,nvtx,osrt --cuda-graph-trace=node --sample=none --cpuctxsw=none --force-overwrite=true \
      --output "$out/augur-nsys" "${train[@]}" --out "$work/runs/nsys") || status=1
    if [[ ! -f "$out/augur-nsys.nsys-rep" && -f "$out/augur-nsys.qdstrm" && -n "$importer" ]]; then
      # by hand when nsys did not call it itself; its libraries sit beside it
      LD_LIBRARY_PATH="$(dirname "$importer")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
        run "$importer" --input-file "$out/augur-nsys.qdstrm" --output-file "$out/augur-nsys.nsys-rep" || status=1
    fi
    if [[ -f "$out/augur-nsys.nsys-rep" ]]; then
      run "$nsys" stats --force-export=true --report cuda_gpu_kern_sum,cuda_gpu_mem_time_sum,cuda_api_sum \
        --output - "$out/augur-nsys.nsys-rep" >/dev/null
      # Augur's NVTX ranges (domain augur: steps, graph replays, batch fills, waits), on their own:
      # an nsys that names the report otherwise fails this one alone
      run "$nsys" stats --report nvtx_sum --output - "$out/augur-nsys.nsys-rep" >/dev/null || true
      sed -n '/nsys stats/,$p' "$log" >"$out/nsys-stats.txt"
    else
      echo "[profile] nsys made no report$([[ -z "$importer" ]] && echo ' (no QdstrmImporter found; set QDSTRM_IMPORTER)'); whatever it left is in $out (a .qdstrm can be imported with QdstrmImporter elsewhere)" | tee -a "$log"
      status=1
    fi
  fi
fi

if [[ "${SKIP_NCU:-0}" != 1 ]]; then
  shopt -s nullglob
  ncu="${NCU:-$(find_tool ncu /opt/nvidia/nsight-compute/*/ncu /usr/local/cuda/nsight-compute*/ncu)}"
  shopt -u nullglob
  if [[ -z "$ncu" ]]; then
    echo "[profile] ncu not found (set NCU)" | tee -a "$log"; status=1
  else
    (cd "$work" && run "$ncu" --clock-control none --cache-control "${NCU_CACHE:-all}" --target-processes all \
      --kernel-name-base function --kernel-name "regex:${NCU_KERNEL:-_kernel\$}" \
      --launch-skip "${NCU_SKIP:-300}" --launch-count "${NCU_COUNT:-30}" \
      --set "${NCU_SET:-full}" --import-source yes --force-overwrite \
      --export "$out/augur-ncu" "${train[@]}" --out "$work/runs/ncu") || status=1
    if [[ -f "$out/augur-ncu.ncu-rep" ]]; then
      "$ncu" --import "$out/augur-ncu.ncu-rep" --page details >"$out/ncu-details.txt" 2>>"$log" || status=1
      "$ncu" --import "$out/augur-ncu.ncu-rep" --page raw --csv \
        --metrics gpu__time_duration.sum,sm__throughput.avg.pct_of_peak_sustained_elapsed,dram__throughput.avg.pct_of_peak_sustained_elapsed \
        2>>"$log" | tee -a "$log" | head -40
      if [[ "${NCU_SOURCE:-0}" == 1 ]]; then
        if "$ncu" --import "$out/augur-ncu.ncu-rep" --page source --csv --print-source sass >"$out/ncu-source.csv" 2>>"$log"; then
          python3 "$here/scripts/ncu_source_top.py" "$out/ncu-source.csv" >"$out/ncu-source-top.txt" 2>>"$log" || status=1
        else
          echo "[profile] ncu's source page failed (see $log)" | tee -a "$log"; status=1
        fi
      fi
    else
      echo "[profile] ncu made no report" | tee -a "$log"; status=1
    fi
  fi
fi
echo "[profile] $([[ $status == 0 ]] && echo done || echo 'finished with errors'); see $log"
exit $status
