/**
 * JMH microbenchmarks of the hot CPU ops, through the {@link io.augur.backend.Backend} interface
 * (so the same benchmarks time any backend): the activation unit, the GRU / AUGRU recurrence,
 * linear layers and the sparse embedding path. Not part of the normal build or test run: the
 * Maven profile {@code jmh} compiles this folder and packs {@code target/benchmarks.jar}.
 * <pre>
 *   scripts/jmh.sh                          every benchmark (a few minutes)
 *   scripts/jmh.sh Recurrence -p batch=128  a subset; any JMH option works
 *   scripts/jmh.sh -p device=cpu-reference  the plain-loop specification
 * </pre>
 * Default settings: 1 fork, 5 warm-up and 5 measured iterations of 1 s (C2 needs a second or two to settle), average time per call.
 */
package io.augur.jmh;
