package io.augur.backend.cpu;

import io.augur.backend.Activation;
import io.augur.backend.AttentionParams;
import io.augur.backend.AttentionSpec;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.SplittableRandom;
import java.util.stream.Stream;

/**
 * The activation unit's reference backward against central differences of its reference forward,
 * for every input (query, keys) and parameter, every hidden activation, with and without softmax.
 * The scalar is a fixed random contraction of both outputs (the pooled vector and the weights),
 * so both incoming gradients are exercised. Lengths include 0, 1 and T.
 */
class ActivationUnitGradCheckTest {

    static Stream<Arguments> cases() {
        return Stream.of(
                Arguments.of(Activation.SIGMOID, false), Arguments.of(Activation.SIGMOID, true),
                Arguments.of(Activation.PRELU, false), Arguments.of(Activation.PRELU, true),
                Arguments.of(Activation.DICE, false), Arguments.of(Activation.DICE, true));
    }

    @ParameterizedTest(name = "{0} softmax={1}")
    @MethodSource("cases")
    void referenceGradientsMatchFiniteDifferences(Activation act, boolean softmax) {
        final int B = 5, T = 4, W = 3, h1 = 6, h2 = 4;
        AttentionSpec spec = new AttentionSpec(W, h1, h2, act, softmax, 0.99f, 1e-8f);
        SplittableRandom rng = new SplittableRandom(131 + act.ordinal() * 2 + (softmax ? 1 : 0));
        int[] lengths = {4, 0, 1, 3, 2};
        float[] q = rand(rng, B * W), keys = rand(rng, B * T * W);
        float[] w1 = rand(rng, 4 * W * h1), b1 = rand(rng, h1), w2 = rand(rng, h1 * h2), b2 = rand(rng, h2), w3 = rand(rng, h2), b3 = rand(rng, 1);
        float[] a1 = rand(rng, h1), a2 = rand(rng, h2);
        float[] rm1 = new float[h1], rv1 = ones(h1), rm2 = new float[h2], rv2 = ones(h2);
        boolean alpha = act != Activation.SIGMOID, dice = act == Activation.DICE;
        AttentionParams p = new AttentionParams(t(w1), t(b1), alpha ? t(a1) : null, t(w2), t(b2), alpha ? t(a2) : null, t(w3), t(b3),
                dice ? t(rm1) : null, dice ? t(rv1) : null, dice ? t(rm2) : null, dice ? t(rv2) : null);
        float[] gw1 = new float[w1.length], gb1 = new float[h1], ga1 = new float[h1], gw2 = new float[w2.length], gb2 = new float[h2],
                ga2 = new float[h2], gw3 = new float[h2], gb3 = new float[1];
        AttentionParams g = new AttentionParams(t(gw1), t(gb1), alpha ? t(ga1) : null, t(gw2), t(gb2), alpha ? t(ga2) : null, t(gw3), t(gb3),
                null, null, null, null);
        float[] out = new float[B * W], weights = new float[B * T], dq = new float[B * W], dk = new float[B * T * W];
        ActivationUnit.CpuWorkspace ws = new ActivationUnit.CpuWorkspace(spec, B, T);

        GradCheck gc = new GradCheck(5);
        // PReLU has a kink at 0: a central difference of step h is wrong for any hidden unit whose
        // pre-activation lies within h of 0, and a query change moves every position's units at
        // once. With 1e-3 every hidden unit of this case stays clear of the kink (checked below); the fp32 noise
        // it adds (about 1e-4, GradCheck's measurements) stays well inside its tolerance.
        if (act == Activation.PRELU) gc.step(1e-3f);
        float[] dOut = gc.output("out", out, B * W);
        float[] dW = gc.output("weights", weights, B * T);
        gc.wrt("query", q, dq, B * W).wrt("keys", keys, dk, B * T * W)
                .wrt("w1", w1, gw1, w1.length).wrt("b1", b1, gb1, h1).wrt("w2", w2, gw2, w2.length).wrt("b2", b2, gb2, h2)
                .wrt("w3", w3, gw3, h2);
        // with softmax the scores' common shift cancels, so b3's gradient is exactly zero there
        gc.wrt("b3", b3, gb3, 1, softmax);
        if (alpha) gc.wrt("alpha1", a1, ga1, h1).wrt("alpha2", a2, ga2, h2);
        gc.run(() -> ActivationUnit.forwardRef(out, weights, ws, q, keys, lengths, p, spec, B, T, true),
                () -> ActivationUnit.backwardRef(dq, dk, g, dOut, dW, weights, ws, q, keys, lengths, p, spec, B, T))
                .assertOk();
        if (act == Activation.PRELU) {
            ActivationUnit.forwardRef(out, weights, ws, q, keys, lengths, p, spec, B, T, true);
            double nearest = Double.MAX_VALUE;
            for (int k = 0; k < ws.n * h1; k++) nearest = Math.min(nearest, Math.abs(ws.h1Pre[k]));
            for (int k = 0; k < ws.n * h2; k++) nearest = Math.min(nearest, Math.abs(ws.h2Pre[k]));
            org.junit.jupiter.api.Assertions.assertTrue(nearest > 5e-3, "(5 steps) a PReLU input is " + nearest + " from the kink: the check above is unsound");
        }
    }

    static float[] rand(SplittableRandom rng, int n) {
        float[] a = new float[n];
        for (int k = 0; k < n; k++) a[k] = (float) (rng.nextDouble() * 2 - 1);
        return a;
    }

    static float[] ones(int n) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, 1f);
        return a;
    }

    static CpuTensor t(float[] a) { return CpuTensor.wrap("t", a, a.length); }
}
