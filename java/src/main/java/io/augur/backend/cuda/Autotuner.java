package io.augur.backend.cuda;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Picks the kernel settings ({@link KernelTuning}) under which a workload trains fastest on this device, by
 * measuring it: what {@code torch.backends.cudnn.benchmark} does for convolutions, for the choices of this
 * backend whose best value depends on the GPU, the model's shape and the batch size (the activation unit's
 * tiles and blocks, the tower fused or not and in what clusters, PDL, the small GEMM's rule).
 *
 * <p>The search is one pass of coordinate descent from the starting settings: each setting in turn ({@link
 * #axes}), each of its other values tried with the best settings found so far, a value kept only when it is
 * faster than the best by more than {@code minGain} (so that the noise of short runs does not move the choice),
 * and a setting skipped when the best run so far did not consult it ({@link CudaBackend#settingsRead}: a model
 * without an activation unit never reads the unit's settings, and a layer-by-layer tower never reads its
 * clusters). A value whose run consults settings the best run did not, and whose axes the pass has already gone
 * by, is measured at its best over them before it is weighed: those axes are searched on top of it, in order, by
 * the same rule (the tower fused, tried where the start runs it layer by layer, opens its clusters, channels and
 * chunks; at batch 128 on the H200 the fused tower had only ever been weighed in clusters of 1). A setting whose
 * run fails (a launch the device refuses, a shape that does not fit) is recorded with its error and passed over,
 * unless the failure lost the CUDA context, which ends the search.
 *
 * <p>Where the pass ends away from the start, the start and the choice run once more each, in that order, and
 * the choice stands only if it again beats the start by more than {@code minGain}: the start's first run is
 * the search's coldest (the JIT compiler, the allocator and the caches warm up in the runs after it), and a
 * choice made of several small gains should show them together.
 */
public final class Autotuner {
    private static final Logger LOG = LogManager.getLogger(Autotuner.class);

    /** A value is kept when it is faster than the best so far by more than this share. */
    public static final double MIN_GAIN = 0.03;

    /** One setting and the values to try for it. */
    public record Axis(String property, List<String> values) {}

    /** What one run under some settings measured, and the settings it consulted. */
    public record Score(double samplesPerS, double stepMs, Set<String> settingsRead) {}

    /** Runs the workload under a tuning and measures it; throws where the settings cannot run it. */
    @FunctionalInterface
    public interface Measure {
        Score run(KernelTuning t);
    }

    /**
     * One tried setting: the change from the settings it was tried against (empty for the start), and its score and
     * the settings its run consulted, or its error.
     */
    public record Trial(KernelTuning tuning, String change, double samplesPerS, double stepMs, Set<String> consulted, String error, boolean kept) {
        Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("change", change.isEmpty() ? "(start)" : change);
            m.put("settings", tuning.toString());
            m.put("samples_per_s", error == null ? samplesPerS : null);
            m.put("step_p50_ms", error == null ? stepMs : null);
            m.put("error", error);
            m.put("kept", kept);
            m.put("consulted", consulted == null ? null : List.copyOf(new java.util.TreeSet<>(consulted)));
            return m;
        }
    }

    /** The search's outcome: the settings it started from, those it chose, and every run in order. */
    public record Result(KernelTuning start, KernelTuning chosen, List<Trial> trials, double minGain) {
        public Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("start", start.toString());
            m.put("chosen", chosen.toString());
            m.put("chosen_changes", chosen.changes(start));
            m.put("min_gain", minGain);
            m.put("trials", trials.stream().map(Trial::toJson).toList());
            return m;
        }
    }

    private Autotuner() {}

    /**
     * Every setting the search may try, in order, with its values: PDL, the unit backward's per-sample query sums (the
     * largest single difference the H200's variants measured, 4 to 7%), the fused tower's clusters, channels a
     * block and chunks, the tower fused or not, where the unit's partial gradients live, its tiles, blocks and
     * threads, the unit fused or layer by layer, and the small GEMM's rule. The most telling first: a later setting
     * is tried on top of what the earlier ones chose. Each layer-by-layer choice comes after the fused kernel's own
     * settings, so that it is measured against the fused kernel at its best (where a start runs it layer by layer, the
     * fused kernel's own settings are searched on top of the trial that turns it on, see the class comment), and the unit's before the
     * small GEMM's rule, which its products consult. Each value must compute what the default computes
     * (CudaAutotunerParityTest.everyValueTheAutotunerTriesMatchesTheCpu).
     */
    public static final List<Axis> AXES = List.of(
            new Axis(KernelTuning.PDL, List.of("auto", "off")),
            new Axis(KernelTuning.QUERY_SUMS, List.of("off", "auto")),
            new Axis(KernelTuning.TOWER_CLUSTER, List.of("auto", "1", "2", "4", "8", "16")),
            new Axis(KernelTuning.TOWER_COLS, List.of("auto", "2", "4", "8")),
            new Axis(KernelTuning.TOWER_CHUNK, List.of("auto", "all")),
            new Axis(KernelTuning.TOWER_FUSED, List.of("auto", "off")),
            new Axis(KernelTuning.PARTIALS_ON_CHIP, List.of("true", "false")),
            new Axis(KernelTuning.DM3_ON_CHIP, List.of("true", "false")),
            new Axis(KernelTuning.ROWS_BACKWARD, List.of("auto", "16", "32", "8")),
            new Axis(KernelTuning.ROWS_FORWARD, List.of("auto", "16", "32", "8")),
            new Axis(KernelTuning.SPLIT_K, List.of("auto", "off")),
            new Axis(KernelTuning.BLOCKS_PER_SM, List.of("auto", "1", "2", "3")),
            new Axis(KernelTuning.THREADS, List.of("256", "128")),
            new Axis(KernelTuning.FUSED, List.of("auto", "off")),
            new Axis(KernelTuning.GEMM_SMALL, List.of("auto", "off", "always")));

    /**
     * {@link #AXES} as this backend's device can take them: PDL only where it is on, clusters only on compute
     * capability 9.0, the small GEMM's rule only with the built-in GEMM.
     */
    public static List<Axis> axes(CudaBackend be) {
        return AXES.stream().filter(a -> switch (a.property()) {
            case KernelTuning.PDL -> be.runtime().programmaticAvailable();
            case KernelTuning.TOWER_CLUSTER -> be.runtime().ccMajor >= 9;
            case KernelTuning.GEMM_SMALL -> be.gemm() instanceof BuiltinGemm;
            default -> true;
        }).toList();
    }

    /** {@link #search(KernelTuning, List, Measure, double)} with {@link #MIN_GAIN}. */
    public static Result search(KernelTuning start, List<Axis> axes, Measure measure) {
        return search(start, axes, measure, MIN_GAIN);
    }

    /**
     * Searches from {@code start} (see the class comment). The start must run: its failure is thrown. Each run is
     * logged with its figure and whether it was kept.
     */
    /** Runs one trial and records it (not kept; {@link #markKept} decides); null where the settings do not run here. */
    private static Score tryRun(KernelTuning t, String change, Measure measure, List<Trial> trials) {
        Score s;
        try {
            s = measure.run(t);
        } catch (RuntimeException e) {
            if (e instanceof CudaException ce && CudaException.isSticky(ce.code())) throw e;   // the context is lost
            String why = e.getClass().getSimpleName() + ": " + e.getMessage();
            trials.add(new Trial(t, change, Double.NaN, Double.NaN, null, why, false));
            LOG.info("autotune: {} does not run here ({})", change, why);
            return null;
        }
        trials.add(new Trial(t, change, s.samplesPerS(), s.stepMs(), s.settingsRead(), null, false));
        return s;
    }

    /**
     * Whether a trial already ran what {@code t} would: one whose settings {@code t} shares wherever that run consulted
     * them (a run's path is decided by the settings it consults, so t's would be the same; say the tower layer by layer
     * again, after clusters of 8 were kept with it fused).
     */
    private static boolean runsAsBefore(List<Trial> trials, KernelTuning t) {
        for (Trial x : trials) {
            if (x.error() != null || x.consulted() == null) continue;
            boolean same = true;
            for (String p : x.consulted()) same &= x.tuning().value(p).equals(t.value(p));
            if (same) {
                LOG.info("autotune: {} runs as {} did, not tried again", t, x.tuning());
                return true;
            }
        }
        return false;
    }

    /** The last trial of {@code t}, marked kept where {@code keep}. */
    private static void markKept(List<Trial> trials, KernelTuning t, boolean keep) {
        if (!keep) return;
        for (int i = trials.size() - 1; i >= 0; i--) {
            Trial x = trials.get(i);
            if (x.tuning().equals(t) && x.error() == null) {
                trials.set(i, new Trial(x.tuning(), x.change(), x.samplesPerS(), x.stepMs(), x.consulted(), null, true));
                return;
            }
        }
    }

    public static Result search(KernelTuning start, List<Axis> axes, Measure measure, double minGain) {
        List<Trial> trials = new ArrayList<>();
        Score best = measure.run(start);
        KernelTuning chosen = start;
        trials.add(new Trial(start, "", best.samplesPerS(), best.stepMs(), best.settingsRead(), null, true));
        LOG.info("autotune: {} samples/s with {}", String.format("%,.0f", best.samplesPerS()), start);
        for (int ai = 0; ai < axes.size(); ai++) {
            Axis axis = axes.get(ai);
            if (!best.settingsRead().contains(axis.property())) continue;
            for (String v : axis.values()) {
                String current = chosen.value(axis.property());
                KernelTuning t = chosen.with(axis.property(), v);
                if (t.value(axis.property()).equals(current)) continue;
                String change = "-D" + axis.property() + "=" + t.value(axis.property());
                if (runsAsBefore(trials, t)) continue;
                Score s = tryRun(t, change, measure, trials);
                if (s == null) continue;
                // a value that opens settings the best run did not consult, whose axes the pass has already gone by (the
                // tower fused where it ran layer by layer opens its clusters, channels and chunks): those axes, in
                // order, on top of it, so that it is weighed at its best and not only at their defaults
                KernelTuning opened = t;
                Score atBest = s;
                for (int bi = 0; bi < ai; bi++) {
                    Axis earlier = axes.get(bi);
                    if (best.settingsRead().contains(earlier.property()) || !atBest.settingsRead().contains(earlier.property())) continue;
                    for (String w : earlier.values()) {
                        KernelTuning u = opened.with(earlier.property(), w);
                        if (u.value(earlier.property()).equals(opened.value(earlier.property()))) continue;
                        String uChange = String.join(" ", u.changes(chosen));
                        if (runsAsBefore(trials, u)) continue;
                        Score us = tryRun(u, uChange, measure, trials);
                        if (us == null) continue;
                        boolean better = us.samplesPerS() > atBest.samplesPerS() * (1 + minGain);
                        LOG.info("autotune: {} samples/s with {}{}", String.format("%,.0f", us.samplesPerS()), uChange,
                                better ? " (best with " + change + " so far)" : "");
                        if (better) {
                            opened = u;
                            atBest = us;
                        }
                    }
                }
                boolean keep = atBest.samplesPerS() > best.samplesPerS() * (1 + minGain);
                String keptChange = opened == t ? change : String.join(" ", opened.changes(chosen));
                markKept(trials, opened, keep);
                LOG.info("autotune: {} samples/s with {}{}", String.format("%,.0f", atBest.samplesPerS()), keptChange, keep ? " (kept)" : "");
                if (keep) {
                    chosen = opened;
                    best = atBest;
                }
            }
        }
        if (!chosen.equals(start)) {
            Score again = measure.run(start);
            trials.add(new Trial(start, "(start, again)", again.samplesPerS(), again.stepMs(), again.settingsRead(), null, false));
            Score mine = measure.run(chosen);
            boolean stands = mine.samplesPerS() > again.samplesPerS() * (1 + minGain);
            trials.add(new Trial(chosen, "(chosen, again)", mine.samplesPerS(), mine.stepMs(), mine.settingsRead(), null, stands));
            LOG.info("autotune: again, {} samples/s at the start and {} with {}{}", String.format("%,.0f", again.samplesPerS()),
                    String.format("%,.0f", mine.samplesPerS()), String.join(" ", chosen.changes(start)), stands ? "" : ": not faster by enough, the start stays");
            if (!stands) {
                chosen = start;
                best = again;
            } else {
                best = mine;
            }
        }
        LOG.info("autotune chose {} ({} samples/s; {} at the start, {} runs)", chosen.changes(start).isEmpty() ? "the starting settings"
                : String.join(" ", chosen.changes(start)), String.format("%,.0f", best.samplesPerS()), String.format("%,.0f", trials.get(0).samplesPerS()),
                trials.size());
        return new Result(start, chosen, List.copyOf(trials), minGain);
    }
}
