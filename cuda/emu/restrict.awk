# Used by scripts/build-emulator.sh: the kernels' __restrict__ parameters, for the driver's aliasing check
# (cuda/emu/README.md).
# Prints "name kinds" for every AUGUR_KERNEL signature: per parameter w (a __restrict__ pointer
# written through), r (a const __restrict__ pointer) or - (anything else).
function emit(sig,   name, params, n, parts, i, p, k, kinds) {
  gsub(/__launch_bounds__\([^)]*\)/, "", sig)
  match(sig, /[A-Za-z_][A-Za-z0-9_]*[ \t]*\(/)
  name = substr(sig, RSTART, RLENGTH)
  sub(/[ \t]*\($/, "", name)
  params = substr(sig, RSTART + RLENGTH)
  sub(/\)[^)]*$/, "", params)
  n = split(params, parts, ",")
  kinds = ""
  for (i = 1; i <= n; i++) {
    p = parts[i]
    if (p ~ /__restrict__/ && p ~ /\*/) k = (p ~ /const[ \t]/ ? "r" : "w"); else k = "-"
    kinds = kinds k
  }
  if (params ~ /^[ \t]*$/) kinds = ""
  print name, kinds
}
/AUGUR_KERNEL[ \t]+void/ { collecting = 1; sig = "" }
collecting {
  line = $0
  sub(/\/\/.*$/, "", line)
  sig = sig " " line
  if (index(line, "{") > 0) { sub(/\{.*$/, "", sig); sub(/^.*AUGUR_KERNEL[ \t]+void/, "", sig); emit(sig); collecting = 0 }
}
