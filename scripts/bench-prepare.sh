#!/usr/bin/env bash
# Conversion-throughput benchmark of `augur prepare --format log` (not a test).
#   scripts/bench-prepare.sh                   10 million rows, 1 million users, 400,000 items
#   ROWS=1000000 scripts/bench-prepare.sh      a smaller log
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

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
rm -rf "$out"
cmd=(scripts/augur prepare --format log --input "$log" --out "$out" -T "$T")
echo "[bench-prepare] ${cmd[*]}" >&2
start=$(date +%s.%N)
/usr/bin/time -v "${cmd[@]}" >"$tmp/report.txt" 2>"$tmp/time.txt"
end=$(date +%s.%N)
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"
cat "$tmp/report.txt" >&2

wall="$(echo "$end - $start" | bc -l)"
rss_kb="$(sed -n 's/.*Maximum resident set size (kbytes): *//p' "$tmp/time.txt")"
cpu_pct="$(sed -n 's/.*Percent of CPU this job got: *//p' "$tmp/time.txt" | tr -d '%')"
# the report's first line: "... N rows read, ... in S s (R rows/s)"
first="$(head -n1 "$tmp/report.txt")"
conv_s="$(echo "$first" | sed -n 's/.* in \([0-9.]*\) s (.*/\1/p')"
conv_rate="$(echo "$first" | sed -n 's/.*(\([0-9,]*\) rows\/s).*/\1/p' | tr -d ,)"
written="$(echo "$first" | sed -n 's/.*rows read, \([0-9,]*\) written.*/\1/p' | tr -d ,)"
wall_rate="$(echo "$rows / $wall" | bc)"
java_version="$(java -version 2>&1 | head -n1 | tr -d '"')"
user_s="$(sed -n 's/.*User time (seconds): *//p' "$tmp/time.txt")"
sys_s="$(sed -n 's/.*System time (seconds): *//p' "$tmp/time.txt")"
cpu_rate="$(echo "$rows / ($user_s + $sys_s)" | bc)"
cpu_model="$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n1)"
file="docs/perf/prepare-$stamp.json"
cat >"$file" <<EOF
{
  "benchmark": "augur prepare --format log",
  "command": "${cmd[*]}",
  "input": {"rows": $rows, "bytes": $bytes, "users": $users, "items": $items, "categories": $cates,
            "generator": "io.augur.prepare.BehaviourLogGenerator (time-ordered, users interleaved, Zipf items, seed 2026)"},
  "history_length": $T,
  "rows_written": ${written:-null},
  "converter_seconds": ${conv_s:-null},
  "converter_rows_per_s": ${conv_rate:-null},
  "wall_seconds": $(printf '%.2f' "$wall"),
  "wall_rows_per_s": $wall_rate,
  "peak_rss_mib": $(echo "$rss_kb / 1024" | bc),
  "cpu_percent": ${cpu_pct:-null},
  "cpu_seconds": {"user": $user_s, "system": $sys_s},
  "rows_per_cpu_second": $cpu_rate,
  "note": "wall-clock figures depend on the load of other processes sharing the cores (see load_average_* and cpu_percent: below 200% the job waited for a core); rows_per_cpu_second is the converter's cost",
  "machine": {"cpus": $(nproc), "cpu": "$cpu_model", "java": "$java_version",
              "mem_gib": $(awk '/MemTotal/ {printf "%.0f", $2/1048576}' /proc/meminfo)},
  "load_average_before": "$load_before",
  "load_average_after": "$load_after",
  "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}
EOF
echo "[bench-prepare] wrote $file" >&2
cat "$file"
