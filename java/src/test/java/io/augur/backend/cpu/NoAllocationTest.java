package io.augur.backend.cpu;

import io.augur.backend.SparseOptimizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static io.augur.backend.cpu.OpTesting.*;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The fast path allocates nothing per call once warm: no arrays, only what {@link CpuThreads}
 * itself documents (a job record and the body's lambda per parallel loop, some tens of bytes).
 * Measured with the JVM's per-thread allocation counters on the calling thread and the workers.
 */
class NoAllocationTest {
    /**
     * Bytes one op call may allocate: up to four parallel loops of a job record plus a lambda
     * (under 100 bytes each). The buffers here are sized so that any per-call array of a
     * batch- or channel-sized buffer would exceed it (the smallest, 200 doubles, is 1.6 KB).
     */
    static final long MAX_BYTES_PER_CALL = 1024;
    static final int WARMUP = 100, CALLS = 50;

    static CpuThreads th;
    static com.sun.management.ThreadMXBean mx;
    static long[] threadIds;

    @BeforeAll
    static void start() {
        th = new CpuThreads(THREADS);
        if (ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean m && m.isThreadAllocatedMemorySupported()) {
            mx = m;
            mx.setThreadAllocatedMemoryEnabled(true);
        }
        List<Long> ids = new ArrayList<>();
        ids.add(Thread.currentThread().getId());
        for (Thread t : Thread.getAllStackTraces().keySet()) if (t.getName().startsWith("augur-cpu-") && t.isAlive()) ids.add(t.getId());
        threadIds = ids.stream().mapToLong(Long::longValue).toArray();
    }

    @AfterAll
    static void stop() { th.close(); }

    private static long allocated() {
        long sum = 0;
        for (long b : mx.getThreadAllocatedBytes(threadIds)) if (b > 0) sum += b;
        return sum;
    }

    private static void assertNoAllocation(String op, Runnable call) {
        Assumptions.assumeTrue(mx != null, "per-thread allocation counters not supported by this JVM");
        for (int i = 0; i < WARMUP; i++) call.run();
        long before = allocated();
        for (int i = 0; i < CALLS; i++) call.run();
        long perCall = (allocated() - before) / CALLS;
        assertTrue(perCall <= MAX_BYTES_PER_CALL, op + " allocates " + perCall + " bytes per call");
    }

    @Test
    void denseOps() {
        int B = 256, in = 162, out = 200;
        SplittableRandom rng = new SplittableRandom(131);
        float[] x = uniform(rng, B * in, -1, 1), W = uniform(rng, in * out, -1, 1), b = uniform(rng, out, -1, 1);
        float[] y = new float[B * out], dy = uniform(rng, B * out, -1, 1), dx = new float[B * in], dW = new float[in * out], db = new float[out];
        assertNoAllocation("linear forward", () -> Linear.forward(th, y, x, W, b, B, in, out));
        assertNoAllocation("linear backward", () -> Linear.backward(th, dx, dW, db, dy, x, W, B, in, out));

        float[] mean = new float[out], invStd = new float[out], gamma = filled(out, 1), beta = new float[out];
        float[] rm = new float[out], rv = filled(out, 1), dz = new float[B * out], dg = new float[out], dbeta = new float[out];
        assertNoAllocation("batch norm forward", () -> BatchNorm.forward(th, dz, mean, invStd, y, gamma, beta, rm, rv, B, out, true, 0.99f, 1e-5f));
        assertNoAllocation("batch norm backward", () -> BatchNorm.backward(th, dz, dg, dbeta, dy, mean, invStd, y, gamma, B, out));
        float[] alpha = filled(out, 0.1f), dAlpha = new float[out];
        assertNoAllocation("dice forward", () -> Dice.forward(th, dz, mean, invStd, y, alpha, rm, rv, B, out, true, 0.99f, 1e-8f));
        assertNoAllocation("dice backward", () -> Dice.backward(th, dz, dAlpha, dy, mean, invStd, y, alpha, B, out));
        assertNoAllocation("prelu forward", () -> PRelu.forward(th, dz, y, alpha, B, out));
        assertNoAllocation("prelu backward", () -> PRelu.backward(th, dz, dAlpha, dy, y, alpha, B, out));
        assertNoAllocation("sigmoid forward", () -> Sigmoid.forward(th, dz, y, B * out));
        assertNoAllocation("sigmoid backward", () -> Sigmoid.backward(th, dz, dy, y, B * out));
        float[] p = uniform(rng, in * out, -1, 1), m = new float[in * out], v = new float[in * out];
        assertNoAllocation("adam", () -> Adam.step(th, p, dW, m, v, in * out, 1e-3f, 0.9f, 0.999f, 1e-8f, 0f, 10));
    }

    @Test
    void sequenceAndSparseOps() {
        int B = 128, T = 100, D = 18, E = 2 * D, V = 20000, rows = B * T;
        SplittableRandom rng = new SplittableRandom(132);
        float[] table = uniform(rng, V * D, -1, 1), s1 = new float[V * D], s2 = new float[V * D];
        int[] ids = new int[rows], len = lengths(rng, B, T), counts = new int[V];
        for (int r = 0; r < rows; r++) ids[r] = 1 + rng.nextInt(V - 1);
        for (int j = 0; j < V; j++) counts[j] = 1 + rng.nextInt(50);
        float[] hist = new float[rows * E], dHist = uniform(rng, rows * E, -1, 1);
        CpuSparseGrad g = new CpuSparseGrad("item", V, D, rows);
        SparseOptimizer adam = new SparseOptimizer(SparseOptimizer.Kind.ADAM, 1e-3f, 0.01f, 0.9f, 0.999f, 1e-8f);
        assertNoAllocation("embedding gather", () -> Embedding.gather(th, hist, ids, len, table, rows, T, D, E, 0));
        assertNoAllocation("embedding backward + sparse update", () -> {
            Embedding.gatherBackward(th, g, dHist, ids, len, rows, T, D, E, 0);
            SparseUpdate.update(th, table, s1, s2, g, counts, adam, 5);
        });
        float[] s = new float[B * E], ds = uniform(rng, B * E, -1, 1), ea = uniform(rng, B * E, -1, 1);
        assertNoAllocation("sum pool forward", () -> SumPool.forward(th, s, hist, len, B, T, E));
        assertNoAllocation("sum pool backward", () -> SumPool.backward(th, dHist, ds, len, B, T, E));
        int stride = 5 * E;
        float[] xs = new float[B * stride], dEa = new float[B * E], dS = new float[B * E], dV = new float[B * E];
        assertNoAllocation("interest concat forward", () -> InterestConcat.forward(th, xs, ea, s, ds, B, E, E, stride, E));
        assertNoAllocation("interest concat backward", () -> InterestConcat.backward(th, dEa, dS, dV, xs, ea, s, B, E, E, stride, E));
    }

    @Test
    void recurrence() {
        int B = 64, T = 30, E = 36, H = 36, G = 3 * H;
        SplittableRandom rng = new SplittableRandom(133);
        int[] len = lengths(rng, B, T);
        float[] x = uniform(rng, B * T * E, -1, 1), att = uniform(rng, B * T, 0, 1);
        io.augur.backend.RecurrenceParams p = new io.augur.backend.RecurrenceParams(CpuTensor.wrap("wx", uniform(rng, E * G, -.3f, .3f), E, G),
                CpuTensor.wrap("wh", uniform(rng, H * G, -.3f, .3f), H, G), CpuTensor.wrap("bx", new float[G], G), CpuTensor.wrap("bh", new float[G], G));
        io.augur.backend.RecurrenceParams g = new io.augur.backend.RecurrenceParams(CpuTensor.wrap("gwx", new float[E * G], E, G),
                CpuTensor.wrap("gwh", new float[H * G], H, G), CpuTensor.wrap("gbx", new float[G], G), CpuTensor.wrap("gbh", new float[G], G));
        float[] hOut = new float[B * T * H], hLast = new float[B * H], dx = new float[B * T * E], dAtt = new float[B * T];
        float[] dHOut = uniform(rng, B * T * H, -1, 1), dHLast = uniform(rng, B * H, -1, 1);
        Recurrence.CpuWorkspace ws = new Recurrence.CpuWorkspace(B, T, E, H);
        io.augur.backend.Recurrence kind = io.augur.backend.Recurrence.AUGRU;
        assertNoAllocation("recurrence forward", () -> Recurrence.forward(th, hOut, hLast, ws, x, att, len, p, kind, B, T, E, H));
        assertNoAllocation("recurrence backward", () -> Recurrence.backward(th, dx, dAtt, g, dHOut, dHLast, ws, x, att, len, p, kind, B, T, E, H));
    }
}
