package io.augur.backend.cpu;

import io.augur.backend.AttentionParams;
import io.augur.backend.AttentionSpec;
import io.augur.backend.Workspace;

import static io.augur.backend.cpu.CpuTensor.f;

/**
 * The activation unit: DIN's local attention, also DIEN's attention over GRU states.
 *
 * <p>For sample b and valid position t &lt; len_b, with query q_b and key k_bt (both W wide):
 * <pre>
 *   z     = [q, k, q - k, q * k]                (4W)
 *   a1    = act(z W1 + b1)                      (h1)
 *   a2    = act(a1 W2 + b2)                     (h2)
 *   score = a2 W3 + b3                          (1)
 *   w_bt  = score (or softmax of the scores over t &lt; len_b);  w_bt = 0 for t &gt;= len_b
 *   out_b = sum_t w_bt k_bt
 * </pre>
 * Only valid positions are computed at all: they are packed into N = sum_b len_b rows
 * (row n is sample rowB[n], position n - rowStart[rowB[n]]), and every layer runs over those
 * rows. Dice therefore normalises over the valid positions of the batch, which is what the
 * specification says; padded positions cost nothing, so short histories are cheap.
 *
 * <p>The reference builds z explicitly and runs the three layers with the reference ops. The fast
 * path uses the projection trick: z W1 = q (Wq + Wd) + k (Wk - Wd) + (q * k) Wp, where Wq, Wk, Wd,
 * Wp are W1's four W-row blocks, so the per-sample term q (Wq + Wd) + b1 is computed once per
 * sample and each position costs a 2W x h1 product instead of 4W x h1, forward and backward.
 *
 * <p>Gradients: dQuery and dKeys are added to (+=) since the query and the keys feed other ops
 * too; parameter gradients are added to; the weights tensor is written by forward.
 */
final class ActivationUnit {
    private ActivationUnit() {}

    /** Rows per chunk of the packed GEMMs. */
    private static final int ROW_GRAIN = 64;
    /** Samples per chunk of the per-sample loops. */
    private static final int SAMPLE_GRAIN = 16;

    /** What forward saves for backward, sized for (maxB, T): every buffer has room for maxB * T rows. */
    static final class CpuWorkspace implements Workspace {
        final int maxB, T, maxN, W, h1, h2;
        final int[] rowStart;     // (maxB + 1) first packed row of each sample
        final int[] rowB;         // (maxN) sample of each packed row
        int n;                    // rows in the last forward
        final float[] h1Pre, a1;  // (maxN, h1) first hidden layer before / after the activation
        final float[] h2Pre, a2;  // (maxN, h2)
        final float[] score;      // (maxN)
        final float[] mean1, invStd1, mean2, invStd2; // Dice batch statistics (h1), (h2)
        // fast path only
        final float[] r;          // (maxN, 2W)  [k, q * k] per packed row
        final float[] m2;         // (2W, h1)    [Wk - Wd ; Wp]
        final float[] m2t;        // (h1, 2W)    its transpose
        final float[] ma;         // (W, h1)     Wq + Wd
        final float[] mat;        // (h1, W)     its transpose
        final float[] perSample;  // (maxB, h1)  q Ma + b1, then in backward the per-sample sum of dH1
        final float[] dScore;     // (maxN)
        final float[] dA2, dH2;   // (maxN, h2)
        final float[] dA1, dH1;   // (maxN, h1)
        final float[] dR;         // (maxN, 2W)
        final float[] dM2;        // (2W, h1)
        final float[] dMa;        // (W, h1)

        CpuWorkspace(AttentionSpec spec, int maxB, int T) {
            this.maxB = maxB;
            this.T = T;
            this.maxN = Math.multiplyExact(maxB, T);
            this.W = spec.width();
            this.h1 = spec.h1();
            this.h2 = spec.h2();
            rowStart = new int[maxB + 1];
            rowB = new int[maxN];
            h1Pre = new float[maxN * h1];
            a1 = new float[maxN * h1];
            h2Pre = new float[maxN * h2];
            a2 = new float[maxN * h2];
            score = new float[maxN];
            mean1 = new float[h1];
            invStd1 = new float[h1];
            mean2 = new float[h2];
            invStd2 = new float[h2];
            r = new float[maxN * 2 * W];
            m2 = new float[2 * W * h1];
            m2t = new float[2 * W * h1];
            ma = new float[W * h1];
            mat = new float[W * h1];
            perSample = new float[maxB * h1];
            dScore = new float[maxN];
            dA2 = new float[maxN * h2];
            dH2 = new float[maxN * h2];
            dA1 = new float[maxN * h1];
            dH1 = new float[maxN * h1];
            dR = new float[maxN * 2 * W];
            dM2 = new float[2 * W * h1];
            dMa = new float[W * h1];
        }

        @Override
        public long bytes() {
            long floats = (long) maxN * (4L * h1 + 4L * h2 + 2 + 4L * W) + 6L * W * h1 + (long) maxB * h1 + 2L * (h1 + h2);
            return 4 * (floats + maxB + 1 + maxN);
        }

        /** Packs the valid positions: fills rowStart and rowB, returns N. */
        int pack(int[] lengths, int B) {
            if (B > maxB) throw new IllegalArgumentException("activation unit: batch " + B + " > planned " + maxB);
            int n = 0;
            for (int b = 0; b < B; b++) {
                int len = lengths[b];
                if (len < 0 || len > T) throw new IllegalArgumentException("activation unit: length " + len + " of sample " + b + " outside [0, " + T + "]");
                rowStart[b] = n;
                for (int t = 0; t < len; t++) rowB[n + t] = b;
                n += len;
            }
            rowStart[B] = n;
            this.n = n;
            return n;
        }
    }

    // ================================================================== reference (the spec)

    static void forwardRef(float[] out, float[] weights, CpuWorkspace ws, float[] q, float[] keys, int[] lengths,
                           AttentionParams p, AttentionSpec spec, int B, int T, boolean training) {
        final int W = spec.width(), h1 = spec.h1(), h2 = spec.h2(), Z = 4 * W;
        checkT(ws, T);
        final int N = ws.pack(lengths, B);
        float[] z = buildInput(ws, q, keys, lengths, B, T, W);
        Linear.forwardRef(ws.h1Pre, z, f(p.w1()), f(p.b1()), N, Z, h1);
        activationRef(ws.a1, ws.mean1, ws.invStd1, ws.h1Pre, f(p.alpha1()), f(p.runMean1()), f(p.runVar1()), N, h1, spec, training);
        Linear.forwardRef(ws.h2Pre, ws.a1, f(p.w2()), f(p.b2()), N, h1, h2);
        activationRef(ws.a2, ws.mean2, ws.invStd2, ws.h2Pre, f(p.alpha2()), f(p.runMean2()), f(p.runVar2()), N, h2, spec, training);
        Linear.forwardRef(ws.score, ws.a2, f(p.w3()), f(p.b3()), N, h2, 1);
        for (int b = 0; b < B; b++) {
            weightsOfSample(weights, ws.score, ws.rowStart[b], lengths[b], b * T, T, spec.softmax());
            if (out != null) {
                for (int c = 0; c < W; c++) {
                    float acc = 0f;
                    for (int t = 0; t < lengths[b]; t++) acc += weights[b * T + t] * keys[(b * T + t) * W + c];
                    out[b * W + c] = acc;
                }
            }
        }
    }

    static void backwardRef(float[] dq, float[] dKeys, AttentionParams g, float[] dOut, float[] dWeights, float[] weights,
                            CpuWorkspace ws, float[] q, float[] keys, int[] lengths, AttentionParams p, AttentionSpec spec, int B, int T) {
        final int W = spec.width(), h1 = spec.h1(), h2 = spec.h2(), Z = 4 * W;
        checkT(ws, T);
        final int N = ws.n;
        // d score (N): from the pooled output and from the weights themselves, then through the softmax
        float[] dScore = new float[N];
        for (int b = 0; b < B; b++) {
            int len = lengths[b];
            for (int t = 0; t < len; t++) {
                float dw = dWeights == null ? 0f : dWeights[b * T + t];
                if (dOut != null) {
                    for (int c = 0; c < W; c++) {
                        dw += dOut[b * W + c] * keys[(b * T + t) * W + c];
                        dKeys[(b * T + t) * W + c] += weights[b * T + t] * dOut[b * W + c];
                    }
                }
                dScore[ws.rowStart[b] + t] = dw;
            }
            if (spec.softmax()) softmaxBackwardOfSample(dScore, weights, ws.rowStart[b], len, b * T);
        }
        float[] dA2 = new float[N * h2], dH2 = new float[N * h2], dA1 = new float[N * h1], dH1 = new float[N * h1];
        Linear.backwardRef(dA2, f(g.w3()), f(g.b3()), dScore, ws.a2, f(p.w3()), N, h2, 1);
        activationBackwardRef(dH2, f(g.alpha2()), dA2, ws.a2, ws.mean2, ws.invStd2, ws.h2Pre, f(p.alpha2()), N, h2, spec);
        Linear.backwardRef(dA1, f(g.w2()), f(g.b2()), dH2, ws.a1, f(p.w2()), N, h1, h2);
        activationBackwardRef(dH1, f(g.alpha1()), dA1, ws.a1, ws.mean1, ws.invStd1, ws.h1Pre, f(p.alpha1()), N, h1, spec);
        // rebuild z (the reference saves nothing it can recompute) and go through layer 1
        float[] z = buildInput(ws, q, keys, lengths, B, T, W), dz = new float[N * Z];
        Linear.backwardRef(dz, f(g.w1()), f(g.b1()), dH1, z, f(p.w1()), N, Z, h1);
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < lengths[b]; t++) {
                int n = ws.rowStart[b] + t;
                for (int c = 0; c < W; c++) {
                    float qc = q[b * W + c], kc = keys[(b * T + t) * W + c];
                    float dzq = dz[n * Z + c], dzk = dz[n * Z + W + c], dzd = dz[n * Z + 2 * W + c], dzp = dz[n * Z + 3 * W + c];
                    dq[b * W + c] += dzq + dzd + dzp * kc;
                    dKeys[(b * T + t) * W + c] += dzk - dzd + dzp * qc;
                }
            }
        }
    }

    /** z (N, 4W) = [q, k, q - k, q * k] for every valid position, in packed-row order. */
    private static float[] buildInput(CpuWorkspace ws, float[] q, float[] keys, int[] lengths, int B, int T, int W) {
        final int Z = 4 * W;
        float[] z = new float[ws.n * Z];
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < lengths[b]; t++) {
                int n = ws.rowStart[b] + t;
                for (int c = 0; c < W; c++) {
                    float qc = q[b * W + c], kc = keys[(b * T + t) * W + c];
                    z[n * Z + c] = qc;
                    z[n * Z + W + c] = kc;
                    z[n * Z + 2 * W + c] = qc - kc;
                    z[n * Z + 3 * W + c] = qc * kc;
                }
            }
        }
        return z;
    }

    private static void activationRef(float[] y, float[] mean, float[] invStd, float[] x, float[] alpha, float[] runMean, float[] runVar,
                                      int N, int C, AttentionSpec spec, boolean training) {
        switch (spec.activation()) {
            case SIGMOID -> Sigmoid.forwardRef(y, x, N * C);
            case PRELU -> PRelu.forwardRef(y, x, alpha, N, C);
            case DICE -> {
                if (N > 0) Dice.forwardRef(y, mean, invStd, x, alpha, runMean, runVar, N, C, training, spec.momentum(), spec.eps());
            }
        }
    }

    private static void activationBackwardRef(float[] dx, float[] dAlpha, float[] dy, float[] y, float[] mean, float[] invStd, float[] x,
                                              float[] alpha, int N, int C, AttentionSpec spec) {
        switch (spec.activation()) {
            case SIGMOID -> Sigmoid.backwardRef(dx, dy, y, N * C);
            case PRELU -> PRelu.backwardRef(dx, dAlpha, dy, x, alpha, N, C);
            case DICE -> {
                if (N > 0) Dice.backwardRef(dx, dAlpha, dy, mean, invStd, x, alpha, N, C);
            }
        }
    }

    /** weights[w0 + t] for t in [0, T): the scores of one sample's valid rows, softmaxed if asked, 0 when padded. */
    private static void weightsOfSample(float[] weights, float[] score, int row0, int len, int w0, int T, boolean softmax) {
        if (softmax && len > 0) {
            float max = Float.NEGATIVE_INFINITY;
            for (int t = 0; t < len; t++) max = Math.max(max, score[row0 + t]);
            double sum = 0;
            for (int t = 0; t < len; t++) {
                float e = (float) Math.exp(score[row0 + t] - max);
                weights[w0 + t] = e;
                sum += e;
            }
            float inv = (float) (1.0 / sum);
            for (int t = 0; t < len; t++) weights[w0 + t] *= inv;
        } else {
            for (int t = 0; t < len; t++) weights[w0 + t] = score[row0 + t];
        }
        for (int t = len; t < T; t++) weights[w0 + t] = 0f;
    }

    /** In place: dScore_t = w_t (dW_t - sum_s w_s dW_s) over one sample's valid rows. */
    private static void softmaxBackwardOfSample(float[] dScore, float[] weights, int row0, int len, int w0) {
        double dot = 0;
        for (int t = 0; t < len; t++) dot += (double) weights[w0 + t] * dScore[row0 + t];
        for (int t = 0; t < len; t++) dScore[row0 + t] = weights[w0 + t] * (float) (dScore[row0 + t] - dot);
    }

    private static void checkT(CpuWorkspace ws, int T) {
        if (T != ws.T) throw new IllegalArgumentException("activation unit: T " + T + " but the workspace was planned for " + ws.T);
    }

    // ================================================================== fast path

    static void forward(CpuThreads th, float[] out, float[] weights, CpuWorkspace ws, float[] q, float[] keys, int[] lengths,
                        AttentionParams p, AttentionSpec spec, int B, int T, boolean training) {
        final int W = spec.width(), h1 = spec.h1(), h2 = spec.h2(), W2 = 2 * W;
        checkT(ws, T);
        final int N = ws.pack(lengths, B);
        final float[] w1 = f(p.w1()), b1 = f(p.b1());
        // Ma = Wq + Wd (W, h1); M2 = [Wk - Wd ; Wp] (2W, h1)
        for (int c = 0; c < W; c++) {
            for (int j = 0; j < h1; j++) {
                float wq = w1[c * h1 + j], wk = w1[(W + c) * h1 + j], wd = w1[(2 * W + c) * h1 + j], wp = w1[(3 * W + c) * h1 + j];
                ws.ma[c * h1 + j] = wq + wd;
                ws.m2[c * h1 + j] = wk - wd;
                ws.m2[(W + c) * h1 + j] = wp;
            }
        }
        // per sample: P_b = q_b Ma + b1; per row: r_n = [k, q * k]
        th.parallelFor(B, SAMPLE_GRAIN, (chunk, lo, hi) -> {
            CpuGemm.nn(hi - lo, h1, W, q, lo * W, W, ws.ma, 0, h1, ws.perSample, lo * h1, h1, false);
            for (int b = lo; b < hi; b++) {
                int ps = b * h1;
                for (int j = 0; j < h1; j++) ws.perSample[ps + j] += b1[j];
                int row0 = ws.rowStart[b], len = lengths[b];
                for (int t = 0; t < len; t++) {
                    int k0 = (b * T + t) * W, r0 = (row0 + t) * W2;
                    for (int c = 0; c < W; c++) {
                        float kc = keys[k0 + c];
                        ws.r[r0 + c] = kc;
                        ws.r[r0 + W + c] = q[b * W + c] * kc;
                    }
                }
            }
        });
        // h1Pre = R M2 + P[rowB]
        th.parallelFor(N, ROW_GRAIN, (chunk, lo, hi) -> {
            CpuGemm.nn(hi - lo, h1, W2, ws.r, lo * W2, W2, ws.m2, 0, h1, ws.h1Pre, lo * h1, h1, false);
            for (int n = lo; n < hi; n++) {
                int ps = ws.rowB[n] * h1, o = n * h1;
                for (int j = 0; j < h1; j++) ws.h1Pre[o + j] += ws.perSample[ps + j];
            }
        });
        activation(th, ws.a1, ws.mean1, ws.invStd1, ws.h1Pre, f(p.alpha1()), f(p.runMean1()), f(p.runVar1()), N, h1, spec, training);
        Linear.forward(th, ws.h2Pre, ws.a1, f(p.w2()), f(p.b2()), N, h1, h2);
        activation(th, ws.a2, ws.mean2, ws.invStd2, ws.h2Pre, f(p.alpha2()), f(p.runMean2()), f(p.runVar2()), N, h2, spec, training);
        // score = a2 W3 + b3: one dot product per row
        final float[] w3 = f(p.w3());
        final float b3 = f(p.b3())[0];
        th.parallelFor(N, ROW_GRAIN * 4, (chunk, lo, hi) -> {
            for (int n = lo; n < hi; n++) {
                float acc = b3;
                int o = n * h2;
                for (int j = 0; j < h2; j++) acc += ws.a2[o + j] * w3[j];
                ws.score[n] = acc;
            }
        });
        final boolean softmax = spec.softmax();
        th.parallelFor(B, SAMPLE_GRAIN, (chunk, lo, hi) -> {
            for (int b = lo; b < hi; b++) {
                int len = lengths[b];
                weightsOfSample(weights, ws.score, ws.rowStart[b], len, b * T, T, softmax);
                if (out != null) {
                    int o = b * W;
                    java.util.Arrays.fill(out, o, o + W, 0f);
                    for (int t = 0; t < len; t++) {
                        float w = weights[b * T + t];
                        int k0 = (b * T + t) * W;
                        for (int c = 0; c < W; c++) out[o + c] += w * keys[k0 + c];
                    }
                }
            }
        });
    }

    static void backward(CpuThreads th, float[] dq, float[] dKeys, AttentionParams g, float[] dOut, float[] dWeights, float[] weights,
                         CpuWorkspace ws, float[] q, float[] keys, int[] lengths, AttentionParams p, AttentionSpec spec, int B, int T) {
        final int W = spec.width(), h1 = spec.h1(), h2 = spec.h2(), W2 = 2 * W;
        checkT(ws, T);
        final int N = ws.n;
        final boolean softmax = spec.softmax();
        // d score, and the pooled output's share of dKeys
        th.parallelFor(B, SAMPLE_GRAIN, (chunk, lo, hi) -> {
            for (int b = lo; b < hi; b++) {
                int len = lengths[b], row0 = ws.rowStart[b];
                for (int t = 0; t < len; t++) {
                    float dw = dWeights == null ? 0f : dWeights[b * T + t];
                    if (dOut != null) {
                        float w = weights[b * T + t];
                        int k0 = (b * T + t) * W, o = b * W;
                        for (int c = 0; c < W; c++) {
                            dw += dOut[o + c] * keys[k0 + c];
                            dKeys[k0 + c] += w * dOut[o + c];
                        }
                    }
                    ws.dScore[row0 + t] = dw;
                }
                if (softmax) softmaxBackwardOfSample(ws.dScore, weights, row0, len, b * T);
            }
        });
        // layer 3: dA2 = dScore W3^T, dW3 += A2^T dScore, db3 += sum dScore
        Linear.backward(th, ws.dA2, f(g.w3()), f(g.b3()), ws.dScore, ws.a2, f(p.w3()), N, h2, 1);
        activationBackward(th, ws.dH2, f(g.alpha2()), ws.dA2, ws.a2, ws.mean2, ws.invStd2, ws.h2Pre, f(p.alpha2()), N, h2, spec);
        Linear.backward(th, ws.dA1, f(g.w2()), f(g.b2()), ws.dH2, ws.a1, f(p.w2()), N, h1, h2);
        activationBackward(th, ws.dH1, f(g.alpha1()), ws.dA1, ws.a1, ws.mean1, ws.invStd1, ws.h1Pre, f(p.alpha1()), N, h1, spec);

        // layer 1 through the projection: dM2 = R^T dH1, G_b = sum_t dH1, dMa = Q^T G, dR = dH1 M2^T
        CpuGemm.transpose(ws.m2, 0, W2, h1, ws.m2t, 0);
        CpuGemm.transpose(ws.ma, 0, W, h1, ws.mat, 0);
        java.util.Arrays.fill(ws.dM2, 0f);
        java.util.Arrays.fill(ws.dMa, 0f);
        th.parallelFor(W2, 1, (chunk, lo, hi) -> CpuGemm.tn(lo, hi, h1, N, ws.r, 0, W2, ws.dH1, 0, h1, ws.dM2, 0, h1));
        final float[] G = ws.perSample;
        th.parallelFor(B, SAMPLE_GRAIN, (chunk, lo, hi) -> {
            for (int b = lo; b < hi; b++) {
                int o = b * h1;
                java.util.Arrays.fill(G, o, o + h1, 0f);
                for (int n = ws.rowStart[b]; n < ws.rowStart[b + 1]; n++) {
                    int d = n * h1;
                    for (int j = 0; j < h1; j++) G[o + j] += ws.dH1[d + j];
                }
            }
        });
        th.parallelFor(W, 1, (chunk, lo, hi) -> CpuGemm.tn(lo, hi, h1, B, q, 0, W, G, 0, h1, ws.dMa, 0, h1));
        th.parallelFor(N, ROW_GRAIN, (chunk, lo, hi) ->
                CpuGemm.nn(hi - lo, W2, h1, ws.dH1, lo * h1, h1, ws.m2t, 0, W2, ws.dR, lo * W2, W2, false));
        // dq_b += G_b Ma^T + sum_t dR[t, W:] * k_t ;  dk_t += dR[t, :W] + dR[t, W:] * q_b
        th.parallelFor(B, SAMPLE_GRAIN, (chunk, lo, hi) -> {
            CpuGemm.nn(hi - lo, W, h1, G, lo * h1, h1, ws.mat, 0, W, dq, lo * W, W, true);
            for (int b = lo; b < hi; b++) {
                int qo = b * W, row0 = ws.rowStart[b], len = lengths[b];
                for (int t = 0; t < len; t++) {
                    int r0 = (row0 + t) * W2, k0 = (b * T + t) * W;
                    for (int c = 0; c < W; c++) {
                        float dp = ws.dR[r0 + W + c];
                        dq[qo + c] += dp * keys[k0 + c];
                        dKeys[k0 + c] += ws.dR[r0 + c] + dp * q[qo + c];
                    }
                }
            }
        });
        // back to W1's blocks: dWq += dMa, dWk += dMb, dWd += dMa - dMb, dWp += dMp; db1 += sum_b G_b
        final float[] gw1 = f(g.w1()), gb1 = f(g.b1());
        for (int c = 0; c < W; c++) {
            for (int j = 0; j < h1; j++) {
                float dMa = ws.dMa[c * h1 + j], dMb = ws.dM2[c * h1 + j];
                gw1[c * h1 + j] += dMa;
                gw1[(W + c) * h1 + j] += dMb;
                gw1[(2 * W + c) * h1 + j] += dMa - dMb;
                gw1[(3 * W + c) * h1 + j] += ws.dM2[(W + c) * h1 + j];
            }
        }
        for (int b = 0; b < B; b++) {
            for (int j = 0; j < h1; j++) gb1[j] += G[b * h1 + j];
        }
    }

    private static void activation(CpuThreads th, float[] y, float[] mean, float[] invStd, float[] x, float[] alpha, float[] runMean,
                                   float[] runVar, int N, int C, AttentionSpec spec, boolean training) {
        switch (spec.activation()) {
            case SIGMOID -> Sigmoid.forward(th, y, x, N * C);
            case PRELU -> PRelu.forward(th, y, x, alpha, N, C);
            case DICE -> {
                if (N > 0) Dice.forward(th, y, mean, invStd, x, alpha, runMean, runVar, N, C, training, spec.momentum(), spec.eps());
            }
        }
    }

    private static void activationBackward(CpuThreads th, float[] dx, float[] dAlpha, float[] dy, float[] y, float[] mean, float[] invStd,
                                           float[] x, float[] alpha, int N, int C, AttentionSpec spec) {
        switch (spec.activation()) {
            case SIGMOID -> Sigmoid.backward(th, dx, dy, y, N * C);
            case PRELU -> PRelu.backward(th, dx, dAlpha, dy, x, alpha, N, C);
            case DICE -> {
                if (N > 0) Dice.backward(th, dx, dAlpha, dy, mean, invStd, x, alpha, N, C);
            }
        }
    }
}
