package io.augur.backend.cuda;

import jcuda.driver.CUgraphExec;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * One CUDA graph per kind of step (the key of {@code Backend.runStep}). A key's first step runs
 * eagerly (lazy set-up happens outside any graph); the second is captured into a graph and
 * launched; later ones run the step's Java code as a dry run that compares every operation with
 * the captured one (CudaRuntime, "step capture") and launch the graph with one call. A step whose
 * operations changed has run eagerly by the end of its dry run; its graph is dropped and captured
 * again next time, and after more than three changes the key runs eagerly for good. While
 * kernels are timed every step runs eagerly.
 *
 * <p>A key may have variants, each a graph of its own with its own history (a step whose batch inputs arrive
 * through the input staging reads them from one of its two slots, which alternate: a graph for each slot).
 * {@link #ops}, {@link #replays} and {@link #summary} speak of keys, the variants' together.
 */
final class StepGraphs {
    private static final Logger LOG = LogManager.getLogger(StepGraphs.class);

    /** The graph of one kind of step and how it has fared. */
    private static final class StepGraph {
        int calls, recaptures;
        boolean disabled;
        CUgraphExec exec;
        List<CudaRuntime.Op> ops;
        long replays;
        Nvtx.Range replayRange;
    }

    private final CudaRuntime rt;
    private final Map<String, StepGraph> graphs = new HashMap<>();
    /** NVTX ranges (Nvtx) of the steps that run eagerly, by key; a replay's range is its graph's. */
    private final Map<String, Nvtx.Range> eagerRanges = new HashMap<>();
    private boolean enabled = true;

    StepGraphs(CudaRuntime rt) { this.rt = rt; }

    void setEnabled(boolean on) { enabled = on; }

    boolean enabled() { return enabled; }

    /** The graph of a key's variant (-1: the key's only one). */
    private static String graphKey(String key, int variant) {
        return variant < 0 ? key : key + VARIANT + variant;
    }

    private static String baseKey(String graphKey) {
        int i = graphKey.indexOf(VARIANT);
        return i < 0 ? graphKey : graphKey.substring(0, i);
    }

    /** Between a key and its variant's number in {@link #graphs}' keys (a step key never holds it). */
    private static final char VARIANT = '\u0000';

    List<String> ops(String key) {
        StepGraph g = new TreeMap<>(graphs).entrySet().stream().filter(e -> baseKey(e.getKey()).equals(key) && e.getValue().ops != null)
                .map(Map.Entry::getValue).findFirst().orElse(null);
        if (g == null) return List.of();
        return g.ops.stream().map(CudaRuntime.Op::describe).toList();
    }

    Map<String, Long> replays() {
        Map<String, Long> out = new TreeMap<>();
        graphs.forEach((k, g) -> out.merge(baseKey(k), g.replays, Long::sum));
        return out;
    }

    /** A line for the log: each key's steps, how many were replayed graphs, and the keys that run eagerly. */
    String summary() {
        if (!enabled) return "CUDA graphs off: every step ran eagerly";
        if (graphs.isEmpty()) return "";
        Map<String, long[]> keys = new TreeMap<>();   // replays, the most changes of a disabled variant (0: none)
        graphs.forEach((k, g) -> {
            long[] r = keys.computeIfAbsent(baseKey(k), x -> new long[2]);
            r[0] += g.replays;
            if (g.disabled) r[1] = Math.max(r[1], g.recaptures);
        });
        StringBuilder sb = new StringBuilder("CUDA graphs:");
        keys.forEach((k, r) -> {
            sb.append(' ').append(k).append(' ').append(String.format("%,d", r[0])).append(" replayed");
            if (r[1] > 0) sb.append(" (its steps change: eager since ").append(r[1]).append(" changes)");
            sb.append(';');
        });
        sb.setLength(sb.length() - 1);
        return sb.toString();
    }

    /** Runs one step of {@code key}: eagerly, captured, or replayed (see the class comment). */
    void run(String key, Runnable work) {
        run(key, -1, work);
    }

    /** Runs one step of {@code key}'s variant {@code variant} (-1: none), each variant with a graph of its own. */
    void run(String key, int variant, Runnable work) {
        StepGraph g = enabled && !rt.timing() ? graphs.computeIfAbsent(graphKey(key, variant), k -> new StepGraph()) : null;
        g = g == null || g.disabled ? null : g;
        if (g != null) g.calls++;
        if (g != null && g.exec != null) {
            if (g.replayRange == null) g.replayRange = Nvtx.range("step " + key + " (replay)", Nvtx.GRAPH);
            try (Nvtx.Scope r = g.replayRange.open()) {
                replay(key, g, work);
            }
        } else if (g != null && g.calls >= 2) {
            try (Nvtx.Scope r = Nvtx.push("step " + key + " (capture)", Nvtx.GRAPH)) {
                capture(key, g, work);
            }
        } else {
            try (Nvtx.Scope r = eagerRanges.computeIfAbsent(key, k -> Nvtx.range("step " + k + " (eager)", Nvtx.GRAPH)).open()) {
                work.run();
            }
        }
    }

    private void capture(String key, StepGraph g, Runnable work) {
        rt.beginCapture();
        try {
            work.run();
        } catch (RuntimeException | Error e) {
            rt.abandonStep();
            throw e;
        }
        CudaRuntime.Captured c = rt.endCapture();
        if (c.exec() == null && rt.capturedProgrammatic()) {
            // the driver took the programmatic launches but not their graph: without them from now on
            String why = rt.captureRefused() != null ? rt.captureRefused() : CudaException.name(c.error());
            rt.programmaticOff("capturing step " + key + " with programmatic launches failed (" + why + ")");
            rt.issueAll(c.ops());
            g.calls = 1;  // captured again at its next call
            return;
        }
        if (c.exec() == null) {
            LOG.warn("step {}: capturing its {} operations into a CUDA graph failed ({}); it runs without a graph from now on", key, c.ops().size(),
                    CudaException.name(c.error()));
            g.disabled = true;
            rt.issueAll(c.ops());
            return;
        }
        g.exec = c.exec();
        g.ops = c.ops();
        LOG.debug("step {}: captured {} operations into a CUDA graph", key, g.ops.size());
        rt.launchGraph(g.exec, "the CUDA graph of step " + key);
    }

    private void replay(String key, StepGraph g, Runnable work) {
        rt.beginReplay(g.ops);
        try {
            work.run();
        } catch (RuntimeException | Error e) {
            rt.abandonStep();
            throw e;
        }
        if (rt.endReplay()) {
            rt.launchGraph(g.exec, "the CUDA graph of step " + key);
            g.replays++;
            return;
        }
        // the step issued something else: it has run eagerly; capture again next time, or give up
        rt.destroyGraph(g.exec);
        g.exec = null;
        g.ops = null;
        g.calls = 1;
        g.recaptures++;
        g.disabled = g.recaptures > 3;
        Nvtx.mark("step " + key + ": its graph dropped (" + rt.divergence() + ")", Nvtx.GRAPH);
        LOG.info("step {}: its operations no longer match its CUDA graph ({}); it ran without the graph, {}", key, rt.divergence(),
                g.disabled ? "and runs without one from now on (changed " + g.recaptures + " times)" : "and is captured again next time");
    }
}
