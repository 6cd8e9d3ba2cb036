package io.augur.backend.cpu;

import io.augur.backend.Recurrence;
import io.augur.backend.RecurrenceParams;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.SplittableRandom;

/**
 * The recurrence's reference backward (GRU, AUGRU, AGRU) against central differences of its
 * reference forward, for the inputs x and att and every parameter. The scalar is a fixed random
 * contraction of both outputs (every state hOut and the last state hLast), so both incoming
 * gradients and the path through h_{t-1} are exercised. Lengths include 0, 1 and T.
 */
class RecurrenceGradCheckTest {

    @ParameterizedTest
    @EnumSource(Recurrence.class)
    void referenceGradientsMatchFiniteDifferences(Recurrence kind) {
        final int B = 5, T = 4, E = 3, H = 4, G = 3 * H;
        SplittableRandom rng = new SplittableRandom(17 + kind.ordinal());
        int[] lengths = {4, 0, 1, 3, 2};
        float[] x = OpTesting.uniform(rng, B * T * E, -1f, 1f);
        float[] att = kind.usesAttention() ? OpTesting.uniform(rng, B * T, 0.1f, 0.9f) : null;
        float[] wx = OpTesting.uniform(rng, E * G, -1f, 1f), wh = OpTesting.uniform(rng, H * G, -1f, 1f);
        float[] bx = OpTesting.uniform(rng, G, -0.5f, 0.5f), bh = OpTesting.uniform(rng, G, -0.5f, 0.5f);
        float[] gwx = new float[E * G], gwh = new float[H * G], gbx = new float[G], gbh = new float[G];
        RecurrenceParams p = new RecurrenceParams(t(wx), t(wh), t(bx), t(bh));
        RecurrenceParams g = new RecurrenceParams(t(gwx), t(gwh), t(gbx), t(gbh));
        float[] hOut = new float[B * T * H], hLast = new float[B * H], dx = new float[B * T * E];
        float[] dAtt = kind.usesAttention() ? new float[B * T] : null;
        io.augur.backend.cpu.Recurrence.CpuWorkspace ws = new io.augur.backend.cpu.Recurrence.CpuWorkspace(B, T, E, H);

        GradCheck gc = new GradCheck(23 + kind.ordinal());
        float[] dHOut = gc.output("hOut", hOut, B * T * H);
        float[] dHLast = gc.output("hLast", hLast, B * H);
        gc.wrt("x", x, dx, B * T * E).wrt("wx", wx, gwx, E * G).wrt("wh", wh, gwh, H * G).wrt("bx", bx, gbx, G).wrt("bh", bh, gbh, G);
        if (kind.usesAttention()) gc.wrt("att", att, dAtt, B * T);
        gc.run(() -> io.augur.backend.cpu.Recurrence.forwardRef(hOut, hLast, ws, x, att, lengths, p, kind, B, T, E, H),
                () -> io.augur.backend.cpu.Recurrence.backwardRef(dx, dAtt, g, dHOut, dHLast, ws, x, att, lengths, p, kind, B, T, E, H))
                .assertOk();
    }

    static CpuTensor t(float[] a) { return CpuTensor.wrap("t", a, a.length); }
}
