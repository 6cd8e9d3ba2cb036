#!/usr/bin/env bash
# Conversion-throughput benchmark of `augur prepare --format log` (not a test).
#   scripts/bench-prepare.sh                   10 million rows, 1 million users, 400,000 items
#   ROWS=1000000 scripts/bench-prepare.sh      a smaller log
#   REPEATS=5 scripts/bench-prepare.sh         five conversions (default 3); the JSON has the medians and every run
# Generates a deterministic behaviour log in $TMPDIR (BehaviourLogGenerator, kept between runs),
# converts it with T = 100 under /usr/bin/time -v, and writes docs/perf/prepare-<date>.json with
# rows/s (the converter's own clock, and the wall clock of the whole command including JVM start),
# the peak resident set size, the machine and the load average before and after. Run on an idle
# machine if you can: the figures are wall-clock throughput.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
rows="${ROWS:-10000000}"
users="${USERS:-1000000}"
items="${ITEMS:-400000}"
cates="${CATES:-1000}"
T="${T:-100}"
tmp="${TMPDIR:-/tmp}/augur-bench-prepare"
log="$tmp/log-$rows-$users-$items-$cates.csv"
out="$tmp/dataset"
stamp="$(date -u +%Y-%m-%d)"
mkdir -p "$tmp" docs/perf

# the launcher builds the jar when needed; the generator lives in the test classes
scripts/augur --version >/dev/null
if [[ ! -f "$log" ]]; then
  (mvn -q -B -o -Dstyle.color=never test-compile >/dev/null 2>&1 || mvn -q -B -Dstyle.color=never test-compile) >&2
  echo "[bench-prepare] generating $rows rows into $log" >&2
  java -cp "target/test-classes" io.augur.prepare.BehaviourLogGenerator "$log.part" "$rows" "$users" "$items" "$cates"
  mv "$log.part" "$log"
fi
bytes="$(stat -c %s "$log")"

repeats="${REPEATS:-3}"
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
cmd=(scripts/augur prepare --format log --input "$log" --out "$out" -T "$T")
conv_rates=(); wall_rates=(); walls=(); convs=(); rss=(); cpus=(); cpu_rates=()
for ((k = 1; k <= repeats; k++)); do
  rm -rf "$out"
  echo "[bench-prepare] run $k/$repeats: ${cmd[*]}" >&2
  start=$(date +%s.%N)
  /usr/bin/time -v "${cmd[@]}" >"$tmp/report.txt" 2>"$tmp/time.txt"
  end=$(date +%s.%N)
  wall="$(echo "$end - $start" | bc -l)"
  # the report's first line: "... N rows read, M written (...) in S s (R rows/s)"
  first="$(head -n1 "$tmp/report.txt")"
  written="$(echo "$first" | sed -n 's/.*rows read, \([0-9,]*\) written.*/\1/p' | tr -d ,)"
  convs+=("$(echo "$first" | sed -n 's/.* in \([0-9.]*\) s (.*/\1/p')")
  conv_rates+=("$(echo "$first" | sed -n 's/.*(\([0-9,]*\) rows\/s).*/\1/p' | tr -d ,)")
  walls+=("$(printf '%.2f' "$wall")")
  wall_rates+=("$(echo "$rows / $wall" | bc)")
  rss+=("$(( $(sed -n 's/.*Maximum resident set size (kbytes): *//p' "$tmp/time.txt") / 1024 ))")
  cpus+=("$(sed -n 's/.*Percent of CPU this job got: *//p' "$tmp/time.txt" | tr -d '%')")
  user_s="$(sed -n 's/.*User time (seconds): *//p' "$tmp/time.txt")"
  sys_s="$(sed -n 's/.*System time (seconds): *//p' "$tmp/time.txt")"
  cpu_rates+=("$(echo "$rows / ($user_s + $sys_s)" | bc)")
done
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"
cat "$tmp/report.txt" >&2

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
list() { local IFS=,; echo "[$*]"; }
java_version="$(java -version 2>&1 | head -n1 | tr -d '"')"
cpu_model="$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n1)"
file="docs/perf/prepare-$stamp.json"
cat >"$file" <<EOF
{
  "benchmark": "augur prepare --format log",
  "command": "REPEATS=$repeats scripts/bench-prepare.sh, which runs: ${cmd[*]}",
  "input": {"rows": $rows, "bytes": $bytes, "users": $users, "items": $items, "categories": $cates,
            "generator": "io.augur.prepare.BehaviourLogGenerator (time-ordered, users interleaved, Zipf items, seed 2026)"},
  "history_length": $T,
  "rows_written": ${written:-null},
  "repeats": $repeats,
  "median": {"converter_rows_per_s": $(median "${conv_rates[@]}"), "wall_rows_per_s": $(median "${wall_rates[@]}"),
             "converter_seconds": $(median "${convs[@]}"), "wall_seconds": $(median "${walls[@]}"),
             "peak_rss_mib": $(median "${rss[@]}"), "cpu_percent": $(median "${cpus[@]}"),
             "rows_per_cpu_second": $(median "${cpu_rates[@]}")},
  "runs": {"converter_rows_per_s": $(list "${conv_rates[@]}"), "wall_rows_per_s": $(list "${wall_rates[@]}"),
           "peak_rss_mib": $(list "${rss[@]}"), "cpu_percent": $(list "${cpus[@]}")},
  "note": "converter_rows_per_s is the converter's own clock (reading, vocabularies, sorting, negatives, writing); wall_rows_per_s is the whole command including JVM start and the build check; wall-clock figures depend on the load of other processes (see load_average_* and cpu_percent); rows_per_cpu_second is the converter's cost",
  "machine": {"cpus": $(nproc), "cpu": "$cpu_model", "java": "$java_version",
              "mem_gib": $(awk '/MemTotal/ {printf "%.0f", $2/1048576}' /proc/meminfo)},
  "load_average_before": "$load_before",
  "load_average_after": "$load_after",
  "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}
EOF
echo "[bench-prepare] wrote $file" >&2
cat "$file"
