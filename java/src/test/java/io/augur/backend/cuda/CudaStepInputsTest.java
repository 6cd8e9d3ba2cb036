package io.augur.backend.cuda;

import io.augur.backend.Backend;
import io.augur.backend.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A step's batch inputs ({@link CudaBackend#runStep}): uploaded to a staging slot before the step, copied into their
 * tensors inside the step's graph, by the step's first launch where it is the lookups' (their ids and lengths then read
 * in the slot), else by a copy launch of their own before the step's first op; a graph for each of the staging's two
 * slots. Each step's uploads differ, and every output, every copied tensor and the cleared gradient are checked after
 * every step, eager, captured and replayed alike. SKIPPED where no GPU is usable.
 */
@Tag("gpu")
class CudaStepInputsTest {

    static final int V = 50, D = 4, B = 6, T = 5;

    /** The tensors of a small step: a table, a candidate and a history lookup, labels nobody in the step reads, a gradient to clear. */
    private record Step(CudaBackend be, String key, Tensor table, Tensor ids, Tensor hist, Tensor lengths, Tensor labels, Tensor out, Tensor hout, Tensor grad,
                        float[] tableValues) {
        /** On the test backend (skipped without a GPU), its tensors and its step key named after {@code name} and the time. */
        static Step make(String name) {
            GpuTesting.assumeGpu();
            CudaBackend be = GpuTesting.backend();
            name = name + System.nanoTime();
            Tensor table = be.floats(name + ".table", V, D);
            Step s = new Step(be, "inputs-test/" + name, table, be.ints("batch." + name + ".ids", B), be.ints("batch." + name + ".hist", B * T),
                    be.ints("batch." + name + ".lengths", B), be.floats("batch." + name + ".labels", B), be.floats(name + ".out", B, D),
                    be.floats(name + ".hout", B * T, D), be.floats(name + ".grad", 37), new float[V * D]);
            for (int i = 0; i < V * D; i++) s.tableValues[i] = i * 0.25f - 7f;
            be.upload(table, s.tableValues, V * D);
            be.synchronize();   // allocated: the staging exists from here on
            return s;
        }

        List<Backend.Gather> gathers() {
            return List.of(Backend.Gather.forward(out, ids, null, table, B, 1, D, D, 0), Backend.Gather.forward(hout, hist, lengths, table, B * T, T, D, D, 0));
        }

        /** One step's inputs, uploaded (staged); hist's last {@code short_} elements left out of the upload. */
        int[][] upload(Random r, int short_) {
            int[] i = new int[B], h = new int[B * T], len = new int[B];
            float[] lab = new float[B];
            for (int b = 0; b < B; b++) {
                i[b] = r.nextInt(V);
                len[b] = r.nextInt(T + 1);
                lab[b] = r.nextFloat();
            }
            for (int k = 0; k < B * T; k++) h[k] = r.nextInt(V);
            be.fill(grad, 5f, 37);   // before the uploads (an op flushes what is staged)
            be.upload(ids, i, B);
            be.upload(hist, h, B * T - short_);
            be.upload(lengths, len, B);
            be.upload(labels, lab, B);
            return new int[][] {i, h, len, {Float.floatToRawIntBits(lab[0]), Float.floatToRawIntBits(lab[B - 1])}};
        }

        /** Checks the step's outputs and copies against the uploads ({@code h}: what hist holds now). */
        void check(int[][] up, int[] h, String when) {
            int[] i = up[0], len = up[2];
            float[] got = new float[B * T * D];
            be.download(out, got, B * D);
            for (int b = 0; b < B; b++)
                for (int c = 0; c < D; c++) assertEquals(tableValues[i[b] * D + c], got[b * D + c], when + ": out[" + b + "," + c + "]");
            be.download(hout, got, B * T * D);
            for (int k = 0; k < B * T; k++)
                for (int c = 0; c < D; c++) {
                    float want = k % T < len[k / T] ? tableValues[h[k] * D + c] : 0f;
                    assertEquals(want, got[k * D + c], when + ": hout[" + k + "," + c + "]");
                }
            int[] ints = new int[B * T];
            be.download(ids, ints, B);
            assertArrayEquals(i, java.util.Arrays.copyOf(ints, B), when + ": ids copied");
            be.download(hist, ints, B * T);
            assertArrayEquals(h, ints, when + ": hist copied");
            be.download(lengths, ints, B);
            assertArrayEquals(len, java.util.Arrays.copyOf(ints, B), when + ": lengths copied");
            float[] lab = new float[B];
            be.download(labels, lab, B);
            assertEquals(up[3][0], Float.floatToRawIntBits(lab[0]), when + ": labels copied");
            assertEquals(up[3][1], Float.floatToRawIntBits(lab[B - 1]), when + ": labels copied");
            float[] g = new float[37];
            be.download(grad, g, 37);
            assertArrayEquals(new float[37], g, when + ": grad cleared");
        }
    }

    /**
     * {@code n} steps of {@code s} under {@code key}, each with new uploads (the history {@code short_.applyAsInt(step)} ids
     * short) and checked after it against what the tensors should hold.
     */
    private static void steps(Step s, long seed, int n, java.util.function.IntUnaryOperator short_) {
        Random r = new Random(seed);
        int[] held = new int[B * T];
        for (int step = 1; step <= n; step++) {
            int left = short_.applyAsInt(step);
            int[][] up = s.upload(r, left);
            System.arraycopy(up[1], 0, held, 0, B * T - left);
            s.be().runStep(s.key(), () -> s.be().embeddingGather(s.gathers(), List.of(s.grad())));
            s.check(up, held, "step " + step);
        }
    }

    @Test
    void theLookupsLaunchCarriesTheBatchsCopiesInAGraphForEachSlot() {
        Step s = Step.make("carry");
        CudaBackend be = s.be();
        String key = s.key();
        steps(s, 7, 8, step -> 0);
        // each slot's graph: eager, captured, then replayed (steps 5 to 8)
        assertEquals(4L, be.graphReplays().get(key), be.graphReplays().toString());
        List<String> ops = be.graphOps(key);
        assertEquals(1, ops.size(), "one launch: the lookups, the clearing and the copies\n" + String.join("\n", ops));
        assertTrue(ops.get(0).startsWith(Kernels.EMBEDDING_GATHER_MULTI_FORWARD_ZERO + "<<<"), ops.get(0));
    }

    /**
     * A history uploaded short of what its lookup reads: the lookups' launch cannot read it in the slot (its end is
     * not there) nor in its tensor (the copy is in the same launch), so the copies take a launch of their own before it,
     * in the graph, and the rows past the upload keep what the tensor held.
     */
    @Test
    void copiesTheLookupsCannotReadInTheSlotGoFirstInALaunchOfTheirOwn() {
        Step s = Step.make("short");
        CudaBackend be = s.be();
        String key = s.key();
        steps(s, 11, 7, step -> step == 1 ? 0 : 3);   // the first step fills the whole history
        List<String> ops = be.graphOps(key);
        assertEquals(2, ops.size(), String.join("\n", ops));
        assertTrue(ops.get(0).startsWith(Kernels.COPY_MULTI + "<<<"), ops.get(0));
        assertTrue(ops.get(1).startsWith(Kernels.EMBEDDING_GATHER_MULTI_FORWARD_ZERO + "<<<"), ops.get(1));
        assertTrue(be.graphReplays().get(key) >= 2, be.graphReplays().toString());
    }

    /** -Daugur.cuda.stepInputs=before: the copies before the graph, outside it, one graph for both slots; the same results. */
    @Test
    void withTheCopiesBeforeTheGraphOneGraphServesBothSlots() {
        Step s = Step.make("before");
        CudaBackend be = s.be();
        String key = s.key();
        boolean was = CudaBackend.stepInputsBefore;
        CudaBackend.stepInputsBefore = true;
        try {
            steps(s, 13, 6, step -> 0);
        } finally {
            CudaBackend.stepInputsBefore = was;
        }
        assertEquals(4L, be.graphReplays().get(key), be.graphReplays().toString());
        List<String> ops = be.graphOps(key);
        assertEquals(1, ops.size(), String.join("\n", ops));
        assertTrue(ops.get(0).startsWith(Kernels.EMBEDDING_GATHER_MULTI_FORWARD_ZERO + "<<<"), ops.get(0));
        assertEquals(false, CudaBackend.stepInputsBefore("graph"));
        assertEquals(true, CudaBackend.stepInputsBefore("before"));
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> CudaBackend.stepInputsBefore("inside"));
        assertTrue(e.getMessage().contains(CudaBackend.STEP_INPUTS), e.getMessage());
    }
}
