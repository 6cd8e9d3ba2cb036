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

    List<String> ops(String key) {
        StepGraph g = graphs.get(key);
        if (g == null || g.ops == null) return List.of();
        return g.ops.stream().map(CudaRuntime.Op::describe).toList();
    }

    Map<String, Long> replays() {
        Map<String, Long> out = new TreeMap<>();
        graphs.forEach((k, g) -> out.put(k, g.replays));
        return out;
    }

    /** A line for the log: each key's steps, how many were replayed graphs, and the keys that run eagerly. */
    String summary() {
        if (!enabled) return "CUDA graphs off: every step ran eagerly";
        if (graphs.isEmpty()) return "";
        StringBuilder sb = new StringBuilder("CUDA graphs:");
        new TreeMap<>(graphs).forEach((k, g) -> {
            sb.append(' ').append(k).append(' ').append(String.format("%,d", g.replays)).append(" replayed");
            if (g.disabled) sb.append(" (its steps change: eager since ").append(g.recaptures).append(" changes)");
            sb.append(';');
        });
        sb.setLength(sb.length() - 1);
        return sb.toString();
    }

    /** Runs one step of {@code key}: eagerly, captured, or replayed (see the class comment). */
    void run(String key, Runnable work) {
        StepGraph g = enabled && !rt.timing() ? graphs.computeIfAbsent(key, k -> new StepGraph()) : null;
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
