package io.augur.backend.cpu;

import io.augur.backend.Backend;
import io.augur.backend.Recurrence;
import io.augur.backend.RecurrenceParams;
import io.augur.backend.Tensor;
import io.augur.backend.Workspace;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.SplittableRandom;
import java.util.stream.Stream;

import static io.augur.backend.cpu.OpTesting.down;
import static io.augur.backend.cpu.OpTesting.filled;
import static io.augur.backend.cpu.OpTesting.up;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The fast recurrence (packed input GEMMs, length-sorted time walk per chunk of samples, threads)
 * against the reference: a batch smaller than planned and not a multiple of the chunk count,
 * lengths 0, 1, T and random; outputs poisoned with NaN past B; dx and dAtt pre-filled with
 * garbage (they are overwritten); parameter gradients pre-filled (they are added to). Also: padded
 * positions are exactly 0 and inert, the fast path gives the same bits on 1 and 3 threads, and
 * the fast forward steps through exactly sum_b len_b positions.
 */
class RecurrenceParityTest {
    /**
     * Both paths are fp32; the fast one sums in another order (4-way GEMM kernels, bias added
     * last), and the differences go through up to T = 7 recurrent steps. Values are O(1) and sums
     * run over at most 3H = 18 terms per step: 5e-5 absolute + 5e-4 relative is far below any
     * indexing error, which is O(0.1).
     */
    static final double ATOL = 5e-5, RTOL = 5e-4;
    static final float GARBAGE = 7.5f;

    static Stream<Arguments> cases() {
        return Stream.of(
                Arguments.of(Recurrence.GRU, true), Arguments.of(Recurrence.GRU, false),
                Arguments.of(Recurrence.AUGRU, true), Arguments.of(Recurrence.AUGRU, false),
                Arguments.of(Recurrence.AGRU, true), Arguments.of(Recurrence.AGRU, false));
    }

    record Inputs(int maxB, int B, int T, int E, int H, int[] lengths, float[] x, float[] att, float[] wx, float[] wh, float[] bx, float[] bh,
                  float[] dHOut, float[] dHLast) {
        static Inputs random(long seed, Recurrence kind, int maxB, int B, int T, int E, int H) {
            SplittableRandom rng = new SplittableRandom(seed);
            int G = 3 * H;
            int[] lengths = OpTesting.lengths(rng, maxB, T);
            for (int b = B; b < maxB; b++) lengths[b] = T; // past the batch: must not be read
            return new Inputs(maxB, B, T, E, H, lengths, OpTesting.uniform(rng, maxB * T * E, -1f, 1f),
                    kind.usesAttention() ? OpTesting.uniform(rng, maxB * T, 0f, 1f) : null,
                    OpTesting.uniform(rng, E * G, -0.7f, 0.7f), OpTesting.uniform(rng, H * G, -0.7f, 0.7f),
                    OpTesting.uniform(rng, G, -0.5f, 0.5f), OpTesting.uniform(rng, G, -0.5f, 0.5f),
                    OpTesting.uniform(rng, maxB * T * H, -1f, 1f), OpTesting.uniform(rng, maxB * H, -1f, 1f));
        }
    }

    record Result(float[] hOut, float[] hLast, float[] dx, float[] dAtt, float[][] grads, Workspace ws) {}

    /** One forward and backward; with allStates false, hOut and dHOut are null (only the last state is used). */
    static Result run(Backend be, Recurrence kind, Inputs in, boolean allStates) {
        int maxB = in.maxB, B = in.B, T = in.T, E = in.E, H = in.H, G = 3 * H;
        RecurrenceParams p = new RecurrenceParams(up(be, in.wx), up(be, in.wh), up(be, in.bx), up(be, in.bh));
        RecurrenceParams g = new RecurrenceParams(filled(be, E * G, .5f), filled(be, H * G, .5f), filled(be, G, .5f), filled(be, G, .5f));
        Tensor hOut = allStates ? filled(be, maxB * T * H, OpTesting.POISON) : null, hLast = filled(be, maxB * H, OpTesting.POISON);
        Tensor x = up(be, in.x), att = in.att == null ? null : up(be, in.att), len = be.ints("len", maxB);
        be.upload(len, in.lengths, maxB);
        Workspace ws = be.recurrenceWorkspace("ws", maxB, T, E, H);
        be.recurrence(hOut, hLast, ws, x, att, len, p, kind, B, T, E, H);
        Tensor dx = filled(be, maxB * T * E, GARBAGE), dAtt = kind.usesAttention() ? filled(be, maxB * T, GARBAGE) : null;
        be.recurrenceBackward(dx, dAtt, g, allStates ? up(be, in.dHOut) : null, up(be, in.dHLast), ws, x, att, len, p, kind, B, T, E, H);
        return new Result(hOut == null ? null : down(be, hOut), down(be, hLast), down(be, dx), dAtt == null ? null : down(be, dAtt),
                new float[][] {down(be, g.wx()), down(be, g.wh()), down(be, g.bx()), down(be, g.bh())}, ws);
    }

    @ParameterizedTest(name = "{0} allStates={1}")
    @MethodSource("cases")
    void fastMatchesReference(Recurrence kind, boolean allStates) {
        final int maxB = 23, B = 19, T = 7, E = 5, H = 6;
        Inputs in = Inputs.random(41 + kind.ordinal() * 2 + (allStates ? 1 : 0), kind, maxB, B, T, E, H);
        Result ref, fast;
        try (CpuBackend r = CpuBackend.reference(); CpuBackend f = new CpuBackend(false, OpTesting.THREADS)) {
            ref = run(r, kind, in, allStates);
            fast = run(f, kind, in, allStates);
        }
        if (allStates) {
            OpTesting.assertClose("hOut", ref.hOut, fast.hOut, 0, B * T * H, ATOL, RTOL);
            OpTesting.assertPoisoned("hOut", fast.hOut, B * T * H, maxB * T * H);
        }
        OpTesting.assertClose("hLast", ref.hLast, fast.hLast, 0, B * H, ATOL, RTOL);
        OpTesting.assertPoisoned("hLast", fast.hLast, B * H, maxB * H);
        OpTesting.assertClose("dx", ref.dx, fast.dx, 0, B * T * E, ATOL, RTOL);
        for (int k = B * T * E; k < maxB * T * E; k++) assertEquals(GARBAGE, fast.dx[k], "dx[" + k + "] past the batch was written");
        if (kind.usesAttention()) {
            OpTesting.assertClose("dAtt", ref.dAtt, fast.dAtt, 0, B * T, ATOL, RTOL);
            for (int k = B * T; k < maxB * T; k++) assertEquals(GARBAGE, fast.dAtt[k], "dAtt[" + k + "] past the batch was written");
        }
        String[] names = {"dWx", "dWh", "dbx", "dbh"};
        for (int k = 0; k < 4; k++) OpTesting.assertClose(names[k], ref.grads[k], fast.grads[k], 0, ref.grads[k].length, ATOL, RTOL);
    }

    /** hOut, dx and dAtt are exactly 0 at padded positions, and x and att there change nothing, on both paths. */
    @ParameterizedTest
    @MethodSource("kinds")
    void paddedPositionsAreZeroAndInert(Recurrence kind) {
        final int maxB = 9, B = 9, T = 6, E = 4, H = 5;
        Inputs in = Inputs.random(99 + kind.ordinal(), kind, maxB, B, T, E, H);
        Inputs changed = Inputs.random(99 + kind.ordinal(), kind, maxB, B, T, E, H);
        SplittableRandom rng = new SplittableRandom(5);
        for (int b = 0; b < B; b++) {
            for (int t = in.lengths[b]; t < T; t++) {
                for (int e = 0; e < E; e++) changed.x[(b * T + t) * E + e] = (float) rng.nextDouble() * 100f - 50f;
                if (changed.att != null) changed.att[b * T + t] = (float) rng.nextDouble() * 100f;
            }
        }
        try (CpuBackend r = CpuBackend.reference(); CpuBackend f = new CpuBackend(false, OpTesting.THREADS)) {
            for (Backend be : new Backend[] {r, f}) {
                Result a = run(be, kind, in, true), c = run(be, kind, changed, true);
                for (int b = 0; b < B; b++) {
                    for (int t = in.lengths[b]; t < T; t++) {
                        for (int j = 0; j < H; j++) assertEquals(0, Float.floatToRawIntBits(a.hOut[(b * T + t) * H + j]), be.name() + " hOut b=" + b + " t=" + t);
                        for (int e = 0; e < E; e++) assertEquals(0f, a.dx[(b * T + t) * E + e], be.name() + " dx b=" + b + " t=" + t);
                        if (a.dAtt != null) assertEquals(0f, a.dAtt[b * T + t], be.name() + " dAtt b=" + b + " t=" + t);
                    }
                    if (in.lengths[b] == 0) {
                        for (int j = 0; j < H; j++) assertEquals(0, Float.floatToRawIntBits(a.hLast[b * H + j]), be.name() + " hLast of an empty sample");
                    }
                }
                OpTesting.assertSameBits(be.name() + " hOut", a.hOut, c.hOut, 0, a.hOut.length);
                OpTesting.assertSameBits(be.name() + " hLast", a.hLast, c.hLast, 0, a.hLast.length);
                OpTesting.assertSameBits(be.name() + " dx", a.dx, c.dx, 0, a.dx.length);
                if (a.dAtt != null) OpTesting.assertSameBits(be.name() + " dAtt", a.dAtt, c.dAtt, 0, a.dAtt.length);
                for (int k = 0; k < 4; k++) OpTesting.assertSameBits(be.name() + " grad " + k, a.grads[k], c.grads[k], 0, a.grads[k].length);
            }
        }
    }

    /**
     * The fast path gives the same bits whatever the thread count: rows of every GEMM are
     * independent, and the weight gradients are reduced by one thread per weight row in a fixed
     * order over the samples.
     */
    @ParameterizedTest
    @MethodSource("kinds")
    void fastPathIsDeterministicAcrossThreadCounts(Recurrence kind) {
        final int maxB = 30, B = 29, T = 9, E = 5, H = 6;
        Inputs in = Inputs.random(61 + kind.ordinal(), kind, maxB, B, T, E, H);
        Result one, three;
        try (CpuBackend f1 = new CpuBackend(false, 1); CpuBackend f3 = new CpuBackend(false, OpTesting.THREADS)) {
            one = run(f1, kind, in, true);
            three = run(f3, kind, in, true);
        }
        OpTesting.assertSameBits("hOut", one.hOut, three.hOut, 0, one.hOut.length);
        OpTesting.assertSameBits("hLast", one.hLast, three.hLast, 0, one.hLast.length);
        OpTesting.assertSameBits("dx", one.dx, three.dx, 0, one.dx.length);
        if (one.dAtt != null) OpTesting.assertSameBits("dAtt", one.dAtt, three.dAtt, 0, one.dAtt.length);
        for (int k = 0; k < 4; k++) OpTesting.assertSameBits("grad " + k, one.grads[k], three.grads[k], 0, one.grads[k].length);
    }

    static Stream<Recurrence> kinds() { return Stream.of(Recurrence.values()); }

    /** The fast forward steps through each sample's valid positions only: sum_b len_b in all, on mostly short histories. */
    @Test
    void fastForwardVisitsOnlyValidPositions() {
        final int maxB = 40, B = 37, T = 50, E = 4, H = 5;
        Inputs in = Inputs.random(3, Recurrence.AUGRU, maxB, B, T, E, H);
        SplittableRandom rng = new SplittableRandom(8);
        for (int b = 3; b < B; b++) in.lengths[b] = rng.nextInt(6);
        try (CpuBackend f = new CpuBackend(false, OpTesting.THREADS)) {
            io.augur.backend.cpu.Recurrence.CpuWorkspace ws = (io.augur.backend.cpu.Recurrence.CpuWorkspace) run(f, Recurrence.AUGRU, in, true).ws;
            int total = 0, visited = 0;
            for (int b = 0; b < B; b++) {
                assertEquals(in.lengths[b], ws.visits[b], "positions stepped through for sample " + b);
                total += in.lengths[b];
                visited += ws.visits[b];
            }
            assertEquals(total, ws.n, "packed rows");
            assertEquals(total, visited, "positions stepped through");
        }
    }

}
