package io.augur.backend.cpu;

import java.util.Arrays;

/**
 * Fully connected layer.
 * <pre>
 *   forward:  y = x W + b
 *   backward: dx = dy W^T   (=, skipped when dx is null)
 *             dW += x^T dy
 *             db += sum_rows dy
 * y, dy (B, out)    x, dx (B, in)    W, dW (in, out)    b, db (out)
 * </pre>
 * Only the first B rows of y, x, dx, dy are read or written.
 *
 * <p>Fast path (all on {@link CpuGemm}, deterministic: no two threads write the same element):
 * forward splits the B rows of y; dW splits its rows, each thread reducing over the whole batch
 * with {@link CpuGemm#tn}; dx = dy W^T goes through a transposed copy of W in per-thread scratch
 * and {@link CpuGemm#nn} over row blocks; db splits its columns.
 */
final class Linear {
    private Linear() {}

    /** Multiply-adds per chunk below which more threads cost more than they save. */
    static final int MIN_CHUNK_WORK = 16 * 1024;

    /** Rows per chunk for a GEMM whose rows each cost {@code work} multiply-adds. */
    static int rowGrain(int work) {
        return Math.max(1, MIN_CHUNK_WORK / Math.max(1, work));
    }

    // ================================================================== reference (the spec)

    static void forwardRef(float[] y, float[] x, float[] W, float[] b, int B, int in, int out) {
        for (int r = 0; r < B; r++) {
            for (int j = 0; j < out; j++) {
                double acc = b == null ? 0.0 : b[j];
                for (int k = 0; k < in; k++) acc += (double) x[r * in + k] * W[k * out + j];
                y[r * out + j] = (float) acc;
            }
        }
    }

    static void backwardRef(float[] dx, float[] dW, float[] db, float[] dy, float[] x, float[] W, int B, int in, int out) {
        // dx (B, in) = dy (B, out) W^T
        if (dx != null) {
            for (int r = 0; r < B; r++) {
                for (int k = 0; k < in; k++) {
                    double acc = 0.0;
                    for (int j = 0; j < out; j++) acc += (double) dy[r * out + j] * W[k * out + j];
                    dx[r * in + k] = (float) acc;
                }
            }
        }
        // dW (in, out) += x^T dy
        for (int k = 0; k < in; k++) {
            for (int j = 0; j < out; j++) {
                double acc = 0.0;
                for (int r = 0; r < B; r++) acc += (double) x[r * in + k] * dy[r * out + j];
                dW[k * out + j] += (float) acc;
            }
        }
        // db (out) += sum over rows of dy
        if (db != null) {
            for (int j = 0; j < out; j++) {
                double acc = 0.0;
                for (int r = 0; r < B; r++) acc += dy[r * out + j];
                db[j] += (float) acc;
            }
        }
    }

    // ================================================================== fast path

    static void forward(CpuThreads th, float[] y, float[] x, float[] W, float[] b, int B, int in, int out) {
        th.parallelFor(B, rowGrain(in * out), (chunk, lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                if (b != null) System.arraycopy(b, 0, y, r * out, out);
                else Arrays.fill(y, r * out, r * out + out, 0f);
            }
            CpuGemm.nn(hi - lo, out, in, x, lo * in, in, W, 0, out, y, lo * out, out, true);
        });
    }

    static void backward(CpuThreads th, float[] dx, float[] dW, float[] db, float[] dy, float[] x, float[] W, int B, int in, int out) {
        if (B <= 0) return;
        if (dx != null) {
            float[] wt = CpuScratch.matrix(in * out); // (out, in) = W^T
            CpuGemm.transpose(W, 0, in, out, wt, 0);
            th.parallelFor(B, rowGrain(in * out), (chunk, lo, hi) ->
                    CpuGemm.nn(hi - lo, in, out, dy, lo * out, out, wt, 0, in, dx, lo * in, in, false));
        }
        th.parallelFor(in, rowGrain(B * out), (chunk, lo, hi) ->
                CpuGemm.tn(lo, hi, out, B, x, 0, in, dy, 0, out, dW, 0, out));
        if (db != null) {
            th.parallelFor(out, Math.max(1, 4096 / B), (chunk, lo, hi) -> {
                for (int r = 0; r < B; r++) {
                    int row = r * out;
                    for (int j = lo; j < hi; j++) db[j] += dy[row + j];
                }
            });
        }
    }
}
