#!/usr/bin/env bash
# Builds a self-contained bundle for a Linux x86-64 GPU box that has a driver but no JDK:
#
#   scripts/dist.sh                  -> dist/augur-<version>-<commit>.tar.xz
#
# The bundle (one folder, every path relative to it):
#   bin/augur              the CLI on the bundled runtime (same JVM flags as scripts/augur)
#   bin/augur-test         the JUnit console launcher over the bundled tests (JUnit options pass through)
#   runtime/               a Java runtime jlinked from the Temurin 25 JDK (modules found by jdeps)
#   lib/                   augur.jar (with cuda/augur.fatbin inside) and its runtime jars
#   test/                  test classes and resources, test-only jars, the console launcher jar
#   cuda/                  the kernel sources (KernelSourcesTest reads them; Nsight Compute shows
#                          them beside the SASS); the fatbin itself is inside lib/augur.jar
#   scripts/gpu-check.sh   parity tests + benchmark on the GPU, everything written to one folder
#   scripts/gpu-sweep.sh   gpu-check, then variants, TF32, resident data, ncu and memcheck within a
#                          time budget, packed into one file (a short device session's one command)
#   scripts/profile.sh     Nsight Systems and Nsight Compute on a short training run
#   scripts/torch_ref.py   the PyTorch reference (with golden_din.py and golden_dien.py, which its
#                          --selfcheck compares against), for gpu-sweep.sh's torch part
#   BUILD.txt              commit, date, nvcc, the runtime's modules
#
# Needs: JDK 17+ and Maven (the build), nvcc + cmake (the kernels; a bundle without kernels is
# refused unless AUGUR_DIST_ALLOW_NO_KERNELS=1), the Temurin 25 JDK for jlink (AUGUR_JLINK_JDK,
# default /usr/lib/jvm/temurin-25-jdk-amd64; it links from its own run-time image, no jmods needed).
# The JUnit console jar comes from Maven Central through the pom's `dist` profile.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
jdk="${AUGUR_JLINK_JDK:-/usr/lib/jvm/temurin-25-jdk-amd64}"
max_mib=60

say() { echo "[dist] $*" >&2; }
die() { echo "[dist] error: $*" >&2; exit 1; }

[[ -x "$jdk/bin/jlink" && -x "$jdk/bin/jdeps" ]] || die "no jlink/jdeps in $jdk (set AUGUR_JLINK_JDK to a JDK 25)"
"$jdk/bin/java" -version 2>&1 | grep -q 'version "25' || die "$jdk is not a JDK 25"
command -v xz >/dev/null || die "xz is missing"

version="$(sed -n 's:^  <version>\(.*\)</version>$:\1:p' pom.xml | head -1)"
commit="$(git rev-parse --short=10 HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]]; then commit="$commit-dirty"; fi
name="augur-$version-$commit"

say "building (mvn -Pdist package, tests compiled but not run)"
mvn -B -q -Dstyle.color=never -Pdist -DskipTests clean package >&2
fatbin="target/kernels/augur.fatbin"
if [[ ! -s "$fatbin" ]]; then
  [[ "${AUGUR_DIST_ALLOW_NO_KERNELS:-0}" == 1 ]] || die "no $fatbin: this build had no nvcc (AUGUR_DIST_ALLOW_NO_KERNELS=1 bundles anyway)"
  say "warning: bundling without CUDA kernels"
fi
for f in target/augur.jar target/test-classes target/dist-tools/junit-platform-console-standalone.jar; do
  [[ -e "$f" ]] || die "the build did not produce $f"
done

stage="$root/dist/stage"
rm -rf "$stage"
b="$stage/$name"
mkdir -p "$b"/{bin,lib,test/lib,cuda,scripts}

# --- the Java runtime: modules the jars use (jdeps), plus those reached only by reflection or
# service loading: java.management/jdk.management (ThreadMXBean allocation counters, Log4j's JMX),
# java.naming and java.sql (Log4j, Jackson), java.xml (Log4j's configuration), jdk.unsupported
# (sun.misc.Unsafe for Arrow's memory layer).
# JVM flags: every <augur.jvm.*> property of pom.xml (what Surefire and scripts/augur pass: the
# java.nio opening for Arrow, and --add-modules for the Vector API where the build uses it); a
# module they add goes into the runtime too.
jvm_flags="$(sed -n 's:^ *<augur\.jvm\.[a-z]*>\(.*\)</augur\.jvm\.[a-z]*> *$:\1:p' pom.xml | paste -sd' ' -)"
[[ "$jvm_flags" == *--add-opens=java.base/java.nio=ALL-UNNAMED* ]] || die "pom.xml has no <augur.jvm.opens> (found: '$jvm_flags')"
say "finding the modules with jdeps"
mods="java.base,java.logging,java.management,jdk.management,java.naming,java.sql,java.xml,jdk.unsupported"
for m in $(grep -o -- '--add-modules=[^ ]*' <<<"$jvm_flags" | cut -d= -f2 | tr ',' ' '); do mods="$mods,$m"; done
for x in target/augur.jar target/lib/*.jar target/test-classes target/dist-tools/*.jar; do
  deps="$("$jdk/bin/jdeps" --ignore-missing-deps --multi-release 17 --module-path target/lib --print-module-deps "$x" 2>&1)" \
    || die "jdeps failed on $x: $deps"
  [[ "$deps" != *Error* ]] || die "jdeps on $x: $deps"
  mods="$mods,$deps"
done
mods="$(tr ',' '\n' <<<"$mods" | grep -E '^(java|jdk)\.' | sort -u | paste -sd, -)"
say "jlink: $mods"
# zip-0: the modules image stays uncompressed inside, and xz packs it far better than zip-9
# would (measured: 22 MB against 35 MB in the .tar.xz), at the price of 94 MB unpacked.
"$jdk/bin/jlink" --add-modules "$mods" --strip-debug --no-man-pages --no-header-files --compress=zip-0 \
  --output "$b/runtime"

# --- the application, the tests, the kernels
cp target/augur.jar target/lib/*.jar "$b/lib/"
# jcuda-natives carries the JNI library of JCuda's nvPTXCompiler binding (24 MB, statically linked
# PTX compiler); Augur loads precompiled kernels and never touches that binding, so it is dropped.
trimmed="no"
for j in "$b"/lib/jcuda-natives-*.jar; do
  if command -v zip >/dev/null; then
    zip -q -d "$j" 'lib/libJNvPTXCompiler-*' && trimmed="lib/libJNvPTXCompiler-* removed from $(basename "$j")"
  else
    say "warning: no zip here, so jcuda-natives keeps its unused nvPTXCompiler library (+8 MB)"
  fi
done
cp -r target/test-classes "$b/test/classes"
for j in target/test-lib/*.jar; do
  [[ -e "$j" ]] || continue
  [[ -e "target/lib/$(basename "$j")" ]] || cp "$j" "$b/test/lib/"
done
cp target/dist-tools/junit-platform-console-standalone.jar "$b/test/"
cp cuda/*.cu cuda/*.cuh "$b/cuda/"
cp scripts/gpu-check.sh scripts/gpu-sweep.sh scripts/profile.sh scripts/ncu_source_top.py scripts/nsys_steps.py scripts/torch_ref.py scripts/golden_din.py scripts/golden_dien.py "$b/scripts/"

# The launchers get the pom's JVM flags (as scripts/augur and Surefire do), plus two that only
# Java 24+ knows and that keep its warnings out of the logs: JCuda loads native code (JEP 472)
# and Arrow uses sun.misc.Unsafe (JEP 498). The flags are written into the scripts below
# (AUGUR_FLAGS); everything else in them is literal.
flags="$jvm_flags -Djava.awt.headless=true --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow"
cat >"$b/bin/augur" <<'EOF'
#!/usr/bin/env bash
# Augur's CLI on the bundled Java runtime: bin/augur --help. Extra JVM options: AUGUR_JAVA_OPTS.
set -euo pipefail
b="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec "$b/runtime/bin/java" AUGUR_FLAGS ${AUGUR_JAVA_OPTS:-} \
  -cp "$b/lib/*" io.augur.cli.Augur "$@"
EOF
cat >"$b/bin/augur-test" <<'EOF'
#!/usr/bin/env bash
# The bundled tests through the JUnit Platform console launcher, on the bundled runtime, from the
# bundle's folder (KernelSourcesTest reads cuda/). Arguments go to the launcher's `execute`:
#   bin/augur-test                          every test (GPU tests skip where no GPU is usable)
#   bin/augur-test --include-tag gpu        only the GPU parity tests
#   bin/augur-test --exclude-tag gpu --reports-dir /tmp/r
#   bin/augur-test --select-class io.augur.backend.cuda.CudaOpsParityTest   (no class-path scan then)
# The JVM gets the flags Surefire gives it (pom.xml), activation buffers poisoned with NaN as
# there (io.augur.model.ParamStore); extra ones: AUGUR_JAVA_OPTS.
set -euo pipefail
b="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$b"
cp="test/classes:test/junit-platform-console-standalone.jar"
for j in test/lib/*.jar lib/*.jar; do [[ -e "$j" ]] && cp="$cp:$j"; done
# The launcher refuses a class-path scan beside explicit selectors (--select-class and the like,
# as gpu-check.sh's reruns and sanitizer runs pass): scan only when none is given.
scan=(--scan-class-path test/classes)
for a in "$@"; do
  case "$a" in --select*|-[cmpdfuoe]) scan=() ;; esac
done
exec "$b/runtime/bin/java" AUGUR_FLAGS -Xmx6g -Daugur.poisonActivations=true ${AUGUR_JAVA_OPTS:-} \
  -cp "$cp" org.junit.platform.console.ConsoleLauncher execute \
  --disable-banner --details=tree --fail-if-no-tests "${scan[@]}" "$@"
EOF
# the bundle's commit goes into every record the CLI writes (there is no git beside it on the GPU box)
sed -i "s|AUGUR_FLAGS|$flags -Daugur.build.commit=${commit/-dirty/+dirty}|" "$b/bin/augur" "$b/bin/augur-test"
chmod +x "$b/bin/augur" "$b/bin/augur-test" "$b/scripts/"*.sh

{
  echo "bundle:  $name"
  echo "commit:  $(git rev-parse HEAD 2>/dev/null || echo unknown)$([[ "$commit" == *-dirty ]] && echo ' (with uncommitted changes)')"
  echo "built:   $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -m)"
  echo "nvcc:    $(command -v nvcc >/dev/null && nvcc --version | tail -1 || echo none)"
  echo "fatbin:  $([[ -s "$fatbin" ]] && echo "cuda/augur.fatbin in lib/augur.jar, $(stat -c %s "$fatbin") bytes" || echo none)"
  echo "trimmed: $trimmed"
  echo "runtime: $("$b/runtime/bin/java" -version 2>&1 | sed -n 2p)"
  echo "modules: $mods"
} >"$b/BUILD.txt"

# --- sanity: the bundled runtime starts the CLI before anything is packed
"$b/bin/augur" --help >/dev/null || die "the bundled launcher does not start"

mkdir -p dist
out="dist/$name.tar.xz"
say "packing $out"
tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner -cf - "$name" | xz -9 -T0 >"$out.part"
mv "$out.part" "$out"
rm -rf "$stage"
bytes="$(stat -c %s "$out")"
mib="$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')"
(( bytes <= max_mib * 1048576 )) || die "$out is $mib MiB, over the $max_mib MiB limit"
say "$out: $mib MiB"
echo "$out"
