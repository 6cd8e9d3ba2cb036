package io.augur.backend.cuda;

import io.augur.backend.Backend;
import io.augur.backend.Tensor;
import io.augur.backend.cpu.CpuBackend;

import java.util.SplittableRandom;

/**
 * A linear layer, forward and backward, on the built-in 64 x 64 GEMM over more row tiles than a grid's y dimension
 * takes, run by {@link EmulatorGuardTest} in a JVM of its own under {@code AUGUR_EMU_MAX_GRID_Y=args[0]} (an H200
 * takes 65,535, which a product of B * T rows passes at B = 8,192, T = 512; the lowered limit reaches it with a
 * small launch). Prints each result's largest difference from the CPU's, or what the launch threw.
 */
final class GemmGridProbe {
    private GemmGridProbe() {}

    public static void main(String[] args) {
        int limit = Integer.parseInt(args[0]);
        CudaBackend shared = GpuTesting.backend();
        if (shared == null) {
            System.out.println("no device: " + GpuTesting.reason());
            return;
        }
        CudaBackend gpu = new CudaBackend(shared.runtime(), "builtin");
        ((BuiltinGemm) gpu.gemm()).setSmall(BuiltinGemm.Small.OFF);
        int rows = 64 * (limit + 1) + 1, in = 3, out = 2;   // limit + 2 row tiles of 64
        System.out.println("rows " + rows + ", " + (rows + 63) / 64 + " row tiles, grid y limit " + limit);
        SplittableRandom rnd = new SplittableRandom(3);
        float[] x = GpuTesting.uniform(rnd, rows * in, -1f, 1f), w = GpuTesting.uniform(rnd, in * out, -1f, 1f);
        float[] b = GpuTesting.uniform(rnd, out, -1f, 1f), dy = GpuTesting.uniform(rnd, rows * out, -1f, 1f);
        try {
            float[][] want = run(new CpuBackend(false, 1), x, w, b, dy, rows, in, out), got = run(gpu, x, w, b, dy, rows, in, out);
            String[] names = {"y", "dx", "dW", "db"};
            for (int i = 0; i < names.length; i++) {
                double worst = 0;
                for (int j = 0; j < want[i].length; j++) worst = Math.max(worst, Math.abs(want[i][j] - got[i][j]));
                System.out.printf("%s: largest difference %.3g%n", names[i], worst);
            }
        } catch (CudaException e) {
            System.out.println("threw: " + e.getMessage());
        }
        System.out.println("the JVM goes on");
    }

    private static float[][] run(Backend be, float[] x, float[] w, float[] b, float[] dy, int rows, int in, int out) {
        Tensor tx = be.floats("grid.x", rows, in), tw = be.floats("grid.w", in, out), tb = be.floats("grid.b", out), ty = be.floats("grid.y", rows, out);
        Tensor tdy = be.floats("grid.dy", rows, out), tdx = be.floats("grid.dx", rows, in), tdw = be.floats("grid.dw", in, out), tdb = be.floats("grid.db", out);
        be.upload(tx, x, x.length);
        be.upload(tw, w, w.length);
        be.upload(tb, b, b.length);
        be.upload(tdy, dy, dy.length);
        be.zero(java.util.List.of(tdw, tdb));
        be.linear(ty, tx, tw, tb, rows, in, out);
        be.linearBackward(tdx, tdw, tdb, tdy, tx, tw, rows, in, out);
        float[][] r = {new float[rows * out], new float[rows * in], new float[in * out], new float[out]};
        be.download(ty, r[0], r[0].length);
        be.download(tdx, r[1], r[1].length);
        be.download(tdw, r[2], r[2].length);
        be.download(tdb, r[3], r[3].length);
        return r;
    }
}
