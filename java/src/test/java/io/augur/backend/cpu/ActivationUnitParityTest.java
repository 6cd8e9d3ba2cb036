package io.augur.backend.cpu;

import io.augur.backend.Activation;
import io.augur.backend.AttentionParams;
import io.augur.backend.AttentionSpec;
import io.augur.backend.Backend;
import io.augur.backend.Tensor;
import io.augur.backend.Workspace;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.SplittableRandom;
import java.util.stream.Stream;

import static io.augur.backend.cpu.OpTesting.down;
import static io.augur.backend.cpu.OpTesting.filled;
import static io.augur.backend.cpu.OpTesting.up;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The fast activation unit (projection trick, packed GEMMs, threads) against the reference, on
 * random inputs with lengths 0, 1, T and random, a batch smaller than planned, and outputs
 * poisoned with NaN so an element the fast path forgets to write shows up.
 */
class ActivationUnitParityTest {
    /**
     * Both paths are fp32; the fast one sums in another order (projection trick, 4-way GEMM
     * kernels, per-chunk partials), so results differ by a few ulps of the largest terms. Values
     * here are O(1) and sums run over at most 4W = 40 terms: 2e-5 absolute + 2e-4 relative is about
     * twenty times the observed difference and far below any indexing error, which is O(0.1).
     */
    static final double ATOL = 2e-5, RTOL = 2e-4;

    static Stream<Arguments> cases() {
        return Stream.of(
                Arguments.of(Activation.SIGMOID, false), Arguments.of(Activation.SIGMOID, true),
                Arguments.of(Activation.PRELU, false), Arguments.of(Activation.PRELU, true),
                Arguments.of(Activation.DICE, false), Arguments.of(Activation.DICE, true));
    }

    @ParameterizedTest(name = "{0} softmax={1}")
    @MethodSource("cases")
    void fastMatchesReference(Activation act, boolean softmax) {
        final int maxB = 23, B = 19, T = 7, W = 10, h1 = 12, h2 = 6;
        AttentionSpec spec = new AttentionSpec(W, h1, h2, act, softmax, 0.99f, 1e-8f);
        SplittableRandom rng = new SplittableRandom(7 + act.ordinal() * 2 + (softmax ? 1 : 0));
        int[] lengths = new int[maxB];
        for (int b = 0; b < B; b++) lengths[b] = b == 0 ? 0 : b == 1 ? 1 : b == 2 ? T : rng.nextInt(T + 1);
        float[] q = rand(rng, maxB * W), keys = rand(rng, maxB * T * W);
        float[] w1 = rand(rng, 4 * W * h1), b1 = rand(rng, h1), w2 = rand(rng, h1 * h2), b2 = rand(rng, h2), w3 = rand(rng, h2), b3 = rand(rng, 1);
        float[] a1 = rand(rng, h1), a2 = rand(rng, h2);
        float[] dOut = rand(rng, maxB * W), dW = rand(rng, maxB * T);

        Result ref, fast;
        try (CpuBackend r = CpuBackend.reference(); CpuBackend f = new CpuBackend(false, 3)) {
            ref = run(r, spec, maxB, B, T, lengths, q, keys, w1, b1, a1, w2, b2, a2, w3, b3, dOut, dW);
            fast = run(f, spec, maxB, B, T, lengths, q, keys, w1, b1, a1, w2, b2, a2, w3, b3, dOut, dW);
        }
        close("out", ref.out, fast.out, B * W);
        close("weights", ref.weights, fast.weights, B * T);
        untouched("out", fast.out, B * W);
        untouched("weights", fast.weights, B * T);
        for (int b = 0; b < B; b++) {
            for (int t = lengths[b]; t < T; t++) assertEquals(0f, fast.weights[b * T + t], "padded weight b=" + b + " t=" + t);
        }
        close("dQuery", ref.dq, fast.dq, maxB * W);
        close("dKeys", ref.dk, fast.dk, maxB * T * W);
        for (int k = 0; k < ref.grads.length; k++) close("grad " + k, ref.grads[k], fast.grads[k], ref.grads[k].length);
    }

    record Result(float[] out, float[] weights, float[] dq, float[] dk, float[][] grads) {}

    static Result run(Backend be, AttentionSpec spec, int maxB, int B, int T, int[] lengths, float[] q, float[] keys,
                      float[] w1, float[] b1, float[] a1, float[] w2, float[] b2, float[] a2, float[] w3, float[] b3,
                      float[] dOut, float[] dW) {
        int W = spec.width(), h1 = spec.h1(), h2 = spec.h2();
        boolean alpha = spec.activation() != Activation.SIGMOID, dice = spec.activation() == Activation.DICE;
        AttentionParams p = new AttentionParams(up(be, w1), up(be, b1), alpha ? up(be, a1) : null, up(be, w2), up(be, b2),
                alpha ? up(be, a2) : null, up(be, w3), up(be, b3),
                dice ? be.floats("rm1", h1) : null, dice ? filled(be, h1, 1f) : null, dice ? be.floats("rm2", h2) : null, dice ? filled(be, h2, 1f) : null);
        // gradients pre-filled with 0.5: backward must add to them
        AttentionParams g = new AttentionParams(filled(be, w1.length, .5f), filled(be, h1, .5f), alpha ? filled(be, h1, .5f) : null,
                filled(be, w2.length, .5f), filled(be, h2, .5f), alpha ? filled(be, h2, .5f) : null, filled(be, h2, .5f), filled(be, 1, .5f),
                null, null, null, null);
        Tensor out = filled(be, maxB * W, Float.NaN), weights = filled(be, maxB * T, Float.NaN);
        Tensor tq = up(be, q), tk = up(be, keys), len = be.ints("len", maxB);
        be.upload(len, lengths, maxB);
        Workspace ws = be.attentionWorkspace("ws", spec, maxB, T);
        be.activationUnit(out, weights, ws, tq, tk, len, p, spec, B, T, true);
        Tensor dq = filled(be, maxB * W, .25f), dk = filled(be, maxB * T * W, .25f);
        be.activationUnitBackward(dq, dk, g, up(be, dOut), up(be, dW), weights, ws, tq, tk, len, p, spec, B, T);
        float[][] grads = alpha
                ? new float[][] {down(be, g.w1()), down(be, g.b1()), down(be, g.alpha1()), down(be, g.w2()), down(be, g.b2()), down(be, g.alpha2()), down(be, g.w3()), down(be, g.b3())}
                : new float[][] {down(be, g.w1()), down(be, g.b1()), down(be, g.w2()), down(be, g.b2()), down(be, g.w3()), down(be, g.b3())};
        return new Result(down(be, out), down(be, weights), down(be, dq), down(be, dk), grads);
    }

    static float[] rand(SplittableRandom rng, int n) {
        float[] a = new float[n];
        for (int k = 0; k < n; k++) a[k] = (float) (rng.nextDouble() * 2 - 1);
        return a;
    }


    static void close(String what, float[] ref, float[] fast, int n) {
        int bad = 0;
        StringBuilder sb = new StringBuilder();
        for (int k = 0; k < n; k++) {
            if (!(Math.abs(ref[k] - fast[k]) <= ATOL + RTOL * Math.abs(ref[k]))) {
                if (bad++ < 5) sb.append(String.format("  [%d] ref %.7g fast %.7g%n", k, ref[k], fast[k]));
            }
        }
        if (bad > 0) fail(what + ": " + bad + " of " + n + " differ\n" + sb);
    }

    static void untouched(String what, float[] a, int from) {
        for (int k = from; k < a.length; k++) assertTrue(Float.isNaN(a[k]), what + "[" + k + "] past the batch was written");
    }
}
