package io.augur.backend.cuda;

import io.augur.backend.Activation;
import io.augur.backend.Backend;
import io.augur.backend.Tower;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static io.augur.backend.cuda.GpuTesting.Pair;
import static io.augur.backend.cuda.GpuTesting.uniform;
import static io.augur.backend.cuda.GpuTesting.uniformPoisoned;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The fused top tower (tower.cu) against the CPU reference, which runs the same tower op by op
 * (Backend.towerForward / towerBackward's defaults): a training forward with its loss, its backward,
 * then an inference forward with the running statistics just updated. Every tensor the fused path writes
 * is compared: the BatchNorm's output and statistics, each layer's pre-activation, activation,
 * statistics, dPre, dx and every parameter gradient (which start nonzero: the backward adds).
 * Outputs start poisoned and the rows past B of the inputs are poisoned, so an element not
 * written, or a row past B read, shows. SKIPPED where no GPU is usable.
 *
 * <p>Tolerances: CudaOpsParityTest's; TIGHT for the forward (sums of up to 60 products in another
 * order), LOOSE for the gradients (sums over the batch's rows).
 */
@Tag("gpu")
class CudaTowerParityTest {
    static final double TIGHT_ATOL = CudaOpsParityTest.TIGHT_ATOL, TIGHT_RTOL = CudaOpsParityTest.TIGHT_RTOL;
    static final double LOOSE_ATOL = CudaOpsParityTest.LOOSE_ATOL, LOOSE_RTOL = CudaOpsParityTest.LOOSE_RTOL;

    GpuTesting.Twin tw;
    SplittableRandom rng;
    /** The shared backend's kernel settings before the test, put back after it. */
    KernelTuning before;

    @BeforeEach
    void open() {
        GpuTesting.assumeGpu();
        tw = new GpuTesting.Twin(GpuTesting.backend());
        rng = new SplittableRandom(7);
        before = tw.gpu.tuning();
    }

    @AfterEach
    void close() {
        if (tw != null) {
            tw.gpu.setTuning(before);
            tw.close();
        }
    }

    /** One tower's tensors on both backends. */
    final class TwinTower {
        final int B, maxB, in;
        final Pair x, dx, dLogits, logits;
        final Pair bnY, bnMean, bnInv, gamma, beta, bnRm, bnRv, dGamma, dBeta, bnDy;
        final List<Pair[]> layers = new ArrayList<>();   // W b dW db pre dPre out dOut alpha dAlpha mean invStd rm rv
        final int[] widths;
        final Activation act;
        final Pair headW, headB, headDW, headDB;

        TwinTower(int B, int in, int[] hidden, Activation act) {
            this.B = B;
            this.maxB = B + 3;
            this.in = in;
            this.widths = hidden;
            this.act = act;
            x = tw.floats("x", uniformPoisoned(rng, B * in, maxB * in, -2, 2));
            dx = tw.poisoned("dx", maxB * in);
            bnY = tw.poisoned("bn.y", maxB * in);
            bnMean = tw.poisoned("bn.mean", in);
            bnInv = tw.poisoned("bn.inv", in);
            gamma = tw.floats("gamma", uniform(rng, in, 0.5f, 1.5f));
            beta = tw.floats("beta", uniform(rng, in, -0.5f, 0.5f));
            bnRm = tw.floats("bn.rm", uniform(rng, in, -0.1f, 0.1f));
            bnRv = tw.floats("bn.rv", uniform(rng, in, 0.9f, 1.1f));
            dGamma = tw.floats("dGamma", uniform(rng, in, -1, 1));
            dBeta = tw.floats("dBeta", uniform(rng, in, -1, 1));
            bnDy = tw.poisoned("bn.dy", maxB * in);
            int width = in;
            for (int h : hidden) {
                float bound = (float) (1 / Math.sqrt(width));
                boolean hasAlpha = act != Activation.SIGMOID, dice = act == Activation.DICE;
                layers.add(new Pair[] {
                        tw.floats("W", uniform(rng, width * h, -bound, bound)), tw.floats("b", uniform(rng, h, -0.1f, 0.1f)),
                        tw.floats("dW", uniform(rng, width * h, -1, 1)), tw.floats("db", uniform(rng, h, -1, 1)),
                        tw.poisoned("pre", maxB * h), tw.poisoned("dPre", maxB * h), tw.poisoned("out", maxB * h), tw.poisoned("dOut", maxB * h),
                        hasAlpha ? tw.floats("alpha", uniform(rng, h, -0.5f, 0.5f)) : null,
                        hasAlpha ? tw.floats("dAlpha", uniform(rng, h, -1, 1)) : null,
                        dice ? tw.poisoned("mean", h) : null, dice ? tw.poisoned("invStd", h) : null,
                        dice ? tw.floats("rm", uniform(rng, h, -0.1f, 0.1f)) : null, dice ? tw.floats("rv", uniform(rng, h, 0.9f, 1.1f)) : null});
                width = h;
            }
            float bound = (float) (1 / Math.sqrt(width));
            headW = tw.floats("head.W", uniform(rng, width, -bound, bound));
            headB = tw.floats("head.b", uniform(rng, 1, -0.1f, 0.1f));
            headDW = tw.floats("head.dW", uniform(rng, width, -1, 1));
            headDB = tw.floats("head.db", uniform(rng, 1, -1, 1));
            logits = tw.poisoned("logits", maxB);
            dLogits = tw.floats("dLogits", uniformPoisoned(rng, B, maxB, -1, 1));
            float[] y = uniformPoisoned(rng, B, maxB, 0, 1);
            for (int r = 0; r < B; r++) y[r] = y[r] < 0.5f ? 0f : 1f;
            labels = tw.floats("labels", y);
            loss = tw.poisoned("loss", 1);
            lossGrad = tw.poisoned("loss.dLogits", maxB);
        }

        final Pair labels, loss, lossGrad;

        Tower.Loss lossOn(Backend be) { return new Tower.Loss(labels.on(be), loss.on(be), lossGrad.on(be), 0.5f); }

        Tower on(Backend be) {
            Tower.Norm norm = new Tower.Norm(bnY.on(be), bnMean.on(be), bnInv.on(be), gamma.on(be), beta.on(be), bnRm.on(be), bnRv.on(be),
                    dGamma.on(be), dBeta.on(be), bnDy.on(be), in, 0.9f, 1e-5f);
            List<Tower.Layer> hidden = new ArrayList<>();
            int width = in;
            for (int i = 0; i < widths.length; i++) {
                Pair[] p = layers.get(i);
                hidden.add(new Tower.Layer(p[0].on(be), p[1].on(be), p[2].on(be), p[3].on(be), p[4].on(be), p[5].on(be), act, p[6].on(be),
                        p[7].on(be), on(p[8], be), on(p[9], be), on(p[10], be), on(p[11], be), on(p[12], be), on(p[13], be),
                        width, widths[i], 0.9f, 1e-8f));
                width = widths[i];
            }
            Tower.Layer head = new Tower.Layer(headW.on(be), headB.on(be), headDW.on(be), headDB.on(be), logits.on(be), null, null, null, null,
                    null, null, null, null, null, null, width, 1, 0f, 0f);
            return new Tower(norm, hidden, head);
        }

        private static io.augur.backend.Tensor on(Pair p, Backend be) { return p == null ? null : p.on(be); }

        void assertForward(String when) {
            tw.assertClose(when + " bn.y", bnY, TIGHT_ATOL, TIGHT_RTOL);
            tw.assertClose(when + " bn.mean", bnMean, TIGHT_ATOL, TIGHT_RTOL);
            tw.assertClose(when + " bn.invStd", bnInv, TIGHT_ATOL, TIGHT_RTOL);
            tw.assertClose(when + " bn.running_mean", bnRm, TIGHT_ATOL, TIGHT_RTOL);
            tw.assertClose(when + " bn.running_var", bnRv, TIGHT_ATOL, TIGHT_RTOL);
            for (int i = 0; i < layers.size(); i++) {
                Pair[] p = layers.get(i);
                tw.assertClose(when + " layer " + i + " pre", p[4], TIGHT_ATOL, TIGHT_RTOL);
                tw.assertClose(when + " layer " + i + " out", p[6], TIGHT_ATOL, TIGHT_RTOL);
                for (int k = 10; k < 14; k++) if (p[k] != null) tw.assertClose(when + " layer " + i + " " + p[k].cpu().name(), p[k], TIGHT_ATOL, TIGHT_RTOL);
            }
            tw.assertClose(when + " logits", logits, TIGHT_ATOL, TIGHT_RTOL);
        }

        /** A training forward with its loss, then the backward from the random dLogits, compared on the way. */
        void trainingStepMatches() {
            tw.both(be -> be.towerForward(on(be), x.on(be), B, true, null, lossOn(be)));
            assertForward("training");
            tw.assertClose("loss", loss, TIGHT_ATOL, TIGHT_RTOL);
            tw.assertClose("loss's dLogits", lossGrad, TIGHT_ATOL, TIGHT_RTOL);
            tw.both(be -> be.towerBackward(on(be), dx.on(be), dLogits.on(be), x.on(be), B));
            assertBackward();
        }

        void assertBackward() {
            tw.assertClose("dx", dx, LOOSE_ATOL, LOOSE_RTOL);
            tw.assertClose("dGamma", dGamma, LOOSE_ATOL, LOOSE_RTOL);
            tw.assertClose("dBeta", dBeta, LOOSE_ATOL, LOOSE_RTOL);
            for (int i = 0; i < layers.size(); i++) {
                Pair[] p = layers.get(i);
                tw.assertClose("layer " + i + " dW", p[2], LOOSE_ATOL, LOOSE_RTOL);
                tw.assertClose("layer " + i + " db", p[3], LOOSE_ATOL, LOOSE_RTOL);
                tw.assertClose("layer " + i + " dPre", p[5], LOOSE_ATOL, LOOSE_RTOL);
                if (p[9] != null) tw.assertClose("layer " + i + " dAlpha", p[9], LOOSE_ATOL, LOOSE_RTOL);
            }
            tw.assertClose("head dW", headDW, LOOSE_ATOL, LOOSE_RTOL);
            tw.assertClose("head db", headDB, LOOSE_ATOL, LOOSE_RTOL);
        }
    }

    /**
     * Widths off every block size (45 inputs, layers of 33 and 9 or one of 20); B = 1 (the
     * statistics of one row), 37, 128 (the benchmark's batch) and 255; blocks of 1, 2, 4 and 32
     * channels (one channel, the sweep's variant at 128, the default, and all of a 9-wide layer in one
     * partly empty block).
     * Without clusters: the smallest that fits is 1 at these sizes.
     */
    @ParameterizedTest(name = "{0} B={1} cols={2} hidden={3}")
    @CsvSource({
            "DICE, 37, 4, 33 9", "PRELU, 37, 4, 33 9", "SIGMOID, 37, 4, 33 9",
            "DICE, 1, 4, 33 9", "DICE, 128, 4, 33 9", "PRELU, 255, 8, 20",
            "DICE, 37, 1, 33 9", "SIGMOID, 37, 32, 33 9", "DICE, 128, 32, 20", "DICE, 128, 2, 33 9"})
    void fusedTowerMatchesTheOpsOneByOne(Activation act, int B, int cols, String hidden) {
        fusedTowerMatches(act, B, cols, hidden, 0, 1);
    }

    /**
     * In clusters of blocks that split the rows (compute capability 9.0; the emulator runs a
     * cluster's blocks together): 2 blocks of 19 and 18 rows; 8 of 5 but the last of 2; 8 where
     * three blocks have no row (B = 5) and 2 where one has none (B = 1); every activation; the
     * automatic choice past one block's shared memory (B = 300 in clusters of 2, 1,100 in 8 of
     * 138 rows); and the Amazon DIN tower's shape at the benchmark's batch 2048 in clusters of 8
     * (256 rows a block, a layer of 200 above the BatchNorm). Clusters of 16, above the portable size
     * and only when asked for: 3 rows a block but the 13th's 1 and the last three's none (B = 37), 69
     * rows but the last block's 65 (B = 1,100), and the Amazon shape at 2048 (128 rows a block).
     */
    @ParameterizedTest(name = "{0} B={1} cols={2} hidden={3} cluster={4}")
    @CsvSource({
            "DICE, 37, 4, 33 9, 2, 2", "DICE, 37, 4, 33 9, 8, 8", "PRELU, 37, 4, 33 9, 4, 4", "SIGMOID, 37, 8, 33 9, 2, 2",
            "DICE, 5, 4, 33 9, 8, 8", "PRELU, 1, 4, 20, 2, 2", "DICE, 300, 4, 200 9, 0, 2", "SIGMOID, 1100, 8, 200 9, 0, 8",
            "DICE, 2048, 4, 200 80, 0, 8", "DICE, 37, 4, 33 9, 16, 16", "SIGMOID, 1100, 8, 200 9, 16, 16", "DICE, 2048, 4, 200 80, 16, 16"})
    void clusteredTowerMatchesTheOpsOneByOne(Activation act, int B, int cols, String hidden, int setting, int cluster) {
        org.junit.jupiter.api.Assumptions.assumeTrue(tw.gpu.runtime().ccMajor >= 9, "thread-block clusters need compute capability 9.0");
        fusedTowerMatches(act, B, cols, hidden, setting, cluster);
    }

    /**
     * The first layer's BatchNorm over channels far from zero against their spread: every third channel at 100,000 give
     * or take 8 of its floats' steps (0.0078 each), every third from the second constant, the rest in [-2, 2]. The fused
     * forward takes the statistics in one pass, as sums shifted by the batch's first row, and the variance about the
     * mean rounded to float, as the reference's second pass does: about the exact mean instead, the far channels'
     * variance would differ from the reference's by up to a percent, and unshifted sums of x and x^2 would lose it
     * altogether. Without clusters at batch 128 (the benchmark's) and in clusters of 2 and 8 (whose blocks all shift
     * by the same row, which only the first of them holds).
     */
    @ParameterizedTest(name = "B={0} cluster={1}")
    @CsvSource({"128, 1", "37, 2", "300, 8"})
    void fusedBatchNormOfChannelsFarFromZero(int B, int cluster) {
        org.junit.jupiter.api.Assumptions.assumeTrue(cluster == 1 || tw.gpu.runtime().ccMajor >= 9, "thread-block clusters need compute capability 9.0");
        int in = 45;
        TwinTower t = fusedTower(Activation.DICE, B, in, "4", "33 9", cluster, cluster);
        float far = 100_000f, step = Math.ulp(far);
        float[] x = new float[B * in];
        for (int r = 0; r < B; r++)
            for (int k = 0; k < in; k++)
                x[r * in + k] = k % 3 == 0 ? far + (rng.nextInt(17) - 8) * step : k % 3 == 1 ? 7.25f : (float) (rng.nextDouble() * 4 - 2);
        tw.cpu.upload(t.x.cpu(), x, x.length);
        tw.gpu.upload(t.x.gpu(), x, x.length);
        // training only: an inference forward normalises by the running statistics, about 10,000 after one step, and
        // the first layer's products then sum terms near 10,000 to about 10, which any two orders of the sum round
        // differently by some 0.001
        t.trainingStepMatches();
    }

    /** A tower on both backends under the fused settings given (towerCluster {@code setting}, 0: auto), checked to run fused in clusters of {@code cluster}. */
    private TwinTower fusedTower(Activation act, int B, int inputs, String cols, String hidden, int setting, int cluster) {
        tw.gpu.setTuning(before.with(KernelTuning.TOWER_FUSED, "auto").with(KernelTuning.TOWER_COLS, cols)
                .with(KernelTuning.TOWER_CLUSTER, setting == 0 ? "auto" : Integer.toString(setting)));
        int[] widths = java.util.Arrays.stream(hidden.trim().split(" ")).mapToInt(Integer::parseInt).toArray();
        TwinTower t = new TwinTower(B, inputs, widths, act);
        assertEquals(cluster, tw.gpu.fusedTower(t.on(tw.gpu), B), "this case must run fused in clusters of " + cluster);
        return t;
    }

    private void fusedTowerMatches(Activation act, int B, int cols, String hidden, int setting, int cluster) {
        fusedTowerMatches(act, B, 45, Integer.toString(cols), hidden, setting, cluster);
    }

    private TwinTower fusedTowerMatches(Activation act, int B, int inputs, String cols, String hidden, int setting, int cluster) {
        TwinTower t = fusedTower(act, B, inputs, cols, hidden, setting, cluster);
        t.trainingStepMatches();
        tw.both(be -> be.towerForward(t.on(be), t.x.on(be), B, false));
        t.assertForward("inference");
        return t;
    }

    /**
     * Channels a block chosen per launch (towerCols auto, the default) at batch 2048 in clusters of 8: the Amazon DIN
     * tower (162 inputs) and one of 45 inputs. Under the emulator (an H200's 132 multiprocessors, its shared memory)
     * the plan is CudaTuningTest's: the forwards take 16 and 8 channels a block, or 4 and 8, so that each takes one round of
     * clusters (the 45-wide first forward at 4 channels is 56,452 bytes a block, four a multiprocessor); the 200-wide layer's backward 8 channels with d_up 48 columns at a time, and the Amazon BatchNorm's 16 with
     * 112 (the 45-wide one's is one round at 4 already). On a GPU the device's own cluster count decides; the first forward takes more than 4
     * there too unless it holds 50 clusters of 8 at once.
     */
    @ParameterizedTest(name = "inputs={0}")
    @CsvSource({"162, 16 8, 8 4, 16, 48 0, 112", "45, 4 8, 8 4, 4, 48 0, 0"})
    void eachLaunchChoosesItsChannelsAndMatches(int inputs, String forward, String backward, int norm, String chunks, int normChunk) {
        org.junit.jupiter.api.Assumptions.assumeTrue(tw.gpu.runtime().ccMajor >= 9, "thread-block clusters need compute capability 9.0");
        TwinTower t = fusedTowerMatches(Activation.DICE, 2048, inputs, "auto", "200 80", 0, 8);
        CudaBackend.TowerCols plan = tw.gpu.towerCols(t.on(tw.gpu), 2048, 8);
        if (GpuTesting.emulated())
            assertEquals(new CudaBackend.TowerCols(ints(forward), ints(backward), norm, ints(chunks), normChunk), plan, plan.toString());
        else
            assertTrue(plan.forward()[0] > CudaBackend.TOWER_AUTO_MIN_COLS, "on this GPU: " + plan);
    }

    /**
     * cuOccupancyMaxActiveClusters through libaugur_launch.so, which the per-launch choice above asks: clusters of 8
     * blocks that each take most of a multiprocessor's shared memory (the first forward's 202,964 bytes at 16 channels)
     * are at most one per 8 multiprocessors, fewer where a GPC's multiprocessors are not a multiple of 8 (the emulator: 16
     * of its 132); a kernel compiled without a cluster size is refused (-1). On a GPU the count is printed, for the
     * records.
     */
    @org.junit.jupiter.api.Test
    void theDeviceSaysHowManyClustersItHolds() {
        org.junit.jupiter.api.Assumptions.assumeTrue(tw.gpu.runtime().ccMajor >= 9, "thread-block clusters need compute capability 9.0");
        CudaRuntime rt = tw.gpu.runtime();
        String k = Kernels.towerForward(8);
        rt.setMaxDynamicShared(k, 202_964);
        int n = rt.maxActiveClusters(k, 104, CudaBackend.TOWER_THREADS, 202_964);
        System.out.println("clusters of 8 blocks of 202,964 bytes held at once: " + n + " (" + rt.multiprocessors + " multiprocessors)");
        assertTrue(n >= 1 && n <= rt.multiprocessors / 8, n + " clusters of 8 at once on " + rt.multiprocessors + " multiprocessors");
        if (GpuTesting.emulated()) assertEquals(16, n);
        // a kernel without a compiled cluster size: no clusters, and no error (an H200 with driver 580, 2026-11-26)
        assertEquals(0, rt.maxActiveClusters(Kernels.towerForward(1), 13, CudaBackend.TOWER_THREADS, 20_000), "no compiled cluster size");
    }

    /**
     * A backward that stages d_up in chunks computes the bits of one that stages it whole: each chunk's share of the
     * upper layer's weight gradient is its own columns' sums, and d_out's products go on where the chunk before stopped
     * (tower.cu). The tower takes one training step twice from the same inputs, d_up whole
     * ({@code -Daugur.tower.chunk=all}) and {@code chunk} columns at a time, and the second is compared with the CPU
     * too: chunks that are not a multiple of 16, of one column, and as many as 200 / 16; without clusters and in
     * clusters of 2 and 8.
     */
    @ParameterizedTest(name = "{0} B={1} hidden={2} cluster={3} cols={4} chunk={5}")
    @CsvSource({"DICE, 37, 33 9, 1, 4, 7", "PRELU, 37, 33 9, 1, 4, 1", "SIGMOID, 128, 200 9, 1, 8, 16", "DICE, 37, 33 9, 2, 4, 16",
            "DICE, 300, 200 9, 2, 16, 112", "PRELU, 40, 33 9, 8, 32, 5"})
    void aBackwardInChunksGivesTheBitsOfOneWhole(Activation act, int B, String hidden, int cluster, int cols, int chunk) {
        org.junit.jupiter.api.Assumptions.assumeTrue(cluster == 1 || tw.gpu.runtime().ccMajor >= 9, "thread-block clusters need compute capability 9.0");
        List<float[]> whole = backwardOnce(act, B, hidden, cluster, cols, "all", 0);
        List<float[]> chunked = backwardOnce(act, B, hidden, cluster, cols, Integer.toString(chunk), chunk);
        for (int i = 0; i < whole.size(); i++) {
            float[] a = whole.get(i), b = chunked.get(i);
            for (int k = 0; k < a.length; k++)
                if (Float.floatToRawIntBits(a[k]) != Float.floatToRawIntBits(b[k]))
                    throw new AssertionError("gradient " + i + " [" + k + "]: " + a[k] + " with d_up whole, " + b[k] + " in chunks of " + chunk);
        }
    }

    /**
     * One training step of a fresh tower from seed 7 with d_up staged as {@code chunk} says, checked against the CPU
     * where {@code expect} (the chunk the BatchNorm's backward must take) is not 0; the GPU's gradients, in a fixed order.
     */
    private List<float[]> backwardOnce(Activation act, int B, String hidden, int cluster, int cols, String chunk, int expect) {
        rng = new SplittableRandom(7);
        tw.gpu.setTuning(before.with(KernelTuning.TOWER_FUSED, "auto").with(KernelTuning.TOWER_COLS, Integer.toString(cols))
                .with(KernelTuning.TOWER_CHUNK, chunk).with(KernelTuning.TOWER_CLUSTER, Integer.toString(cluster)));
        TwinTower t = new TwinTower(B, 45, ints(hidden), act);
        assertEquals(cluster, tw.gpu.fusedTower(t.on(tw.gpu), B), "this case must run fused in clusters of " + cluster);
        CudaBackend.TowerCols plan = tw.gpu.towerCols(t.on(tw.gpu), B, cluster);
        assertEquals(expect, plan.normChunk(), plan.toString());
        if (expect != 0) {
            t.trainingStepMatches();
        } else {
            tw.gpu.towerForward(t.on(tw.gpu), t.x.gpu(), B, true, null, t.lossOn(tw.gpu));
            tw.gpu.towerBackward(t.on(tw.gpu), t.dx.gpu(), t.dLogits.gpu(), t.x.gpu(), B);
        }
        List<Pair> grads = new ArrayList<>(List.of(t.dx, t.dGamma, t.dBeta, t.headDW, t.headDB));
        for (Pair[] p : t.layers) {
            grads.add(p[2]);
            grads.add(p[3]);
            grads.add(p[5]);
            if (p[9] != null) grads.add(p[9]);
        }
        List<float[]> out = new ArrayList<>();
        for (Pair p : grads) {
            float[] a = new float[p.gpu().size()];
            tw.gpu.download(p.gpu(), a, a.length);
            out.add(a);
        }
        return out;
    }

    private static int[] ints(String s) {
        return java.util.Arrays.stream(s.trim().split(" ")).mapToInt(Integer::parseInt).toArray();
    }

    /**
     * A block's rows of a layer's input past its shared memory: the same op falls back to the
     * layer-by-layer kernels and still matches (300 rows without clusters; 2,400, 300 a block in
     * clusters of 8).
     */
    @ParameterizedTest(name = "B={0} cluster={1}")
    @CsvSource({"300, 1", "2400, 0"})
    void towerPastTheSharedMemoryTakesTheOps(int B, int setting) {
        tw.gpu.setTuning(before.with(KernelTuning.TOWER_FUSED, "auto").with(KernelTuning.TOWER_CLUSTER, setting == 0 ? "auto" : Integer.toString(setting)));
        TwinTower t = new TwinTower(B, 45, new int[] {200, 9}, Activation.DICE);
        assertEquals(0, tw.gpu.fusedTower(t.on(tw.gpu), B), "this case must take the ops");
        t.trainingStepMatches();
    }

    /**
     * The tower layer by layer (tower.fused=off), where the logit layer rides with its neighbours: its product in the
     * loss's launch (bce_head_kernel) and, below a layer of Dice, its backward in the Dice backward's launch
     * (dice_backward_head_kernel), against the CPU's ops one by one. The Amazon shape at batch 128 (162 inputs, 200 and
     * 80), widths off the 32-channel blocks at 37 rows, PReLU (the loss's launch only), and 2,400 rows, where Dice's backward runs sliced and the logit
     * layer's backward takes its own launch again. The kernels that ran say which launches were taken.
     */
    @ParameterizedTest(name = "{0} B={1} inputs={2} hidden={3} rows={4}")
    @CsvSource({"DICE, 128, 162, 200 80, -1", "DICE, 37, 45, 33 9, -1", "PRELU, 37, 45, 33 9, -1", "DICE, 2400, 45, 20 9, -1"})
    void theLayersTakeTheLogitLayerInTheirNeighboursLaunches(Activation act, int B, int inputs, String hidden, int count) {
        tw.gpu.setTuning(before.with(KernelTuning.TOWER_FUSED, "off"));
        TwinTower t = new TwinTower(B, inputs, ints(hidden), act);
        assertEquals(0, tw.gpu.fusedTower(t.on(tw.gpu), B), "this case must take the ops");
        Pair rows = count < 0 ? null : tw.ints("rows", new int[] {count});
        java.util.Set<String> forward = CudaOpsParityTest.timed(tw.gpu,
                () -> tw.both(be -> be.towerForward(t.on(be), t.x.on(be), B, true, rows == null ? null : rows.on(be), t.lossOn(be))));
        t.assertForward("training");
        tw.assertClose("loss", t.loss, TIGHT_ATOL, TIGHT_RTOL);
        tw.assertClose("loss's dLogits", t.lossGrad, TIGHT_ATOL, TIGHT_RTOL);
        assertTrue(forward.contains(Kernels.BCE_HEAD) && !forward.contains(Kernels.BCE_WITH_LOGITS), forward.toString());
        java.util.Set<String> backward = CudaOpsParityTest.timed(tw.gpu,
                () -> tw.both(be -> be.towerBackward(t.on(be), t.dx.on(be), t.dLogits.on(be), t.x.on(be), B, rows == null ? null : rows.on(be))));
        t.assertBackward();
        boolean together = act == Activation.DICE && !tw.gpu.sliced(B, t.widths[t.widths.length - 1]);
        assertEquals(together, backward.contains(Kernels.DICE_BACKWARD_HEAD), backward.toString());
        if (B == 2400) assertFalse(together, "2,400 rows of Dice run sliced: " + backward);
        if (B == 128 && tw.gpu.gemm() instanceof BuiltinGemm && tw.gpu.tuning().gemmSmall() == BuiltinGemm.Small.AUTO)
            assertEquals(java.util.Set.of(Kernels.DICE_BACKWARD_HEAD, Kernels.DICE_BACKWARD, Kernels.GEMM_SMALL_PAIR, Kernels.BATCH_NORM_BACKWARD),
                    backward, "DIN's tower at 128 with the built-in GEMM: five launches, the products' in pairs");
    }
}
