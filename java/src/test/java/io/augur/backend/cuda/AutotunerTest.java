package io.augur.backend.cuda;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The autotuner's search on made-up speeds (no GPU): what it tries, keeps, skips and reports. */
class AutotunerTest {
    private static final Set<String> ALL = Set.copyOf(KernelTuning.PROPERTIES);
    private static final List<Autotuner.Axis> AXES = List.of(
            new Autotuner.Axis(KernelTuning.PDL, List.of("auto", "off")),
            new Autotuner.Axis(KernelTuning.TOWER_CLUSTER, List.of("auto", "1", "2", "4", "8")),
            new Autotuner.Axis(KernelTuning.ROWS_BACKWARD, List.of("auto", "16", "32")));

    /** A device on which PDL off is 10% slower, clusters of 4 are 20% faster, and tiles of 16 are 2% faster (within the noise margin). */
    private static double speed(KernelTuning t) {
        double s = 1e6;
        if (!t.pdl()) s *= 0.9;
        if (t.towerCluster() == 4) s *= 1.2;
        if (t.attentionRowsBackward() == 16) s *= 1.02;
        return s;
    }

    @Test
    void keepsWhatIsClearlyFasterAndOnlyThat() {
        List<KernelTuning> tried = new ArrayList<>();
        Autotuner.Result r = Autotuner.search(KernelTuning.builtIn(), AXES, t -> {
            tried.add(t);
            return new Autotuner.Score(speed(t), 1.0, ALL);
        });
        assertEquals(KernelTuning.builtIn().with(KernelTuning.TOWER_CLUSTER, "4"), r.chosen(), "tiles of 16 gain 2%, under the 3% margin");
        assertEquals(List.of("-Daugur.tower.cluster=4"), r.chosen().changes(r.start()));
        // the start, PDL off, clusters 1, 2, 4, 8, then rows 16 and 32 on top of clusters of 4, then the start and the choice again
        assertEquals(1 + 1 + 4 + 2 + 2, tried.size(), tried.toString());
        assertEquals(List.of(KernelTuning.builtIn(), r.chosen()), tried.subList(8, 10));
        assertEquals(List.of("(start, again)", "(chosen, again)"), r.trials().subList(8, 10).stream().map(Autotuner.Trial::change).toList());
        assertEquals(r.trials().size(), tried.size());
        assertEquals(4, tried.get(6).towerCluster(), "a later setting is tried on top of what an earlier one chose");
        assertEquals(1.2e6, r.trials().get(r.trials().size() - 1).samplesPerS(), 1e-6, "the choice again");
        assertEquals(1e6, r.trials().get(0).samplesPerS(), 1e-6);
        assertTrue(r.trials().get(0).kept() && r.trials().get(4).kept());
        assertEquals(3, r.trials().stream().filter(Autotuner.Trial::kept).count(), "the start, clusters of 4, and the choice again");
    }

    /** A start measured cold: what beat it by a margin the first time must beat it again, warm, or the start stays. */
    @Test
    void aChoiceThatDoesNotBeatTheStartAgainIsUndone() {
        int[] calls = {0};
        Autotuner.Result r = Autotuner.search(KernelTuning.builtIn(), AXES, t -> {
            double s = speed(t) / (t.towerCluster() == 4 ? 1.2 : 1);              // no cluster size gains anything
            return new Autotuner.Score(calls[0]++ == 0 ? 0.95 * s : s, 1.0, ALL);   // but the first run is 5% slow
        });
        assertEquals(KernelTuning.builtIn(), r.chosen(), r.trials().toString());
        Autotuner.Trial last = r.trials().get(r.trials().size() - 1);
        assertEquals("(chosen, again)", last.change());
        assertEquals(1, last.tuning().towerCluster(), "clusters of 1, the first tried, beat the cold start by 5%");
        assertFalse(last.kept());
        assertEquals(1e6, r.trials().get(r.trials().size() - 2).samplesPerS(), 1e-6, "the start's warm run");
    }

    @Test
    void aSettingTheRunDidNotConsultIsNotTried() {
        List<KernelTuning> tried = new ArrayList<>();
        Autotuner.Result r = Autotuner.search(KernelTuning.builtIn(), AXES, t -> {
            tried.add(t);
            return new Autotuner.Score(speed(t), 1.0, Set.of(KernelTuning.PDL));   // say, no tower fused and no activation unit
        });
        assertEquals(2, tried.size(), "the start and PDL off: " + tried);
        assertEquals(KernelTuning.builtIn(), r.chosen());
    }

    @Test
    void aSettingThatDoesNotRunIsPassedOverAndALostContextEndsTheSearch() {
        Autotuner.Result r = Autotuner.search(KernelTuning.builtIn(), AXES, t -> {
            if (t.towerCluster() == 8) throw new UnsupportedOperationException("clusters of 8 do not fit");
            if (t.towerCluster() == 4) throw new CudaException(1, "cuLaunchKernelEx", "tower_forward_cluster4_kernel");   // INVALID_VALUE
            return new Autotuner.Score(speed(t), 1.0, ALL);
        });
        assertEquals(KernelTuning.builtIn(), r.chosen());
        List<String> errors = r.trials().stream().filter(t -> t.error() != null).map(Autotuner.Trial::error).toList();
        assertEquals(2, errors.size(), errors.toString());
        assertTrue(errors.get(1).contains("clusters of 8 do not fit"), errors.toString());
        assertTrue(r.trials().stream().filter(t -> t.error() != null).noneMatch(Autotuner.Trial::kept));

        CudaException lost = new CudaException(700, "cuStreamSynchronize", "tower_forward_cluster2_kernel");   // ILLEGAL_ADDRESS: sticky
        CudaException e = assertThrows(CudaException.class, () -> Autotuner.search(KernelTuning.builtIn(), AXES, t -> {
            if (t.towerCluster() == 2) throw lost;
            return new Autotuner.Score(speed(t), 1.0, ALL);
        }));
        assertSame(lost, e);
        IllegalStateException start = new IllegalStateException("the start cannot run");
        assertSame(start, assertThrows(IllegalStateException.class, () -> Autotuner.search(KernelTuning.builtIn(), AXES, t -> { throw start; })));
    }

    @Test
    @SuppressWarnings("unchecked")
    void theRecordListsEveryTrial() {
        Autotuner.Result r = Autotuner.search(KernelTuning.builtIn(), AXES, t -> {
            if (t.towerCluster() == 8) throw new UnsupportedOperationException("no");
            return new Autotuner.Score(speed(t), 1e6 * 128 / speed(t) / 1e3, ALL);
        });
        Map<String, Object> j = r.toJson();
        assertEquals("built-in settings", j.get("start"));
        assertEquals("-Daugur.tower.cluster=4", j.get("chosen"));
        assertEquals(Autotuner.MIN_GAIN, j.get("min_gain"));

        List<Map<String, Object>> trials = (List<Map<String, Object>>) j.get("trials");
        assertEquals(r.trials().size(), trials.size());
        assertEquals("(start)", trials.get(0).get("change"));
        assertEquals(List.copyOf(new java.util.TreeSet<>(ALL)), trials.get(0).get("consulted"));
        assertEquals("-Daugur.cuda.pdl=off", trials.get(1).get("change"));
        Map<String, Object> failed = trials.stream().filter(t -> t.get("error") != null).findFirst().orElseThrow();
        assertEquals("-Daugur.tower.cluster=8", failed.get("change"));
        assertNull(failed.get("samples_per_s"));
        assertNull(failed.get("consulted"));
        assertFalse((Boolean) failed.get("kept"));
    }

    /**
     * A start with the tower layer by layer, whose runs consult none of the fused tower's settings: the trial that fuses it
     * opens its clusters, whose axis the pass has gone by, and they are searched on top of it. Fused, the tower is 5%
     * slower in clusters of 1 (its automatic size here) and 15% faster in clusters of 8.
     */
    @Test
    void aValueThatOpensSettingsIsWeighedAtItsBestOverThem() {
        List<Autotuner.Axis> axes = List.of(
                new Autotuner.Axis(KernelTuning.TOWER_CLUSTER, List.of("auto", "1", "2", "4", "8")),
                new Autotuner.Axis(KernelTuning.TOWER_FUSED, List.of("auto", "off")),
                new Autotuner.Axis(KernelTuning.ROWS_BACKWARD, List.of("auto", "16", "32")));
        Set<String> layers = Set.of(KernelTuning.TOWER_FUSED, KernelTuning.ROWS_BACKWARD);
        KernelTuning start = KernelTuning.builtIn().with(KernelTuning.TOWER_FUSED, "off");
        List<KernelTuning> tried = new ArrayList<>();
        Autotuner.Result r = Autotuner.search(start, axes, t -> {
            tried.add(t);
            if (!t.towerFused()) return new Autotuner.Score(1e6, 1.0, layers);
            int s = t.towerCluster();
            return new Autotuner.Score(s == 8 ? 1.15e6 : s == 0 || s == 1 ? 0.95e6 : 1e6, 1.0, ALL);
        });
        KernelTuning fused8 = KernelTuning.builtIn().with(KernelTuning.TOWER_CLUSTER, "8");
        assertEquals(fused8, r.chosen(), r.trials().toString());
        assertEquals(List.of("-Daugur.tower.fused=auto", "-Daugur.tower.cluster=8"), r.chosen().changes(start));
        // the start (its cluster axis not consulted), fused, fused in clusters of 1, 2, 4, 8, tiles of 16 and 32 on top, the start and the choice again
        assertEquals(1 + 1 + 4 + 2 + 2, tried.size(), tried.toString());
        List<String> changes = r.trials().stream().map(Autotuner.Trial::change).toList();
        assertEquals("-Daugur.tower.fused=auto", changes.get(1));
        assertEquals("-Daugur.tower.fused=auto -Daugur.tower.cluster=8", changes.get(5), changes.toString());
        assertEquals(List.of(false, false, false, false, true), r.trials().subList(1, 6).stream().map(Autotuner.Trial::kept).toList(),
                "only the opened trial at its best is kept");
        assertEquals(8, tried.get(6).towerCluster(), "a later setting is tried on top of the opened ones' best");
        assertTrue(r.trials().get(r.trials().size() - 1).kept());

        // where none of the opened values makes the fused tower win, the layers stay
        Autotuner.Result stays = Autotuner.search(start, axes, t -> t.towerFused() ? new Autotuner.Score(0.9e6, 1.0, ALL)
                : new Autotuner.Score(1e6, 1.0, layers));
        assertEquals(start, stays.chosen());
        assertEquals(1 + 1 + 4 + 2, stays.trials().size(), stays.trials().toString());
        assertTrue(stays.trials().subList(1, stays.trials().size()).stream().noneMatch(Autotuner.Trial::kept));
    }
}
