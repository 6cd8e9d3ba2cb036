#!/usr/bin/env bash
# JMH microbenchmarks of the hot CPU ops (java/src/jmh/java): the activation unit, the GRU / AUGRU
# recurrence, linear layers, the sparse embedding path. Builds target/benchmarks.jar with the Maven
# profile jmh (never part of `mvn test`), then runs it; arguments go to JMH.
#   scripts/jmh.sh                                 every benchmark (several minutes)
#   scripts/jmh.sh Recurrence -p batch=128         a subset (a regex over benchmark names), one parameter value
#   scripts/jmh.sh ActivationUnit -p device=cpu-reference    the plain-loop specification
#   scripts/jmh.sh -l                              list the benchmarks
#   JMH_JSON=docs/perf/jmh.json scripts/jmh.sh     also write JMH's JSON results there
# Run on an otherwise idle machine.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
jar="target/benchmarks.jar"
stale=""
if [[ -f "$jar" ]]; then
  stale="$(find java/src/main java/src/jmh pom.xml -newer "$jar" -print -quit 2>/dev/null || true)"
fi
if [[ ! -f "$jar" || -n "$stale" ]]; then
  echo "[jmh] building $jar ..." >&2
  mvn -q -B -Dstyle.color=never -Pjmh -DskipTests -Daugur.skipKernels=true package >&2
fi
extra=()
if [[ -n "${JMH_JSON:-}" ]]; then
  extra=(-rf json -rff "$JMH_JSON")
fi
java_bin="${JAVA_HOME:+$JAVA_HOME/bin/}java"
# --add-modules: the Vector API GEMM kernels (JMH's forked JVMs inherit the option).
exec "$java_bin" --add-modules=jdk.incubator.vector -jar "$jar" "${extra[@]}" "$@"
