package io.augur.backend.cpu;

import io.augur.backend.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The row-counted forms of batch norm and BCE (Backend's defaults, the reference for the CUDA
 * kernels): the op over the first n rows, whatever the rows past n hold; dx and dLogits 0 there;
 * a count outside [0, B] is an error naming the tensor.
 */
class RowCountedOpsTest {
    static final int B = 9, C = 4, N = 6;

    @Test
    void batchNormAndBceOverTheCountedRows() {
        try (CpuBackend be = CpuBackend.reference()) {
            SplittableRandom rng = new SplittableRandom(3);
            float[] x = new float[B * C], dy = new float[B * C];
            for (int i = 0; i < B * C; i++) {
                x[i] = i < N * C ? (float) rng.nextDouble(-1, 1) : 500f + i;   // rows past N: large, must not count
                dy[i] = (float) rng.nextDouble(-1, 1);
            }
            Tensor rows = be.ints("rows", 1);
            be.upload(rows, new int[] {N}, 1);
            float[][] counted = run(be, x, dy, B, rows), plain = run(be, Arrays.copyOf(x, N * C), Arrays.copyOf(dy, N * C), N, null);
            assertArrayEquals(plain[0], Arrays.copyOf(counted[0], N * C), "y of the counted rows");
            for (int k = 1; k <= 4; k++) assertArrayEquals(plain[k], counted[k], "mean, invStd, dGamma, dBeta [" + k + "]");
            float[] dx = counted[5];
            assertArrayEquals(plain[5], Arrays.copyOf(dx, N * C), "dx of the counted rows");
            for (int i = N * C; i < B * C; i++) assertEquals(0f, dx[i], "dx past the count");

            float[] z = new float[B], labels = new float[B];
            for (int b = 0; b < B; b++) {
                z[b] = b < N ? (float) rng.nextDouble(-3, 3) : 40f;
                labels[b] = b % 2;
            }
            Tensor zt = be.floats("z", B), lt = be.floats("labels", B), loss = be.floats("loss", 1), dz = be.floats("dz", B);
            Tensor zn = be.floats("zn", N), ln = be.floats("ln", N), lossN = be.floats("lossN", 1), dzN = be.floats("dzN", N);
            be.upload(zt, z, B);
            be.upload(lt, labels, B);
            be.upload(zn, z, N);
            be.upload(ln, labels, N);
            be.fill(dz, 9f, B);
            be.bceWithLogits(loss, dz, zt, lt, B, 0.5f, rows);
            be.bceWithLogits(lossN, dzN, zn, ln, N, 0.5f);
            float[] a = new float[B], e = new float[N];
            be.download(dz, a, B);
            be.download(dzN, e, N);
            assertArrayEquals(e, Arrays.copyOf(a, N));
            for (int b = N; b < B; b++) assertEquals(0f, a[b], "dLogits past the count");
            float[] l1 = new float[1], l2 = new float[1];
            be.download(loss, l1, 1);
            be.download(lossN, l2, 1);
            assertEquals(l2[0], l1[0]);

            be.upload(rows, new int[] {B + 1}, 1);
            IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> be.bceWithLogits(loss, dz, zt, lt, B, 1f, rows));
            org.junit.jupiter.api.Assertions.assertTrue(ex.getMessage().contains("rows"), ex.getMessage());
        }
    }

    /** {y, mean, invStd, dGamma, dBeta, dx} of a training batch norm and its backward over `rows` rows (null: all). */
    private static float[][] run(CpuBackend be, float[] x, float[] dy, int rowsAll, Tensor count) {
        Tensor xt = be.floats("x", rowsAll * C), dyt = be.floats("dy", rowsAll * C), y = be.floats("y", rowsAll * C), dx = be.floats("dx", rowsAll * C);
        Tensor mean = be.floats("mean", C), inv = be.floats("inv", C), gamma = be.floats("gamma", C), beta = be.floats("beta", C);
        Tensor rm = be.floats("rm", C), rv = be.floats("rv", C), dGamma = be.floats("dGamma", C), dBeta = be.floats("dBeta", C);
        be.upload(xt, x, rowsAll * C);
        be.upload(dyt, dy, rowsAll * C);
        be.fill(gamma, 1.5f, C);
        be.fill(beta, 0.25f, C);
        be.fill(rv, 1f, C);
        be.fill(dx, 7f, rowsAll * C);
        be.batchNorm(y, mean, inv, xt, gamma, beta, rm, rv, rowsAll, C, true, 0.9f, 1e-5f, count);
        be.batchNormBackward(dx, dGamma, dBeta, dyt, mean, inv, xt, gamma, rowsAll, C, count);
        float[][] out = {new float[rowsAll * C], new float[C], new float[C], new float[C], new float[C], new float[rowsAll * C]};
        Tensor[] ts = {y, mean, inv, dGamma, dBeta, dx};
        for (int k = 0; k < ts.length; k++) be.download(ts[k], out[k], out[k].length);
        return out;
    }
}
