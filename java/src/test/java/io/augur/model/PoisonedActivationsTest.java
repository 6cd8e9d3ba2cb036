package io.augur.model;

import io.augur.backend.Backend;
import io.augur.backend.Tensor;
import io.augur.backend.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The test runs plan activation buffers filled with NaN (pom.xml sets
 * -Daugur.poisonActivations=true; the CUDA backend fills its own workspaces with NaN then too), so
 * every model test in them also checks that no op reads an activation element that no op wrote;
 * activations and workspaces are filled with NaN again before every step. This test checks that the runs do set it; the model tests
 * (CPU, and the CUDA ones on a GPU or the emulator) are what it checks. Found this way: DIEN's
 * padded auxiliary rows on the GPU were never written, and a NaN there reached the weight
 * gradients through 0 * NaN; aux_pairs_forward_kernel now zeroes them.
 */
class PoisonedActivationsTest {

    @Test
    void activationBuffersStartAsNaNInTheTestRuns() {
        assertTrue(Boolean.getBoolean(Backend.POISON_ACTIVATIONS), "-D" + Backend.POISON_ACTIVATIONS + "=true in the surefire configuration");
        try (CpuBackend be = CpuBackend.reference()) {
            ParamStore ps = new ParamStore(be, 1);
            Tensor t = ps.activation("probe.y", 3, 5);
            float[] v = new float[15];
            be.download(t, v, v.length);
            for (float x : v) assertTrue(Float.isNaN(x), "an activation buffer element is " + x);
            Tensor w = ps.dense("probe.w", ParamStore.Init.constant(0.5f), 2).value();
            float[] wv = new float[2];
            be.download(w, wv, 2);
            assertEquals(0.5f, wv[0], "parameters are what their initialiser wrote");
        }
    }

    @Test
    void activationsAreNaNAgainAtEveryStepAndInputsAreNot() {
        try (CpuBackend be = CpuBackend.reference()) {
            ParamStore ps = new ParamStore(be, 1);
            Tensor act = ps.activation("probe.act", 4), in = ps.input("probe.in", 4);
            be.fill(act, 1f, 4);
            be.fill(in, 2f, 4);
            float[] seenAct = new float[4], seenIn = new float[4];
            be.runStep("probe", () -> {
                be.download(act, seenAct, 4);
                be.download(in, seenIn, 4);
            });
            for (int i = 0; i < 4; i++) {
                assertTrue(Float.isNaN(seenAct[i]), "a step sees what the last step left in an activation: " + seenAct[i]);
                assertEquals(2f, seenIn[i], "an input keeps what the host put there");
            }
        }
    }
}
