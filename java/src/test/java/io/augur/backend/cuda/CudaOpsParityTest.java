package io.augur.backend.cuda;

import io.augur.backend.Activation;
import io.augur.backend.AttentionParams;
import io.augur.backend.AttentionSpec;
import io.augur.backend.Backend;
import io.augur.backend.SparseGrad;
import io.augur.backend.SparseOptimizer;
import io.augur.backend.Workspace;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;
import java.util.SplittableRandom;

import static io.augur.backend.cuda.GpuTesting.Pair;
import static io.augur.backend.cuda.GpuTesting.ids;
import static io.augur.backend.cuda.GpuTesting.lengths;
import static io.augur.backend.cuda.GpuTesting.uniform;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static io.augur.backend.cuda.GpuTesting.uniformPoisoned;

/**
 * Every CUDA kernel against the CPU reference (the specification) on random inputs: lengths 0, 1,
 * T and random; a batch B = 37 that is no multiple of any block size, in tensors planned for
 * more rows (the rows past B poisoned: a kernel that reads them produces NaN, one that writes them
 * is caught); outputs poisoned before the op, so an element the GPU fails to write shows.
 * SKIPPED where no GPU is usable. Tagged {@code gpu}: scripts/gpu-check.sh runs the tests of that tag.
 *
 * <p>Tolerances: TIGHT (1e-5 + 1e-4 |x|) for ops that sum a few terms in another order; LOOSE
 * (1e-4 + 1e-3 |x|) for reductions over a whole batch or the attention MLP's gradients, which sum
 * thousands of fp32 products in an order unlike the reference's double-precision loops.
 */
@Tag("gpu")
class CudaOpsParityTest {
    static final double TIGHT_ATOL = 1e-5, TIGHT_RTOL = 1e-4;
    static final double LOOSE_ATOL = 1e-4, LOOSE_RTOL = 1e-3;
    static final int B = 37, MAXB = 40, T = 7, D = 18, E = 2 * D, V = 50;

    GpuTesting.Twin tw;
    SplittableRandom rng;

    @BeforeEach
    void open() {
        GpuTesting.assumeGpu();
        tw = new GpuTesting.Twin(GpuTesting.backend());
        rng = new SplittableRandom(42);
    }

    @AfterEach
    void close() {
        if (tw != null) tw.close();
    }

    @Test
    void embeddingGatherMaskedAndPlain() {
        int rows = B * T, stride = 2 * E + 3;
        Pair table = tw.floats("table", uniform(rng, V * D, -1, 1));
        Pair ids = tw.ints("ids", ids(rng, MAXB * T, V)), len = tw.ints("len", lengths(rng, MAXB, T));
        Pair out = tw.poisoned("out", MAXB * T * stride);
        tw.both(be -> be.embeddingGather(out.on(be), ids.on(be), len.on(be), table.on(be), rows, T, D, stride, 5));
        tw.both(be -> be.embeddingGather(out.on(be), ids.on(be), null, table.on(be), B, 1, D, stride, E + 5));
        tw.assertClose("gather", out, 0, 0);
    }

    /**
     * Gathers and their backwards as lists (one launch per 8 on the GPU): 11 entries, so two
     * launches, masked and plain, several into one output and several into one sparse gradient,
     * one of zero rows; against the CPU's one-by-one reference, outputs poisoned.
     */
    @Test
    void embeddingGatherListsForwardAndBackward() {
        int stride = 11 * D + 3;
        Pair table = tw.floats("table", uniform(rng, V * D, -1, 1)), table2 = tw.floats("table2", uniform(rng, 30 * D, -1, 1));
        Pair len = tw.ints("len", lengths(rng, MAXB, T));
        Pair out = tw.poisoned("out", MAXB * T * stride);
        Pair dOut = tw.floats("dOut", uniformPoisoned(rng, B * T * stride, MAXB * T * stride, -1, 1));
        java.util.List<Pair> ids = new java.util.ArrayList<>();
        for (int k = 0; k < 11; k++) ids.add(tw.ints("ids" + k, ids(rng, MAXB * T, k % 3 == 2 ? 30 : V)));
        SparseGrad gc = tw.cpu.sparseGrad("g", V, D, 4 * MAXB * T), gg = tw.gpu.sparseGrad("g", V, D, 4 * MAXB * T);
        SparseGrad gc2 = tw.cpu.sparseGrad("g2", 30, D, 4 * MAXB * T), gg2 = tw.gpu.sparseGrad("g2", 30, D, 4 * MAXB * T);
        for (Backend be : new Backend[] {tw.cpu, tw.gpu}) {
            java.util.List<Backend.Gather> fwd = new java.util.ArrayList<>(), bwd = new java.util.ArrayList<>();
            for (int k = 0; k < 11; k++) {
                boolean masked = k % 2 == 0, small = k % 3 == 2;
                int rows = k == 7 ? 0 : masked ? B * T : B, t = masked ? T : 1;
                Pair tab = small ? table2 : table;
                SparseGrad g = small ? (be == tw.gpu ? gg2 : gc2) : (be == tw.gpu ? gg : gc);
                fwd.add(Backend.Gather.forward(out.on(be), ids.get(k).on(be), masked ? len.on(be) : null, tab.on(be), rows, t, D, stride, k * D));
                bwd.add(Backend.Gather.backward(g, dOut.on(be), ids.get(k).on(be), masked ? len.on(be) : null, rows, t, D, stride, k * D));
            }
            be.embeddingGather(fwd);
            be.embeddingGatherBackward(bwd);
        }
        tw.assertClose("gather list", out, 0, 0);
        for (SparseGrad[] p : new SparseGrad[][] {{gc, gg}, {gc2, gg2}}) {
            float[] e = new float[p[0].rows() * D], a = new float[p[0].rows() * D];
            tw.cpu.downloadGrad(p[0], e);
            tw.gpu.downloadGrad(p[1], a);
            GpuTesting.compare("sparse gradient of a gather list, " + p[0].name(), e, a, TIGHT_ATOL, TIGHT_RTOL);
            org.junit.jupiter.api.Assertions.assertEquals(p[0].touchedRows(), p[1].touchedRows(), "touched rows of " + p[0].name());
        }
    }

    /**
     * A history lookup for consumers of the valid positions alone (Gather.paddingLeft, DIN's under the fused unit): the
     * warps whose rows are all padding (or past the end) leave those rows as they were, where an entry that writes its
     * padding writes 0; the valid rows, and the padding rows of a warp that holds a valid one, as the CPU's. Histories of
     * T = 100 and D = 18 (14 rows a warp) with the benchmark's lengths and some long and empty ones; the CPU writes 0
     * everywhere, so the padding is compared against the rule here.
     */
    @Test
    void aLookupThatLeavesItsPaddingWritesOnlyTheWarpsWithAValidRow() {
        int t = 100, d = D, stride = 2 * d + 1, rows = B * t, wr = GatherListArgs.warpRows(d);
        int[] lens = new int[MAXB];
        for (int b = 0; b < MAXB; b++) lens[b] = b == 0 ? 0 : b == 1 ? t : b == 2 ? 13 : b == 3 ? 14 : b == 4 ? 15 : rng.nextInt(40);
        Pair table = tw.floats("table", uniform(rng, V * d, -1, 1)), len = tw.ints("len", lens);
        Pair ids = tw.ints("ids", ids(rng, MAXB * t, V));
        Pair out = tw.poisoned("out", MAXB * t * stride);
        for (Backend be : new Backend[] {tw.cpu, tw.gpu}) {
            be.embeddingGather(java.util.List.of(
                    Backend.Gather.forward(out.on(be), ids.on(be), len.on(be), table.on(be), rows, t, d, stride, 0).paddingLeft(),
                    Backend.Gather.forward(out.on(be), ids.on(be), len.on(be), table.on(be), rows, t, d, stride, d)));
        }
        float[] e = new float[MAXB * t * stride], a = new float[MAXB * t * stride];
        tw.cpu.download(out.cpu(), e, e.length);
        tw.gpu.download(out.gpu(), a, a.length);
        int poison = Float.floatToRawIntBits(GpuTesting.POISON), left = 0;
        for (int r = 0; r < MAXB * t; r++) {
            int w0 = r / wr * wr;
            boolean valid = r < rows && r % t < lens[r / t], warpValid = false;
            for (int q = w0; q < Math.min(w0 + wr, rows); q++) warpValid |= q % t < lens[q / t];
            for (int c = 0; c < stride; c++) {
                int i = r * stride + c;
                String what = "row " + r + " (sample " + r / t + ", position " + r % t + ", length " + lens[r / t] + "), column " + c;
                if (c < d && r < rows && !valid && !warpValid) {   // a warp of padding alone: left as it was
                    assertEquals(poison, Float.floatToRawIntBits(a[i]), what + ": a warp of padding wrote it");
                    left++;
                } else {
                    assertEquals(Float.floatToRawIntBits(e[i]), Float.floatToRawIntBits(a[i]), what);
                }
            }
        }
        assertTrue(left > rows * d / 2, "padding rows left: " + left / d + " of " + rows);
    }

    /**
     * The lookups (embedding.cu) give a warp 32 * 8 / D consecutive rows (at most 32, at least 1), a lane each for the
     * row's length and id, and walk the warp's elements in row-major order, lane l taking l, l + 32, ..., each one's row
     * and column by additions (32 / D rows and 32 mod D columns a step), so every remainder of that walk gets a shape
     * here: D dividing 32 (16: 16 rows a warp), the rows capped at 32 (D = 7, T = 11: 224 elements, samples ending
     * inside a warp; D = 5, T = 3), plain rows (T = 1), rows a warp that leave lanes a short round (D = 18: 14 rows,
     * 252 elements; D = 33: 7 rows, a row longer than the warp), and rows wider than a round (D = 300: a row a warp,
     * two rounds), and every block full (D = 8, T = 256: 37 blocks of 256 rows, as GatherListArgs.blockRows plans them,
     * so a kernel that took fewer rows a block than planned would leave rows unwritten). Forward and backward, single and
     * as a list, masked and plain, against the CPU with the outputs poisoned.
     */
    @ParameterizedTest
    @CsvSource({"100, 16", "11, 7", "3, 5", "1, 5", "5, 18", "13, 33", "2, 300", "256, 8"})
    void embeddingGatherWalksEveryShape(int t, int d) {
        int stride = 2 * d + 1;
        Pair table = tw.floats("table", uniform(rng, V * d, -1, 1)), len = tw.ints("len", lengths(rng, MAXB, t));
        Pair ids = tw.ints("ids", ids(rng, MAXB * t, V)), ids1 = tw.ints("ids1", ids(rng, MAXB, V));
        Pair single = tw.poisoned("single", MAXB * t * d), list = tw.poisoned("list", MAXB * t * stride);
        Pair dOut = tw.floats("dOut", uniformPoisoned(rng, B * t * stride, MAXB * t * stride, -1, 1));
        SparseGrad gc = tw.cpu.sparseGrad("g", V, d, 4 * MAXB * t), gg = tw.gpu.sparseGrad("g", V, d, 4 * MAXB * t);
        SparseGrad gc1 = tw.cpu.sparseGrad("g1", V, d, 4 * MAXB * t), gg1 = tw.gpu.sparseGrad("g1", V, d, 4 * MAXB * t);
        for (Backend be : new Backend[] {tw.cpu, tw.gpu}) {
            SparseGrad g = be == tw.gpu ? gg : gc, g1 = be == tw.gpu ? gg1 : gc1;
            be.embeddingGather(single.on(be), ids.on(be), len.on(be), table.on(be), B * t, t, d, d, 0);
            be.embeddingGatherBackward(g1, dOut.on(be), ids.on(be), len.on(be), B * t, t, d, stride, 0);
            be.embeddingGather(java.util.List.of(
                    Backend.Gather.forward(list.on(be), ids.on(be), len.on(be), table.on(be), B * t, t, d, stride, 0),
                    Backend.Gather.forward(list.on(be), ids1.on(be), null, table.on(be), B, 1, d, stride, d)));
            be.embeddingGatherBackward(java.util.List.of(
                    Backend.Gather.backward(g, dOut.on(be), ids.on(be), len.on(be), B * t, t, d, stride, 0),
                    Backend.Gather.backward(g, dOut.on(be), ids1.on(be), null, B, 1, d, stride, d)));
        }
        tw.assertClose("single gather, T " + t + ", D " + d, single, 0, 0);
        tw.assertClose("gather list, T " + t + ", D " + d, list, 0, 0);
        for (SparseGrad[] p : new SparseGrad[][] {{gc, gg}, {gc1, gg1}}) {
            float[] e = new float[V * d], a = new float[V * d];
            tw.cpu.downloadGrad(p[0], e);
            tw.gpu.downloadGrad(p[1], a);
            GpuTesting.compare("sparse gradient " + p[0].name() + ", T " + t + ", D " + d, e, a, TIGHT_ATOL, TIGHT_RTOL);
            org.junit.jupiter.api.Assertions.assertEquals(p[0].touchedRows(), p[1].touchedRows(), "touched rows of " + p[0].name());
        }
    }

    /**
     * A training step's first launch: the gathers of a list with the dense gradients cleared
     * beside them (embedding_gather_multi_forward_zero_kernel's blocks after the gathers'). 30
     * tensors of sizes across the zeroing blocks' chunks fit one launch; 70 do not (two zeroing
     * launches), and the two ops run instead. Every cleared tensor is 0, the gathers as the CPU's,
     * a tensor in neither list untouched, and the kernel that ran is the one expected.
     */
    @ParameterizedTest
    @ValueSource(ints = {30, 70})
    void embeddingGatherWithTensorsCleared(int tensors) {
        int stride = 3 * D;
        Pair table = tw.floats("table", uniform(rng, V * D, -1, 1)), len = tw.ints("len", lengths(rng, MAXB, T));
        Pair out = tw.poisoned("out", MAXB * T * stride), outside = tw.floats("outside", uniform(rng, 333, -1, 1));
        Pair ids = tw.ints("ids", ids(rng, MAXB * T, V)), ids2 = tw.ints("ids2", ids(rng, MAXB, V));
        java.util.List<Pair> cleared = new java.util.ArrayList<>();
        for (int k = 0; k < tensors; k++) {
            int n = k < 4 ? new int[] {1, 1023, 1024, 1025}[k] : 1 + rng.nextInt(3000);
            cleared.add(tw.floats("cleared" + k, uniform(rng, n, -1, 1)));
        }
        tw.gpu.synchronize();   // allocates what was only planned (a tensor not yet allocated is cleared by a deferred fill)
        java.util.Set<String> ran = timed(tw.gpu, () -> {
            for (Backend be : new Backend[] {tw.cpu, tw.gpu}) {
                java.util.List<Backend.Gather> fwd = List.of(
                        Backend.Gather.forward(out.on(be), ids.on(be), len.on(be), table.on(be), B * T, T, D, stride, 0),
                        Backend.Gather.forward(out.on(be), ids2.on(be), null, table.on(be), B, 1, D, stride, 2 * D));
                be.embeddingGather(fwd, cleared.stream().map(p -> p.on(be)).toList());
            }
        });
        assertEquals(tensors <= MultiTensorArgs.MAX, ran.contains(Kernels.EMBEDDING_GATHER_MULTI_FORWARD_ZERO), "one launch for both: " + ran);
        assertEquals(tensors > MultiTensorArgs.MAX, ran.contains(Kernels.ZERO_MULTI), "the zeroing on its own: " + ran);
        tw.assertClose("gathers beside the clearing", out, 0, 0);
        for (int k = 0; k < tensors; k++) {
            float[] got = gpuValues(cleared.get(k), cleared.get(k).gpu().size());
            for (int i = 0; i < got.length; i++) assertEquals(0f, got[i], "cleared tensor " + k + "[" + i + "]");
        }
        tw.assertClose("a tensor in neither list", outside, 0, 0);
    }

    /**
     * The sparse updates of several tables as one list (one launch on the GPU): three tables of
     * two widths, one of them untouched in one step, over three steps; tables and optimizer state
     * against the CPU reference, and every touched list emptied by the launch's last blocks. With
     * withDense, a whole optimizer step (Backend.optimizerStep: the tables and three dense
     * parameters under Adam, one launch of optimizer_step_kernel on the GPU, which also advances
     * the step counter that Adam's bias correction reads). With more tables than one launch's list
     * holds (SparseUpdateListArgs.MAX) and more dense parameters than one multi-tensor launch takes
     * (MultiTensorArgs.MAX), as a model with many features has: the lists split over launches of
     * sparse_update_multi_kernel and adam_multi_kernel, the first advancing the step counter that
     * the others read.
     */
    @ParameterizedTest
    @CsvSource({"SGD, false, 3, 3", "ADAGRAD, false, 3, 3", "ADAM, false, 3, 3", "SGD, true, 3, 3", "ADAM, true, 3, 3",
            "ADAM, false, 11, 0", "ADAM, true, 11, 70", "ADAGRAD, true, 3, 70"})
    void sparseUpdateOfAListOfTables(SparseOptimizer.Kind kind, boolean withDense, int nTables, int nDense) {
        int[] vs = new int[nTables], ds = new int[nTables];
        for (int k = 0; k < nTables; k++) {
            vs[k] = k < 3 ? new int[] {V, 30, 20}[k] : 15 + k;
            ds[k] = k < 3 ? new int[] {D, D, 7}[k] : new int[] {3, D, 7}[k % 3];
        }
        SparseOptimizer opt = new SparseOptimizer(kind, 0.05f, 0.01f, 0.9f, 0.999f, 1e-8f);
        java.util.List<Pair> tables = new java.util.ArrayList<>(), s1s = new java.util.ArrayList<>(), s2s = new java.util.ArrayList<>();
        java.util.List<SparseGrad> gcs = new java.util.ArrayList<>(), ggs = new java.util.ArrayList<>();
        java.util.List<Backend.TableUpdate> cpuList = new java.util.ArrayList<>(), gpuList = new java.util.ArrayList<>();
        for (int k = 0; k < nTables; k++) {
            int n = vs[k] * ds[k];
            Pair t = tw.floats("table" + k, uniform(rng, n, -1, 1));
            Pair s1 = tw.floats("s1-" + k, uniform(rng, n, 0, 0.1f)), s2 = tw.floats("s2-" + k, uniform(rng, n, 0, 0.1f));
            int[] counts = new int[vs[k]];
            for (int j = 0; j < vs[k]; j++) counts[j] = (j * 3 + k) % 5;
            Pair cnt = tw.ints("counts" + k, counts);
            SparseGrad gc = tw.cpu.sparseGrad("g" + k, vs[k], ds[k], 2 * MAXB * T), gg = tw.gpu.sparseGrad("g" + k, vs[k], ds[k], 2 * MAXB * T);
            tables.add(t); s1s.add(s1); s2s.add(s2); gcs.add(gc); ggs.add(gg);
            cpuList.add(new Backend.TableUpdate(t.cpu(), s1.cpu(), s2.cpu(), gc, cnt.cpu()));
            gpuList.add(new Backend.TableUpdate(t.gpu(), s1.gpu(), s2.gpu(), gg, cnt.gpu()));
        }
        java.util.List<Pair[]> dense = new java.util.ArrayList<>();   // p, g, m, v
        java.util.List<io.augur.backend.Param> cpuDense = new java.util.ArrayList<>(), gpuDense = new java.util.ArrayList<>();
        for (int k = 0; withDense && k < nDense; k++) {
            int n = k < 3 ? new int[] {1, 1500, 77}[k] : 5 + k % 40;
            Pair[] pgmv = {tw.floats("p" + k, uniform(rng, n, -1, 1)), tw.floats("g" + k, uniform(rng, n, -1, 1)),
                    tw.floats("m" + k, uniform(rng, n, -0.1f, 0.1f)), tw.floats("v" + k, uniform(rng, n, 0, 0.1f))};
            dense.add(pgmv);
            io.augur.backend.Param pc = io.augur.backend.Param.dense("w" + k, pgmv[0].cpu(), pgmv[1].cpu());
            io.augur.backend.Param pg = io.augur.backend.Param.dense("w" + k, pgmv[0].gpu(), pgmv[1].gpu());
            pc.setState(pgmv[2].cpu(), pgmv[3].cpu());
            pg.setState(pgmv[2].gpu(), pgmv[3].gpu());
            cpuDense.add(pc);
            gpuDense.add(pg);
        }
        Pair len = tw.ints("len", lengths(rng, MAXB, T));
        for (int step = 1; step <= 3; step++) {
            for (int k = 0; k < nTables; k++) {
                if (step == 2 && k == 1) continue;   // a table the batch did not touch
                Pair ids = tw.ints("ids", ids(rng, MAXB * T, vs[k]));
                Pair dOut = tw.floats("dOut", uniform(rng, MAXB * T * ds[k], -1, 1));
                int kk = k;
                tw.both(be -> be.embeddingGatherBackward(be == tw.gpu ? ggs.get(kk) : gcs.get(kk), dOut.on(be), ids.on(be), len.on(be), B * T, T,
                        ds[kk], ds[kk], 0));
            }
            if (withDense) {
                tw.cpu.optimizerStep(cpuList, opt, cpuDense, 1e-2f, 0.9f, 0.999f, 1e-8f, 1e-4f, step);
                int s = step;
                java.util.Set<String> ran = timed(tw.gpu, () -> tw.gpu.optimizerStep(gpuList, opt, gpuDense, 1e-2f, 0.9f, 0.999f, 1e-8f, 1e-4f, s));
                boolean oneLaunch = nTables <= SparseUpdateListArgs.MAX && nDense <= MultiTensorArgs.MAX;
                assertEquals(oneLaunch ? java.util.Set.of(Kernels.OPTIMIZER_STEP) : java.util.Set.of(Kernels.SPARSE_UPDATE_MULTI, Kernels.ADAM_MULTI),
                        ran, oneLaunch ? "one launch for the whole step" : "the lists split over launches of the two ops");
                for (int k = 0; k < dense.size(); k++) {
                    for (int i = 0; i < 4; i++) {
                        if (i != 1) tw.assertClose("dense " + k + " array " + i + ", step " + step, dense.get(k)[i], TIGHT_ATOL, TIGHT_RTOL);
                    }
                }
            } else {
                tw.cpu.sparseUpdate(cpuList, opt, step);
                tw.gpu.sparseUpdate(gpuList, opt, step);
            }
            for (int k = 0; k < nTables; k++) {
                String what = kind + " table " + k + ", step " + step;
                tw.assertClose(what, tables.get(k), TIGHT_ATOL, TIGHT_RTOL);
                tw.assertClose(what + " state1", s1s.get(k), TIGHT_ATOL, TIGHT_RTOL);
                tw.assertClose(what + " state2", s2s.get(k), TIGHT_ATOL, TIGHT_RTOL);
                org.junit.jupiter.api.Assertions.assertEquals(0, ggs.get(k).touchedRows(), what + ": touched list emptied");
                org.junit.jupiter.api.Assertions.assertEquals(0, tw.gpu.readInt(((CudaSparseGrad) ggs.get(k)).done), what + ": block count reset");
            }
        }
    }

    /**
     * More distinct rows in one step than a sparse gradient's touched list holds (maxIdsPerStep 4, a batch touching
     * far more) is reported, not dropped in silence: the next read of the device fails naming the cause, and
     * the status is cleared for the runs after it.
     */
    @Test
    void aTouchedListOverflowIsReported() {
        SparseGrad g = tw.gpu.sparseGrad("small", V, D, 4);
        int[] many = new int[MAXB * T];
        for (int i = 0; i < many.length; i++) many[i] = i % V;
        int[] full = new int[MAXB];
        java.util.Arrays.fill(full, T);
        io.augur.backend.Tensor ids = tw.gpu.ints("ids", many.length), len = tw.gpu.ints("len", MAXB), dOut = tw.gpu.floats("dOut", MAXB * T * D);
        tw.gpu.upload(ids, many, many.length);
        tw.gpu.upload(len, full, MAXB);
        tw.gpu.upload(dOut, uniform(rng, MAXB * T * D, -1, 1), MAXB * T * D);
        tw.gpu.embeddingGatherBackward(g, dOut, ids, len, B * T, T, D, D, 0);
        IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, () -> tw.gpu.readInt(len));
        assertTrue(e.getMessage().contains(DeviceStatus.describe(DeviceStatus.SPARSE_OVERFLOW)), e.getMessage());
        assertEquals(T, tw.gpu.readInt(len), "the status cleared after the report");
    }

    @ParameterizedTest
    @EnumSource(SparseOptimizer.Kind.class)
    void sparseGradientAndUpdateWithMbar(SparseOptimizer.Kind kind) {
        int rows = B * T, stride = E;
        Pair table = tw.floats("table", uniform(rng, V * D, -1, 1));
        Pair s1 = tw.floats("s1", uniform(rng, V * D, 0, 0.1f)), s2 = tw.floats("s2", uniform(rng, V * D, 0, 0.1f));
        int[] counts = new int[V];
        for (int j = 0; j < V; j++) counts[j] = j % 7;   // 0 included: treated as 1
        Pair cnt = tw.ints("counts", counts);
        SparseOptimizer opt = new SparseOptimizer(kind, 0.05f, 0.01f, 0.9f, 0.999f, 1e-8f);
        for (int step = 1; step <= 3; step++) {
            Pair ids = tw.ints("ids", ids(rng, MAXB * T, V)), len = tw.ints("len", lengths(rng, MAXB, T));
            Pair dOut = tw.floats("dOut", uniform(rng, MAXB * T * stride, -1, 1));
            SparseGrad gc = tw.cpu.sparseGrad("g", V, D, rows * 2), gg = tw.gpu.sparseGrad("g", V, D, rows * 2);
            tw.both(be -> be.embeddingGatherBackward(be == tw.gpu ? gg : gc, dOut.on(be), ids.on(be), len.on(be), rows, T, D, stride, 0));
            tw.both(be -> be.embeddingGatherBackward(be == tw.gpu ? gg : gc, dOut.on(be), ids.on(be), null, B, 1, D, stride, D));
            float[] e = new float[V * D], a = new float[V * D];
            tw.cpu.downloadGrad(gc, e);
            tw.gpu.downloadGrad(gg, a);
            GpuTesting.compare("sparse gradient, step " + step, e, a, TIGHT_ATOL, TIGHT_RTOL);
            org.junit.jupiter.api.Assertions.assertEquals(gc.touchedRows(), gg.touchedRows(), "touched rows");
            int st = step;
            tw.both(be -> be.sparseUpdate(table.on(be), s1.on(be), s2.on(be), be == tw.gpu ? gg : gc, cnt.on(be), opt, st));
            tw.assertClose(kind + " table, step " + step, table, TIGHT_ATOL, TIGHT_RTOL);
            tw.assertClose(kind + " state1", s1, TIGHT_ATOL, TIGHT_RTOL);
            tw.assertClose(kind + " state2", s2, TIGHT_ATOL, TIGHT_RTOL);
            tw.gpu.downloadGrad(gg, a);
            for (float v : a) org.junit.jupiter.api.Assertions.assertEquals(0f, v, "the update clears the gradient");
            org.junit.jupiter.api.Assertions.assertEquals(0, gg.touchedRows(), "the update's last block empties the touched list");
            org.junit.jupiter.api.Assertions.assertEquals(0, tw.gpu.readInt(((CudaSparseGrad) gg).done), "and resets its count of finished blocks");
        }
    }

    /**
     * Bad input to the gathers is reported, not dropped in silence: the CPU throws at once, the GPU reports at the next
     * synchronisation, naming the cause, and clears its status. An id outside its table (-2 and V) is read as 0 and
     * reported; a history length outside [0, T] (T + 3 and -1) is clamped and reported; a NaN in an embedding
     * gradient is reported. Found untested by gcov's branch counts over the emulated run.
     */
    @Test
    void badIdsLengthsAndGradientsAreReported() {
        CudaBackend gpu = tw.gpu;
        float[] tab = uniform(rng, V * D, -1, 1);
        io.augur.backend.Tensor table = gpu.floats("bad.table", V, D), out = gpu.floats("bad.out", MAXB * T * D);
        gpu.upload(table, tab, V * D);
        // ids outside the table, one id per sample (no lengths)
        int[] one = ids(rng, B, V);
        one[3] = V;
        one[5] = -2;
        io.augur.backend.Tensor ids1 = gpu.ints("bad.ids1", B);
        gpu.upload(ids1, one, B);
        gpu.embeddingGather(out, ids1, null, table, B, 1, D, D, 0);
        IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, gpu::synchronize);
        assertTrue(e.getMessage().contains(DeviceStatus.describe(DeviceStatus.BAD_ID)), e.getMessage());
        float[] got = new float[B * D];
        gpu.download(out, got, B * D);
        for (int b = 0; b < B; b++)
            for (int c = 0; c < D; c++)
                assertEquals(b == 3 || b == 5 ? 0f : tab[one[b] * D + c], got[b * D + c], "sample " + b + " column " + c);
        // lengths outside [0, T]: clamped, so sample 2 gathers all T positions and sample 4 none
        int[] many = ids(rng, B * T, V), lens = lengths(rng, B, T);
        lens[2] = T + 3;
        lens[4] = -1;
        io.augur.backend.Tensor idsT = gpu.ints("bad.idsT", B * T), len = gpu.ints("bad.len", B);
        gpu.upload(idsT, many, B * T);
        gpu.upload(len, lens, B);
        gpu.embeddingGather(out, idsT, len, table, B * T, T, D, D, 0);
        e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, gpu::synchronize);
        assertTrue(e.getMessage().contains(DeviceStatus.describe(DeviceStatus.BAD_LENGTH)), e.getMessage());
        got = new float[B * T * D];
        gpu.download(out, got, B * T * D);
        for (int t = 0; t < T; t++)
            for (int c = 0; c < D; c++) {
                assertEquals(tab[many[2 * T + t] * D + c], got[(2 * T + t) * D + c], "sample 2 (length T + 3, read as T), position " + t);
                assertEquals(0f, got[(4 * T + t) * D + c], "sample 4 (length -1, read as 0), position " + t);
            }
        // a NaN in the gradient of a valid position
        int[] full = new int[B];
        java.util.Arrays.fill(full, T);
        gpu.upload(len, full, B);
        float[] d = uniform(rng, B * T * D, -1, 1);
        d[7 * D + 1] = Float.NaN;
        io.augur.backend.Tensor dOut = gpu.floats("bad.dOut", B * T * D);
        gpu.upload(dOut, d, B * T * D);
        SparseGrad g = gpu.sparseGrad("bad.grad", V, D, B * T);
        gpu.embeddingGatherBackward(g, dOut, idsT, len, B * T, T, D, D, 0);
        e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, gpu::synchronize);
        assertTrue(e.getMessage().contains(DeviceStatus.describe(DeviceStatus.NONFINITE_GRAD)), e.getMessage());
        gpu.synchronize();   // the status cleared after each report
    }

    /**
     * history_gather_kernel against the reference: 60 stored rows of 0 to T behaviours (0 and T
     * included), a batch of B rows drawn from them (repeats included), four columns with the
     * negatives from position 1; the outputs' rows past B poisoned and untouched. Then a row number
     * past the file: the device reports it at the next synchronisation.
     */
    @Test
    void historyGatherFromResidentColumns() {
        int nRows = 60, Tm = 9, poison = -77;
        int[] offsets = new int[nRows + 1];
        for (int r = 0; r < nRows; r++) offsets[r + 1] = offsets[r] + (r == 0 ? 0 : r == 1 ? Tm : rng.nextInt(Tm + 1));
        int n = offsets[nRows];
        List<Pair> values = new java.util.ArrayList<>(), outs = new java.util.ArrayList<>();
        for (int c = 0; c < 4; c++) {
            values.add(tw.ints("values" + c, ids(rng, n, V)));
            int[] o = new int[MAXB * Tm];
            java.util.Arrays.fill(o, poison);
            outs.add(tw.ints("out" + c, o));
        }
        int[] rows = new int[B];
        for (int b = 0; b < B; b++) rows[b] = b < 2 ? b : rng.nextInt(nRows);
        Pair off = tw.ints("offsets", offsets), rowsP = tw.ints("rows", rows);
        int[] from = {0, 0, 1, 1};
        tw.both(be -> be.historyGather(outs.stream().map(p -> p.on(be)).toList(), values.stream().map(p -> p.on(be)).toList(), from, off.on(be),
                rowsP.on(be), nRows, B, Tm));
        for (int c = 0; c < 4; c++) {
            int[] e = new int[MAXB * Tm], a = new int[MAXB * Tm];
            tw.cpu.download(outs.get(c).cpu(), e, e.length);
            tw.gpu.download(outs.get(c).gpu(), a, a.length);
            assertArrayEquals(e, a, "history gather column " + c);
            assertEquals(poison, a[B * Tm], "rows past B untouched");
        }
        rows[3] = nRows;
        Pair bad = tw.ints("badRows", rows);
        tw.gpu.historyGather(List.of(outs.get(0).gpu()), List.of(values.get(0).gpu()), new int[] {0}, off.gpu(), bad.gpu(), nRows, B, Tm);
        IllegalStateException ex = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, tw.gpu::synchronize);
        assertTrue(ex.getMessage().contains("row number outside the resident training file"), ex.getMessage());
    }

    @Test
    void sumPoolForwardAndBackward() {
        Pair x = tw.floats("x", uniformPoisoned(rng, B * T * E, MAXB * T * E, -1, 1)), len = tw.ints("len", lengths(rng, MAXB, T));
        Pair out = tw.poisoned("out", MAXB * E), dx = tw.poisoned("dx", MAXB * T * E);
        Pair dOut = tw.floats("dOut", uniformPoisoned(rng, B * E, MAXB * E, -1, 1));
        tw.both(be -> be.sumPool(out.on(be), x.on(be), len.on(be), B, T, E));
        tw.both(be -> be.sumPoolBackward(dx.on(be), dOut.on(be), len.on(be), B, T, E));
        tw.assertClose("sum pool", out, TIGHT_ATOL, TIGHT_RTOL);
        tw.assertClose("sum pool backward", dx, 0, 0);
    }

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void interestConcatForwardAndBackward(boolean withV) {
        int stride = 4 * E + 9, off = 9, Vw = withV ? E : 0;
        Pair ea = tw.floats("ea", uniformPoisoned(rng, B * E, MAXB * E, -1, 1)), s = tw.floats("s", uniformPoisoned(rng, B * E, MAXB * E, -1, 1));
        Pair v = tw.floats("v", uniformPoisoned(rng, B * E, MAXB * E, -1, 1));
        Pair x = tw.poisoned("x", MAXB * stride), dx = tw.floats("dx", uniformPoisoned(rng, B * stride, MAXB * stride, -1, 1));
        Pair dEa = tw.poisoned("dEa", MAXB * E), dS = tw.poisoned("dS", MAXB * E), dV = tw.poisoned("dV", MAXB * E);
        tw.both(be -> be.interestConcat(x.on(be), ea.on(be), s.on(be), withV ? v.on(be) : null, B, E, Vw, stride, off));
        tw.both(be -> be.interestConcatBackward(dEa.on(be), dS.on(be), withV ? dV.on(be) : null, dx.on(be), ea.on(be), s.on(be), B, E, Vw, stride, off));
        tw.assertClose("concat", x, 0, 0);
        tw.assertClose("dEa", dEa, TIGHT_ATOL, TIGHT_RTOL);
        tw.assertClose("dS", dS, TIGHT_ATOL, TIGHT_RTOL);
        tw.assertClose("dV", dV, 0, 0);
    }

    /**
     * The sum pool inside the interest block's launch (forward and backward), against the CPU's
     * two ops; lengths 0, 1, T and random, and the unfused s and dHist checked bit for bit.
     */
    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void pooledInterestConcatForwardAndBackward(boolean withV) {
        int stride = 4 * E + 9, off = 9, Vw = withV ? E : 0;
        Pair hist = tw.floats("hist", uniformPoisoned(rng, B * T * E, MAXB * T * E, -1, 1)), len = tw.ints("len", lengths(rng, MAXB, T));
        Pair ea = tw.floats("ea", uniformPoisoned(rng, B * E, MAXB * E, -1, 1)), v = tw.floats("v", uniformPoisoned(rng, B * E, MAXB * E, -1, 1));
        Pair s = tw.poisoned("s", MAXB * E), x = tw.poisoned("x", MAXB * stride);
        Pair dx = tw.floats("dx", uniformPoisoned(rng, B * stride, MAXB * stride, -1, 1));
        Pair dEa = tw.poisoned("dEa", MAXB * E), dS = tw.poisoned("dS", MAXB * E), dV = tw.poisoned("dV", MAXB * E);
        Pair dHist = tw.poisoned("dHist", MAXB * T * E), s2 = tw.poisoned("s2", MAXB * E), dHist2 = tw.poisoned("dHist2", MAXB * T * E);
        tw.both(be -> be.pooledInterestConcat(x.on(be), s.on(be), ea.on(be), hist.on(be), len.on(be), withV ? v.on(be) : null, B, T, E, Vw, stride, off));
        tw.both(be -> be.pooledInterestConcatBackward(dEa.on(be), dS.on(be), dHist.on(be), withV ? dV.on(be) : null, dx.on(be), ea.on(be), s.on(be),
                len.on(be), B, T, E, Vw, stride, off));
        tw.assertClose("pooled s", s, TIGHT_ATOL, TIGHT_RTOL);
        tw.assertClose("pooled concat", x, TIGHT_ATOL, TIGHT_RTOL);
        tw.assertClose("pooled dEa", dEa, TIGHT_ATOL, TIGHT_RTOL);
        tw.assertClose("pooled dS", dS, TIGHT_ATOL, TIGHT_RTOL);
        tw.assertClose("pooled dV", dV, 0, 0);
        tw.assertClose("pooled dHist", dHist, TIGHT_ATOL, TIGHT_RTOL);
        // the GPU's fused launch against its own two ops: the same sums in the same order
        tw.gpu.sumPool(s2.gpu(), hist.gpu(), len.gpu(), B, T, E);
        tw.gpu.sumPoolBackward(dHist2.gpu(), dS.gpu(), len.gpu(), B, T, E);
        assertArrayEquals(gpuValues(s2, B * E), gpuValues(s, B * E), "fused s, bit for bit");
        assertArrayEquals(gpuValues(dHist2, B * T * E), gpuValues(dHist, B * T * E), "fused dHist, bit for bit");
    }

    private float[] gpuValues(Pair p, int n) {
        float[] v = new float[n];
        tw.gpu.download(p.gpu(), v, n);
        return v;
    }

    @Test
    void addIntoScaleSequenceAndAuxPairs() {
        int C = 11, H = 5;
        Pair y = tw.floats("y", uniform(rng, 1001, -1, 1)), x1 = tw.floats("x", uniform(rng, 1001, -1, 1));
        tw.both(be -> be.addInto(y.on(be), x1.on(be), 999));
        tw.assertClose("addInto", y, 0, 0);

        Pair len = tw.ints("len", lengths(rng, MAXB, T));
        Pair x = tw.floats("x", uniformPoisoned(rng, B * T * C, MAXB * T * C, -1, 1)), w = tw.floats("w", uniformPoisoned(rng, B * T, MAXB * T, -1, 1));
        Pair out = tw.poisoned("out", MAXB * T * C), dOut = tw.floats("dOut", uniformPoisoned(rng, B * T * C, MAXB * T * C, -1, 1));
        Pair dX = tw.poisoned("dX", MAXB * T * C), dW = tw.poisoned("dW", MAXB * T);
        tw.both(be -> be.scaleSequence(out.on(be), x.on(be), w.on(be), len.on(be), B, T, C));
        tw.both(be -> be.scaleSequenceBackward(dX.on(be), dW.on(be), dOut.on(be), x.on(be), w.on(be), len.on(be), B, T, C));
        tw.assertClose("scaleSequence", out, 0, 0);
        tw.assertClose("scaleSequence dX", dX, 0, 0);
        tw.assertClose("scaleSequence dW", dW, TIGHT_ATOL, TIGHT_RTOL);

        int[] l = lengths(rng, MAXB, T), start = new int[MAXB];
        int P = 0;
        for (int b = 0; b < B; b++) {
            start[b] = P;
            P += Math.max(l[b] - 1, 0);
        }
        Pair lens = tw.ints("len", l), ps = tw.ints("pairStart", start);
        Pair h = tw.floats("h", uniform(rng, MAXB * T * H, -1, 1)), pos = tw.floats("pos", uniform(rng, MAXB * T * E, -1, 1));
        Pair neg = tw.floats("neg", uniform(rng, MAXB * T * E, -1, 1));
        Pair pairs = tw.poisoned("pairs", 2 * MAXB * T * (H + E)), dPairs = tw.floats("dPairs", uniform(rng, 2 * MAXB * T * (H + E), -1, 1));
        Pair dH = tw.floats("dH", uniform(rng, MAXB * T * H, -1, 1)), dPos = tw.floats("dPos", uniform(rng, MAXB * T * E, -1, 1));
        Pair dNeg = tw.poisoned("dNeg", MAXB * T * E);
        int padded = 2 * P + 7;   // a fixed-shape step's padded rows: zeroed past the 2P pairs, untouched past `padded`
        tw.both(be -> be.auxPairs(pairs.on(be), h.on(be), pos.on(be), neg.on(be), ps.on(be), lens.on(be), B, T, H, E, padded));
        tw.both(be -> be.auxPairsBackward(dH.on(be), dPos.on(be), dNeg.on(be), dPairs.on(be), ps.on(be), lens.on(be), B, T, H, E));
        tw.assertClose("auxPairs", pairs, 0, 0);
        tw.assertClose("auxPairs dH", dH, TIGHT_ATOL, TIGHT_RTOL);
        tw.assertClose("auxPairs dPos", dPos, TIGHT_ATOL, TIGHT_RTOL);
        tw.assertClose("auxPairs dNeg", dNeg, 0, 0);
    }

    /**
     * Both GEMM providers where they load: the backend's own and, explicitly, the built-in kernels;
     * batches of 2048 and 1500 rows make the built-in kernel split dW's long K (split-K) and the
     * bias gradient run sliced; 6,000 rows give dW 19 splits (more than the 16 the cap once was). {@code builtin} chooses between gemm_kernel and gemm_small_kernel
     * by its rule; {@code builtin-off} and {@code builtin-always} put every product on one of them
     * (y = x W + b plain with bias, dx = dy W^T with trans_b, dW += x^T dy with trans_a, accumulate
     * and db in the ones row): widths off 8 and 32, N = 1, K = 1 (dx and dW at in = 3, out = 1 and
     * one row), K = 300 and 520 (two and three of the small kernel's 256-long chunks). {@code library}
     * puts the built-in products behind a library provider's interface, as cuBLAS is used: the
     * bias broadcast into y first, db summed on its own, by rows or (1500 and 2048 rows) over row
     * slices; the case checks which of those kernels ran.
     */
    @ParameterizedTest
    @CsvSource({"default, 37, 162, 200", "default, 37, 200, 1", "builtin, 37, 162, 200", "builtin, 130, 65, 80", "builtin, 1, 3, 1",
            "builtin, 2048, 162, 200", "builtin, 1500, 80, 1", "builtin, 6000, 20, 3",
            "builtin-off, 37, 162, 200", "builtin-off, 130, 65, 80", "builtin-off, 1, 3, 1", "builtin-off, 300, 300, 1",
            "builtin-always, 37, 162, 200", "builtin-always, 130, 65, 80", "builtin-always, 1, 3, 1", "builtin-always, 300, 300, 1",
            "builtin-always, 9, 520, 33", "builtin-always, 1500, 80, 1", "builtin-always, 2048, 162, 200",
            "library, 37, 162, 200", "library, 1, 3, 1", "library, 2048, 162, 200", "library, 1500, 80, 1"})
    void linearForwardAndBackward(String provider, int rowsB, int in, int out) {
        CudaBackend gpu = gpuFor(provider);
        GpuTesting.Twin t = new GpuTesting.Twin(gpu);
        int maxB = rowsB + 3;
        Pair x = t.floats("x", uniformPoisoned(rng, rowsB * in, maxB * in, -1, 1)), W = t.floats("W", uniform(rng, in * out, -1, 1));
        Pair b = t.floats("b", uniform(rng, out, -1, 1)), y = t.poisoned("y", maxB * out);
        Pair dy = t.floats("dy", uniformPoisoned(rng, rowsB * out, maxB * out, -1, 1)), dx = t.poisoned("dx", maxB * in);
        Pair dW = t.floats("dW", uniform(rng, in * out, -1, 1)), db = t.floats("db", uniform(rng, out, -1, 1));
        java.util.Set<String> ran = timed(gpu, () -> {
            t.both(be -> be.linear(y.on(be), x.on(be), W.on(be), b.on(be), rowsB, in, out));
            t.both(be -> be.linearBackward(dx.on(be), dW.on(be), db.on(be), dy.on(be), x.on(be), W.on(be), rowsB, in, out));
        });
        if (provider.equals("library")) {   // the bias broadcast into y, then db summed apart from dW: by rows, or over row slices
            assertTrue(ran.contains(Kernels.BIAS_BROADCAST), ran.toString());
            assertEquals(gpu.sliced(rowsB, out), ran.contains(Kernels.BIAS_GRAD_PARTIALS) && ran.contains(Kernels.BIAS_GRAD_REDUCE), ran.toString());
            assertEquals(!gpu.sliced(rowsB, out), ran.contains(Kernels.BIAS_GRAD), ran.toString());
        }
        String what = gpu.gemm().name() + " (" + provider + ")";
        t.assertClose(what + " y", y, TIGHT_ATOL, TIGHT_RTOL);
        t.assertClose(what + " dx", dx, TIGHT_ATOL, TIGHT_RTOL);
        t.assertClose(what + " dW", dW, LOOSE_ATOL, LOOSE_RTOL);
        t.assertClose(what + " db", db, LOOSE_ATOL, LOOSE_RTOL);
        t.close();
    }

    /**
     * A linear layer's backward in one launch of gemm_small_pair_kernel (BuiltinGemm.linearBackward) against its two
     * products launched apart (gemm_small_kernel's dx = dy W^T, then dW += x^T dy with db in the ones row), bit for
     * bit: DIN's top MLP at batch 128 (the three layers' shapes), shapes off the 8 x 32 blocks, one row, and without
     * db. Under {@code auto} the pair runs where both products are small and their blocks fit one wave; with the
     * small kernel off it never runs. The kernels that ran say which path was taken.
     */
    @ParameterizedTest
    @CsvSource({"AUTO, 128, 162, 200, true", "AUTO, 128, 200, 80, true", "AUTO, 128, 80, 1, true", "ALWAYS, 37, 20, 7, true",
            "ALWAYS, 1, 3, 1, true", "ALWAYS, 130, 65, 80, false", "AUTO, 2048, 162, 200, true", "OFF, 128, 162, 200, true"})
    void aLinearBackwardInOneLaunchIsItsTwoProductsBitForBit(BuiltinGemm.Small mode, int rowsB, int in, int out, boolean withDb) {
        CudaBackend gpu = new CudaBackend(GpuTesting.backend().runtime(), "builtin");   // not closed: it shares the context
        BuiltinGemm g = (BuiltinGemm) gpu.gemm();
        g.setSmall(mode);
        float[] x = uniform(rng, rowsB * in, -1, 1), W = uniform(rng, in * out, -1, 1), dy = uniform(rng, rowsB * out, -1, 1);
        float[] dW0 = uniform(rng, in * out, -1, 1), db0 = uniform(rng, out, -1, 1);
        io.augur.backend.Tensor tx = upload(gpu, "x", x), tW = upload(gpu, "W", W), tdy = upload(gpu, "dy", dy);
        io.augur.backend.Tensor[] dx = {gpu.floats("dx", rowsB * in), gpu.floats("dx2", rowsB * in)};
        io.augur.backend.Tensor[] dW = {upload(gpu, "dW", dW0), upload(gpu, "dW2", dW0)};
        io.augur.backend.Tensor[] db = withDb ? new io.augur.backend.Tensor[] {upload(gpu, "db", db0), upload(gpu, "db2", db0)} : new io.augur.backend.Tensor[2];
        gpu.synchronize();
        java.util.Set<String> pair = timed(gpu, () -> gpu.linearBackward(dx[0], dW[0], db[0], tdy, tx, tW, rowsB, in, out));
        java.util.Set<String> apart = timed(gpu, () -> {
            g.gemm(addr(dx[1]), addr(tdy), addr(tW), 0L, rowsB, in, out, out, out, in, false, true, false);
            if (withDb) assertTrue(g.weightGrad(addr(dW[1]), addr(db[1]), addr(tx), addr(tdy), rowsB, in, out));
            else g.weightGrad(addr(dW[1]), 0L, addr(tx), addr(tdy), rowsB, in, out);
        });
        boolean bothSmall = g.kernel(rowsB, in, out).equals(Kernels.GEMM_SMALL) && g.kernel(in + (withDb ? 1 : 0), out, rowsB).equals(Kernels.GEMM_SMALL);
        String what = mode + " " + rowsB + "x" + in + "x" + out + (withDb ? "" : " without db") + ": " + pair + " against " + apart;
        assertEquals(bothSmall, pair.contains(Kernels.GEMM_SMALL_PAIR), what);
        if (bothSmall) assertEquals(java.util.Set.of(Kernels.GEMM_SMALL_PAIR), pair, what);
        else assertEquals(apart, pair, what);
        if (mode == BuiltinGemm.Small.AUTO && rowsB == 128) assertTrue(bothSmall, "DIN's top MLP at batch 128 is small throughout: " + what);
        if (mode == BuiltinGemm.Small.OFF || rowsB == 2048) assertFalse(bothSmall, what);
        float[][] got = new float[2][], gotW = new float[2][], gotB = new float[2][];
        for (int i = 0; i < 2; i++) {
            got[i] = new float[rowsB * in];
            gpu.download(dx[i], got[i], got[i].length);
            gotW[i] = new float[in * out];
            gpu.download(dW[i], gotW[i], gotW[i].length);
            gotB[i] = new float[out];
            if (withDb) gpu.download(db[i], gotB[i], out);
        }
        assertSameBits(what + " dx", got[1], got[0]);
        assertSameBits(what + " dW", gotW[1], gotW[0]);
        assertSameBits(what + " db", gotB[1], gotB[0]);
        // and against the reference in doubles, so that both paths being wrong the same way fails too
        for (int r = 0; r < rowsB; r += Math.max(1, rowsB / 7))
            for (int k = 0; k < in; k++) {
                double e = 0;
                for (int j = 0; j < out; j++) e += (double) dy[r * out + j] * W[k * out + j];
                assertEquals(e, got[0][r * in + k], 1e-4 * (1 + Math.abs(e)), what + " dx[" + r + ", " + k + "]");
            }
        for (int k = 0; k < in; k += Math.max(1, in / 7))
            for (int j = 0; j < out; j++) {
                double e = dW0[k * out + j];
                for (int r = 0; r < rowsB; r++) e += (double) x[r * in + k] * dy[r * out + j];
                assertEquals(e, gotW[0][k * out + j], 1e-4 * (1 + Math.abs(e)) * Math.sqrt(rowsB), what + " dW[" + k + ", " + j + "]");
            }
        if (withDb)
            for (int j = 0; j < out; j++) {
                double e = db0[j];
                for (int r = 0; r < rowsB; r++) e += dy[r * out + j];
                assertEquals(e, gotB[0][j], 1e-4 * (1 + Math.abs(e)) * Math.sqrt(rowsB), what + " db[" + j + "]");
            }
    }

    private static void assertSameBits(String what, float[] want, float[] got) {
        for (int i = 0; i < want.length; i++)
            if (Float.floatToRawIntBits(want[i]) != Float.floatToRawIntBits(got[i]))
                org.junit.jupiter.api.Assertions.fail(what + "[" + i + "]: " + got[i] + " where the two launches gave " + want[i]);
    }

    /**
     * A library provider refuses what it cannot do before it launches anything: a bias with accumulate (the bias is
     * broadcast into C, which accumulate would keep), and a bias into a C whose rows are strided (ldc != N).
     */
    @Test
    void aLibraryProviderRefusesABiasItCannotBroadcast() {
        Gemm g = GpuTesting.libraryGemmBackend().gemm();
        IllegalArgumentException both = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> g.gemm(8, 16, 24, 32, 4, 4, 4, 4, 4, 4, false, false, true));
        assertTrue(both.getMessage().contains("bias and accumulate"), both.getMessage());
        IllegalArgumentException strided = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> g.gemm(8, 16, 24, 32, 4, 4, 4, 4, 4, 5, false, false, false));
        assertTrue(strided.getMessage().contains("ldc == N"), strided.getMessage());
    }

    /** The kernels that ran in body, each launch timed on gpu's runtime (which times nothing after). */
    static java.util.Set<String> timed(CudaBackend gpu, Runnable body) {
        CudaRuntime r = gpu.runtime();
        r.resetTimes();
        r.setTiming(true);
        try {
            body.run();
            return new java.util.TreeSet<>(r.collectTimes().keySet());
        } finally {
            r.setTiming(false);
            r.resetTimes();
        }
    }

    /**
     * The backend a GEMM case names: "default" the shared one; "library" one of its own with the
     * built-in products behind a library provider's interface (GpuTesting.libraryGemmBackend: the
     * bias broadcast before the product, bias gradients and activations in kernels of their own,
     * as with cuBLAS); "builtin" one of its own with the
     * built-in GEMM, its small-product rule as -Daugur.gemm.small says; "builtin-off" and
     * "builtin-always" with gemm_small_kernel never or always. Not closed: it shares the context.
     */
    static CudaBackend gpuFor(String provider) {
        if (provider.equals("default")) return GpuTesting.backend();
        if (provider.equals("library")) return GpuTesting.libraryGemmBackend();
        CudaBackend gpu = new CudaBackend(GpuTesting.backend().runtime(), "builtin");
        BuiltinGemm g = (BuiltinGemm) gpu.gemm();
        switch (provider) {
            case "builtin" -> { }
            case "builtin-off" -> g.setSmall(BuiltinGemm.Small.OFF);
            case "builtin-always" -> g.setSmall(BuiltinGemm.Small.ALWAYS);
            default -> throw new IllegalArgumentException(provider);
        }
        return gpu;
    }

    /**
     * A linear layer and its activation (Backend.linearAct): with the built-in GEMM one launch, the
     * activation in the epilogue, on shapes it splits (batch 128) and does not (batch 2048, and
     * widths off the 64-wide tiles), on gemm_kernel and on gemm_small_kernel (N = 1 and 7, widths
     * off its 8 x 32 blocks, K = 300); with the default provider whichever path it takes. Both
     * the product (PReLU's backward reads it) and the activation are compared.
     */
    @ParameterizedTest
    @CsvSource({"builtin, sigmoid, 128, 162, 200", "builtin, prelu, 128, 162, 200", "builtin, prelu, 37, 20, 7",
            "builtin, sigmoid, 2048, 100, 50", "builtin, prelu, 1, 3, 1", "default, prelu, 130, 65, 80",
            "builtin-off, sigmoid, 128, 162, 200", "builtin-off, prelu, 37, 20, 7",
            "builtin-always, sigmoid, 128, 162, 200", "builtin-always, prelu, 128, 162, 200", "builtin-always, prelu, 37, 20, 7",
            "builtin-always, sigmoid, 37, 300, 1", "builtin-always, prelu, 1, 3, 1", "builtin-always, sigmoid, 2048, 100, 50",
            "library, sigmoid, 128, 162, 200", "library, prelu, 37, 20, 7"})
    void linearWithItsActivation(String provider, String activation, int rowsB, int in, int out) {
        CudaBackend gpu = gpuFor(provider);
        GpuTesting.Twin t = new GpuTesting.Twin(gpu);
        Activation act = Activation.parse(activation);
        int maxB = rowsB + 3;
        Pair x = t.floats("x", uniformPoisoned(rng, rowsB * in, maxB * in, -1, 1)), W = t.floats("W", uniform(rng, in * out, -1, 1));
        Pair b = t.floats("b", uniform(rng, out, -1, 1)), alpha = t.floats("alpha", uniform(rng, out, 0, 0.5f));
        Pair y = t.poisoned("y", maxB * out), a = t.poisoned("a", maxB * out);
        t.both(be -> be.linearAct(y.on(be), a.on(be), x.on(be), W.on(be), b.on(be), act, alpha.on(be), rowsB, in, out));
        String what = gpu.gemm().name() + " (" + provider + ") " + act;
        t.assertClose(what + " y", y, TIGHT_ATOL, TIGHT_RTOL);
        t.assertClose(what + " a", a, TIGHT_ATOL, TIGHT_RTOL);
        t.close();
    }

    /**
     * The built-in GEMM's own entry points against a double-precision product in Java, on both of
     * its kernels: every combination of trans_a, trans_b and accumulate, with and without bias, on
     * strided operands (lda, ldb, ldc past their widths, the gaps poisoned: a kernel that reads
     * them gives NaN, one that writes them is caught); the ones row (weightGrad with db); and the
     * device row count both ways: over M (gemmRows, y = x W + b over the first rows) and over K
     * (weightGradRows, dW += x^T dy and db over the first rows), the rows past it unread and the
     * outputs past it unwritten. M = 37 and N = 45 are off the small kernel's 8 x 32 blocks and
     * the 64 x 64 tiles; K = 300 is two of its chunks, K = 1 a chunk of one term.
     */
    @ParameterizedTest
    @CsvSource({"OFF, 300", "ALWAYS, 300", "ALWAYS, 1", "AUTO, 300", "OFF, 1"})
    void builtinGemmEveryLayout(BuiltinGemm.Small mode, int K) {
        CudaBackend gpu = new CudaBackend(GpuTesting.backend().runtime(), "builtin");   // not closed: it shares the context
        BuiltinGemm g = (BuiltinGemm) gpu.gemm();
        g.setSmall(mode);
        int M = 37, N = 45, pad = 3;
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int acc = 0; acc < 2; acc++)
                    for (int withBias = 0; withBias < 2; withBias++) {
                        boolean transA = ta == 1, transB = tb == 1, accumulate = acc == 1;
                        int aRows = transA ? K : M, aCols = transA ? M : K, bRows = transB ? N : K, bCols = transB ? K : N;
                        int lda = aCols + pad, ldb = bCols + pad, ldc = N + pad;
                        float[] a = strided(aRows, aCols, lda), b = strided(bRows, bCols, ldb), bias = uniform(rng, N, -1, 1);
                        float[] c = strided(M, N, ldc);
                        double[] e = new double[M * N];
                        for (int m = 0; m < M; m++)
                            for (int n = 0; n < N; n++) {
                                double s = 0;
                                for (int k = 0; k < K; k++)
                                    s += (double) (transA ? a[k * lda + m] : a[m * lda + k]) * (transB ? b[n * ldb + k] : b[k * ldb + n]);
                                if (withBias == 1) s += bias[n];
                                e[m * N + n] = accumulate ? c[m * ldc + n] + s : s;
                            }
                        float[] got = runGemm(gpu, g, a, b, withBias == 1 ? bias : null, c, M, N, K, lda, ldb, ldc, transA, transB, accumulate, null);
                        String what = mode + " " + g.kernel(M, N, K) + " trans_a=" + transA + " trans_b=" + transB + " accumulate=" + accumulate
                                + " bias=" + (withBias == 1) + " " + M + "x" + N + "x" + K;
                        compareStrided(what, e, got, M, N, ldc);
                    }

        // the ones row: dW (in, out) += x^T dy over `rows` rows, db += the column sums of dy
        int rows = K, in = 37, out = 45;
        float[] x = uniform(rng, rows * in, -1, 1), dy = uniform(rng, rows * out, -1, 1), dW = uniform(rng, in * out, -1, 1), db = uniform(rng, out, -1, 1);
        for (int limit : new int[] {-1, rows / 2, 0}) {   // -1: no device row count (weightGrad)
            int r = limit < 0 ? rows : limit;
            double[] eW = new double[in * out], eB = new double[out];
            for (int i = 0; i < in; i++)
                for (int o = 0; o < out; o++) {
                    double s = dW[i * out + o];
                    for (int q = 0; q < r; q++) s += (double) x[q * in + i] * dy[q * out + o];
                    eW[i * out + o] = s;
                }
            for (int o = 0; o < out; o++) {
                double s = db[o];
                for (int q = 0; q < r; q++) s += dy[q * out + o];
                eB[o] = s;
            }
            float[] xr = x.clone(), dyr = dy.clone();   // the rows past the count poisoned: read, they would give NaN
            java.util.Arrays.fill(xr, r * in, rows * in, GpuTesting.POISON);
            java.util.Arrays.fill(dyr, r * out, rows * out, GpuTesting.POISON);
            float[][] got = runWeightGrad(gpu, g, xr, dyr, dW, db, rows, in, out, limit);
            String what = mode + " " + g.kernel(in + 1, out, rows) + " weight gradient with db" + (limit < 0 ? "" : ", rows counted on the device: " + limit);
            compareStrided(what + " dW", eW, got[0], in, out, out);
            compareStrided(what + " db", eB, got[1], 1, out, out);
        }

        // the row count over M: y = x W + b for the first `limit` of 37 rows, the rest of y untouched
        for (int limit : new int[] {20, 0, M + 5}) {
            int r = Math.min(limit, M);
            float[] xa = uniform(rng, M * K, -1, 1), w = uniform(rng, K * N, -1, 1), bias = uniform(rng, N, -1, 1);
            float[] y = new float[M * N];
            java.util.Arrays.fill(y, GpuTesting.POISON);
            double[] e = new double[M * N];
            for (int m = 0; m < r; m++)
                for (int n = 0; n < N; n++) {
                    double s = bias[n];
                    for (int k = 0; k < K; k++) s += (double) xa[m * K + k] * w[k * N + n];
                    e[m * N + n] = s;
                }
            for (int m = r; m < M; m++) for (int n = 0; n < N; n++) e[m * N + n] = Double.NaN;   // must stay poisoned
            float[] got = runGemm(gpu, g, xa, w, bias, y, M, N, K, K, N, N, false, false, false, limit);
            compareStrided(mode + " " + g.kernel(M, N, K) + " y over " + limit + " device-counted rows of " + M, e, got, M, N, N);
        }
    }

    /** rows x cols values in a row stride of ld, the gaps poisoned. */
    private float[] strided(int rows, int cols, int ld) {
        float[] a = new float[rows * ld];
        java.util.Arrays.fill(a, GpuTesting.POISON);
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) a[r * ld + c] = -1 + 2 * (float) rng.nextDouble();
        return a;
    }

    /** C after one product on the GPU (gemm, or gemmRows with a device row count when limit >= 0), all ld-strided. */
    private static float[] runGemm(CudaBackend gpu, BuiltinGemm g, float[] a, float[] b, float[] bias, float[] c, int M, int N, int K, int lda,
                                   int ldb, int ldc, boolean transA, boolean transB, boolean accumulate, Integer limit) {
        io.augur.backend.Tensor ta = upload(gpu, "A", a), tb = upload(gpu, "B", b), tc = upload(gpu, "C", c);
        io.augur.backend.Tensor tbias = bias == null ? null : upload(gpu, "bias", bias);
        io.augur.backend.Tensor count = limit == null ? null : gpu.ints("count", 1);
        if (count != null) gpu.upload(count, new int[] {limit}, 1);
        gpu.synchronize();   // the tensors allocated and filled before the raw launch reads their addresses
        if (count == null) g.gemm(addr(tc), addr(ta), addr(tb), addr(tbias), M, N, K, lda, ldb, ldc, transA, transB, accumulate);
        else g.gemmRows(addr(tc), addr(ta), addr(tb), addr(tbias), M, N, K, lda, ldb, ldc, transA, transB, accumulate, addr(count));
        float[] got = new float[c.length];
        gpu.download(tc, got, got.length);
        return got;
    }

    /** dW and db after weightGrad (limit < 0) or weightGradRows over the first `limit` rows. */
    private static float[][] runWeightGrad(CudaBackend gpu, BuiltinGemm g, float[] x, float[] dy, float[] dW, float[] db, int rows, int in, int out, int limit) {
        io.augur.backend.Tensor tx = upload(gpu, "x", x), tdy = upload(gpu, "dy", dy), tW = upload(gpu, "dW", dW), tb = upload(gpu, "db", db);
        io.augur.backend.Tensor count = gpu.ints("count", 1);
        gpu.upload(count, new int[] {limit}, 1);
        gpu.synchronize();
        if (limit < 0) assertTrue(g.weightGrad(addr(tW), addr(tb), addr(tx), addr(tdy), rows, in, out), "db in dW's pass");
        else g.weightGradRows(addr(tW), addr(tb), addr(tx), addr(tdy), rows, in, out, addr(count));
        float[] gotW = new float[in * out], gotB = new float[out];
        gpu.download(tW, gotW, gotW.length);
        gpu.download(tb, gotB, gotB.length);
        return new float[][] {gotW, gotB};
    }

    private static io.augur.backend.Tensor upload(CudaBackend gpu, String name, float[] v) {
        io.augur.backend.Tensor t = gpu.floats(name, v.length);
        gpu.upload(t, v, v.length);
        return t;
    }

    private static long addr(io.augur.backend.Tensor t) { return t == null ? 0L : ((CudaTensor) t).address(); }

    /**
     * got (M rows of stride ld) against e (M x N, dense): within LOOSE where e is a number, still
     * poisoned where e is NaN (rows past a device row count) and in every gap past N.
     */
    private static void compareStrided(String what, double[] e, float[] got, int M, int N, int ld) {
        int poison = Float.floatToRawIntBits(GpuTesting.POISON), failed = 0;
        StringBuilder bad = new StringBuilder();
        for (int m = 0; m < M; m++)
            for (int n = 0; n < ld; n++) {
                float a = got[m * ld + n];
                double x = n < N ? e[m * N + n] : Double.NaN;
                boolean ok = Double.isNaN(x) ? Float.floatToRawIntBits(a) == poison : Math.abs(x - a) <= LOOSE_ATOL + LOOSE_RTOL * Math.abs(x);
                if (!ok && failed++ < 8) bad.append(String.format(java.util.Locale.ROOT, "\n  [%d, %d] expected %.8g (NaN: untouched), got %.8g", m, n, x, a));
            }
        assertTrue(failed == 0, what + ": " + failed + " of " + M * ld + " elements wrong" + bad);
    }

    /**
     * BatchNorm, Dice, PReLU and the sigmoid over B rows (the unsliced kernels up to 256 rows). The column kernels walk
     * a thread row's rows (every 16th) 8 at a time (normalization.cuh column_rows): at 37 rows every thread row has
     * only a last, partial round; at 128 each has exactly one full round; at 200 a full round and a partial one.
     */
    @ParameterizedTest
    @CsvSource({"batchnorm, 37", "dice, 37", "prelu, 37", "sigmoid, 37", "batchnorm, 128", "dice, 128", "batchnorm, 200", "dice, 200"})
    void normalisationAndActivations(String op, int B) {
        int C = 75;  // not a multiple of 32
        int MAXB = B + 3;
        Pair x = tw.floats("x", uniformPoisoned(rng, B * C, MAXB * C, -2, 2)), dy = tw.floats("dy", uniformPoisoned(rng, B * C, MAXB * C, -1, 1));
        Pair y = tw.poisoned("y", MAXB * C), dx = tw.poisoned("dx", MAXB * C);
        Pair gamma = tw.floats("gamma", uniform(rng, C, 0.5f, 1.5f)), beta = tw.floats("beta", uniform(rng, C, -0.5f, 0.5f));
        Pair alpha = tw.floats("alpha", uniform(rng, C, -0.5f, 0.5f));
        Pair rm = tw.floats("rm", uniform(rng, C, -0.1f, 0.1f)), rv = tw.floats("rv", uniform(rng, C, 0.9f, 1.1f));
        Pair mean = tw.poisoned("mean", C), inv = tw.poisoned("inv", C);
        Pair dG = tw.floats("dG", uniform(rng, C, -1, 1)), dB = tw.floats("dB", uniform(rng, C, -1, 1)), dA = tw.floats("dA", uniform(rng, C, -1, 1));
        switch (op) {
            case "batchnorm" -> {
                tw.both(be -> be.batchNorm(y.on(be), mean.on(be), inv.on(be), x.on(be), gamma.on(be), beta.on(be), rm.on(be), rv.on(be), B, C, true, 0.99f, 1e-5f));
                tw.both(be -> be.batchNormBackward(dx.on(be), dG.on(be), dB.on(be), dy.on(be), mean.on(be), inv.on(be), x.on(be), gamma.on(be), B, C));
                tw.assertClose("bn dGamma", dG, LOOSE_ATOL, LOOSE_RTOL);
                tw.assertClose("bn dBeta", dB, LOOSE_ATOL, LOOSE_RTOL);
                Pair yi = tw.poisoned("yi", MAXB * C);
                tw.both(be -> be.batchNorm(yi.on(be), mean.on(be), inv.on(be), x.on(be), gamma.on(be), beta.on(be), rm.on(be), rv.on(be), B, C, false, 0.99f, 1e-5f));
                tw.assertClose("bn inference", yi, TIGHT_ATOL, TIGHT_RTOL);
            }
            case "dice" -> {
                tw.both(be -> be.dice(y.on(be), mean.on(be), inv.on(be), x.on(be), alpha.on(be), rm.on(be), rv.on(be), B, C, true, 0.99f, 1e-8f));
                tw.both(be -> be.diceBackward(dx.on(be), dA.on(be), dy.on(be), mean.on(be), inv.on(be), x.on(be), alpha.on(be), B, C));
                tw.assertClose("dice dAlpha", dA, LOOSE_ATOL, LOOSE_RTOL);
            }
            case "prelu" -> {
                tw.both(be -> be.prelu(y.on(be), x.on(be), alpha.on(be), B, C));
                tw.both(be -> be.preluBackward(dx.on(be), dA.on(be), dy.on(be), x.on(be), alpha.on(be), B, C));
                tw.assertClose("prelu dAlpha", dA, LOOSE_ATOL, LOOSE_RTOL);
            }
            default -> {
                tw.both(be -> be.sigmoid(y.on(be), x.on(be), B * C));
                tw.both(be -> be.sigmoidBackward(dx.on(be), dy.on(be), y.on(be), B * C));
            }
        }
        tw.assertClose(op + " y", y, TIGHT_ATOL, TIGHT_RTOL);
        tw.assertClose(op + " dx", dx, LOOSE_ATOL, LOOSE_RTOL);
        if (!op.equals("prelu") && !op.equals("sigmoid")) {
            tw.assertClose(op + " mean", mean, TIGHT_ATOL, TIGHT_RTOL);
            tw.assertClose(op + " invStd", inv, TIGHT_ATOL, TIGHT_RTOL);
            tw.assertClose(op + " running mean", rm, TIGHT_ATOL, TIGHT_RTOL);
            tw.assertClose(op + " running var", rv, TIGHT_ATOL, TIGHT_RTOL);
        }
    }

    /**
     * Dice over more rows than one slice holds (1,500 rows: 23 full slices of 64 and one of 28;
     * 257 rows of one channel: a last slice of one row; 20,000 rows: 254 slices, 15 or 16 for each of a
     * block's thread rows to merge before the rows merge in their tree), which runs sliced (statistics per slice, combined in slice order): training forward and
     * backward, then inference with the running statistics just updated.
     */
    @ParameterizedTest
    @CsvSource({"1500, 75", "257, 1", "20000, 3"})
    void diceOverManyRowsRunsSliced(int rowsB, int C) {
        int maxB = rowsB + 3;
        assertEquals(true, tw.gpu.sliced(rowsB, C), rowsB + " rows of " + C + " channels run sliced");
        Pair x = tw.floats("x", uniformPoisoned(rng, rowsB * C, maxB * C, -2, 2)), dy = tw.floats("dy", uniformPoisoned(rng, rowsB * C, maxB * C, -1, 1));
        Pair y = tw.poisoned("y", maxB * C), dx = tw.poisoned("dx", maxB * C), yi = tw.poisoned("yi", maxB * C);
        Pair alpha = tw.floats("alpha", uniform(rng, C, -0.5f, 0.5f)), dA = tw.floats("dA", uniform(rng, C, -1, 1));
        Pair rm = tw.floats("rm", uniform(rng, C, -0.1f, 0.1f)), rv = tw.floats("rv", uniform(rng, C, 0.9f, 1.1f));
        Pair mean = tw.poisoned("mean", C), inv = tw.poisoned("inv", C);
        tw.both(be -> be.dice(y.on(be), mean.on(be), inv.on(be), x.on(be), alpha.on(be), rm.on(be), rv.on(be), rowsB, C, true, 0.99f, 1e-8f));
        tw.assertClose("sliced dice y", y, TIGHT_ATOL, TIGHT_RTOL);
        tw.assertClose("sliced dice mean", mean, TIGHT_ATOL, TIGHT_RTOL);
        tw.assertClose("sliced dice invStd", inv, TIGHT_ATOL, TIGHT_RTOL);
        tw.assertClose("sliced dice running mean", rm, TIGHT_ATOL, TIGHT_RTOL);
        tw.assertClose("sliced dice running var", rv, TIGHT_ATOL, TIGHT_RTOL);
        tw.both(be -> be.diceBackward(dx.on(be), dA.on(be), dy.on(be), mean.on(be), inv.on(be), x.on(be), alpha.on(be), rowsB, C));
        tw.assertClose("sliced dice dx", dx, LOOSE_ATOL, LOOSE_RTOL);
        tw.assertClose("sliced dice dAlpha", dA, LOOSE_ATOL, LOOSE_RTOL);
        tw.both(be -> be.dice(yi.on(be), mean.on(be), inv.on(be), x.on(be), alpha.on(be), rm.on(be), rv.on(be), rowsB, C, false, 0.99f, 1e-8f));
        tw.assertClose("sliced dice inference", yi, TIGHT_ATOL, TIGHT_RTOL);
    }

    /**
     * BatchNorm (forward, training and inference, and backward) and BCE over the first n of the
     * B rows, n in device memory, against the CPU's op on n rows: the rows past n hold large
     * values, which would show in any statistic or sum that took them in; dx and dLogits are 0
     * there. y past n is unspecified and not compared.
     */
    @Test
    void rowCountedBatchNormAndBce() {
        int n = 23;
        rowCountedBatchNorm(MAXB, n, 13);

        Pair rows = tw.ints("rows", new int[] {n});
        float[] labels = new float[MAXB];
        for (int b = 0; b < MAXB; b++) labels[b] = b % 2 == 0 ? 1f : 0f;
        float[] z = uniform(rng, MAXB, -5, 5);
        for (int b = n; b < MAXB; b++) z[b] = 50f;   // a large loss, if counted
        Pair zs = tw.floats("z", z), ys = tw.floats("labels", labels), loss = tw.poisoned("loss", 1), dz = tw.poisoned("dz", MAXB);
        tw.both(be -> be.bceWithLogits(loss.on(be), dz.on(be), zs.on(be), ys.on(be), MAXB, 0.7f, rows.on(be)));
        tw.assertClose("counted bce loss", loss, TIGHT_ATOL, TIGHT_RTOL);
        tw.assertClose("counted bce dLogits (0 past n)", dz, 1e-7, TIGHT_RTOL);
    }

    /**
     * A batch in which every history is empty (cold-start users): the fused unit (sigmoid with softmax, PReLU
     * without) and the Dice unit on packed and dense rows, whose products, statistics and bias gradients then have no
     * row; and BatchNorm and BCE over a row count of 0 (DIEN's auxiliary network in a batch without a pair). Against
     * the CPU, as every case; found untested by gcov's branch counts (the kernels' no-row returns).
     */
    @Test
    void aBatchOfEmptyHistories() {
        int[] none = new int[MAXB];
        activationUnitCase(Activation.SIGMOID, true, T, none, E, 80, 40);
        activationUnitCase(Activation.PRELU, false, 100, none, E, 80, 40);
        for (String rows : new String[] {"packed", "dense"})
            onRows(rows, t -> activationUnitCase(t, rng, GpuTesting::uniform, Activation.DICE, true, T, none, E, 80, 40, TIGHT_ATOL, TIGHT_RTOL,
                    (what, p) -> t.assertClose(what, p, LOOSE_ATOL, LOOSE_RTOL)));
        rowCountedBatchNorm(MAXB, 0, 13);
        Pair rows = tw.ints("rows", new int[] {0});
        Pair zs = tw.floats("z", uniform(rng, MAXB, -5, 5)), ys = tw.floats("labels", uniform(rng, MAXB, 0, 1));
        Pair loss = tw.poisoned("loss", 1), dz = tw.poisoned("dz", MAXB);
        tw.both(be -> be.bceWithLogits(loss.on(be), dz.on(be), zs.on(be), ys.on(be), MAXB, 0.7f, rows.on(be)));
        tw.assertClose("bce over no row: loss", loss, 0, 0);
        tw.assertClose("bce over no row: dLogits", dz, 0, 0);
    }

    /**
     * BatchNorm over more rows than one slice holds, which runs sliced: 1,500 rows of which the
     * first 1,300 count (the count cuts the 21st slice of 64, and the last three hold no counted
     * row), all 1,500, and none (DIEN's auxiliary network in a batch without a pair: every dx 0).
     */
    @ParameterizedTest
    @ValueSource(ints = {0, 1300, 1500})
    void rowCountedBatchNormOverManyRowsRunsSliced(int n) {
        assertEquals(true, tw.gpu.sliced(1500, 13), "1,500 rows of 13 channels run sliced");
        rowCountedBatchNorm(1500, n, 13);
    }

    /**
     * BatchNorm over 20,000 rows: 254 slices of 79, so each of a block's 16 thread rows merges 15 or 16
     * slices' statistics (and backward, adds 15 or 16 slices' sums) before the rows meet in a fixed
     * tree (normalization.cuh combine_statistics, slice_sums); with the count cutting the 99th slice
     * (7,777 rows: the slices past it hold no row), with every row, and with none.
     */
    @ParameterizedTest
    @ValueSource(ints = {0, 7777, 20000})
    void rowCountedBatchNormOverHundredsOfSlices(int n) {
        assertEquals(254, CudaBackend.slices(20000, CudaBackend.sliceRows(20000)));
        rowCountedBatchNorm(20000, n, 5);
    }

    /**
     * BCE over more rows than one block takes (CudaBackend.bceBlocks: 9 blocks for 9,000 rows), the
     * blocks' sums added by the last block to finish: all rows without a count, all rows with one, a
     * count that ends inside a block (5,000: dLogits 0 past it, the large logits there left out of the
     * loss) and none. The GPU's op then runs again on the same inputs, over a NaN loss, and must write
     * the same bits: the block counter is back at zero after each launch, as a replayed graph needs it.
     */
    @ParameterizedTest
    @ValueSource(ints = {-1, 9000, 5000, 0})
    void bceOverManyRowsRunsInSeveralBlocks(int n) {
        int B = 9000;
        assertEquals(9, CudaBackend.bceBlocks(B));
        assertEquals(1, CudaBackend.bceBlocks(1024));
        float[] labels = new float[B];
        for (int b = 0; b < B; b++) labels[b] = rng.nextBoolean() ? 1f : 0f;
        float[] z = uniform(rng, B, -6, 6);
        for (int b = Math.max(n, 0); n >= 0 && b < B; b++) z[b] = 50f + b;   // a large loss, if counted
        Pair zs = tw.floats("z", z), ys = tw.floats("labels", labels), loss = tw.poisoned("loss", 1), dz = tw.poisoned("dz", B);
        Pair rows = n < 0 ? null : tw.ints("rows", new int[] {n});
        java.util.function.Consumer<Backend> op = be -> {
            if (rows == null) be.bceWithLogits(loss.on(be), dz.on(be), zs.on(be), ys.on(be), B, 0.7f);
            else be.bceWithLogits(loss.on(be), dz.on(be), zs.on(be), ys.on(be), B, 0.7f, rows.on(be));
        };
        tw.both(op);
        tw.assertClose("bce over 9 blocks, count " + n + ": loss", loss, n == 0 ? 0 : TIGHT_ATOL, n == 0 ? 0 : TIGHT_RTOL);
        tw.assertClose("bce over 9 blocks, count " + n + ": dLogits", dz, 1e-7, TIGHT_RTOL);
        float[] first = new float[1], second = new float[1];
        tw.gpu.download(loss.gpu(), first, 1);
        tw.gpu.upload(loss.gpu(), new float[] {Float.NaN}, 1);   // a launch that wrote no loss would leave this
        op.accept(tw.gpu);
        tw.gpu.download(loss.gpu(), second, 1);
        assertEquals(Float.floatToRawIntBits(first[0]), Float.floatToRawIntBits(second[0]), "the second launch's loss " + second[0] + " vs the first's " + first[0]);
    }

    /**
     * The tower's logit layer and the loss in one launch (bce_head_kernel, Backend.logitsAndLoss) against the CPU's two
     * ops: one block (37 and 128 rows, 80 and 7 inputs) and nine (9,000 rows, the blocks' sums added by the last), with
     * and without a device row count (every row's logit written, the loss and dLogits over the first n). Replayed over a
     * NaN loss, the launch writes the same bits: its block counter is back at zero.
     */
    @ParameterizedTest
    @CsvSource({"37, 80, -1", "128, 80, -1", "128, 7, 100", "9000, 80, -1", "9000, 80, 5000", "128, 80, 0"})
    void theLogitsInTheLossLaunch(int B, int K, int n) {
        float bound = (float) (1 / Math.sqrt(K));
        Pair h = tw.floats("h", uniform(rng, B * K, -2, 2)), w = tw.floats("head.W", uniform(rng, K, -bound, bound));
        Pair bias = tw.floats("head.b", uniform(rng, 1, -0.5f, 0.5f)), pre = tw.poisoned("logits", B);
        float[] y = new float[B];
        for (int r = 0; r < B; r++) y[r] = rng.nextBoolean() ? 1f : 0f;
        Pair labels = tw.floats("labels", y), loss = tw.poisoned("loss", 1), dz = tw.poisoned("dLogits", B);
        Pair rows = n < 0 ? null : tw.ints("rows", new int[] {n});
        java.util.function.Consumer<Backend> op = be -> be.logitsAndLoss(
                new io.augur.backend.Tower.Layer(w.on(be), bias.on(be), null, null, pre.on(be), null, null, null, null, null, null, null, null,
                        null, null, K, 1, 0f, 0f),
                h.on(be), B, new io.augur.backend.Tower.Loss(labels.on(be), loss.on(be), dz.on(be), 0.7f), rows == null ? null : rows.on(be));
        java.util.Set<String> ran = timed(tw.gpu, () -> tw.both(op));
        assertEquals(java.util.Set.of(Kernels.BCE_HEAD), ran);
        String what = "logits and loss, " + B + " rows of " + K + ", count " + n;
        tw.assertClose(what + ": logits", pre, TIGHT_ATOL, TIGHT_RTOL);
        tw.assertClose(what + ": loss", loss, n == 0 ? 0 : TIGHT_ATOL, n == 0 ? 0 : TIGHT_RTOL);
        tw.assertClose(what + ": dLogits", dz, 1e-7, TIGHT_RTOL);
        float[] first = new float[1], second = new float[1];
        tw.gpu.download(loss.gpu(), first, 1);
        tw.gpu.upload(loss.gpu(), new float[] {Float.NaN}, 1);
        op.accept(tw.gpu);
        tw.gpu.download(loss.gpu(), second, 1);
        assertEquals(Float.floatToRawIntBits(first[0]), Float.floatToRawIntBits(second[0]), what + ": the second launch's loss " + second[0] + " vs the first's " + first[0]);
    }

    /** BatchNorm over the first n of B rows, n in device memory; the rows past n hold large values. */
    private void rowCountedBatchNorm(int B, int n, int C) {
        float[] x = uniform(rng, B * C, -1, 1);
        for (int i = n * C; i < B * C; i++) x[i] = 1000f + i;
        Pair xs = tw.floats("x", x), rows = tw.ints("rows", new int[] {n});
        Pair gamma = tw.floats("gamma", uniform(rng, C, 0.5f, 1.5f)), beta = tw.floats("beta", uniform(rng, C, -0.5f, 0.5f));
        Pair rm = tw.floats("rm", uniform(rng, C, -0.1f, 0.1f)), rv = tw.floats("rv", uniform(rng, C, 0.5f, 1.5f));
        Pair y = tw.poisoned("y", B * C), mean = tw.poisoned("mean", C), inv = tw.poisoned("inv", C);
        Pair dy = tw.floats("dy", uniform(rng, B * C, -1, 1)), dx = tw.poisoned("dx", B * C);
        Pair dGamma = tw.floats("dGamma", uniform(rng, C, -1, 1)), dBeta = tw.floats("dBeta", uniform(rng, C, -1, 1));
        tw.both(be -> be.batchNorm(y.on(be), mean.on(be), inv.on(be), xs.on(be), gamma.on(be), beta.on(be), rm.on(be), rv.on(be), B, C, true,
                0.9f, 1e-5f, rows.on(be)));
        float[] ye = new float[B * C], ya = new float[B * C];
        tw.cpu.download(y.cpu(), ye, B * C);
        tw.gpu.download(y.gpu(), ya, B * C);
        GpuTesting.compare("counted batch norm y (first n rows)", java.util.Arrays.copyOf(ye, n * C), java.util.Arrays.copyOf(ya, n * C),
                TIGHT_ATOL, TIGHT_RTOL);
        // with no counted row training writes nothing (batch_norm.cu), neither y nor the statistics, as the CPU's op
        if (n > 0) for (int i = n * C; i < B * C; i++) org.junit.jupiter.api.Assertions.assertTrue(Float.isFinite(ya[i]), "y past n is finite");
        tw.assertClose("counted batch norm mean", mean, TIGHT_ATOL, TIGHT_RTOL);
        tw.assertClose("counted batch norm invStd", inv, TIGHT_ATOL, TIGHT_RTOL);
        tw.assertClose("counted batch norm running mean", rm, TIGHT_ATOL, TIGHT_RTOL);
        tw.assertClose("counted batch norm running var", rv, TIGHT_ATOL, TIGHT_RTOL);
        tw.both(be -> be.batchNormBackward(dx.on(be), dGamma.on(be), dBeta.on(be), dy.on(be), mean.on(be), inv.on(be), xs.on(be), gamma.on(be),
                B, C, rows.on(be)));
        tw.assertClose("counted batch norm dx (0 past n)", dx, LOOSE_ATOL, LOOSE_RTOL);
        tw.assertClose("counted batch norm dGamma", dGamma, LOOSE_ATOL, LOOSE_RTOL);
        tw.assertClose("counted batch norm dBeta", dBeta, LOOSE_ATOL, LOOSE_RTOL);
        Pair yi = tw.poisoned("yi", B * C);
        tw.both(be -> be.batchNorm(yi.on(be), mean.on(be), inv.on(be), xs.on(be), gamma.on(be), beta.on(be), rm.on(be), rv.on(be), B, C, false,
                0.9f, 1e-5f, rows.on(be)));
        tw.cpu.download(yi.cpu(), ye, B * C);
        tw.gpu.download(yi.gpu(), ya, B * C);
        GpuTesting.compare("counted batch norm inference y (first n rows)", java.util.Arrays.copyOf(ye, n * C), java.util.Arrays.copyOf(ya, n * C),
                TIGHT_ATOL, TIGHT_RTOL);
    }

    /** PReLU's backward over more rows than one slice holds runs sliced (dx, then the slopes' sums in slice order). */
    @Test
    void preluOverManyRowsRunsSliced() {
        int rowsB = 1500, C = 75;
        assertEquals(true, tw.gpu.sliced(rowsB, C), "1,500 rows of 75 channels run sliced");
        Pair x = tw.floats("x", uniform(rng, rowsB * C, -2, 2)), dy = tw.floats("dy", uniform(rng, rowsB * C, -1, 1));
        Pair y = tw.poisoned("y", rowsB * C), dx = tw.poisoned("dx", rowsB * C);
        Pair alpha = tw.floats("alpha", uniform(rng, C, -0.5f, 0.5f)), dA = tw.floats("dA", uniform(rng, C, -1, 1));
        tw.both(be -> be.prelu(y.on(be), x.on(be), alpha.on(be), rowsB, C));
        tw.both(be -> be.preluBackward(dx.on(be), dA.on(be), dy.on(be), x.on(be), alpha.on(be), rowsB, C));
        tw.assertClose("sliced prelu y", y, TIGHT_ATOL, TIGHT_RTOL);
        tw.assertClose("sliced prelu dx", dx, TIGHT_ATOL, TIGHT_RTOL);
        tw.assertClose("sliced prelu dAlpha", dA, LOOSE_ATOL, LOOSE_RTOL);
    }

    @Test
    void bceAndAdam() {
        float[] labels = new float[MAXB];
        for (int b = 0; b < MAXB; b++) labels[b] = rng.nextBoolean() ? 1f : 0f;
        Pair z = tw.floats("z", uniformPoisoned(rng, B, MAXB, -30, 30)), y = tw.floats("labels", labels);
        Pair loss = tw.poisoned("loss", 1), dz = tw.poisoned("dz", MAXB);
        tw.both(be -> be.bceWithLogits(loss.on(be), dz.on(be), z.on(be), y.on(be), B, 0.7f));
        tw.assertClose("bce loss", loss, TIGHT_ATOL, TIGHT_RTOL);
        tw.assertClose("bce dLogits", dz, 1e-7, TIGHT_RTOL);

        int n = 1003;
        Pair p = tw.floats("p", uniform(rng, n + 5, -1, 1)), g = tw.floats("g", uniform(rng, n + 5, -1, 1));
        Pair m = tw.floats("m", uniform(rng, n + 5, -0.1f, 0.1f)), v = tw.floats("v", uniform(rng, n + 5, 0, 0.1f));
        for (int step = 1; step <= 3; step++) {
            int st = step;
            tw.both(be -> be.adam(p.on(be), g.on(be), m.on(be), v.on(be), n, 1e-3f, 0.9f, 0.999f, 1e-8f, 1e-4f, st));
        }
        tw.assertClose("adam p", p, TIGHT_ATOL, TIGHT_RTOL);
        tw.assertClose("adam m", m, TIGHT_ATOL, TIGHT_RTOL);
        tw.assertClose("adam v", v, TIGHT_ATOL, TIGHT_RTOL);
    }

    /**
     * Adam and zero over a list of dense tensors, one launch per 24 tensors on the GPU: 30 tensors
     * with sizes at and around the kernel's 1024-element chunk and random ones, against the CPU
     * reference one tensor at a time; and bit for bit the GPU's own one-tensor adam_kernel. A
     * tensor left out of the lists stays as it was.
     */
    @Test
    void adamAndZeroOverAListOfTensors() {
        int[] sizes = new int[30];
        int[] fixed = {1, 1023, 1024, 1025, 2048, 3001, 7};
        for (int k = 0; k < sizes.length; k++) sizes[k] = k < fixed.length ? fixed[k] : 1 + rng.nextInt(5000);
        java.util.List<io.augur.backend.Param> cpuList = new java.util.ArrayList<>(), gpuList = new java.util.ArrayList<>();
        java.util.List<Pair> ps = new java.util.ArrayList<>(), ms = new java.util.ArrayList<>(), vs = new java.util.ArrayList<>(), gs = new java.util.ArrayList<>();
        java.util.List<io.augur.backend.Tensor> oneByOne = new java.util.ArrayList<>();   // p, g, m, v of a GPU copy updated by adam_kernel
        Pair outside = tw.floats("outside", uniform(rng, 777, -1, 1));
        float[] outsideBefore = new float[777];
        tw.cpu.download(outside.cpu(), outsideBefore, 777);
        for (int k = 0; k < sizes.length; k++) {
            int n = sizes[k];
            float[] p0 = uniform(rng, n, -1, 1), g0 = uniform(rng, n, -1, 1), m0 = uniform(rng, n, -0.1f, 0.1f), v0 = uniform(rng, n, 0, 0.1f);
            Pair p = tw.floats("p" + k, p0), g = tw.floats("g" + k, g0), m = tw.floats("m" + k, m0), v = tw.floats("v" + k, v0);
            ps.add(p); gs.add(g); ms.add(m); vs.add(v);
            io.augur.backend.Param pc = io.augur.backend.Param.dense("w" + k, p.cpu(), g.cpu()), pg = io.augur.backend.Param.dense("w" + k, p.gpu(), g.gpu());
            pc.setState(m.cpu(), v.cpu());
            pg.setState(m.gpu(), v.gpu());
            cpuList.add(pc);
            gpuList.add(pg);
            for (float[] init : new float[][] {p0, g0, m0, v0}) {
                io.augur.backend.Tensor t = tw.gpu.floats("one-by-one" + k, n);
                tw.gpu.upload(t, init, n);
                oneByOne.add(t);
            }
        }
        for (int step = 1; step <= 3; step++) {
            int st = step;
            tw.cpu.adam(cpuList, 1e-3f, 0.9f, 0.999f, 1e-8f, 1e-4f, st);
            tw.gpu.adam(gpuList, 1e-3f, 0.9f, 0.999f, 1e-8f, 1e-4f, st);
            for (int k = 0; k < sizes.length; k++) {
                tw.gpu.adam(oneByOne.get(4 * k), oneByOne.get(4 * k + 1), oneByOne.get(4 * k + 2), oneByOne.get(4 * k + 3), sizes[k],
                        1e-3f, 0.9f, 0.999f, 1e-8f, 1e-4f, st);
            }
        }
        for (int k = 0; k < sizes.length; k++) {
            String what = "adam over a list, tensor " + k + " of " + sizes[k];
            tw.assertClose(what + ": p", ps.get(k), TIGHT_ATOL, TIGHT_RTOL);
            tw.assertClose(what + ": m", ms.get(k), TIGHT_ATOL, TIGHT_RTOL);
            tw.assertClose(what + ": v", vs.get(k), TIGHT_ATOL, TIGHT_RTOL);
            float[] fused = new float[sizes[k]], single = new float[sizes[k]];
            tw.gpu.download(ps.get(k).gpu(), fused, sizes[k]);
            tw.gpu.download(oneByOne.get(4 * k), single, sizes[k]);
            org.junit.jupiter.api.Assertions.assertArrayEquals(single, fused, what + ": adam_multi_kernel and adam_kernel differ");
        }
        java.util.List<io.augur.backend.Tensor> gc = new java.util.ArrayList<>(), gg = new java.util.ArrayList<>();
        for (Pair g : gs) { gc.add(g.cpu()); gg.add(g.gpu()); }
        tw.cpu.zero(gc);
        tw.gpu.zero(gg);
        for (int k = 0; k < sizes.length; k++) tw.assertClose("zero over a list, tensor " + k + " of " + sizes[k], gs.get(k), 0, 0);
        tw.assertClose("a tensor in neither list", outside, 0, 0);
        float[] outsideAfter = new float[777];
        tw.gpu.download(outside.gpu(), outsideAfter, 777);
        org.junit.jupiter.api.Assertions.assertArrayEquals(outsideBefore, outsideAfter, "a tensor in neither list");
    }

    /**
     * The GRU family (DIEN): forward and backward of each cell against the CPU reference, lengths
     * 0, 1, T and random, x and att poisoned (NaN) at padded positions (the kernels must not read
     * them), outputs poisoned before the op, both output forms and both incoming gradients in use;
     * H = 12 (G = 36 < E) and H = 36 (DIEN's Amazon shape, G = 108 > E). At B = 37 each of the
     * weight gradients' sample chunks holds one sample (CudaBackend.WEIGHT_GRAD_CHUNKS); at B = 150, 2 or 3.
     */
    @ParameterizedTest
    @CsvSource({"GRU, 12, 37", "AUGRU, 12, 37", "AGRU, 12, 37", "GRU, 36, 37", "AUGRU, 36, 37", "AGRU, 36, 37", "GRU, 12, 150",
            "AUGRU, 36, 150"})
    void recurrenceForwardAndBackward(io.augur.backend.Recurrence kind, int H, int B) {
        int G = 3 * H, MAXB = B + 3;
        int[] lens = lengths(rng, MAXB, T);
        float[] x = uniform(rng, MAXB * T * E, -1, 1), att = uniform(rng, MAXB * T, 0, 1);
        for (int b = 0; b < MAXB; b++) {
            for (int t = lens[b]; t < T; t++) {
                att[b * T + t] = GpuTesting.POISON;
                for (int e = 0; e < E; e++) x[(b * T + t) * E + e] = GpuTesting.POISON;
            }
        }
        Pair xs = tw.floats("x", x), as = tw.floats("att", att), len = tw.ints("len", lens);
        Pair wx = tw.floats("wx", uniform(rng, E * G, -0.3f, 0.3f)), wh = tw.floats("wh", uniform(rng, H * G, -0.3f, 0.3f));
        Pair bx = tw.floats("bx", uniform(rng, G, -0.1f, 0.1f)), bh = tw.floats("bh", uniform(rng, G, -0.1f, 0.1f));
        Pair gwx = tw.floats("gwx", uniform(rng, E * G, -1, 1)), gwh = tw.floats("gwh", uniform(rng, H * G, -1, 1));
        Pair gbx = tw.floats("gbx", uniform(rng, G, -1, 1)), gbh = tw.floats("gbh", uniform(rng, G, -1, 1));
        Pair hOut = tw.poisoned("hOut", MAXB * T * H), hLast = tw.poisoned("hLast", MAXB * H);
        Pair dx = tw.poisoned("dx", MAXB * T * E), dAtt = tw.poisoned("dAtt", MAXB * T);
        Pair dHOut = tw.floats("dHOut", uniform(rng, MAXB * T * H, -1, 1)), dHLast = tw.floats("dHLast", uniform(rng, MAXB * H, -1, 1));
        Workspace wc = tw.cpu.recurrenceWorkspace("rws", MAXB, T, E, H), wg = tw.gpu.recurrenceWorkspace("rws", MAXB, T, E, H);
        boolean a = kind.usesAttention();
        tw.both(be -> be.recurrence(hOut.on(be), hLast.on(be), be == tw.gpu ? wg : wc, xs.on(be), a ? as.on(be) : null, len.on(be),
                new io.augur.backend.RecurrenceParams(wx.on(be), wh.on(be), bx.on(be), bh.on(be)), kind, B, T, E, H));
        tw.assertClose(kind + " hOut", hOut, TIGHT_ATOL, TIGHT_RTOL);
        tw.assertClose(kind + " hLast", hLast, TIGHT_ATOL, TIGHT_RTOL);
        tw.both(be -> be.recurrenceBackward(dx.on(be), a ? dAtt.on(be) : null,
                new io.augur.backend.RecurrenceParams(gwx.on(be), gwh.on(be), gbx.on(be), gbh.on(be)), dHOut.on(be), dHLast.on(be),
                be == tw.gpu ? wg : wc, xs.on(be), a ? as.on(be) : null, len.on(be),
                new io.augur.backend.RecurrenceParams(wx.on(be), wh.on(be), bx.on(be), bh.on(be)), kind, B, T, E, H));
        tw.assertClose(kind + " dx", dx, LOOSE_ATOL, LOOSE_RTOL);
        if (a) tw.assertClose(kind + " dAtt", dAtt, LOOSE_ATOL, LOOSE_RTOL);
        tw.assertClose(kind + " dWx", gwx, LOOSE_ATOL, LOOSE_RTOL);
        tw.assertClose(kind + " dWh", gwh, LOOSE_ATOL, LOOSE_RTOL);
        tw.assertClose(kind + " dbx", gbx, LOOSE_ATOL, LOOSE_RTOL);
        tw.assertClose(kind + " dbh", gbh, LOOSE_ATOL, LOOSE_RTOL);
    }

    /**
     * The activation unit: fused for sigmoid and PReLU, layer by layer for Dice (whose statistics
     * span the batch's valid positions); with and without softmax, T short and the Amazon T = 100.
     * The keys at padded positions are poisoned: no kernel may read them.
     */
    @ParameterizedTest
    @CsvSource({"SIGMOID, false, 7", "SIGMOID, true, 7", "PRELU, false, 7", "PRELU, true, 7", "SIGMOID, true, 100", "PRELU, false, 100",
            "DICE, false, 7", "DICE, true, 7", "DICE, true, 100"})
    void activationUnitForwardAndBackward(Activation act, boolean softmax, int T) {
        java.util.Set<String> ran = timed(tw.gpu, () -> activationUnitCase(act, softmax, T, lengths(rng, MAXB, T), E, 80, 40));
        if (act != Activation.DICE) assertFusedForms(true, ran);
    }

    /**
     * The fused unit on vector tiles and on scalar tiles (-Daugur.attention.vectorTiles=off) with the same inputs: the
     * same sums in the same order, so every gradient (which the forward's scores and weights feed) is the same bits,
     * and each is within the tolerances of the CPU reference. At batch 300 the backward's blocks take several tiles
     * each, the last one partly filled. With tiles of 16 rows forward and backward (batch 128's in the Amazon config)
     * the vector tiles of the MLP's two layers are 2 rows high (activation_unit.cu's narrow_product); with 32, the
     * first layer's full tiles are 4 high and the second's 2; a tile of up to 25 rows takes 2 for both.
     */
    @ParameterizedTest
    @CsvSource({"PRELU, true, 100, 37, 0", "SIGMOID, false, 9, 300, 0", "SIGMOID, true, 100, 37, 16", "PRELU, false, 20, 90, 32"})
    void activationUnitOnVectorAndScalarTilesGivesTheSameBits(Activation act, boolean softmax, int T, int n, int rows) {
        java.util.Map<String, float[]> vector = new java.util.TreeMap<>(), scalar = new java.util.TreeMap<>();
        String r = rows > 0 ? Integer.toString(rows) : "auto";
        for (boolean vectorTiles : new boolean[] {true, false}) {
            try (GpuTesting.Twin t = new GpuTesting.Twin(tw.gpu)) {
                java.util.Set<String> ran = timed(tw.gpu, () -> GpuTesting.withSetting(tw.gpu, KernelTuning.VECTOR_TILES, vectorTiles ? "auto" : "off",
                        () -> GpuTesting.withSetting(tw.gpu, KernelTuning.ROWS_FORWARD, r, () -> GpuTesting.withSetting(tw.gpu, KernelTuning.ROWS_BACKWARD, r,
                                () -> unitValues(t, 4242, act, softmax, T, n, vectorTiles ? vector : scalar)))));
                assertFusedForms(vectorTiles, ran);
            }
        }
        assertSameBits(vector, "on vector tiles", scalar, "on scalar tiles");
    }

    /**
     * The fused backward with dMa and the rows' shares of dQuery made from each sample's sum of dH1 over its rows in a
     * tile (-Daugur.attention.querySums=auto) and from every row (the default), with the same inputs, each within the
     * CPU reference's tolerances. With histories of one position a tile is all samples, past the room for their sums
     * (14 samples in a tile of 32 rows at these widths, 7 in one of 16), so every tile takes the per-row path either way:
     * the same bits. With histories of 64 positions and more a tile spans at most two samples and every tile takes the
     * sums, and dQuery and dW1 come out of other sums: some bits differ, which shows the setting reaching the kernel.
     * The mixed lengths (0, 1, T and random) take both paths, tile by tile.
     */
    @ParameterizedTest
    @CsvSource({"ones, SIGMOID, true", "long, PRELU, false", "mixed, PRELU, true", "mixed, SIGMOID, false"})
    void activationUnitBackwardWithQuerySumsOrPerRow(String histories, Activation act, boolean softmax) {
        int T = 100, n = histories.equals("long") ? 48 : histories.equals("ones") ? 64 : 120;
        int[] lens = switch (histories) {
            case "ones" -> java.util.Arrays.stream(new int[n]).map(x -> 1).toArray();
            case "long" -> new SplittableRandom(5).ints(n, 64, T + 1).toArray();
            default -> lengths(new SplittableRandom(6), n, T);
        };
        java.util.Map<String, float[]> sums = new java.util.TreeMap<>(), perRow = new java.util.TreeMap<>();
        for (boolean querySums : new boolean[] {true, false}) {
            try (GpuTesting.Twin t = new GpuTesting.Twin(tw.gpu)) {
                GpuTesting.withSetting(tw.gpu, KernelTuning.QUERY_SUMS, querySums ? "auto" : "off",
                        () -> unitValues(t, 9090, act, softmax, T, lens, querySums ? sums : perRow));
            }
        }
        if (histories.equals("ones")) {
            assertSameBits(sums, "from per-sample sums", perRow, "per row");
        } else if (histories.equals("long")) {
            for (String k : new String[] {"dq", "gw1"})   // dQuery, and W1's gradient (its dMa)
                assertFalse(java.util.Arrays.equals(sums.get(k), perRow.get(k)), k + ": the same bits with and without the query sums");
        }
    }

    /**
     * The fused forward with its MLP products' K split over the block's idle threads (the default for tiles of up to
     * AttentionArgs.SPLIT_ROWS rows: activation_unit.cu's split_product) and summed whole in k order
     * (-Daugur.attention.splitK=off), with the same inputs, on vector and scalar tiles: each within the CPU reference's
     * tolerances, the split kernels running only where asked, and, as the split sums each element in parts, some bits
     * differ from the whole sums, which shows the setting reaching the kernel (that the two forms agree bit for bit when
     * they split is activationUnitOnVectorAndScalarTilesGivesTheSameBits' case of 16 rows). Tiles of 16 rows (batch
     * 128's in the Amazon config: 4-row tiles in 3 parts for the first layer, 2-row tiles in 3 for the second), of 5 (more
     * parts, and a last tile of fewer rows), and of 32, which take no split room: the same bits either way.
     */
    @ParameterizedTest
    @CsvSource({"16, true, SIGMOID, false", "16, false, PRELU, true", "5, true, PRELU, false", "32, true, SIGMOID, true"})
    void activationUnitForwardWithSplitKOrWhole(int rows, boolean vectorTiles, Activation act, boolean softmax) {
        int T = 100;
        int[] lens = lengths(new SplittableRandom(11), 40, T);
        java.util.Map<String, float[]> split = new java.util.TreeMap<>(), whole = new java.util.TreeMap<>();
        String r = Integer.toString(rows);
        for (boolean splitK : new boolean[] {true, false}) {
            try (GpuTesting.Twin t = new GpuTesting.Twin(tw.gpu)) {
                java.util.Set<String> ran = timed(tw.gpu, () -> GpuTesting.withSetting(tw.gpu, KernelTuning.SPLIT_K, splitK ? "auto" : "off",
                        () -> GpuTesting.withSetting(tw.gpu, KernelTuning.VECTOR_TILES, vectorTiles ? "auto" : "off",
                                () -> GpuTesting.withSetting(tw.gpu, KernelTuning.ROWS_FORWARD, r,
                                        () -> unitValues(t, 777, act, softmax, T, lens, splitK ? split : whole)))));
                assertFusedForms(vectorTiles, ran);
                boolean splitRan = ran.contains(Kernels.ACTIVATION_UNIT_FORWARD_SPLIT) || ran.contains(Kernels.ACTIVATION_UNIT_FORWARD_SCALAR_SPLIT);
                assertEquals(splitK && rows <= AttentionArgs.SPLIT_ROWS, splitRan, "split kernels ran: " + ran);
            }
        }
        if (rows > AttentionArgs.SPLIT_ROWS) {
            assertSameBits(split, "with split K allowed", whole, "without");
        } else {
            boolean differ = false;
            for (String k : split.keySet()) differ |= !java.util.Arrays.equals(split.get(k), whole.get(k));
            assertTrue(differ, "the same bits with and without split K");
        }
    }

    /**
     * The fused unit's launches asking for the shared memory of the tiles they run (the default) and for the planned
     * tiles' (-Daugur.attention.sharedAsPlanned=true), with the same inputs: every gradient the same bits, within the
     * CPU reference's tolerances. The batches here are small, so the launches take tiles of 16 rows where 32 were
     * planned, and the emulator's dynamic shared memory ends where the launch's does: a layout past the smaller request
     * fails the launch there (planted: 16 bytes short fails the backward's every case).
     */
    @ParameterizedTest
    @CsvSource({"SIGMOID, true, 100, 37", "PRELU, false, 9, 300"})
    void activationUnitWithTheSharedMemoryOfItsTilesOrAsPlanned(Activation act, boolean softmax, int T, int n) {
        java.util.Map<String, float[]> tile = new java.util.TreeMap<>(), planned = new java.util.TreeMap<>();
        boolean before = CudaBackend.sharedAsPlanned;
        try {
            for (boolean asPlanned : new boolean[] {false, true}) {
                CudaBackend.sharedAsPlanned = asPlanned;
                try (GpuTesting.Twin t = new GpuTesting.Twin(tw.gpu)) {
                    unitValues(t, 777, act, softmax, T, n, asPlanned ? planned : tile);
                }
            }
        } finally {
            CudaBackend.sharedAsPlanned = before;
        }
        assertSameBits(tile, "with the tile's shared memory", planned, "with the planned");
    }

    /**
     * One run of the unit (activationUnitCase, Amazon widths) on inputs drawn from {@code seed}: each of its ten
     * outputs and gradients checked against the CPU reference, and downloaded into {@code into} by name.
     */
    private void unitValues(GpuTesting.Twin t, long seed, Activation act, boolean softmax, int T, int n, java.util.Map<String, float[]> into) {
        SplittableRandom same = new SplittableRandom(seed);
        unitValues(t, same, act, softmax, T, lengths(same, n, T), into);
    }

    /** The same with the histories' lengths given (their count is the batch). */
    private void unitValues(GpuTesting.Twin t, long seed, Activation act, boolean softmax, int T, int[] lens, java.util.Map<String, float[]> into) {
        unitValues(t, new SplittableRandom(seed), act, softmax, T, lens, into);
    }

    private void unitValues(GpuTesting.Twin t, SplittableRandom same, Activation act, boolean softmax, int T, int[] lens, java.util.Map<String, float[]> into) {
        int n = lens.length;
        activationUnitCase(t, same, GpuTesting::uniform, act, softmax, n, n, T, lens, E, 80, 40, TIGHT_ATOL, TIGHT_RTOL, (what, p) -> {
            t.assertClose(what, p, LOOSE_ATOL, LOOSE_RTOL);
            float[] v = new float[p.gpu().size()];
            t.gpu.download(p.gpu(), v, v.length);
            into.put(p.gpu().name(), v);
        });
    }

    /** The unit's ten values from two runs, bit for bit; a difference names the tensor, the element and the two runs. */
    private static void assertSameBits(java.util.Map<String, float[]> a, String aHow, java.util.Map<String, float[]> b, String bHow) {
        assertEquals(10, a.size(), a.keySet().toString());
        assertEquals(a.keySet(), b.keySet());
        for (String k : a.keySet()) {
            float[] x = a.get(k), y = b.get(k);
            for (int i = 0; i < x.length; i++)
                if (Float.floatToRawIntBits(x[i]) != Float.floatToRawIntBits(y[i]))
                    throw new AssertionError(k + "[" + i + "]: " + x[i] + " " + aHow + ", " + y[i] + " " + bHow);
        }
    }

    /**
     * The fused unit's fp32 kernels that ran: the forms on vector tiles (W, h1 and h2 multiples of 4 and the weights
     * 16-byte aligned, CudaBackend.attentionVectorTiles) or on scalar tiles, never both.
     */
    static void assertFusedForms(boolean vector, java.util.Set<String> ran) {
        // the forward, or its split-K form (tiles of up to AttentionArgs.SPLIT_ROWS rows), and either backward
        String[] vectorForms = {Kernels.ACTIVATION_UNIT_FORWARD, Kernels.ACTIVATION_UNIT_FORWARD_SPLIT, Kernels.ACTIVATION_UNIT_BACKWARD,
                Kernels.ACTIVATION_UNIT_BACKWARD_3BLOCKS};
        String[] scalarForms = {Kernels.ACTIVATION_UNIT_FORWARD_SCALAR, Kernels.ACTIVATION_UNIT_FORWARD_SCALAR_SPLIT, Kernels.ACTIVATION_UNIT_BACKWARD_SCALAR,
                Kernels.ACTIVATION_UNIT_BACKWARD_SCALAR_3BLOCKS};
        String[] expected = vector ? vectorForms : scalarForms, other = vector ? scalarForms : vectorForms;
        assertTrue((ran.contains(expected[0]) || ran.contains(expected[1])) && (ran.contains(expected[2]) || ran.contains(expected[3])),
                "expected " + String.join(", ", expected) + ": " + ran);
        for (String k : other) assertFalse(ran.contains(k), k + " ran: " + ran);
    }

    /**
     * The pooling launch with the keys read from global memory, as for histories whose keys do not fit its shared
     * memory (T W above about 11,500 floats): the Amazon config and an off-tile width, and the interest block.
     */
    @ParameterizedTest
    @CsvSource({"SIGMOID, true, 100, 36", "PRELU, false, 9, 13"})
    void activationUnitWithKeysNotStaged(Activation act, boolean softmax, int T, int W) {
        assertTrue(CudaBackend.poolStagesKeys(T, W), "staged unless told not to");
        assertFalse(CudaBackend.poolStagesKeys(300, 40), "300 x 41 floats do not fit 48 KB");
        CudaBackend.poolStageKeys = false;
        try {
            activationUnitCase(act, softmax, T, lengths(rng, MAXB, T), W, 80, 40);
            attentionInterestForwardAndBackward(act, softmax, 300, 7);
        } finally {
            CudaBackend.poolStageKeys = true;
        }
    }

    /**
     * Widths that are not multiples of the fused kernels' 4 x 4 register tiles (and h2 below one
     * tile), so every product has partial tiles whose rows and columns the kernels must clamp.
     */
    @ParameterizedTest
    @CsvSource({"SIGMOID, true, 100, 13, 21, 3", "PRELU, false, 9, 7, 37, 6", "DICE, true, 9, 13, 21, 3", "PRELU, true, 1, 13, 21, 3"})
    void activationUnitWithWidthsOffTheTiles(Activation act, boolean softmax, int T, int W, int h1, int h2) {
        java.util.Set<String> ran = timed(tw.gpu, () -> activationUnitCase(act, softmax, T, lengths(rng, MAXB, T), W, h1, h2));
        if (act != Activation.DICE) assertFusedForms(false, ran);
    }

    /**
     * Keys at least as wide as the pool's block (W = 128 and 130, embeddings of 64 and 65 per field, against its 128
     * threads): the weighted sum then takes a thread per column, walking the positions alone, instead of splitting
     * each column's positions over groups of threads. No test reached that branch before a line-coverage run of the
     * kernels (scripts/kernel-coverage.sh).
     */
    @ParameterizedTest
    @CsvSource({"SIGMOID, true, 9, 128, 16, 8", "PRELU, false, 100, 130, 20, 6"})
    void activationUnitWithKeysAsWideAsThePoolsBlock(Activation act, boolean softmax, int T, int W, int h1, int h2) {
        activationUnitCase(act, softmax, T, lengths(rng, MAXB, T), W, h1, h2);
    }

    /**
     * Blocks with fewer threads than one backward stage's long product has 4 x 4 tiles (64 threads, 32 rows: 8 x 20
     * tiles of the 80-wide first layer), where the stage's two products run one after the other instead of shared out
     * by cost (tiled_product_pair's first branch), which no other case reaches.
     */
    @Test
    void activationUnitBackwardWithMoreTilesThanThreads() {
        assertTrue((32 / 4) * (80 / 4) >= 64, "the long product has at least as many tiles as the block has threads");
        GpuTesting.withSetting(tw.gpu, KernelTuning.THREADS, "64", () -> GpuTesting.withSetting(tw.gpu, KernelTuning.ROWS_BACKWARD, "32",
                () -> activationUnitCase(Activation.PRELU, true, 100, lengths(rng, MAXB, 100), 36, 80, 40)));
    }

    /**
     * Keys wider than the unit's block (W = 130 against 64 threads): the tiles' row copies (augur::row_copy) then give
     * a thread several columns of one row group, c, c + 64, c + 128, where every other case has a column a thread and
     * several row groups.
     */
    @Test
    void activationUnitWithKeysWiderThanItsBlock() {
        GpuTesting.withSetting(tw.gpu, KernelTuning.THREADS, "64",
                () -> activationUnitCase(Activation.SIGMOID, true, 9, lengths(rng, MAXB, 9), 130, 16, 8));
    }

    /**
     * A unit whose forward tile needs 48,256 bytes of dynamic shared memory (W = 36, h1 = 32, h2 = 92,
     * tiles of 32 rows): under 48 KiB alone, over it with the kernel's static shared memory (1,168
     * bytes on sm_90), so the kernel must be opted in (CudaBackend.ATT_STATIC_SHARED). Launched without,
     * a GPU refuses it, and so does the emulator.
     */
    @Test
    void activationUnitWithForwardSharedMemoryJustUnder48KiB() {
        assertEquals(48_256, AttentionArgs.forwardSharedBytes(36, 32, 92, 32));
        activationUnitCase(Activation.PRELU, true, 100, lengths(rng, MAXB, 100), 36, 32, 92);
    }

    /**
     * The fused backward with its per-block partial gradients added into global memory tile by
     * tile, all of them (dm3Only false: the path a GPU takes when they do not fit in shared memory
     * beside the tile) or only dM3, the rest on chip (the path of Volta's 96 KB, and of
     * -Daugur.attention.dm3OnChip=false).
     */
    @ParameterizedTest
    @CsvSource({"false, PRELU, true, 100, 36, 80, 40", "false, SIGMOID, false, 9, 13, 21, 3",
                "true, PRELU, true, 100, 36, 80, 40", "true, SIGMOID, false, 9, 13, 21, 3"})
    void activationUnitWithPartialGradientsInGlobalMemory(boolean dm3Only, Activation act, boolean softmax, int T, int W, int h1, int h2) {
        GpuTesting.withSetting(tw.gpu, dm3Only ? KernelTuning.DM3_ON_CHIP : KernelTuning.PARTIALS_ON_CHIP, "false",
                () -> activationUnitCase(act, softmax, T, lengths(rng, MAXB, T), W, h1, h2));
    }

    /**
     * The fused backward's two forms: at 3 blocks an SM the one held to 80 registers
     * (activation_unit_backward_3blocks_kernel, __launch_bounds__(256, 3)), at 2 the other; the same arithmetic, so
     * the same tolerances; each on vector tiles (the Amazon config's widths) and on scalar tiles (widths off the
     * 4 x 4 tiles). Each case checks which one ran (the run's kernel times name them).
     */
    @ParameterizedTest
    @CsvSource({"3, PRELU, true, 100, 36, 80, 40", "3, SIGMOID, false, 9, 13, 21, 3", "2, PRELU, true, 100, 36, 80, 40", "2, SIGMOID, true, 9, 13, 21, 3"})
    void activationUnitBackwardHeldToThreeBlocksAnSm(int blocksPerSm, Activation act, boolean softmax, int T, int W, int h1, int h2) {
        java.util.Set<String> ran = timed(tw.gpu, () -> GpuTesting.withSetting(tw.gpu, KernelTuning.BLOCKS_PER_SM, Integer.toString(blocksPerSm),
                () -> activationUnitCase(act, softmax, T, lengths(rng, MAXB, T), W, h1, h2)));
        boolean vector = W % 4 == 0 && h1 % 4 == 0 && h2 % 4 == 0;
        String expected = CudaBackend.attentionBackwardKernel(io.augur.backend.Precision.FP32, blocksPerSm, vector);
        assertEquals(blocksPerSm >= 3, expected.contains("3blocks"), expected);
        for (String k : new String[] {Kernels.ACTIVATION_UNIT_BACKWARD, Kernels.ACTIVATION_UNIT_BACKWARD_3BLOCKS, Kernels.ACTIVATION_UNIT_BACKWARD_SCALAR,
                Kernels.ACTIVATION_UNIT_BACKWARD_SCALAR_3BLOCKS})
            assertEquals(k.equals(expected), ran.contains(k), k + ": " + ran);
        assertFusedForms(vector, ran);
    }

    /**
     * The fused backward's two per-column stages (the activations' derivatives and their sums over a tile's rows) with
     * the rows split among at most 1 group of threads (a thread a column over all the rows, as before the groups), 2 and
     * 4 ({@code -Daugur.attention.rowGroups}; the other cases take as many as fit, 6 and 3 at these widths): the same
     * terms summed in other orders, against the CPU with the same tolerances.
     */
    @ParameterizedTest
    @CsvSource({"1, PRELU, true, 100, 36, 80, 40", "2, PRELU, false, 100, 36, 80, 40", "4, SIGMOID, true, 9, 13, 21, 3", "1, SIGMOID, false, 9, 13, 21, 3"})
    void activationUnitBackwardWithItsRowGroupsCapped(int groups, Activation act, boolean softmax, int T, int W, int h1, int h2) {
        GpuTesting.withSetting(tw.gpu, KernelTuning.ROW_GROUPS, Integer.toString(groups),
                () -> activationUnitCase(act, softmax, T, lengths(rng, MAXB, T), W, h1, h2));
    }

    /**
     * The Dice unit's two row layouts: packed (the valid positions alone; the built-in GEMM stops
     * at their count in device memory), which the cases above run wherever the built-in GEMM is
     * the provider, and dense (all B T rows, the padded ones carried as zeros), which a library
     * GEMM needs; here both on the built-in GEMM, and dense rows again behind a library provider's
     * interface (its biases broadcast, their gradients over row slices), each checked to be the one
     * that ran.
     */
    @ParameterizedTest
    @CsvSource({"packed, true, 100", "dense, true, 100", "packed, false, 7", "dense, false, 7", "library, true, 100", "library, false, 7"})
    void activationUnitWithDiceOnPackedAndDenseRows(String rows, boolean softmax, int T) {
        java.util.Set<String> ran = onRows(rows, t -> activationUnitCase(t, rng, GpuTesting::uniform, Activation.DICE, softmax, T,
                lengths(rng, MAXB, T), E, 80, 40, TIGHT_ATOL, TIGHT_RTOL, (what, p) -> t.assertClose(what, p, LOOSE_ATOL, LOOSE_RTOL)));
        assertRows(rows, ran);
    }

    /**
     * Runs body on a twin whose GPU side is a backend of its own (on the shared context) with the layer-by-layer
     * unit's rows as {@code rows} says, each kernel timed; returns the kernels that ran. "packed" and "dense": the
     * built-in GEMM with the rows packed or not; "library": the built-in products behind a library provider's
     * interface (GpuTesting.libraryGemmBackend), which walks dense rows, broadcasts the biases before the products,
     * sums the bias gradients over row slices and runs sigmoid and PReLU after the products, as with cuBLAS.
     */
    private static java.util.Set<String> onRows(String rows, java.util.function.Consumer<GpuTesting.Twin> body) {
        CudaBackend gpu = switch (rows) {   // not closed: it shares the context
            case "packed", "dense" -> new CudaBackend(GpuTesting.backend().runtime(), "builtin");
            case "library" -> GpuTesting.libraryGemmBackend();
            default -> throw new IllegalArgumentException(rows);
        };
        CudaBackend.unitRowsPacked = !rows.equals("dense");
        try (GpuTesting.Twin t = new GpuTesting.Twin(gpu)) {
            return timed(gpu, () -> body.accept(t));
        } finally {
            CudaBackend.unitRowsPacked = true;
        }
    }

    /** The row layout that ran is the one asked for: packed rows alone have their starts computed; a library provider broadcast its biases and summed their gradients over row slices. */
    private static void assertRows(String rows, java.util.Set<String> ran) {
        assertEquals(rows.equals("packed"), ran.contains(Kernels.ACTIVATION_UNIT_ROW_STARTS), "packed rows (activation_unit_row_starts_kernel launched)");
        assertEquals(rows.equals("library"), ran.contains(Kernels.BIAS_BROADCAST), "the library provider's bias broadcast: " + ran);
        if (rows.equals("library")) assertTrue(ran.contains(Kernels.BIAS_GRAD_PARTIALS), "bias gradients over row slices: " + ran);
    }

    /**
     * The sigmoid and PReLU units layer by layer (-Daugur.attention.fused=off, a value the autotuner tries): z,
     * the hidden layers' products with the activation in the built-in GEMM's epilogue, sigmoid's backward from the
     * pre-activations and PReLU's slope gradients over row slices; on packed rows (stopping at the device count) and
     * on dense ones, with widths on and off the GEMM's tiles, T = 1 and the Amazon T = 100; and on dense rows behind a
     * library provider's interface, each activation then a kernel after its product. Each case checks that the
     * layer-by-layer kernels ran and the fused ones did not, and which row layout ran.
     */
    @ParameterizedTest
    @CsvSource({"SIGMOID, true, 100, 36, 80, 40, packed", "SIGMOID, false, 7, 13, 21, 3, packed", "PRELU, true, 100, 36, 80, 40, packed",
            "PRELU, false, 9, 7, 37, 6, packed", "PRELU, true, 1, 13, 21, 3, packed", "SIGMOID, true, 100, 36, 80, 40, dense",
            "PRELU, false, 9, 7, 37, 6, dense", "SIGMOID, true, 100, 36, 80, 40, library", "PRELU, false, 9, 7, 37, 6, library"})
    void activationUnitLayerByLayer(Activation act, boolean softmax, int T, int W, int h1, int h2, String rows) {
        java.util.Set<String> read = new java.util.TreeSet<>();
        java.util.Set<String> ran = onRows(rows, t -> {
            GpuTesting.withSetting(t.gpu, KernelTuning.FUSED, "off", () -> activationUnitCase(t, rng, GpuTesting::uniform, act, softmax, T,
                    lengths(rng, MAXB, T), W, h1, h2, TIGHT_ATOL, TIGHT_RTOL, (what, p) -> t.assertClose(what, p, LOOSE_ATOL, LOOSE_RTOL)));
            read.addAll(t.gpu.settingsRead());
        });
        assertTrue(ran.contains(Kernels.ACTIVATION_UNIT_INPUT_FORWARD) && ran.contains(Kernels.ACTIVATION_UNIT_INPUT_BACKWARD), ran.toString());
        for (String k : new String[] {Kernels.ACTIVATION_UNIT_FORWARD, Kernels.ACTIVATION_UNIT_BACKWARD, Kernels.ACTIVATION_UNIT_BACKWARD_3BLOCKS,
                Kernels.ACTIVATION_UNIT_FORWARD_SCALAR, Kernels.ACTIVATION_UNIT_BACKWARD_SCALAR, Kernels.ACTIVATION_UNIT_BACKWARD_SCALAR_3BLOCKS,
                Kernels.ACTIVATION_UNIT_FORWARD_SPLIT, Kernels.ACTIVATION_UNIT_FORWARD_SCALAR_SPLIT})
            assertFalse(ran.contains(k), "the fused kernels: " + ran);
        assertRows(rows, ran);
        // a library provider's products are followed by the activation's own kernel; the built-in GEMM's epilogue applies it
        assertEquals(rows.equals("library") && act == Activation.SIGMOID, ran.contains(Kernels.SIGMOID_FORWARD), ran.toString());
        assertEquals(rows.equals("library") && act == Activation.PRELU, ran.contains(Kernels.PRELU_FORWARD), ran.toString());
        assertEquals(act == Activation.SIGMOID, ran.contains(Kernels.ACTIVATION_UNIT_SIGMOID_BACKWARD), ran.toString());
        assertEquals(act == Activation.PRELU, ran.contains(Kernels.PRELU_SLICED_BACKWARD), ran.toString());
        assertTrue(read.contains(KernelTuning.FUSED), "the unit's form consulted");
    }

    /**
     * activation_unit_row_starts_kernel (the Dice unit's packed rows) against a prefix sum in Java:
     * B = 1000 samples (no multiple of the block, several samples per thread) with lengths 0, 1,
     * T, random, and two outside [0, T] (clamped as every kernel clamps them); B = 1; and the
     * entries past B left as they were.
     */
    @ParameterizedTest
    @ValueSource(ints = {1, 37, 1000})
    void rowStartsArePrefixSumsOfTheLengths(int n) {
        CudaBackend gpu = tw.gpu;
        int Tm = 100, poison = -5;
        int[] lens = lengths(rng, n, Tm);
        if (n > 10) {
            lens[5] = Tm + 7;
            lens[6] = -3;
        }
        io.augur.backend.Tensor len = gpu.ints("len", n), start = gpu.ints("start", n + 8), count = gpu.ints("count", 1);
        gpu.upload(len, lens, n);
        int[] poisoned = new int[n + 8];
        java.util.Arrays.fill(poisoned, poison);
        gpu.upload(start, poisoned, n + 8);
        gpu.synchronize();   // the tensors allocated and filled before the raw launch reads their addresses
        gpu.runtime().launch(Kernels.ACTIVATION_UNIT_ROW_STARTS, 1, 1, CudaBackend.ROW_STARTS_THREADS, 1, 0, new CudaRuntime.Args()
                .ptr(((CudaTensor) start).address()).ptr(((CudaTensor) count).address()).ptr(((CudaTensor) len).address()).i(n).i(Tm));
        int[] got = new int[n + 8], total = new int[1];
        gpu.download(start, got, n + 8);
        gpu.download(count, total, 1);
        int[] expected = new int[n + 8];
        java.util.Arrays.fill(expected, poison);
        int sum = 0;
        for (int b = 0; b < n; b++) {
            expected[b] = sum;
            sum += Math.min(Math.max(lens[b], 0), Tm);
        }
        assertArrayEquals(expected, got, "row starts");
        assertEquals(sum, total[0], "row count");
    }

    /**
     * The fused kernels pack the valid positions into tiles, each block counting them per run of
     * samples (one run per thread, whole warps) and finding a row's sample by a search over the
     * runs, then a walk along its run: B = 300 and 1,000 (several samples per thread, runs in every
     * warp, B no multiple of the block), with lengths 0, 1, T and random, and several tiles per block.
     */
    @ParameterizedTest
    @CsvSource({"SIGMOID, true, 300, 20", "PRELU, false, 1000, 9"})
    void activationUnitOverManySamples(Activation act, boolean softmax, int n, int T) {
        int[] lens = lengths(rng, n, T);   // 0, 1 and T first, then random
        lens[n - 1] = T;
        activationUnitCase(tw, rng, GpuTesting::uniform, act, softmax, n, n, T, lens, E, 80, 40, TIGHT_ATOL, TIGHT_RTOL,
                (what, p) -> tw.assertClose(what, p, LOOSE_ATOL, LOOSE_RTOL));
    }

    /**
     * Forward tiles of more than one warp's 32 rows (-Daugur.attention.rowsForward): the forward
     * numbers its tile's samples 32 rows at a time (a warp scan per 32, carried over), so 48 and
     * 64 rows cover a second round, partly filled and full; many short histories put several
     * samples in each round.
     */
    @ParameterizedTest
    @CsvSource({"48, SIGMOID, true", "64, PRELU, false"})
    void activationUnitWithForwardTilesOfManyRows(int rows, Activation act, boolean softmax) {
        int n = 300, Tn = 6;
        GpuTesting.withSetting(tw.gpu, KernelTuning.ROWS_FORWARD, Integer.toString(rows), () -> {
            int[] lens = lengths(rng, n, Tn);
            activationUnitCase(tw, rng, GpuTesting::uniform, act, softmax, n, n, Tn, lens, E, 80, 40, TIGHT_ATOL, TIGHT_RTOL,
                    (what, p) -> tw.assertClose(what, p, LOOSE_ATOL, LOOSE_RTOL));
        });
    }

    /**
     * The fused unit's grids fit the device at once: its blocks per SM, forward and backward, are
     * at least 1 and no more than the occupancy calculator says one multiprocessor holds (blocks
     * past that would run as a second wave), for the Amazon config with the partial gradients on
     * chip and off.
     */
    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void activationUnitBlocksFitTheMultiprocessor(boolean onChip) {
        GpuTesting.withSetting(tw.gpu, KernelTuning.PARTIALS_ON_CHIP, Boolean.toString(onChip), () -> {
            AttentionSpec spec = new AttentionSpec(36, 80, 40, Activation.PRELU, true, 0.99f, 1e-8f);
            CudaBackend.AttentionWorkspace w = (CudaBackend.AttentionWorkspace) tw.gpu.attentionWorkspace("fit" + onChip, spec, 256, 100);
            CudaRuntime rt = tw.gpu.runtime();
            // the form the launch takes at that many blocks (from 3 on, the one held to 80 registers)
            int backward = rt.maxActiveBlocks(CudaBackend.attentionBackwardKernel(io.augur.backend.Precision.FP32, w.blocksPerSm, true), w.threads,
                    w.sharedBackward);
            int forward = rt.maxActiveBlocks(Kernels.ACTIVATION_UNIT_FORWARD, w.threads, w.sharedForward);
            assertTrue(backward >= 1 && forward >= 1, "the occupancy calculator answers: " + backward + " / " + forward);
            assertTrue(w.blocksPerSm >= 1 && w.blocksPerSm <= backward, "backward " + w.blocksPerSm + " per SM, " + backward + " fit");
            assertTrue(w.forwardBlocksPerSm >= 1 && w.forwardBlocksPerSm <= forward, "forward " + w.forwardBlocksPerSm + " per SM, " + forward + " fit");
            assertEquals(onChip ? AttentionArgs.PARTIALS_CHIP : AttentionArgs.PARTIALS_GLOBAL, w.partialsPlace);
        });
    }

    /**
     * DIN's interest block around the unit ({@link Backend#attentionInterest} and its backward):
     * the GPU's fused launches against the CPU's default (the unit, then the pooled concat; the
     * concat's backward, then the unit's), and, for the fused unit, against the GPU's own separate
     * ops bit for bit (the same sums in the same order). x is poisoned outside the block; dKeys
     * starts poisoned at the valid positions (each must be written) and 0 at the padded ones (the
     * fused backward leaves them, the default writes 0). dS and dOut are the default's
     * intermediates, which the fused backward does not write: not compared.
     */
    /**
     * The interest block's outputs for run r: x, s, out, weights, dQuery, dKeys (from dKeys0), dS, dOut, every one but
     * dKeys poisoned.
     */
    private Pair[] interestOutputs(int r, int maxN, int stride, int W, int Tn, float[] dKeys0) {
        return new Pair[] {tw.poisoned("x" + r, maxN * stride), tw.poisoned("s" + r, maxN * W), tw.poisoned("out" + r, maxN * W),
                tw.poisoned("weights" + r, maxN * Tn), tw.poisoned("dQuery" + r, maxN * W), tw.floats("dKeys" + r, dKeys0),
                tw.poisoned("dS" + r, maxN * W), tw.poisoned("dOut" + r, maxN * W)};
    }

    /** The unit's gradients for run r, each starting from gv's values (the op adds to them). */
    private Pair[] gradPairs(int r, float[][] gv) {
        Pair[] g = new Pair[gv.length];
        for (int i = 0; i < gv.length; i++) g[i] = tw.floats("g" + i + "." + r, gv[i]);
        return g;
    }

    /**
     * DIN's backward ends with its lookups' ({@link Backend#attentionInterestBackward} with the lookups): the CUDA backend
     * adds them in the reduce's launch (activation_unit_reduce_gather_kernel), the candidate's two lookups from dQuery's
     * elements as the reduce writes them, the others (a profile field from dx, the history's two from dKeys) in blocks
     * beside the reduce's. Against the CPU's two ops (the sparse gradients within the unit's tolerance, as dQuery and
     * dKeys are), and bit for bit against the GPU's own two launches ({@code -Daugur.attention.reduceGathers=off}): every
     * output, every sparse gradient, the touched rows. The candidate's item table is the history's too. With 3,800
     * samples the reduce has 143,161 elements (136,800 of dQuery), more than its grid's 32 x 4,224 on a device of 132
     * multiprocessors (the emulator's): its first blocks take a second round.
     */
    @ParameterizedTest
    @CsvSource({"PRELU, true, 37, 7", "SIGMOID, false, 3800, 3"})
    void theLookupsInTheReduceLaunch(Activation act, boolean softmax, int n, int Tn) {
        int W = E, h1 = 80, h2 = 40, maxN = n + 3, off = D, stride = off + 4 * W + 3, V2 = 30, V3 = 20;
        AttentionSpec spec = new AttentionSpec(W, h1, h2, act, softmax, 0.99f, 1e-8f);
        int[] lens = lengths(rng, maxN, Tn);
        float[] keys = uniformPoisoned(rng, n * Tn * W, maxN * Tn * W, -1, 1), dKeys0 = new float[maxN * Tn * W];
        java.util.Arrays.fill(dKeys0, GpuTesting.POISON);
        for (int b = 0; b < n; b++) java.util.Arrays.fill(dKeys0, (b * Tn + lens[b]) * W, (b + 1) * Tn * W, 0f);
        Pair q = tw.floats("q", uniformPoisoned(rng, n * W, maxN * W, -1, 1)), k = tw.floats("k", keys), len = tw.ints("len", lens);
        boolean slopes = act != Activation.SIGMOID;
        float[][] pv = {uniform(rng, 4 * W * h1, -0.2f, 0.2f), uniform(rng, h1, -0.2f, 0.2f), uniform(rng, h1, 0, 0.5f), uniform(rng, h1 * h2, -0.2f, 0.2f),
                uniform(rng, h2, -0.2f, 0.2f), uniform(rng, h2, 0, 0.5f), uniform(rng, h2, -0.5f, 0.5f), uniform(rng, 1, -0.2f, 0.2f)};
        Pair[] ps = new Pair[pv.length];
        for (int i = 0; i < pv.length; i++) ps[i] = tw.floats("p" + i, pv[i]);
        java.util.function.Function<Backend, AttentionParams> params = be -> new AttentionParams(ps[0].on(be), ps[1].on(be), slopes ? ps[2].on(be) : null,
                ps[3].on(be), ps[4].on(be), slopes ? ps[5].on(be) : null, ps[6].on(be), ps[7].on(be), null, null, null, null);
        Pair dx = tw.floats("dx", uniformPoisoned(rng, n * stride, maxN * stride, -1, 1));
        // the candidates' rows of each table apart from the history's (a row the reduce adds to but does not mark touched shows)
        int[] items = ids(rng, maxN, V / 2), cates = ids(rng, maxN, V2 / 2), profile = ids(rng, maxN, V3);
        for (int i = 0; i < maxN; i++) {
            items[i] += V / 2;
            cates[i] += V2 / 2;
        }
        int[] histItems = ids(rng, maxN * Tn, V / 2), histCates = ids(rng, maxN * Tn, V2 / 2);
        Pair pItems = tw.ints("items", items), pCates = tw.ints("cates", cates), pProfile = tw.ints("profile", profile);
        Pair pHistItems = tw.ints("histItems", histItems), pHistCates = tw.ints("histCates", histCates);
        // run 0 fused (the CPU's and the GPU's), run 1 the GPU's two launches
        float[][] gv = new float[pv.length][];
        for (int i = 0; i < pv.length; i++) gv[i] = uniform(rng, pv[i].length, -1, 1);
        Pair[][] outs = new Pair[2][], gradSets = new Pair[2][];
        SparseGrad[][] cpuTables = new SparseGrad[1][], gpuTables = new SparseGrad[2][];
        for (int r = 0; r < 2; r++) {
            outs[r] = interestOutputs(r, maxN, stride, W, Tn, dKeys0);
            gradSets[r] = gradPairs(r, gv);
            int capacity = 2 * maxN * (Tn + 1);
            gpuTables[r] = new SparseGrad[] {tw.gpu.sparseGrad("items" + r, V, D, capacity), tw.gpu.sparseGrad("cates" + r, V2, D, capacity),
                    tw.gpu.sparseGrad("profile" + r, V3, D, capacity)};
            if (r == 0) cpuTables[0] = new SparseGrad[] {tw.cpu.sparseGrad("items", V, D, capacity), tw.cpu.sparseGrad("cates", V2, D, capacity),
                    tw.cpu.sparseGrad("profile", V3, D, capacity)};
        }
        Workspace wc = tw.cpu.attentionWorkspace("ws", spec, maxN, Tn), wg = tw.gpu.attentionWorkspace("ws", spec, maxN, Tn);
        java.util.function.BiConsumer<Backend, Integer> step = (be, r) -> {
            Pair[] o = outs[r];
            SparseGrad[] tables = be == tw.gpu ? gpuTables[r] : cpuTables[0];
            Pair[] g = gradSets[r];
            AttentionParams grads = new AttentionParams(g[0].on(be), g[1].on(be), slopes ? g[2].on(be) : null, g[3].on(be), g[4].on(be),
                    slopes ? g[5].on(be) : null, g[6].on(be), g[7].on(be), null, null, null, null);
            List<Backend.Gather> lookups = List.of(
                    Backend.Gather.backward(tables[2], dx.on(be), pProfile.on(be), null, n, 1, D, stride, 0),
                    Backend.Gather.backward(tables[0], o[4].on(be), pItems.on(be), null, n, 1, D, W, 0),
                    Backend.Gather.backward(tables[1], o[4].on(be), pCates.on(be), null, n, 1, D, W, D),
                    Backend.Gather.backward(tables[0], o[5].on(be), pHistItems.on(be), len.on(be), n * Tn, Tn, D, W, 0),
                    Backend.Gather.backward(tables[1], o[5].on(be), pHistCates.on(be), len.on(be), n * Tn, Tn, D, W, D));
            Workspace ws = be == tw.gpu ? wg : wc;
            be.attentionInterest(o[0].on(be), o[1].on(be), o[2].on(be), o[3].on(be), ws, q.on(be), k.on(be), len.on(be), params.apply(be), spec, n, Tn,
                    true, stride, off);
            be.attentionInterestBackward(o[4].on(be), o[5].on(be), o[6].on(be), o[7].on(be), grads, dx.on(be), o[1].on(be), o[3].on(be), ws, q.on(be),
                    k.on(be), len.on(be), params.apply(be), spec, n, Tn, stride, off, lookups);
        };
        step.accept(tw.cpu, 0);
        java.util.Set<String> fused = timed(tw.gpu, () -> step.accept(tw.gpu, 0));
        java.util.Set<String> apart = new java.util.TreeSet<>();
        GpuTesting.withSetting(tw.gpu, KernelTuning.REDUCE_GATHERS, "off", () -> apart.addAll(timed(tw.gpu, () -> step.accept(tw.gpu, 1))));
        assertTrue(fused.contains(Kernels.ACTIVATION_UNIT_REDUCE_GATHER) && !fused.contains(Kernels.ACTIVATION_UNIT_REDUCE)
                && !fused.contains(Kernels.EMBEDDING_GATHER_MULTI_BACKWARD), "one launch for the reduce and the lookups: " + fused);
        assertTrue(apart.contains(Kernels.ACTIVATION_UNIT_REDUCE) && apart.contains(Kernels.EMBEDDING_GATHER_MULTI_BACKWARD)
                && !apart.contains(Kernels.ACTIVATION_UNIT_REDUCE_GATHER), "reduceGathers=off: the two launches: " + apart);
        String what = act + " softmax=" + softmax + " B=" + n + " T=" + Tn + " ";
        tw.assertClose(what + "dQuery", outs[0][4], LOOSE_ATOL, LOOSE_RTOL);
        tw.assertClose(what + "dKeys", outs[0][5], LOOSE_ATOL, LOOSE_RTOL);
        for (Pair g : gradSets[0]) if (slopes || !g.cpu().name().startsWith("g2.") && !g.cpu().name().startsWith("g5.")) tw.assertClose(what + g.cpu().name(), g, LOOSE_ATOL, LOOSE_RTOL);
        int[] rows = {V, V2, V3};
        for (int t = 0; t < 3; t++) {
            float[] e = new float[rows[t] * D], a = new float[rows[t] * D], b = new float[rows[t] * D];
            tw.cpu.downloadGrad(cpuTables[0][t], e);
            tw.gpu.downloadGrad(gpuTables[0][t], a);
            tw.gpu.downloadGrad(gpuTables[1][t], b);
            String name = what + "sparse gradient " + cpuTables[0][t].name();
            GpuTesting.compare(name, e, a, LOOSE_ATOL, LOOSE_RTOL);
            assertArrayEquals(b, a, name + ": in the reduce's launch and in a launch of its own, bit for bit");
            assertEquals(cpuTables[0][t].touchedRows(), gpuTables[0][t].touchedRows(), name + ": touched rows");
            assertEquals(gpuTables[1][t].touchedRows(), gpuTables[0][t].touchedRows(), name + ": touched rows, both GPU runs");
        }
        String[] names = {"x", "s", "out", "weights", "dQuery", "dKeys"};
        for (int i = 0; i < names.length; i++) {
            assertArrayEquals(gpuValues(outs[1][i], outs[1][i].gpu().size()), gpuValues(outs[0][i], outs[0][i].gpu().size()),
                    what + names[i] + ": both GPU runs, bit for bit");
        }
        for (int i = 0; i < gv.length; i++) {
            assertArrayEquals(gpuValues(gradSets[1][i], gv[i].length), gpuValues(gradSets[0][i], gv[i].length), what + "gradient " + i + ": both GPU runs, bit for bit");
        }
    }

    @ParameterizedTest
    @CsvSource({"PRELU, true, 37, 7", "SIGMOID, false, 37, 100", "PRELU, false, 300, 20", "DICE, true, 37, 7"})
    void attentionInterestForwardAndBackward(Activation act, boolean softmax, int n, int Tn) {
        int W = E, h1 = 80, h2 = 40, maxN = n + 3, off = 5, stride = off + 4 * W + 3;
        AttentionSpec spec = new AttentionSpec(W, h1, h2, act, softmax, 0.99f, 1e-8f);
        int[] lens = lengths(rng, maxN, Tn);
        float[] keys = uniformPoisoned(rng, n * Tn * W, maxN * Tn * W, -1, 1), dKeys0 = new float[maxN * Tn * W];
        java.util.Arrays.fill(dKeys0, GpuTesting.POISON);
        for (int b = 0; b < n; b++) {
            java.util.Arrays.fill(keys, (b * Tn + lens[b]) * W, (b + 1) * Tn * W, GpuTesting.POISON);
            java.util.Arrays.fill(dKeys0, (b * Tn + lens[b]) * W, (b + 1) * Tn * W, 0f);
        }
        Pair q = tw.floats("q", uniformPoisoned(rng, n * W, maxN * W, -1, 1)), k = tw.floats("k", keys), len = tw.ints("len", lens);
        boolean slopes = act != Activation.SIGMOID, dice = act == Activation.DICE;
        float[][] pv = {uniform(rng, 4 * W * h1, -0.2f, 0.2f), uniform(rng, h1, -0.2f, 0.2f), uniform(rng, h1, 0, 0.5f), uniform(rng, h1 * h2, -0.2f, 0.2f),
                uniform(rng, h2, -0.2f, 0.2f), uniform(rng, h2, 0, 0.5f), uniform(rng, h2, -0.5f, 0.5f), uniform(rng, 1, -0.2f, 0.2f)};
        float[][] stats = {uniform(rng, h1, -0.1f, 0.1f), uniform(rng, h1, 0.5f, 1.5f), uniform(rng, h2, -0.1f, 0.1f), uniform(rng, h2, 0.5f, 1.5f)};
        float[][] gv = new float[pv.length][];
        for (int i = 0; i < pv.length; i++) gv[i] = uniform(rng, pv[i].length, -1, 1);
        float[] dxv = uniformPoisoned(rng, n * stride, maxN * stride, -1, 1);
        // two sets of outputs: the fused op's (compared with the CPU) and the GPU's separate ops'
        Pair[][] outs = new Pair[2][];
        Pair[][] gradSets = new Pair[2][];
        Pair[][] statSets = new Pair[2][];
        for (int r = 0; r < 2; r++) {
            outs[r] = interestOutputs(r, maxN, stride, W, Tn, dKeys0);
            gradSets[r] = gradPairs(r, gv);
            statSets[r] = new Pair[stats.length];
            for (int i = 0; i < stats.length; i++) statSets[r][i] = tw.floats("stat" + i + "." + r, stats[i]);
        }
        Pair[] ps = new Pair[pv.length];
        for (int i = 0; i < pv.length; i++) ps[i] = tw.floats("p" + i, pv[i]);
        Pair dx = tw.floats("dx", dxv);
        java.util.function.BiFunction<Backend, Integer, AttentionParams> params = (be, r) -> new AttentionParams(ps[0].on(be), ps[1].on(be),
                slopes ? ps[2].on(be) : null, ps[3].on(be), ps[4].on(be), slopes ? ps[5].on(be) : null, ps[6].on(be), ps[7].on(be),
                dice ? statSets[r][0].on(be) : null, dice ? statSets[r][1].on(be) : null, dice ? statSets[r][2].on(be) : null, dice ? statSets[r][3].on(be) : null);
        java.util.function.BiFunction<Backend, Integer, AttentionParams> grads = (be, r) -> new AttentionParams(gradSets[r][0].on(be), gradSets[r][1].on(be),
                slopes ? gradSets[r][2].on(be) : null, gradSets[r][3].on(be), gradSets[r][4].on(be), slopes ? gradSets[r][5].on(be) : null,
                gradSets[r][6].on(be), gradSets[r][7].on(be), null, null, null, null);
        Workspace wc = tw.cpu.attentionWorkspace("ws", spec, maxN, Tn), wg = tw.gpu.attentionWorkspace("ws", spec, maxN, Tn);
        Pair[] o = outs[0];
        tw.both(be -> be.attentionInterest(o[0].on(be), o[1].on(be), o[2].on(be), o[3].on(be), be == tw.gpu ? wg : wc, q.on(be), k.on(be), len.on(be),
                params.apply(be, 0), spec, n, Tn, true, stride, off));
        tw.both(be -> be.attentionInterestBackward(o[4].on(be), o[5].on(be), o[6].on(be), o[7].on(be), grads.apply(be, 0), dx.on(be), o[1].on(be),
                o[3].on(be), be == tw.gpu ? wg : wc, q.on(be), k.on(be), len.on(be), params.apply(be, 0), spec, n, Tn, stride, off));
        String what = act + " softmax=" + softmax + " B=" + n + " T=" + Tn + " ";
        tw.assertClose(what + "x", o[0], TIGHT_ATOL, TIGHT_RTOL);
        tw.assertClose(what + "s", o[1], TIGHT_ATOL, TIGHT_RTOL);
        tw.assertClose(what + "out", o[2], TIGHT_ATOL, TIGHT_RTOL);
        tw.assertClose(what + "weights", o[3], TIGHT_ATOL, TIGHT_RTOL);
        tw.assertClose(what + "dQuery", o[4], LOOSE_ATOL, LOOSE_RTOL);
        tw.assertClose(what + "dKeys", o[5], LOOSE_ATOL, LOOSE_RTOL);
        for (Pair g : gradSets[0]) if (slopes || !g.cpu().name().startsWith("g2.") && !g.cpu().name().startsWith("g5.")) tw.assertClose(what + g.cpu().name(), g, LOOSE_ATOL, LOOSE_RTOL);
        if (!(wg instanceof CudaBackend.AttentionWorkspace)) return;   // Dice: the default ops on the GPU too
        // the GPU's separate ops on the second set
        CudaBackend gpu = tw.gpu;
        Pair[] u = outs[1];
        gpu.activationUnit(u[2].gpu(), u[3].gpu(), wg, q.gpu(), k.gpu(), len.gpu(), params.apply(gpu, 1), spec, n, Tn, true);
        gpu.pooledInterestConcat(u[0].gpu(), u[1].gpu(), q.gpu(), k.gpu(), len.gpu(), u[2].gpu(), n, Tn, W, W, stride, off);
        gpu.pooledInterestConcatBackward(u[4].gpu(), u[6].gpu(), u[5].gpu(), u[7].gpu(), dx.gpu(), q.gpu(), u[1].gpu(), len.gpu(), n, Tn, W, W, stride, off);
        gpu.activationUnitBackward(u[4].gpu(), u[5].gpu(), grads.apply(gpu, 1), u[7].gpu(), null, u[3].gpu(), wg, q.gpu(), k.gpu(), len.gpu(),
                params.apply(gpu, 1), spec, n, Tn);
        String[] names = {"x", "s", "out", "weights", "dQuery", "dKeys"};
        for (int i = 0; i < names.length; i++) {
            assertArrayEquals(gpuValues(u[i], u[i].gpu().size()), gpuValues(o[i], o[i].gpu().size()), what + names[i] + ": fused and separate, bit for bit");
        }
        for (int i = 0; i < gv.length; i++) {
            assertArrayEquals(gpuValues(gradSets[1][i], gv[i].length), gpuValues(gradSets[0][i], gv[i].length), what + "gradient " + i + ": fused and separate, bit for bit");
        }
    }

    /** Dice with no valid position in the batch: weights and output 0, the running statistics untouched, no gradient. */
    @Test
    void activationUnitWithDiceAndNoValidPosition() {
        activationUnitCase(Activation.DICE, true, 7, new int[MAXB], E, 80, 40);
    }

    /**
     * The fused softmax backward takes sum_t w_t g_t as sum_t w_t dWeights_t + dOut . out, with out the forward's pooled output:
     * a backward with dOut after a forward that wrote none is refused, naming what is missing, before any launch.
     */
    @Test
    void activationUnitBackwardWithDOutNeedsTheForwardsOutput() {
        int W = E, h1 = 80, h2 = 40;
        AttentionSpec spec = new AttentionSpec(W, h1, h2, Activation.SIGMOID, true, 0.99f, 1e-8f);
        Backend be = tw.gpu;
        Workspace ws = be.attentionWorkspace("ws", spec, MAXB, T);
        org.junit.jupiter.api.Assumptions.assumeTrue(ws instanceof CudaBackend.AttentionWorkspace, "the fused unit");
        AttentionParams p = new AttentionParams(tw.floats("w1", uniform(rng, 4 * W * h1, -0.2f, 0.2f)).on(be), tw.floats("b1", new float[h1]).on(be), null,
                tw.floats("w2", uniform(rng, h1 * h2, -0.2f, 0.2f)).on(be), tw.floats("b2", new float[h2]).on(be), null,
                tw.floats("w3", uniform(rng, h2, -0.5f, 0.5f)).on(be), tw.floats("b3", new float[1]).on(be), null, null, null, null);
        AttentionParams g = new AttentionParams(tw.floats("gw1", new float[4 * W * h1]).on(be), tw.floats("gb1", new float[h1]).on(be), null,
                tw.floats("gw2", new float[h1 * h2]).on(be), tw.floats("gb2", new float[h2]).on(be), null,
                tw.floats("gw3", new float[h2]).on(be), tw.floats("gb3", new float[1]).on(be), null, null, null, null);
        var q = tw.floats("q", uniform(rng, MAXB * W, -1, 1)).on(be);
        var k = tw.floats("k", uniform(rng, MAXB * T * W, -1, 1)).on(be);
        var len = tw.ints("len", lengths(rng, MAXB, T)).on(be);
        var weights = tw.poisoned("weights", MAXB * T).on(be);
        var dOut = tw.floats("dOut", uniform(rng, MAXB * W, -1, 1)).on(be);
        var dq = tw.floats("dq", new float[MAXB * W]).on(be);
        var dk = tw.floats("dk", new float[MAXB * T * W]).on(be);
        be.activationUnit(null, weights, ws, q, k, len, p, spec, B, T, true);   // the weights alone, as DIEN's gates take them
        IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                () -> be.activationUnitBackward(dq, dk, g, dOut, null, weights, ws, q, k, len, p, spec, B, T));
        assertTrue(e.getMessage().contains("no pooled output"), e.getMessage());
    }

    /**
     * A training forward keeps each valid position's pre-activations H1 = z W1 + b1 and H2 = act(H1) W2 + b2 at its packed
     * row (the positions in (b, t) order) for the backward, and nothing past them; an evaluation forward keeps none, and a
     * backward after it is refused before any launch. Sigmoid and PReLU, against the same sums in double on the host.
     */
    @ParameterizedTest
    @EnumSource(value = Activation.class, names = {"SIGMOID", "PRELU"})
    void aTrainingForwardKeepsTheHiddenLayersAtThePackedRows(Activation act) {
        int W = E, h1 = 80, h2 = 40;
        AttentionSpec spec = new AttentionSpec(W, h1, h2, act, true, 0.99f, 1e-8f);
        Backend be = tw.gpu;
        Workspace ws = be.attentionWorkspace("ws", spec, MAXB, T);
        org.junit.jupiter.api.Assumptions.assumeTrue(ws instanceof CudaBackend.AttentionWorkspace, "the fused unit");
        CudaBackend.AttentionWorkspace w = (CudaBackend.AttentionWorkspace) ws;
        CudaRuntime rt = ((CudaBackend) be).runtime();
        float[] w1 = uniform(rng, 4 * W * h1, -0.2f, 0.2f), b1 = uniform(rng, h1, -0.2f, 0.2f), w2 = uniform(rng, h1 * h2, -0.2f, 0.2f);
        float[] b2 = uniform(rng, h2, -0.2f, 0.2f), a1 = uniform(rng, h1, 0, 0.5f), a2 = uniform(rng, h2, 0, 0.5f);
        boolean prelu = act == Activation.PRELU;
        AttentionParams p = new AttentionParams(tw.floats("w1", w1).on(be), tw.floats("b1", b1).on(be), prelu ? tw.floats("a1", a1).on(be) : null,
                tw.floats("w2", w2).on(be), tw.floats("b2", b2).on(be), prelu ? tw.floats("a2", a2).on(be) : null,
                tw.floats("w3", uniform(rng, h2, -0.5f, 0.5f)).on(be), tw.floats("b3", new float[1]).on(be), null, null, null, null);
        AttentionParams g = new AttentionParams(tw.floats("gw1", new float[4 * W * h1]).on(be), tw.floats("gb1", new float[h1]).on(be),
                prelu ? tw.floats("ga1", new float[h1]).on(be) : null, tw.floats("gw2", new float[h1 * h2]).on(be), tw.floats("gb2", new float[h2]).on(be),
                prelu ? tw.floats("ga2", new float[h2]).on(be) : null, tw.floats("gw3", new float[h2]).on(be), tw.floats("gb3", new float[1]).on(be),
                null, null, null, null);
        float[] qv = uniform(rng, MAXB * W, -1, 1), kv = uniform(rng, MAXB * T * W, -1, 1);
        int[] lens = lengths(rng, MAXB, T);
        var q = tw.floats("q", qv).on(be);
        var k = tw.floats("k", kv).on(be);
        var len = tw.ints("len", lens).on(be);
        var out = tw.poisoned("out", MAXB * W).on(be);
        var weights = tw.poisoned("weights", MAXB * T).on(be);
        var dOut = tw.floats("dOut", uniform(rng, MAXB * W, -1, 1)).on(be);
        var dq = tw.floats("dq", new float[MAXB * W]).on(be);
        var dk = tw.floats("dk", new float[MAXB * T * W]).on(be);
        int rows = MAXB * T, bits = Float.floatToRawIntBits(GpuTesting.POISON);
        // on the compute stream, and waited for: a cuMemsetD32 of device memory returns before it is done, and the backend's
        // stream does not wait for the legacy stream (the bundle's rehearsal saw a forward's stores overwritten by the poison)
        java.util.function.Consumer<long[]> poison = slices -> {
            for (int i = 0; i < 2; i++) {
                CudaException.check(jcuda.driver.JCudaDriver.cuMemsetD32Async(rt.pointer(slices[i]), bits, (long) rows * (i == 0 ? h1 : h2), rt.compute),
                        "cuMemsetD32Async");
            }
            rt.synchronizeCompute();
        };
        java.util.function.IntFunction<float[]> kept = layer -> {
            rt.synchronizeCompute();
            int h = layer == 1 ? h1 : h2;
            float[] v = new float[rows * h];
            CudaException.check(jcuda.driver.JCudaDriver.cuMemcpyDtoH(jcuda.Pointer.to(v), rt.pointer(layer == 1 ? w.hidden1.address() : w.hidden2.address()),
                    4L * v.length), "cuMemcpyDtoH");
            return v;
        };
        be.activationUnit(out, weights, ws, q, k, len, p, spec, B, T, false);   // the workspace allocated (planned slices have no memory yet)
        long[] slices = {w.hidden1.address(), w.hidden2.address()};
        // a training forward: every valid position's row, in (b, t) order; the rows past them as they were
        poison.accept(slices);
        be.activationUnit(out, weights, ws, q, k, len, p, spec, B, T, true);
        float[] k1 = kept.apply(1), k2 = kept.apply(2);
        int row = 0;
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < lens[b]; t++, row++) {
                double[] act1 = new double[h1];
                for (int j = 0; j < h1; j++) {
                    double h = b1[j];
                    for (int c = 0; c < W; c++) {
                        double qc = qv[b * W + c], kc = kv[(b * T + t) * W + c];
                        h += qc * w1[c * h1 + j] + kc * w1[(W + c) * h1 + j] + (qc - kc) * w1[(2 * W + c) * h1 + j] + qc * kc * w1[(3 * W + c) * h1 + j];
                    }
                    assertEquals(h, k1[row * h1 + j], 1e-5, act + ": H1 of sample " + b + ", position " + t + " (packed row " + row + "), unit " + j);
                    // the GPU's own H1 through the activation, so that a layer-1 input within rounding of PReLU's kink does not matter
                    double x = k1[row * h1 + j];
                    act1[j] = prelu ? (x > 0 ? x : a1[j] * x) : 1 / (1 + Math.exp(-x));
                }
                for (int j = 0; j < h2; j++) {
                    double h = b2[j];
                    for (int i = 0; i < h1; i++) h += act1[i] * w2[i * h2 + j];
                    assertEquals(h, k2[row * h2 + j], 1e-5, act + ": H2 of sample " + b + ", position " + t + " (packed row " + row + "), unit " + j);
                }
            }
        }
        for (int e = row * h1; e < rows * h1; e++) assertEquals(bits, Float.floatToRawIntBits(k1[e]), "hidden1 element " + e + " past the " + row + " valid rows");
        for (int e = row * h2; e < rows * h2; e++) assertEquals(bits, Float.floatToRawIntBits(k2[e]), "hidden2 element " + e + " past the " + row + " valid rows");
        be.activationUnitBackward(dq, dk, g, dOut, null, weights, ws, q, k, len, p, spec, B, T);   // after a training forward: taken
        // an evaluation forward keeps nothing, and the backward after it is refused
        poison.accept(slices);
        be.activationUnit(out, weights, ws, q, k, len, p, spec, B, T, false);
        float[] e1 = kept.apply(1), e2 = kept.apply(2);
        for (int e = 0; e < rows * h1; e++) assertEquals(bits, Float.floatToRawIntBits(e1[e]), "hidden1 element " + e + " after an evaluation forward");
        for (int e = 0; e < rows * h2; e++) assertEquals(bits, Float.floatToRawIntBits(e2[e]), "hidden2 element " + e + " after an evaluation forward");
        IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                () -> be.activationUnitBackward(dq, dk, g, dOut, null, weights, ws, q, k, len, p, spec, B, T));
        assertTrue(e.getMessage().contains("not a training one"), e.getMessage());
    }

    private void activationUnitCase(Activation act, boolean softmax, int T, int[] lens, int W, int h1, int h2) {
        activationUnitCase(tw, rng, GpuTesting::uniform, act, softmax, T, lens, W, h1, h2, TIGHT_ATOL, TIGHT_RTOL,
                (what, p) -> tw.assertClose(what, p, LOOSE_ATOL, LOOSE_RTOL));
    }

    /** The values of a case's tensors: n of them meant to lie in [lo, hi] (GpuTesting::uniform, or a test's own). */
    interface Values {
        float[] of(SplittableRandom rng, int n, float lo, float hi);
    }

    /**
     * One activation unit case on a twin: forward (weights, output, running statistics) within
     * fAtol + fRtol |x|; the backward's results (dQuery, dKeys, every parameter gradient) checked
     * by gradCheck, given each one's description and pair.
     */
    static void activationUnitCase(GpuTesting.Twin tw, SplittableRandom rng, Values values, Activation act, boolean softmax, int T, int[] lens, int W, int h1,
                                   int h2, double fAtol, double fRtol, java.util.function.BiConsumer<String, Pair> gradCheck) {
        activationUnitCase(tw, rng, values, act, softmax, B, MAXB, T, lens, W, h1, h2, fAtol, fRtol, gradCheck);
    }

    /** The same for a batch of B samples (lens: at least B lengths) in a workspace planned for maxB. */
    static void activationUnitCase(GpuTesting.Twin tw, SplittableRandom rng, Values values, Activation act, boolean softmax, int B, int MAXB, int T,
                                   int[] lens, int W, int h1, int h2, double fAtol, double fRtol, java.util.function.BiConsumer<String, Pair> gradCheck) {
        AttentionSpec spec = new AttentionSpec(W, h1, h2, act, softmax, 0.99f, 1e-8f);
        float[] keys = unitKeys(values, rng, B, MAXB, T, lens, W);
        float[] qv = poisonedValues(values, rng, B * W, MAXB * W, -1, 1);
        float[] w1v = values.of(rng, 4 * W * h1, -0.2f, 0.2f), b1v = values.of(rng, h1, -0.2f, 0.2f);
        float[] w2v = values.of(rng, h1 * h2, -0.2f, 0.2f), b2v = values.of(rng, h2, -0.2f, 0.2f);
        float[] w3v = values.of(rng, h2, -0.5f, 0.5f), b3v = values.of(rng, 1, -0.2f, 0.2f);
        float[] a1v = values.of(rng, h1, 0, 0.5f), a2v = values.of(rng, h2, 0, 0.5f);
        if (act == Activation.PRELU) {
            // PReLU's slope jumps at 0: a hidden unit whose input lies within rounding of 0 takes slope 1 on one side
            // and alpha on the other, and the GPU's sums (FMAs, other orders) and the CPU's round differently. On an
            // H200 (2026-11-26) a layer-2 input of 1.2e-9 gave sample 238 of activationUnitWithForwardTilesOfManyRows
            // the other slope, and its dQuery missed the tolerance by up to 0.09. The keys are drawn again until no
            // valid position's input to either layer lies within PRELU_KINK of 0 (exact zeros, as integer data makes,
            // round alike on both and stay).
            for (int draw = 1; nearestKink(keys, qv, lens, B, T, W, h1, h2, w1v, b1v, a1v, w2v, b2v) < PRELU_KINK; draw++) {
                if (draw == 20) throw new AssertionError("20 draws of keys left a PReLU input within " + PRELU_KINK + " of 0");
                keys = unitKeys(values, rng, B, MAXB, T, lens, W);
            }
        }
        Pair q = tw.floats("q", qv), k = tw.floats("k", keys);
        Pair len = tw.ints("len", lens);
        Pair w1 = tw.floats("w1", w1v), b1 = tw.floats("b1", b1v);
        Pair w2 = tw.floats("w2", w2v), b2 = tw.floats("b2", b2v);
        Pair w3 = tw.floats("w3", w3v), b3 = tw.floats("b3", b3v);
        Pair a1 = tw.floats("a1", a1v), a2 = tw.floats("a2", a2v);
        Pair rm1 = tw.floats("runMean1", values.of(rng, h1, -0.1f, 0.1f)), rv1 = tw.floats("runVar1", values.of(rng, h1, 0.5f, 1.5f));
        Pair rm2 = tw.floats("runMean2", values.of(rng, h2, -0.1f, 0.1f)), rv2 = tw.floats("runVar2", values.of(rng, h2, 0.5f, 1.5f));
        boolean slopes = act != Activation.SIGMOID, dice = act == Activation.DICE;
        java.util.function.Function<Backend, AttentionParams> params = be -> new AttentionParams(w1.on(be), b1.on(be), slopes ? a1.on(be) : null,
                w2.on(be), b2.on(be), slopes ? a2.on(be) : null, w3.on(be), b3.on(be),
                dice ? rm1.on(be) : null, dice ? rv1.on(be) : null, dice ? rm2.on(be) : null, dice ? rv2.on(be) : null);
        Pair gw1 = tw.floats("gw1", values.of(rng, 4 * W * h1, -1, 1)), gb1 = tw.floats("gb1", values.of(rng, h1, -1, 1));
        Pair gw2 = tw.floats("gw2", values.of(rng, h1 * h2, -1, 1)), gb2 = tw.floats("gb2", values.of(rng, h2, -1, 1));
        Pair gw3 = tw.floats("gw3", values.of(rng, h2, -1, 1)), gb3 = tw.floats("gb3", values.of(rng, 1, -1, 1));
        Pair ga1 = tw.floats("ga1", values.of(rng, h1, -1, 1)), ga2 = tw.floats("ga2", values.of(rng, h2, -1, 1));
        java.util.function.Function<Backend, AttentionParams> grads = be -> new AttentionParams(gw1.on(be), gb1.on(be), slopes ? ga1.on(be) : null,
                gw2.on(be), gb2.on(be), slopes ? ga2.on(be) : null, gw3.on(be), gb3.on(be), null, null, null, null);
        Workspace wc = tw.cpu.attentionWorkspace("ws", spec, MAXB, T), wg = tw.gpu.attentionWorkspace("ws", spec, MAXB, T);
        if (wg instanceof CudaBackend.AttentionWorkspace fused)   // each test covers the path it names
            assertEquals(!tw.gpu.tuning().attentionPartialsOnChip() ? AttentionArgs.PARTIALS_GLOBAL
                    : tw.gpu.tuning().attentionDm3OnChip() ? AttentionArgs.PARTIALS_CHIP : AttentionArgs.PARTIALS_CHIP_BUT_DM3, fused.partialsPlace, "where the partial gradients are");
        Pair out = tw.poisoned("out", MAXB * W), weights = tw.poisoned("weights", MAXB * T);
        Pair dOut = tw.floats("dOut", poisonedValues(values, rng, B * W, MAXB * W, -1, 1)), dW = tw.floats("dWeights", poisonedValues(values, rng, B * T, MAXB * T, -1, 1));
        Pair dq = tw.floats("dq", poisonedValues(values, rng, B * W, MAXB * W, -1, 1)), dk = tw.floats("dk", poisonedValues(values, rng, B * T * W, MAXB * T * W, -1, 1));
        String what = act + " softmax=" + softmax + " T=" + T + " W/h1/h2=" + W + "/" + h1 + "/" + h2 + " ";
        tw.both(be -> be.activationUnit(out.on(be), weights.on(be), be == tw.gpu ? wg : wc, q.on(be), k.on(be), len.on(be), params.apply(be), spec, B, T, true));
        tw.assertClose(what + "weights", weights, fAtol, fRtol);
        tw.assertClose(what + "out", out, fAtol, fRtol);
        for (Pair p : new Pair[] {rm1, rv1, rm2, rv2}) tw.assertClose(what + p.cpu().name(), p, fAtol, fRtol);
        tw.both(be -> be.activationUnitBackward(dq.on(be), dk.on(be), grads.apply(be), dOut.on(be), dW.on(be), weights.on(be), be == tw.gpu ? wg : wc,
                q.on(be), k.on(be), len.on(be), params.apply(be), spec, B, T));
        for (Pair p : new Pair[] {dq, dk, gw1, gb1, gw2, gb2, gw3, gb3, ga1, ga2}) gradCheck.accept(what + p.cpu().name(), p);
        if (dice) {   // inference: the running statistics just updated, nothing saved for a backward
            Pair evalOut = tw.poisoned("evalOut", MAXB * W), evalWeights = tw.poisoned("evalWeights", MAXB * T);
            tw.both(be -> be.activationUnit(evalOut.on(be), evalWeights.on(be), be == tw.gpu ? wg : wc, q.on(be), k.on(be), len.on(be), params.apply(be),
                    spec, B, T, false));
            tw.assertClose(what + "inference weights", evalWeights, fAtol, fRtol);
            tw.assertClose(what + "inference out", evalOut, fAtol, fRtol);
            for (Pair p : new Pair[] {rm1, rv1, rm2, rv2}) tw.assertClose(what + "after inference " + p.cpu().name(), p, fAtol, fRtol);
        }
    }

    /**
     * How near 0 a PReLU unit's input may lie in the activation unit cases: about 10 times the difference seen between
     * the GPU's fp32 sums and the CPU's for inputs of this size (some 80 to 144 terms of up to 0.2 each, 1e-7 apart).
     */
    static final double PRELU_KINK = 1e-6;

    /** The keys of a unit case: B T W values, poisoned past each sample's length and past the batch. */
    private static float[] unitKeys(Values values, SplittableRandom rng, int B, int MAXB, int T, int[] lens, int W) {
        float[] keys = poisonedValues(values, rng, B * T * W, MAXB * T * W, -1, 1);
        for (int b = 0; b < B; b++) java.util.Arrays.fill(keys, (b * T + lens[b]) * W, (b + 1) * T * W, GpuTesting.POISON);
        return keys;
    }

    /**
     * The smallest |input| of either PReLU layer over the valid positions, in double, not counting exact zeros:
     * z = [q, k, q - k, q * k] (the last two as floats, as both backends form them), z W1 + b1, PReLU, then W2 + b2.
     */
    static double nearestKink(float[] keys, float[] q, int[] lens, int B, int T, int W, int h1, int h2, float[] w1, float[] b1, float[] alpha1,
                              float[] w2, float[] b2) {
        double nearest = Double.POSITIVE_INFINITY;
        double[] z = new double[4 * W], a = new double[h1];
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < Math.min(lens[b], T); t++) {
                for (int c = 0; c < W; c++) {
                    float qc = q[b * W + c], kc = keys[(b * T + t) * W + c];
                    z[c] = qc;
                    z[W + c] = kc;
                    z[2 * W + c] = qc - kc;
                    z[3 * W + c] = qc * kc;
                }
                for (int j = 0; j < h1; j++) {
                    double s = b1[j];
                    for (int i = 0; i < 4 * W; i++) s += z[i] * w1[i * h1 + j];
                    if (s != 0) nearest = Math.min(nearest, Math.abs(s));
                    a[j] = s > 0 ? s : alpha1[j] * s;
                }
                for (int j = 0; j < h2; j++) {
                    double s = b2[j];
                    for (int i = 0; i < h1; i++) s += a[i] * w2[i * h2 + j];
                    if (s != 0) nearest = Math.min(nearest, Math.abs(s));
                }
            }
        }
        return nearest;
    }

    private static float[] poisonedValues(Values values, SplittableRandom rng, int valid, int n, float lo, float hi) {
        float[] a = values.of(rng, n, lo, hi);
        java.util.Arrays.fill(a, valid, n, GpuTesting.POISON);
        return a;
    }
}
