#!/usr/bin/env bash
# A device diagnostic (2026-11-26): the activation unit's parity tests under several settings, racecheck on one case.
# Run from the repository root on the device machine, with the bundle and the libdw/libelf debs in .bundle/:
#   bash scripts/device-diag-unit.sh $OUT   (SAN_TOOLS="racecheck synccheck memcheck" for more sanitizers)
set -u
OUT_DIR="$1"; out=/tmp/diag; mkdir -p /tmp/b /tmp/dw $out
[ -d /tmp/b/augur-* ] 2>/dev/null || tar xJf .bundle/augur-*.tar.xz -C /tmp/b
for f in .bundle/*.deb; do dpkg -x "$f" /tmp/dw; done
b=$(ls -d /tmp/b/augur-*)
t0=$SECONDS
run() {  # label, java opts, extra launcher args
  local label="$1" opts="$2"; shift 2
  AUGUR_JAVA_OPTS="$opts" CUDA_LAUNCH_BLOCKING=1 timeout 150 "$b/bin/augur-test" --disable-ansi-colors --select-class io.augur.backend.cuda.CudaOpsParityTest "$@" >"$out/diag-$label.log" 2>&1
  echo "== $label ($opts) rc=$? +$((SECONDS-t0))s: $(grep -E 'tests (successful|failed)' "$out/diag-$label.log" | tr -s ' ' | tr '\n' ' ')"
  grep -E '✘' "$out/diag-$label.log" | head -8 | cut -c1-230
}
M='.*activationUnit.*'
run default "" --include-methodname "$M"
run rf64 "-Daugur.attention.rowsForward=64" --include-methodname "$M"
run rf64-nosums "-Daugur.attention.rowsForward=64 -Daugur.attention.querySums=off" --include-methodname "$M"
run rf64-scalar "-Daugur.attention.rowsForward=64 -Daugur.attention.vectorTiles=off" --include-methodname "$M"
run rf64-rb32 "-Daugur.attention.rowsForward=64 -Daugur.attention.rowsBackward=32" --include-methodname "$M"
run rf32 "-Daugur.attention.rowsForward=32" --include-methodname "$M"
run nosums "-Daugur.attention.querySums=off" --include-methodname "$M"
for tool in ${SAN_TOOLS:-racecheck}; do
  AUGUR_JAVA_OPTS="-Daugur.cuda.separateAllocations=true" timeout 150 compute-sanitizer --tool $tool --print-limit 20 --error-exitcode 99 \
    "$b/bin/augur-test" --disable-ansi-colors --select-class io.augur.backend.cuda.CudaOpsParityTest --include-methodname '.*activationUnitWithForwardTilesOfManyRows.*' >"$out/diag-san-$tool.log" 2>&1
  echo "== sanitizer $tool rc=$? +$((SECONDS-t0))s: $(grep -E 'ERROR SUMMARY|tests (successful|failed)' "$out/diag-san-$tool.log" | tr -s ' ' | tr '\n' ' ')"
  grep -E 'Race|Error|Invalid|Barrier' "$out/diag-san-$tool.log" | head -6 | cut -c1-230
done
echo "diag done +$((SECONDS-t0))s"; tar cJf "$OUT_DIR/diag.tar.xz" -C /tmp diag
