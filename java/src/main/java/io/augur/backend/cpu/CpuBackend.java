package io.augur.backend.cpu;

import io.augur.backend.AttentionParams;
import io.augur.backend.AttentionSpec;
import io.augur.backend.Backend;
import io.augur.backend.Recurrence;
import io.augur.backend.RecurrenceParams;
import io.augur.backend.DType;
import io.augur.backend.SparseGrad;
import io.augur.backend.SparseOptimizer;
import io.augur.backend.Tensor;
import io.augur.backend.Workspace;

import static io.augur.backend.cpu.CpuTensor.f;
import static io.augur.backend.cpu.CpuTensor.i;

/**
 * The Java backend. Each op lives in its own class ({@link Embedding}, {@link Linear},
 * {@link ActivationUnit}, ...) with two implementations side by side: {@code *Ref}, plain loops
 * that are the specification, and the fast path, multi-threaded over the batch on a fixed
 * {@link CpuThreads} team and checked against the reference by parity tests.
 *
 * <p>{@code reference = true} runs the specification everywhere (single-threaded, slow): the
 * golden-value and gradient-check tests use it, and so can a user who suspects the fast path.
 */
public final class CpuBackend implements Backend {
    private final boolean reference;
    private final CpuThreads threads;

    public CpuBackend(boolean reference, int threads) {
        this.reference = reference;
        this.threads = new CpuThreads(reference ? 1 : threads);
    }

    /** The fast path on every available core. */
    public static CpuBackend fast() {
        return new CpuBackend(false, Runtime.getRuntime().availableProcessors());
    }

    /** The single-threaded specification. */
    public static CpuBackend reference() {
        return new CpuBackend(true, 1);
    }

    public boolean isReference() { return reference; }

    CpuThreads threads() { return threads; }

    @Override
    public String name() { return reference ? "cpu-reference" : "cpu"; }

    @Override
    public String describe() {
        return reference ? "CPU reference (plain loops, 1 thread)"
                : "CPU fast path (" + threads.threads() + " threads, Java " + Runtime.version().feature() + ", " + CpuGemm.provider() + " GEMM)";
    }

    // ---------------------------------------------------------------- memory

    @Override
    public Tensor floats(String name, int... shape) { return new CpuTensor(name, DType.F32, shape); }

    @Override
    public Tensor ints(String name, int... shape) { return new CpuTensor(name, DType.I32, shape); }

    @Override
    public SparseGrad sparseGrad(String name, int rows, int dim, int maxIdsPerStep) {
        return new CpuSparseGrad(name, rows, dim, maxIdsPerStep);
    }

    @Override
    public Workspace attentionWorkspace(String name, AttentionSpec spec, int maxB, int T) {
        return new ActivationUnit.CpuWorkspace(spec, maxB, T);
    }

    @Override
    public Workspace recurrenceWorkspace(String name, int maxB, int T, int E, int H) {
        return new io.augur.backend.cpu.Recurrence.CpuWorkspace(maxB, T, E, H);
    }

    @Override
    public void upload(Tensor dst, float[] src, int n) { System.arraycopy(src, 0, f(dst), 0, n); }

    @Override
    public void upload(Tensor dst, int[] src, int n) { System.arraycopy(src, 0, i(dst), 0, n); }

    @Override
    public void download(Tensor src, float[] dst, int n) { System.arraycopy(f(src), 0, dst, 0, n); }

    @Override
    public void download(Tensor src, int[] dst, int n) { System.arraycopy(i(src), 0, dst, 0, n); }

    @Override
    public int readInt(Tensor t) { return CpuTensor.i(t)[0]; }

    @Override
    public void downloadGrad(SparseGrad grad, float[] dst) { ((CpuSparseGrad) grad).copyTo(dst); }

    @Override
    public void fill(Tensor t, float value, int n) { java.util.Arrays.fill(f(t), 0, n, value); }

    @Override
    public void synchronize() { /* CPU ops are synchronous */ }

    /** {@link #scratchBetweenSteps} tensors, filled with NaN before each step in the test runs. */
    private final java.util.List<Tensor> scratch = new java.util.ArrayList<>();
    private static final boolean POISON = Boolean.getBoolean(POISON_ACTIVATIONS);

    @Override
    public void scratchBetweenSteps(Tensor t) {
        if (POISON) scratch.add(t);
    }

    @Override
    public void runStep(String key, Runnable work) {
        for (Tensor t : scratch) java.util.Arrays.fill(f(t), Float.NaN);
        work.run();
    }

    // ---------------------------------------------------------------- embeddings

    @Override
    public void embeddingGather(Tensor out, Tensor ids, Tensor lengths, Tensor table, int rows, int T, int D, int outStride, int off) {
        if (reference) Embedding.gatherRef(f(out), i(ids), i(lengths), f(table), rows, T, D, outStride, off);
        else Embedding.gather(threads, f(out), i(ids), i(lengths), f(table), rows, T, D, outStride, off);
    }

    @Override
    public void embeddingGatherBackward(SparseGrad grad, Tensor dOut, Tensor ids, Tensor lengths, int rows, int T, int D, int outStride, int off) {
        CpuSparseGrad g = (CpuSparseGrad) grad;
        if (reference) Embedding.gatherBackwardRef(g, f(dOut), i(ids), i(lengths), rows, T, D, outStride, off);
        else Embedding.gatherBackward(threads, g, f(dOut), i(ids), i(lengths), rows, T, D, outStride, off);
    }

    /** Plain loops: the specification of history_gather_kernel. */
    @Override
    public void historyGather(java.util.List<Tensor> outs, java.util.List<Tensor> values, int[] from, Tensor offsets, Tensor rows, int nRows, int B,
                              int T) {
        if (outs.size() != values.size() || from.length != outs.size() || outs.isEmpty() || outs.size() > 4) {
            throw new IllegalArgumentException("historyGather: " + outs.size() + " outputs for " + values.size() + " columns (1 to 4 pairs)");
        }
        int[] off = i(offsets), r = i(rows);
        for (int b = 0; b < B; b++) {
            int row = r[b];
            if (row < 0 || row >= nRows) throw new IllegalArgumentException("historyGather: sample " + b + " names row " + row + ", outside [0, " + nRows + ")");
            int len = off[row + 1] - off[row];
            if (len < 0 || len > T) throw new IllegalArgumentException("historyGather: row " + row + " has " + len + " behaviours, outside [0, " + T + "]");
            for (int c = 0; c < outs.size(); c++) {
                int[] out = i(outs.get(c)), v = i(values.get(c));
                for (int t = 0; t < T; t++) out[b * T + t] = t >= from[c] && t < len ? v[off[row] + t] : 0;
            }
        }
    }

    @Override
    public void sparseUpdate(Tensor table, Tensor state1, Tensor state2, SparseGrad grad, Tensor counts, SparseOptimizer opt, int step) {
        CpuSparseGrad g = (CpuSparseGrad) grad;
        if (reference) SparseUpdate.updateRef(f(table), f(state1), f(state2), g, i(counts), opt, step);
        else SparseUpdate.update(threads, f(table), f(state1), f(state2), g, i(counts), opt, step);
    }

    // ---------------------------------------------------------------- pooling and features

    @Override
    public void sumPool(Tensor out, Tensor x, Tensor lengths, int B, int T, int C) {
        if (reference) SumPool.forwardRef(f(out), f(x), i(lengths), B, T, C);
        else SumPool.forward(threads, f(out), f(x), i(lengths), B, T, C);
    }

    @Override
    public void sumPoolBackward(Tensor dx, Tensor dOut, Tensor lengths, int B, int T, int C) {
        if (reference) SumPool.backwardRef(f(dx), f(dOut), i(lengths), B, T, C);
        else SumPool.backward(threads, f(dx), f(dOut), i(lengths), B, T, C);
    }

    @Override
    public void interestConcat(Tensor x, Tensor ea, Tensor s, Tensor v, int B, int E, int V, int xStride, int off) {
        if (reference) InterestConcat.forwardRef(f(x), f(ea), f(s), f(v), B, E, V, xStride, off);
        else InterestConcat.forward(threads, f(x), f(ea), f(s), f(v), B, E, V, xStride, off);
    }

    @Override
    public void interestConcatBackward(Tensor dEa, Tensor dS, Tensor dV, Tensor dx, Tensor ea, Tensor s, int B, int E, int V, int xStride, int off) {
        if (reference) InterestConcat.backwardRef(f(dEa), f(dS), f(dV), f(dx), f(ea), f(s), B, E, V, xStride, off);
        else InterestConcat.backward(threads, f(dEa), f(dS), f(dV), f(dx), f(ea), f(s), B, E, V, xStride, off);
    }

    @Override
    public void addInto(Tensor y, Tensor x, int n) {
        if (reference) Elementwise.addIntoRef(f(y), f(x), n);
        else Elementwise.addInto(threads, f(y), f(x), n);
    }

    @Override
    public void scaleSequence(Tensor out, Tensor x, Tensor w, Tensor lengths, int B, int T, int C) {
        if (reference) Elementwise.scaleSequenceRef(f(out), f(x), f(w), i(lengths), B, T, C);
        else Elementwise.scaleSequence(threads, f(out), f(x), f(w), i(lengths), B, T, C);
    }

    @Override
    public void scaleSequenceBackward(Tensor dX, Tensor dW, Tensor dOut, Tensor x, Tensor w, Tensor lengths, int B, int T, int C) {
        if (reference) Elementwise.scaleSequenceBackwardRef(f(dX), f(dW), f(dOut), f(x), f(w), i(lengths), B, T, C);
        else Elementwise.scaleSequenceBackward(threads, f(dX), f(dW), f(dOut), f(x), f(w), i(lengths), B, T, C);
    }

    @Override
    public void auxPairs(Tensor out, Tensor h, Tensor pos, Tensor neg, Tensor pairStart, Tensor lengths, int B, int T, int H, int E, int rows) {
        if (reference) AuxPairs.forwardRef(f(out), f(h), f(pos), f(neg), i(pairStart), i(lengths), B, T, H, E);
        else AuxPairs.forward(threads, f(out), f(h), f(pos), f(neg), i(pairStart), i(lengths), B, T, H, E);
        AuxPairs.zeroPadding(f(out), i(pairStart), i(lengths), B, H + E, rows);
    }

    @Override
    public void auxPairsBackward(Tensor dH, Tensor dPos, Tensor dNeg, Tensor dOut, Tensor pairStart, Tensor lengths, int B, int T, int H, int E) {
        if (reference) AuxPairs.backwardRef(f(dH), f(dPos), f(dNeg), f(dOut), i(pairStart), i(lengths), B, T, H, E);
        else AuxPairs.backward(threads, f(dH), f(dPos), f(dNeg), f(dOut), i(pairStart), i(lengths), B, T, H, E);
    }

    // ---------------------------------------------------------------- dense layers

    @Override
    public void linear(Tensor y, Tensor x, Tensor W, Tensor b, int B, int in, int out) {
        if (reference) Linear.forwardRef(f(y), f(x), f(W), f(b), B, in, out);
        else Linear.forward(threads, f(y), f(x), f(W), f(b), B, in, out);
    }

    @Override
    public void linearBackward(Tensor dx, Tensor dW, Tensor db, Tensor dy, Tensor x, Tensor W, int B, int in, int out) {
        if (reference) Linear.backwardRef(f(dx), f(dW), f(db), f(dy), f(x), f(W), B, in, out);
        else Linear.backward(threads, f(dx), f(dW), f(db), f(dy), f(x), f(W), B, in, out);
    }

    @Override
    public void batchNorm(Tensor y, Tensor mean, Tensor invStd, Tensor x, Tensor gamma, Tensor beta, Tensor runMean, Tensor runVar,
                          int B, int C, boolean training, float momentum, float eps) {
        if (reference) BatchNorm.forwardRef(f(y), f(mean), f(invStd), f(x), f(gamma), f(beta), f(runMean), f(runVar), B, C, training, momentum, eps);
        else BatchNorm.forward(threads, f(y), f(mean), f(invStd), f(x), f(gamma), f(beta), f(runMean), f(runVar), B, C, training, momentum, eps);
    }

    @Override
    public void batchNormBackward(Tensor dx, Tensor dGamma, Tensor dBeta, Tensor dy, Tensor mean, Tensor invStd, Tensor x, Tensor gamma, int B, int C) {
        if (reference) BatchNorm.backwardRef(f(dx), f(dGamma), f(dBeta), f(dy), f(mean), f(invStd), f(x), f(gamma), B, C);
        else BatchNorm.backward(threads, f(dx), f(dGamma), f(dBeta), f(dy), f(mean), f(invStd), f(x), f(gamma), B, C);
    }

    @Override
    public void prelu(Tensor y, Tensor x, Tensor alpha, int B, int C) {
        if (reference) PRelu.forwardRef(f(y), f(x), f(alpha), B, C);
        else PRelu.forward(threads, f(y), f(x), f(alpha), B, C);
    }

    @Override
    public void preluBackward(Tensor dx, Tensor dAlpha, Tensor dy, Tensor x, Tensor alpha, int B, int C) {
        if (reference) PRelu.backwardRef(f(dx), f(dAlpha), f(dy), f(x), f(alpha), B, C);
        else PRelu.backward(threads, f(dx), f(dAlpha), f(dy), f(x), f(alpha), B, C);
    }

    @Override
    public void dice(Tensor y, Tensor mean, Tensor invStd, Tensor x, Tensor alpha, Tensor runMean, Tensor runVar,
                     int B, int C, boolean training, float momentum, float eps) {
        if (reference) Dice.forwardRef(f(y), f(mean), f(invStd), f(x), f(alpha), f(runMean), f(runVar), B, C, training, momentum, eps);
        else Dice.forward(threads, f(y), f(mean), f(invStd), f(x), f(alpha), f(runMean), f(runVar), B, C, training, momentum, eps);
    }

    @Override
    public void diceBackward(Tensor dx, Tensor dAlpha, Tensor dy, Tensor mean, Tensor invStd, Tensor x, Tensor alpha, int B, int C) {
        if (reference) Dice.backwardRef(f(dx), f(dAlpha), f(dy), f(mean), f(invStd), f(x), f(alpha), B, C);
        else Dice.backward(threads, f(dx), f(dAlpha), f(dy), f(mean), f(invStd), f(x), f(alpha), B, C);
    }

    @Override
    public void sigmoid(Tensor y, Tensor x, int n) {
        if (reference) Sigmoid.forwardRef(f(y), f(x), n);
        else Sigmoid.forward(threads, f(y), f(x), n);
    }

    @Override
    public void sigmoidBackward(Tensor dx, Tensor dy, Tensor y, int n) {
        if (reference) Sigmoid.backwardRef(f(dx), f(dy), f(y), n);
        else Sigmoid.backward(threads, f(dx), f(dy), f(y), n);
    }

    // ---------------------------------------------------------------- attention

    @Override
    public void activationUnit(Tensor out, Tensor weights, Workspace ws, Tensor query, Tensor keys, Tensor lengths,
                               AttentionParams p, AttentionSpec spec, int B, int T, boolean training) {
        ActivationUnit.CpuWorkspace w = (ActivationUnit.CpuWorkspace) ws;
        if (reference) ActivationUnit.forwardRef(f(out), f(weights), w, f(query), f(keys), i(lengths), p, spec, B, T, training);
        else ActivationUnit.forward(threads, f(out), f(weights), w, f(query), f(keys), i(lengths), p, spec, B, T, training);
    }

    @Override
    public void activationUnitBackward(Tensor dQuery, Tensor dKeys, AttentionParams grads, Tensor dOut, Tensor dWeights, Tensor weights,
                                       Workspace ws, Tensor query, Tensor keys, Tensor lengths, AttentionParams p, AttentionSpec spec, int B, int T) {
        ActivationUnit.CpuWorkspace w = (ActivationUnit.CpuWorkspace) ws;
        if (reference) ActivationUnit.backwardRef(f(dQuery), f(dKeys), grads, f(dOut), f(dWeights), f(weights), w,
                f(query), f(keys), i(lengths), p, spec, B, T);
        else ActivationUnit.backward(threads, f(dQuery), f(dKeys), grads, f(dOut), f(dWeights), f(weights), w,
                f(query), f(keys), i(lengths), p, spec, B, T);
    }

    // ---------------------------------------------------------------- recurrence

    @Override
    public void recurrence(Tensor hOut, Tensor hLast, Workspace ws, Tensor x, Tensor att, Tensor lengths, RecurrenceParams p,
                           Recurrence kind, int B, int T, int E, int H) {
        io.augur.backend.cpu.Recurrence.CpuWorkspace w = (io.augur.backend.cpu.Recurrence.CpuWorkspace) ws;
        if (reference) io.augur.backend.cpu.Recurrence.forwardRef(f(hOut), f(hLast), w, f(x), f(att), i(lengths), p, kind, B, T, E, H);
        else io.augur.backend.cpu.Recurrence.forward(threads, f(hOut), f(hLast), w, f(x), f(att), i(lengths), p, kind, B, T, E, H);
    }

    @Override
    public void recurrenceBackward(Tensor dx, Tensor dAtt, RecurrenceParams grads, Tensor dHOut, Tensor dHLast, Workspace ws,
                                   Tensor x, Tensor att, Tensor lengths, RecurrenceParams p, Recurrence kind, int B, int T, int E, int H) {
        io.augur.backend.cpu.Recurrence.CpuWorkspace w = (io.augur.backend.cpu.Recurrence.CpuWorkspace) ws;
        if (reference) io.augur.backend.cpu.Recurrence.backwardRef(f(dx), f(dAtt), grads, f(dHOut), f(dHLast), w,
                f(x), f(att), i(lengths), p, kind, B, T, E, H);
        else io.augur.backend.cpu.Recurrence.backward(threads, f(dx), f(dAtt), grads, f(dHOut), f(dHLast), w,
                f(x), f(att), i(lengths), p, kind, B, T, E, H);
    }

    // ---------------------------------------------------------------- loss and optimizer

    @Override
    public void bceWithLogits(Tensor loss, Tensor dLogits, Tensor logits, Tensor labels, int B, float scale) {
        Bce.forwardBackwardRef(f(loss), f(dLogits), f(logits), f(labels), B, scale);
    }

    @Override
    public void adam(Tensor param, Tensor grad, Tensor m, Tensor v, int n, float lr, float beta1, float beta2, float eps, float weightDecay, int step) {
        if (reference) Adam.stepRef(f(param), f(grad), f(m), f(v), n, lr, beta1, beta2, eps, weightDecay, step);
        else Adam.step(threads, f(param), f(grad), f(m), f(v), n, lr, beta1, beta2, eps, weightDecay, step);
    }

    @Override
    public void close() { threads.close(); }
}
