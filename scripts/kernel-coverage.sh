#!/usr/bin/env bash
# Which lines of the kernels (cuda/*.cu and *.cuh) the emulated GPU tests run: the CPU emulator of
# the driver (cuda/emu) built with gcov's counters into target/cuda-emu-gcov, the surefire
# execution gpu-emulated run against it, then gcov over the kernels' translation unit. Prints, per
# source file, the share of its lines that ran, and every line that ran in no test, with its text:
# a branch of a kernel that no parity test reaches (KernelCoverageTest only checks that each
# kernel ran at all). Not part of CI (about 5 minutes on 2 cores). Extra arguments go to Maven,
# e.g. -Dtest=CudaOpsParityTest. A line inside a template counts as run when any instantiation ran it.
# With BRANCHES=1 it also lists the lines holding a branch that went one way only in every
# instantiation (gcov -b): an error path or an edge case (no counted row, a bad id) that no test
# takes. Some are noise: the null check of an inlined helper whose callers always pass a pointer.
#
#   [BRANCHES=1] scripts/kernel-coverage.sh [mvn arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
dir="$PWD/target/cuda-emu-gcov"
command -v gcov >/dev/null || { echo "kernel-coverage.sh: gcov is not on PATH (it comes with g++)" >&2; exit 2; }
AUGUR_EMU_GCOV=1 scripts/build-emulator.sh "$dir"
rm -f "$dir"/src/*.gcda
mvn -B -q test-compile -Daugur.skipEmulator=true
mvn -B surefire:test@gpu-emulated -Daugur.emulator.dir="$dir" "$@" | grep -E '^\[(INFO|WARNING|ERROR)\] (Tests run|BUILD)' || true
out="$(mktemp -d)"
(cd "$out" && gcov -b -o "$dir/src" "$dir/src/kernels.cpp" >/dev/null)
python3 - "$out" "$PWD/cuda" "${BRANCHES:-0}" <<'PY'
import collections, os, re, sys
out, cuda, branches = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
branch = re.compile(r"^branch\s+(\d+)\s+(never executed|taken (\d+))")
line = re.compile(r"^\s*([^:]+):\s*(\d+):(.*)$")
total_run = total = 0
report = []
for name in sorted(os.listdir(cuda)):
    g = os.path.join(out, name + ".gcov")
    if not (name.endswith(".cu") or name.endswith(".cuh")) or not os.path.exists(g):
        continue
    ran, missed, text = set(), set(), {}
    taken = collections.defaultdict(lambda: collections.defaultdict(bool))   # line -> branch -> taken in some instantiation
    current = None
    for l in open(g, encoding="utf-8", errors="replace"):
        b = branch.match(l)
        if b:
            if current is not None:
                taken[current][int(b.group(1))] |= b.group(3) is not None and int(b.group(3)) > 0
            continue
        m = line.match(l)
        if not m:
            continue
        count, n = m.group(1).strip(), int(m.group(2))
        current = n if n > 0 else current
        if n == 0 or count == "-":
            continue
        text.setdefault(n, m.group(3))
        (missed if count.startswith("#####") or count.startswith("=====") else ran).add(n)
    never = sorted(missed - ran)
    lines = len(ran | missed)
    total_run += lines - len(never)
    total += lines
    one_way = sorted(n for n, bs in taken.items() if n in ran and not all(bs.values()))
    report.append((name, lines, never, text, one_way))
print(f"{'file':32s} {'lines run':>14s}")
for name, lines, never, _, _ in report:
    print(f"{name:32s} {lines - len(never):>6d}/{lines:<6d}{100 * (lines - len(never)) / max(1, lines):5.1f}%")
print(f"{'all':32s} {total_run:>6d}/{total:<6d}{100 * total_run / max(1, total):5.1f}%")
for name, _, never, text, one_way in report:
    for n in never:
        print(f"never ran: cuda/{name}:{n}: {text[n].strip()}")
    for n in one_way if branches else []:
        print(f"a branch one way only: cuda/{name}:{n}: {text[n].strip()}")
PY
rm -rf "$out"
