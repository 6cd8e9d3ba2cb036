# Used by scripts/build-emulator.sh: the kernels' __restrict__ parameters, for the driver's aliasing check
# (cuda/emu/README.md), and their cluster sizes.
# Prints "name kinds cluster" for every AUGUR_KERNEL signature: per parameter w (a __restrict__
# pointer written through), r (a const __restrict__ pointer) or - (anything else); then the
# blocks per cluster its AUGUR_CLUSTER(n) declares, or 1. A parameter list may be one macro
# (`#define NAME_PARAMS ...`, continued with backslashes) defined earlier in the sources.
function emit(sig,   name, params, n, parts, i, p, k, kinds, cluster) {
  gsub(/__launch_bounds__\([^)]*\)/, "", sig)
  cluster = 1
  if (match(sig, /AUGUR_CLUSTER\([ \t]*[0-9]+[ \t]*\)/)) {
    cluster = substr(sig, RSTART, RLENGTH)
    gsub(/[^0-9]/, "", cluster)
    gsub(/AUGUR_CLUSTER\([^)]*\)/, "", sig)
  }
  match(sig, /[A-Za-z_][A-Za-z0-9_]*[ \t]*\(/)
  name = substr(sig, RSTART, RLENGTH)
  sub(/[ \t]*\($/, "", name)
  params = substr(sig, RSTART + RLENGTH)
  sub(/\)[^)]*$/, "", params)
  p = params
  gsub(/[ \t]/, "", p)
  if (p in defines) params = defines[p]
  n = split(params, parts, ",")
  kinds = ""
  for (i = 1; i <= n; i++) {
    p = parts[i]
    if (p ~ /__restrict__/ && p ~ /\*/) k = (p ~ /const[ \t]/ ? "r" : "w"); else k = "-"
    kinds = kinds k
  }
  if (params ~ /^[ \t]*$/) kinds = ""
  print name, kinds, cluster
}
# `#define NAME_PARAMS ...` with its continuation lines: a kernel's parameter list as a macro
/^#define[ \t]+[A-Z0-9_]+_PARAMS([ \t]|$)/ { defining = $2; defines[defining] = ""; line = $0; sub(/^#define[ \t]+[A-Z0-9_]+_PARAMS/, "", line) }
defining != "" {
  if ($0 !~ /^#define/) line = $0
  cont = line ~ /\\[ \t]*$/
  sub(/\\[ \t]*$/, "", line)
  defines[defining] = defines[defining] " " line
  if (!cont) defining = ""
  next
}
/AUGUR_KERNEL[ \t]+void/ { collecting = 1; sig = "" }
collecting {
  line = $0
  sub(/\/\/.*$/, "", line)
  sig = sig " " line
  if (index(line, "{") > 0) { sub(/\{.*$/, "", sig); sub(/^.*AUGUR_KERNEL[ \t]+void/, "", sig); emit(sig); collecting = 0 }
}
