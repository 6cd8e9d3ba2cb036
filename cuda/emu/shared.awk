# Used by scripts/build-emulator.sh on every kernel source: a line `__shared__ T a[N], b;` becomes
# `static T a[N], b; augur_emu::fresh_shared(&a, sizeof(a)); augur_emu::fresh_shared(&b, sizeof(b));`
# (on the same line, so line numbers stay). The statics are what a block's threads share here;
# fresh_shared fills each with 0xff bytes (NaN, -1) the first time a block passes its declaration,
# as a GPU's shared memory holds garbage, not the previous block's values. `extern __shared__`
# lines and anything else pass through unchanged.
/^[ \t]*__shared__[ \t]+[A-Za-z_][A-Za-z0-9_:]*[ \t]+[^;]*;[ \t]*(\/\/.*)?$/ {
  line = $0
  comment = ""
  if (match(line, /;[ \t]*\/\/.*$/)) { comment = substr(line, RSTART + 1); line = substr(line, 1, RSTART) }
  sub(/__shared__/, "static", line)
  decl = line
  sub(/^[ \t]*static[ \t]+[A-Za-z_][A-Za-z0-9_:]*[ \t]+/, "", decl)
  sub(/;[ \t]*$/, "", decl)
  n = split(decl, parts, ",")
  calls = ""
  for (i = 1; i <= n; i++) {
    name = parts[i]
    sub(/^[ \t]*/, "", name)
    match(name, /^[A-Za-z_][A-Za-z0-9_]*/)
    name = substr(name, RSTART, RLENGTH)
    calls = calls " augur_emu::fresh_shared(&" name ", sizeof(" name "));"
  }
  print line calls comment
  next
}
{ print }
