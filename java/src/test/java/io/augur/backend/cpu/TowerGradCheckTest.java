package io.augur.backend.cpu;

import io.augur.backend.Activation;
import io.augur.backend.Tensor;
import io.augur.backend.Tower;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static io.augur.backend.cpu.OpTesting.uniform;

/**
 * The tower op (Backend.towerForward / towerBackward, whose defaults are the specification the
 * CUDA backend's fused kernels are held to) by finite differences, through the BatchNorm's and
 * Dice's batch statistics: the logits against x, gamma, beta and every layer's weight, bias and
 * activation parameter. Training mode; B = 6 rows, 7 inputs, hidden layers of 5 and 3 for each
 * activation, or none (the logit on the BatchNorm's output).
 */
class TowerGradCheckTest {
    static CpuBackend be;

    @BeforeAll
    static void start() { be = CpuBackend.reference(); }

    @AfterAll
    static void stop() { be.close(); }

    @ParameterizedTest(name = "{0} hidden={1}")
    @CsvSource({"DICE, 5 3", "PRELU, 5 3", "SIGMOID, 5 3", "DICE, ''"})
    void logitsByFiniteDifferences(Activation act, String hiddenWidths) {
        int B = 6, in = 7;
        int[] widths = hiddenWidths == null || hiddenWidths.isBlank() ? new int[0]
                : java.util.Arrays.stream(hiddenWidths.trim().split(" ")).mapToInt(Integer::parseInt).toArray();
        SplittableRandom rng = new SplittableRandom(act.ordinal() + 11);
        GradCheck gc = new GradCheck(5);
        // PReLU's kink: a step of 1e-2 in a first-layer weight moves pre-activations by up to 2e-2 (|x| <= 2), and
        // W0[14] then carries a pre-activation across 0 (analytic 0.0304, numeric 0.0277); 1e-3 keeps every one on its
        // side, at a rounding noise near 1e-4 (GradCheck's measurements), still ten times under the tolerance
        if (act == Activation.PRELU) gc.step(1e-3f);
        float[] x = uniform(rng, B * in, -2, 2), dx = new float[B * in];
        float[] gamma = uniform(rng, in, 0.5f, 1.5f), beta = uniform(rng, in, -0.5f, 0.5f), dGamma = new float[in], dBeta = new float[in];
        gc.wrt("x", x, dx, B * in).wrt("gamma", gamma, dGamma, in).wrt("beta", beta, dBeta, in);
        Tower.Norm norm = new Tower.Norm(t("bn.y", B * in), t("bn.mean", in), t("bn.inv", in), wrap("gamma", gamma), wrap("beta", beta),
                t("bn.rm", in), wrap("bn.rv", filled(in, 1f)), wrap("dGamma", dGamma), wrap("dBeta", dBeta), t("bn.dy", B * in), in, 0.9f, 1e-5f);
        List<Tower.Layer> hidden = new ArrayList<>();
        int width = in;
        for (int l = 0; l < widths.length; l++) {
            int h = widths[l];
            float[] w = uniform(rng, width * h, -1, 1), b = uniform(rng, h, -0.5f, 0.5f), dw = new float[width * h], db = new float[h];
            gc.wrt("W" + l, w, dw, width * h).wrt("b" + l, b, db, h);
            Tensor alpha = null, dAlpha = null, mean = null, inv = null, rm = null, rv = null;
            if (act != Activation.SIGMOID) {
                float[] a = uniform(rng, h, -0.5f, 0.5f), da = new float[h];
                gc.wrt("alpha" + l, a, da, h);
                alpha = wrap("alpha" + l, a);
                dAlpha = wrap("dAlpha" + l, da);
            }
            if (act == Activation.DICE) {
                mean = t("mean" + l, h);
                inv = t("inv" + l, h);
                rm = t("rm" + l, h);
                rv = wrap("rv" + l, filled(h, 1f));
            }
            hidden.add(new Tower.Layer(wrap("W" + l, w), wrap("b" + l, b), wrap("dW" + l, dw), wrap("db" + l, db), t("pre" + l, B * h),
                    t("dPre" + l, B * h), act, t("out" + l, B * h), t("dOut" + l, B * h), alpha, dAlpha, mean, inv, rm, rv, width, h, 0.9f, 1e-5f));
            width = h;
        }
        float[] hw = uniform(rng, width, -1, 1), hb = {0.1f}, dhw = new float[width], dhb = new float[1];
        gc.wrt("head.W", hw, dhw, width).wrt("head.b", hb, dhb, 1);
        float[] logits = new float[B];
        Tower.Layer head = new Tower.Layer(wrap("head.W", hw), wrap("head.b", hb), wrap("head.dW", dhw), wrap("head.db", dhb), wrap("logits", logits),
                null, null, null, null, null, null, null, null, null, null, width, 1, 0f, 0f);
        Tower tower = new Tower(norm, hidden, head);
        float[] dLogits = gc.output("logits", logits, B);
        Tensor xt = wrap("x", x), dxt = wrap("dx", dx), dl = wrap("dLogits", dLogits);
        gc.run(() -> be.towerForward(tower, xt, B, true), () -> be.towerBackward(tower, dxt, dl, xt, B)).assertOk();
    }

    private static Tensor wrap(String name, float[] a) { return CpuTensor.wrap(name, a, a.length); }

    private static Tensor t(String name, int n) { return wrap(name, new float[n]); }

    private static float[] filled(int n, float v) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, v);
        return a;
    }
}
