package io.augur.backend.cuda;

import io.augur.backend.Profiling;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The bookkeeping of kernel timing, apart from the CUDA calls so that it can be checked without a
 * GPU: calls and seconds per kernel name, in first-call order. {@link CudaRuntime} records a pair
 * of events around each launch while timing is on and adds the elapsed times here once the stream
 * has passed them. Not thread-safe (one training loop drives the backend).
 */
final class KernelTimes {
    private final Map<String, double[]> byName = new LinkedHashMap<>();   // name -> {calls, seconds}

    void add(String name, double seconds) {
        double[] s = byName.computeIfAbsent(name, k -> new double[2]);
        s[0]++;
        s[1] += seconds;
    }

    Map<String, Profiling.OpStats> stats() {
        Map<String, Profiling.OpStats> out = new LinkedHashMap<>();
        for (Map.Entry<String, double[]> e : byName.entrySet()) {
            out.put(e.getKey(), new Profiling.OpStats((long) e.getValue()[0], e.getValue()[1]));
        }
        return out;
    }

    void reset() {
        byName.clear();
    }
}
