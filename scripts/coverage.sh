#!/usr/bin/env bash
# Line and branch coverage of the test suite (JaCoCo), per package, for finding code that no test
# reaches; not part of CI. Runs `mvn test` with JaCoCo's agent in the test JVMs (the surefire
# executions default-test, gpu-emulated and kernel-coverage), then writes target/site/jacoco
# (index.html, jacoco.xml, jacoco.csv) and prints a table per package and the classes with the most
# lines missed. JVMs that the tests start themselves (GpuTesting.emulatedJvm, the `augur` processes
# of the CLI tests) run without the agent, so what only they reach counts as missed. Needs Maven
# Central for the plugin on its first run.
#
#   scripts/coverage.sh [extra mvn arguments, e.g. -Dtest=CudaOpsParityTest]
set -euo pipefail
cd "$(dirname "$0")/.."
v=0.8.13
mvn -B "org.jacoco:jacoco-maven-plugin:$v:prepare-agent" test "org.jacoco:jacoco-maven-plugin:$v:report" "$@"
python3 - target/site/jacoco/jacoco.csv <<'PY'
import collections, csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
agg = collections.defaultdict(lambda: [0, 0, 0, 0])
for r in rows:
    a = agg[r["PACKAGE"]]
    for i, k in enumerate(("LINE_MISSED", "LINE_COVERED", "BRANCH_MISSED", "BRANCH_COVERED")):
        a[i] += int(r[k])
print(f"{'package':28s} {'lines':>18s} {'branches':>18s}")
for p, (lm, lc, bm, bc) in sorted(agg.items()):
    print(f"{p:28s} {lc:>7d}/{lc + lm:<6d}{100 * lc / max(1, lc + lm):3.0f}% {bc:>7d}/{bc + bm:<6d}{100 * bc / max(1, bc + bm):3.0f}%")
print("\nmost lines missed:")
for r in sorted(rows, key=lambda r: -int(r["LINE_MISSED"]))[:15]:
    print(f"  {r['PACKAGE']}.{r['CLASS']}: {r['LINE_MISSED']} of {int(r['LINE_MISSED']) + int(r['LINE_COVERED'])}")
print("\nper line: target/site/jacoco/index.html")
PY
