package io.augur.backend;

/**
 * The fused ops every model is written against (DESIGN.md §4). One implementation per device:
 * {@code io.augur.backend.cpu.CpuBackend} (the reference and the fast Java path) and, later, the
 * CUDA backend. No model knows which one it has.
 *
 * <p>Rules for every op:
 * <ul>
 *   <li>argument order: outputs, saved buffers, inputs, parameters, sizes;</li>
 *   <li>sizes are passed explicitly; a batch may be smaller than the tensors were planned for
 *       (the last partial batch), so ops touch only the first {@code B} rows;</li>
 *   <li>backward adds ({@code +=}) into parameter gradients and overwrites ({@code =}) activation
 *       gradients, except where an op says otherwise (an activation with several consumers);</li>
 *   <li>every sequence op takes the true lengths; positions at or past a sample's length
 *       contribute exactly zero, forward and backward;</li>
 *   <li>memory is allocated only through the allocation methods, while a model is built; nothing
 *       is allocated inside a training step.</li>
 * </ul>
 * Letters: B batch, T history length, D embedding width, E behaviour width, C channels, H hidden size.
 */
public interface Backend extends AutoCloseable {
    /**
     * -Daugur.poisonActivations=true (every test run sets it, pom.xml): activation buffers
     * (io.augur.model.ParamStore) and the backends' own workspaces start as NaN instead of zero,
     * so an op that reads an element no op wrote in the step shows as a NaN in the results.
     */
    String POISON_ACTIVATIONS = "augur.poisonActivations";


    /** "cpu", "cpu-reference" or "cuda". */
    String name();

    /** The device a run's summary names: the backend's name, or for a GPU "cuda:N" and its name ("cuda:0 NVIDIA H200"). */
    default String deviceLabel() { return name(); }

    /** One line for logs: threads, device, GEMM provider. */
    String describe();

    /**
     * Bytes of device memory allocated for this backend's device by Augur (its arena segments and input staging,
     * every backend on the same device context together), or -1 where the backend computes in host memory.
     */
    default long deviceBytesAllocated() { return -1; }

    // ---------------------------------------------------------------- memory (build time only)

    /** A zero-filled fp32 tensor. */
    Tensor floats(String name, int... shape);

    /** A zero-filled int32 tensor. */
    Tensor ints(String name, int... shape);

    /** The sparse gradient of a {@code (rows, dim)} embedding table; holds at most {@code maxIdsPerStep} lookups per step. */
    SparseGrad sparseGrad(String name, int rows, int dim, int maxIdsPerStep);

    /** Saved buffers of the activation unit for batches of up to {@code maxB} samples of {@code T} positions. */
    Workspace attentionWorkspace(String name, AttentionSpec spec, int maxB, int T);

    /**
     * Whether the activation unit of {@code ws} (its forward with the pooling and the interest block, and its backward)
     * reads its keys at padded positions (t >= lengths[b]). Where it does not, a model whose keys go nowhere else may
     * look them up with {@link Gather#paddingLeft}. True, the default, is always a safe answer.
     */
    default boolean attentionReadsPadding(Workspace ws) {
        return true;
    }

    /**
     * Saved buffers of {@link #recurrence} for batches of up to {@code maxB} samples of {@code T}
     * positions, input width {@code E} and hidden size {@code H}.
     */
    Workspace recurrenceWorkspace(String name, int maxB, int T, int E, int H);

    // ---------------------------------------------------------------- transfers

    /** dst[0:n] = src[0:n]. */
    void upload(Tensor dst, float[] src, int n);

    /** dst[0:n] = src[0:n]. */
    void upload(Tensor dst, int[] src, int n);

    /** dst[0:n] = src[0:n]; waits for pending work. */
    void download(Tensor src, float[] dst, int n);

    /** The first n values of an int tensor (waits for the device). */
    void download(Tensor src, int[] dst, int n);

    /**
     * src[0] as the work issued so far leaves it, without waiting for that work: the value is
     * fetched when {@code getAsDouble()} is first called (which then waits), so a trainer can issue
     * step i + 1 before it reads step i's loss. Not inside {@link #runStep}. By default, and on a
     * backend whose work is done when issued, an ordinary download.
     */
    default java.util.function.DoubleSupplier readLater(Tensor src) {
        float[] v = new float[1];
        download(src, v, 1);
        double value = v[0];
        return () -> value;
    }

    /**
     * dst[0:n] = src[0:n] as the work issued so far leaves it, without waiting: dst is filled no
     * later than when the returned Runnable runs (which then waits), and must not be used before.
     * Not inside {@link #runStep}. By default an ordinary download.
     */
    default Runnable downloadLater(Tensor src, float[] dst, int n) {
        download(src, dst, n);
        return () -> { };
    }

    /** dst = the sparse gradient as a dense (rows, dim) table (rows not touched are 0); for tests and debugging. */
    void downloadGrad(SparseGrad grad, float[] dst);

    /** t[0:n] = value. */
    void fill(Tensor t, float value, int n);

    /**
     * Every tensor of the list set to zero over its whole size, as {@code fill(t, 0, t.size())} on
     * each; a backend may do it in one launch (the dense gradients before a step).
     */
    default void zero(java.util.List<Tensor> tensors) {
        for (Tensor t : tensors) fill(t, 0f, t.size());
    }

    /** Waits until all submitted work is done. */
    void synchronize();

    /**
     * Runs one step's device work, {@code work}, which must neither upload nor download: the same
     * key means the same sequence of ops with the same arguments (e.g. "train/B" for a training
     * step of B samples). A backend may record the ops the first times and replay them after (the
     * CUDA backend captures a CUDA graph); by default the work just runs.
     */
    default void runStep(String key, Runnable work) {
        work.run();
    }

    /**
     * Declares that no step needs what {@code t} held at the end of the previous one (an
     * activation, not an input, a constant or a parameter): with {@link #POISON_ACTIVATIONS} a
     * backend fills it with NaN before every {@link #runStep}, so that a step that reads a value an
     * earlier step left there fails the tests. Reads issued after a step (readLater,
     * downloadLater) see the step's values. By default nothing happens.
     */
    default void scratchBetweenSteps(Tensor t) {}

    /**
     * Whether steps run by {@link #runStep} are replayed with the shapes they were recorded with (the
     * CUDA backend's graphs): a model whose row counts vary from batch to batch then pads them to a
     * few sizes and passes the true count in device memory. False by default.
     */
    default boolean fixedShapeSteps() {
        return false;
    }

    /** How the steps run by {@link #runStep} have fared, in words for a log line ("" when there is nothing to say). */
    default String stepSummary() {
        return "";
    }

    // ---------------------------------------------------------------- embeddings

    /**
     * out[r, off:off+D] = table[ids[r], :] for r in [0, rows). With lengths non-null, row r is
     * position t = r % T of sample b = r / T, and rows with t >= lengths[b] are written as 0.
     * <pre>
     * out     (rows, outStride)   columns [off, off+D) written, others untouched
     * ids     (rows)              0 <= id < V
     * lengths (rows / T) or null
     * table   (V, D)
     * </pre>
     */
    void embeddingGather(Tensor out, Tensor ids, Tensor lengths, Tensor table, int rows, int T, int D, int outStride, int off);

    /** grad[ids[r], :] += dOut[r, off:off+D] for the rows the forward gathered (masked rows skipped). */
    void embeddingGatherBackward(SparseGrad grad, Tensor dOut, Tensor ids, Tensor lengths, int rows, int T, int D, int outStride, int off);

    /**
     * One {@link #embeddingGather} (forward: out and table) or {@link #embeddingGatherBackward} (grad and dOut) of a list.
     * zeroPadding (forward, with lengths): the rows at t >= lengths[b] are written as 0, as {@link #embeddingGather} writes
     * them; false ({@link #paddingLeft}) lets a backend leave them as they were.
     */
    record Gather(Tensor out, Tensor table, SparseGrad grad, Tensor dOut, Tensor ids, Tensor lengths, int rows, int T, int D, int outStride,
                  int off, boolean zeroPadding) {
        /** A forward gather: out[r, off:off+D] = table[ids[r], :]. */
        public static Gather forward(Tensor out, Tensor ids, Tensor lengths, Tensor table, int rows, int T, int D, int outStride, int off) {
            return new Gather(out, table, null, null, ids, lengths, rows, T, D, outStride, off, true);
        }

        /** A gather's backward: grad[ids[r], :] += dOut[r, off:off+D]. */
        public static Gather backward(SparseGrad grad, Tensor dOut, Tensor ids, Tensor lengths, int rows, int T, int D, int outStride, int off) {
            return new Gather(null, null, grad, dOut, ids, lengths, rows, T, D, outStride, off, true);
        }

        /**
         * This forward gather for consumers that read only the valid positions (t < lengths[b]): its padding rows may be
         * left as they were (what an earlier batch put there) instead of written as 0. The CUDA backend leaves those of the
         * warps that hold only padding (82% of the history rows at batch 2048 in the benchmark world, some 24 MB of zeros a
         * step); the CPU writes them as 0 still.
         */
        public Gather paddingLeft() {
            return new Gather(out, table, grad, dOut, ids, lengths, rows, T, D, outStride, off, false);
        }
    }

    /**
     * The forward gathers of the list, as {@link #embeddingGather} on each in order; a backend may
     * do them in one launch (a model's lookups of every field).
     */
    default void embeddingGather(java.util.List<Gather> gathers) {
        for (Gather g : gathers) {
            if (g.out() == null) throw new IllegalArgumentException("embeddingGather(list): a backward entry in a forward list");
            embeddingGather(g.out(), g.ids(), g.lengths(), g.table(), g.rows(), g.T(), g.D(), g.outStride(), g.off());
        }
    }

    /**
     * {@link #zero}(cleared), then {@link #embeddingGather}(gathers): a training step's start (the
     * dense gradients cleared, the lookups made). The gathers must neither read nor write the
     * cleared tensors. By default the two ops; a backend may do both in one launch.
     */
    default void embeddingGather(java.util.List<Gather> gathers, java.util.List<Tensor> cleared) {
        zero(cleared);
        embeddingGather(gathers);
    }

    /**
     * Histories held by the backend itself ({@code train --resident-data}): the dataset's history
     * columns as stored, {@code values} (one tensor per column, 1 to 4 of them: items, categories,
     * and the negative ones), row r's behaviours at {@code [offsets[r], offsets[r + 1])}; each
     * batch names its rows. For every column c, sample b and position t:
     * <pre>
     *   outs[c] (B, T)[b, t] = values[c][offsets[rows[b]] + t]   for from[c] &lt;= t &lt; len_b
     *                        = 0                                  otherwise (t &lt; T)
     *   len_b = offsets[rows[b] + 1] - offsets[rows[b]]
     *   offsets (nRows + 1)   rows (B), each in [0, nRows)
     * </pre>
     * A row outside [0, nRows) or a length above T is an error (the CPU throws; the GPU reports it
     * at the next synchronisation); nothing is clipped silently.
     */
    default void historyGather(java.util.List<Tensor> outs, java.util.List<Tensor> values, int[] from, Tensor offsets, Tensor rows, int nRows, int B,
                               int T) {
        throw new UnsupportedOperationException(name() + " backend: no device-resident histories");
    }

    /** The backwards of the list, as {@link #embeddingGatherBackward} on each; a backend may do them in one launch. */
    default void embeddingGatherBackward(java.util.List<Gather> gathers) {
        for (Gather g : gathers) {
            if (g.grad() == null) throw new IllegalArgumentException("embeddingGatherBackward(list): a forward entry in a backward list");
            embeddingGatherBackward(g.grad(), g.dOut(), g.ids(), g.lengths(), g.rows(), g.T(), g.D(), g.outStride(), g.off());
        }
    }

    /**
     * Applies one optimizer step to the rows of {@code table} touched since the last update, with
     * mini-batch aware regularisation: g_j &larr; g_j + lambda * w_j / n_j (n_j = counts[j], the
     * id's count in the training split; lambda = 0 turns it off). Row 0 (padding) is never
     * updated. Clears {@code grad}. {@code state1}/{@code state2}: (V, D) slots the optimizer
     * needs (Adagrad: state1 = accumulator; Adam: state1 = m, state2 = v; SGD: none).
     * {@code step} is the 1-based global step (Adam's bias correction).
     */
    void sparseUpdate(Tensor table, Tensor state1, Tensor state2, SparseGrad grad, Tensor counts, SparseOptimizer opt, int step);

    /** One table's {@link #sparseUpdate} in a list (counts null when MBAR is off). */
    record TableUpdate(Tensor table, Tensor state1, Tensor state2, SparseGrad grad, Tensor counts) {}

    /**
     * {@link #sparseUpdate} on each table of the list with the same optimizer and step; a backend
     * may do them in one launch (Optimizer.step: every embedding table).
     */
    default void sparseUpdate(java.util.List<TableUpdate> updates, SparseOptimizer opt, int step) {
        for (TableUpdate u : updates) sparseUpdate(u.table(), u.state1(), u.state2(), u.grad(), u.counts(), opt, step);
    }

    // ---------------------------------------------------------------- pooling and feature assembly

    /** out[b, :] = sum_{t < lengths[b]} x[b, t, :].  out (B, C), x (B, T, C). */
    void sumPool(Tensor out, Tensor x, Tensor lengths, int B, int T, int C);

    /** dx[b, t, :] = dOut[b, :] for t < lengths[b], else 0 (= into dx). */
    void sumPoolBackward(Tensor dx, Tensor dOut, Tensor lengths, int B, int T, int C);

    /**
     * Writes the interest block of the feature vector into x[:, off:]:
     * [ea, s, ea * s] (each E wide) and, if v is non-null, v (V wide) after them.
     * <pre>x (B, xStride), ea (B, E), s (B, E), v (B, V) or null</pre>
     */
    void interestConcat(Tensor x, Tensor ea, Tensor s, Tensor v, int B, int E, int V, int xStride, int off);

    /**
     * Backward of {@link #interestConcat}: dEa = dx[ea] + dx[ea*s] * s, dS = dx[s] + dx[ea*s] * ea,
     * dV = dx[v] (all =). dV may be null when v was.
     */
    void interestConcatBackward(Tensor dEa, Tensor dS, Tensor dV, Tensor dx, Tensor ea, Tensor s, int B, int E, int V, int xStride, int off);

    /**
     * The history's sum pool and the interest block as one op: s = {@link #sumPool}(hist) (written:
     * the backward reads it), then {@link #interestConcat}(x, ea, s, v). hist (B, T, E). By default
     * the two ops; the CUDA backend does both in one launch.
     */
    default void pooledInterestConcat(Tensor x, Tensor s, Tensor ea, Tensor hist, Tensor lengths, Tensor v, int B, int T, int E, int V,
                                      int xStride, int off) {
        sumPool(s, hist, lengths, B, T, E);
        interestConcat(x, ea, s, v, B, E, V, xStride, off);
    }

    /**
     * Backward of {@link #pooledInterestConcat}: {@link #interestConcatBackward} (dEa, dS, dV =),
     * then {@link #sumPoolBackward} from dS (dHist =). By default the two ops; one launch on CUDA.
     */
    default void pooledInterestConcatBackward(Tensor dEa, Tensor dS, Tensor dHist, Tensor dV, Tensor dx, Tensor ea, Tensor s, Tensor lengths,
                                              int B, int T, int E, int V, int xStride, int off) {
        interestConcatBackward(dEa, dS, dV, dx, ea, s, B, E, V, xStride, off);
        sumPoolBackward(dHist, dS, lengths, B, T, E);
    }

    // ---------------------------------------------------------------- elementwise and sequence helpers

    /** y[0:n] += x[0:n]: joins the gradients of an activation with several consumers. */
    void addInto(Tensor y, Tensor x, int n);

    /**
     * out[b, t, :] = w[b, t] * x[b, t, :] for t &lt; lengths[b], exactly 0 at padded positions
     * (AIGRU's attentional input).  out, x (B, T, C), w (B, T).
     */
    void scaleSequence(Tensor out, Tensor x, Tensor w, Tensor lengths, int B, int T, int C);

    /**
     * Backward of {@link #scaleSequence}: dX = w * dOut and dW[b, t] = sum_c dOut[b, t, c] x[b, t, c]
     * (both =, 0 at padded positions).
     */
    void scaleSequenceBackward(Tensor dX, Tensor dW, Tensor dOut, Tensor x, Tensor w, Tensor lengths, int B, int T, int C);

    /**
     * The input rows of DIEN's auxiliary network: for each sample b and each 1 &lt;= t &lt; lengths[b],
     * with r = pairStart[b] + t - 1,
     * <pre>
     *   out[2r]     = [h[b, t-1, :], pos[b, t, :]]     the clicked behaviour (label 1)
     *   out[2r + 1] = [h[b, t-1, :], neg[b, t, :]]     the sampled non-click (label 0)
     * </pre>
     * pairStart[b] = sum_{b' &lt; b} max(lengths[b'] - 1, 0), so the rows are packed: 2 * P rows
     * with P = pairStart[B-1] + max(lengths[B-1] - 1, 0). Rows 2P to {@code rows} (a padded row
     * count, {@code rows >= 2P}; or 2P) are zeroed, so that the padded rows a fixed-shape step runs
     * the auxiliary network over hold finite values whatever the buffer held; rows past
     * {@code rows} are untouched.
     * <pre>out (rows, H + E), h (B, T, H), pos, neg (B, T, E), pairStart, lengths (B)</pre>
     */
    void auxPairs(Tensor out, Tensor h, Tensor pos, Tensor neg, Tensor pairStart, Tensor lengths, int B, int T, int H, int E, int rows);

    /**
     * Backward of {@link #auxPairs}. dH and dPos are added to (+=): the GRU states and the
     * behaviour embeddings have other consumers (the attention and evolution, the sum pool and the
     * GRU). dNeg is overwritten (=): 0 at t = 0 and at padded positions, where no pair reads it.
     */
    void auxPairsBackward(Tensor dH, Tensor dPos, Tensor dNeg, Tensor dOut, Tensor pairStart, Tensor lengths, int B, int T, int H, int E);

    // ---------------------------------------------------------------- dense layers

    /** y = x W + b.  y (B, out), x (B, in), W (in, out), b (out). */
    void linear(Tensor y, Tensor x, Tensor W, Tensor b, int B, int in, int out);

    /**
     * A linear layer and its activation: y = x W + b (kept: PReLU's backward reads it), then
     * a = sigmoid(y), or PReLU(y) with alpha (out). y, a (B, out). Activations with batch
     * statistics (Dice) are not taken. By default {@link #linear} and then {@link #sigmoid} or
     * {@link #prelu}; the CUDA backend's built-in GEMM applies the activation in the product's
     * epilogue, one launch.
     */
    default void linearAct(Tensor y, Tensor a, Tensor x, Tensor W, Tensor b, Activation act, Tensor alpha, int B, int in, int out) {
        switch (act) {
            case SIGMOID -> {
                linear(y, x, W, b, B, in, out);
                sigmoid(a, y, B * out);
            }
            case PRELU -> {
                linear(y, x, W, b, B, in, out);
                prelu(a, y, alpha, B, out);
            }
            default -> throw new IllegalArgumentException("linearAct: " + act + " normalises over the batch; run linear, then its own op");
        }
    }

    /** dx = dy W^T (=, skipped when dx is null), dW += x^T dy, db += sum_rows dy. */
    void linearBackward(Tensor dx, Tensor dW, Tensor db, Tensor dy, Tensor x, Tensor W, int B, int in, int out);

    /**
     * Batch normalisation over the B rows, per channel, with affine gamma/beta.
     * Training: normalise with the batch mean and biased variance, save them as mean/invStd, and
     * update running = m * running + (1 - m) * batch (running variance unbiased, B/(B-1)).
     * Inference: normalise with the running statistics (also written to mean/invStd).
     * <pre>y, x (B, C); mean, invStd, gamma, beta, runMean, runVar (C)</pre>
     */
    void batchNorm(Tensor y, Tensor mean, Tensor invStd, Tensor x, Tensor gamma, Tensor beta,
                   Tensor runMean, Tensor runVar, int B, int C, boolean training, float momentum, float eps);

    /** Backward of training-mode batch norm, through the batch statistics: dx =, dGamma +=, dBeta +=. */
    void batchNormBackward(Tensor dx, Tensor dGamma, Tensor dBeta, Tensor dy, Tensor mean, Tensor invStd, Tensor x, Tensor gamma, int B, int C);

    /**
     * {@link #batchNorm} over the first n = rows[0] of the B rows only (rows: one int in device
     * memory, 0 &lt;= n &lt;= B; null: all B). Rows past n get y unspecified but finite when x is.
     * For steps whose row count varies from batch to batch but whose launches must not (a CUDA
     * graph per padded size: DIEN's auxiliary pairs). By default the op on n rows.
     */
    default void batchNorm(Tensor y, Tensor mean, Tensor invStd, Tensor x, Tensor gamma, Tensor beta, Tensor runMean, Tensor runVar,
                           int B, int C, boolean training, float momentum, float eps, Tensor rows) {
        batchNorm(y, mean, invStd, x, gamma, beta, runMean, runVar, rows == null ? B : rowCount(rows, B), C, training, momentum, eps);
    }

    /** {@link #batchNormBackward} over the first n = rows[0] rows (null: all B); dx = 0 for the rows past n. */
    default void batchNormBackward(Tensor dx, Tensor dGamma, Tensor dBeta, Tensor dy, Tensor mean, Tensor invStd, Tensor x, Tensor gamma,
                                   int B, int C, Tensor rows) {
        if (rows == null) {
            batchNormBackward(dx, dGamma, dBeta, dy, mean, invStd, x, gamma, B, C);
            return;
        }
        fill(dx, 0f, B * C);
        batchNormBackward(dx, dGamma, dBeta, dy, mean, invStd, x, gamma, rowCount(rows, B), C);
    }

    /**
     * A row count in device memory (one int), as the row-count variants of ops read it; checked
     * against B. By default through {@link #readInt}.
     */
    private int rowCount(Tensor rows, int B) {
        int n = readInt(rows);
        if (n < 0 || n > B) throw new IllegalArgumentException(rows.name() + " says " + n + " rows, outside [0, " + B + "]");
        return n;
    }

    /** t[0] of an int tensor, waiting for pending work. */
    int readInt(Tensor t);

    /** y = x > 0 ? x : alpha[c] x.  y, x (B, C), alpha (C). */
    void prelu(Tensor y, Tensor x, Tensor alpha, int B, int C);

    /** dx = (x > 0 ? 1 : alpha) dy (=), dAlpha += sum_rows (x > 0 ? 0 : x) dy. */
    void preluBackward(Tensor dx, Tensor dAlpha, Tensor dy, Tensor x, Tensor alpha, int B, int C);

    /**
     * Dice: p = sigmoid((x - mean) * invStd), y = p x + (1 - p) alpha x, per channel; statistics as
     * in {@link #batchNorm} (no affine part).
     */
    void dice(Tensor y, Tensor mean, Tensor invStd, Tensor x, Tensor alpha, Tensor runMean, Tensor runVar,
              int B, int C, boolean training, float momentum, float eps);

    /** Backward of training-mode Dice, through the batch statistics: dx =, dAlpha +=. */
    void diceBackward(Tensor dx, Tensor dAlpha, Tensor dy, Tensor mean, Tensor invStd, Tensor x, Tensor alpha, int B, int C);

    /** y = sigmoid(x), elementwise over n. */
    void sigmoid(Tensor y, Tensor x, int n);

    /** dx = dy * y * (1 - y) (=). */
    void sigmoidBackward(Tensor dx, Tensor dy, Tensor y, int n);

    // ---------------------------------------------------------------- the top tower

    /** {@link #towerForward(Tower, Tensor, int, boolean, Tensor, Tower.Loss)} over all B rows, without the loss. */
    default Tensor towerForward(Tower t, Tensor x, int B, boolean training) {
        return towerForward(t, x, B, training, null, null);
    }

    /**
     * The top tower's forward over the first B rows of x (B, norm.channels): the BatchNorm, each
     * hidden layer's linear and activation, then the logit layer; returns head.pre, the logits
     * (B, 1). Every tensor the tower names is left as these ops leave it, but the gradient buffers.
     * rows: the BatchNorm's row count in device memory (null: all B; see {@link #batchNorm}); with
     * {@code loss}, then {@link #bceWithLogits} on the logits (over the same rows), so that a backend
     * may compute the loss with them. By default the ops one by one, which is the specification;
     * the CUDA backend runs each hidden layer with its activation (the first also with the
     * BatchNorm, the top one with the logits and the loss) as one launch at small batches.
     */
    default Tensor towerForward(Tower t, Tensor x, int B, boolean training, Tensor rows, Tower.Loss loss) {
        Tower.Norm n = t.norm();
        batchNorm(n.y(), n.mean(), n.invStd(), x, n.gamma(), n.beta(), n.runMean(), n.runVar(), B, n.channels(), training, n.momentum(), n.eps(), rows);
        Tensor h = n.y();
        for (Tower.Layer l : t.hidden()) {
            if (l.act() == Activation.DICE) {
                linear(l.pre(), h, l.weight(), l.bias(), B, l.in(), l.width());
                dice(l.out(), l.mean(), l.invStd(), l.pre(), l.alpha(), l.runMean(), l.runVar(), B, l.width(), training, l.momentum(), l.eps());
            } else {
                linearAct(l.pre(), l.out(), h, l.weight(), l.bias(), l.act(), l.alpha(), B, l.in(), l.width());
            }
            h = l.out();
        }
        Tower.Layer head = t.head();
        if (loss != null) logitsAndLoss(head, h, B, loss, rows);
        else linear(head.pre(), h, head.weight(), head.bias(), B, head.in(), 1);
        return head.pre();
    }

    /**
     * The tower's logit layer and the loss: head.pre (B, 1) = h (B, head.in) head.weight + head.bias, then
     * {@link #bceWithLogits} on those logits over the first rows[0] of the B rows (null: all B). By default the two
     * ops; the CUDA backend computes the logits in the loss's launch.
     */
    default void logitsAndLoss(Tower.Layer head, Tensor h, int B, Tower.Loss loss, Tensor rows) {
        linear(head.pre(), h, head.weight(), head.bias(), B, head.in(), 1);
        bceWithLogits(loss.loss(), loss.dLogits(), head.pre(), loss.labels(), B, loss.scale(), rows);
    }

    /**
     * The logit layer's backward and the backward of the Dice layer below it (top, the tower's last hidden layer), from
     * dLogits (B, 1): head.dWeight and head.dBias (+=) from dLogits and top.out; top's gradient at its output, dLogits
     * head.weight^T; then Dice's backward of it into top.dPre (=) and top.dAlpha (+=). By default the two ops (which also
     * fill top.dOut); the CUDA backend takes both in the Dice backward's launch, the gradient at top's output made
     * row by row where it is used (top.dOut is then left as it was).
     */
    default void logitsDiceBackward(Tower.Layer head, Tower.Layer top, Tensor dLogits, int B) {
        linearBackward(top.dOut(), head.dWeight(), head.dBias(), dLogits, top.out(), head.weight(), B, head.in(), 1);
        diceBackward(top.dPre(), top.dAlpha(), top.dOut(), top.mean(), top.invStd(), top.pre(), top.alpha(), B, top.width());
    }

    /** {@link #towerBackward(Tower, Tensor, Tensor, Tensor, int, Tensor)} over all B rows. */
    default void towerBackward(Tower t, Tensor dx, Tensor dLogits, Tensor x, int B) {
        towerBackward(t, dx, dLogits, x, B, null);
    }

    /**
     * The backward of the last training {@link #towerForward} from dLogits (B, 1): dx (=), the
     * gradient at x; every parameter gradient (+=) and each layer's dPre (=). rows: as the forward's
     * (dx = 0 past the count; every other layer is row by row, and its rows past the count get
     * zero gradients where dLogits is zero there). By default the ops one by one (which also fill
     * the dOut buffers and norm.dy; a fused backward need not).
     */
    default void towerBackward(Tower t, Tensor dx, Tensor dLogits, Tensor x, int B, Tensor rows) {
        java.util.List<Tower.Layer> hidden = t.hidden();
        Tower.Layer head = t.head();
        Tensor upstream = dLogits;
        // a last hidden layer of Dice takes the logit layer's backward with its own (logitsDiceBackward)
        boolean headIntoDice = !hidden.isEmpty() && hidden.get(hidden.size() - 1).act() == Activation.DICE;
        for (int i = hidden.size(); i >= 0; i--) {
            Tower.Layer l = i == hidden.size() ? head : hidden.get(i);
            if (i == hidden.size() && headIntoDice) {
                logitsDiceBackward(head, hidden.get(i - 1), dLogits, B);
                continue;
            }
            if (i < hidden.size()) {   // a hidden layer: its activation's backward first
                if (!(headIntoDice && i == hidden.size() - 1))
                    switch (l.act()) {
                        case SIGMOID -> sigmoidBackward(l.dPre(), l.dOut(), l.out(), B * l.width());
                        case PRELU -> preluBackward(l.dPre(), l.dAlpha(), l.dOut(), l.pre(), l.alpha(), B, l.width());
                        case DICE -> diceBackward(l.dPre(), l.dAlpha(), l.dOut(), l.mean(), l.invStd(), l.pre(), l.alpha(), B, l.width());
                    }
                upstream = l.dPre();
            }
            Tensor input = i == 0 ? t.norm().y() : hidden.get(i - 1).out();
            Tensor dInput = i == 0 ? t.norm().dy() : hidden.get(i - 1).dOut();
            linearBackward(dInput, l.dWeight(), l.dBias(), upstream, input, l.weight(), B, l.in(), l.width());
        }
        Tower.Norm n = t.norm();
        batchNormBackward(dx, n.dGamma(), n.dBeta(), n.dy(), n.mean(), n.invStd(), x, n.gamma(), B, n.channels(), rows);
    }

    // ---------------------------------------------------------------- attention

    /**
     * The activation unit (DESIGN.md §3): for every valid position t < lengths[b],
     * score[b, t] = MLP([q_b, k_bt, q_b - k_bt, q_b * k_bt]) with hidden layers spec.h1, spec.h2
     * (activation spec.activation) and one linear output; padded positions get weight exactly 0;
     * with spec.softmax the scores are normalised over the valid positions. Then
     * out[b, :] = sum_t weight[b, t] k_bt (skipped when out is null).
     * <pre>
     * out     (B, W) or null       weights (B, T)   written: the weights used (0 when padded)
     * query   (B, W)               keys (B, T, W)   lengths (B)
     * </pre>
     * W = spec.width. Dice in the unit normalises over all valid positions of the batch.
     */
    void activationUnit(Tensor out, Tensor weights, Workspace ws, Tensor query, Tensor keys, Tensor lengths,
                        AttentionParams params, AttentionSpec spec, int B, int T, boolean training);

    /**
     * Backward of {@link #activationUnit}. Incoming gradients: dOut (B, W) for the pooled output
     * and/or dWeights (B, T) for the weights themselves (either may be null). dQuery and dKeys are
     * added to (+=): both activations have other consumers (the feature vector, the sum pool).
     * Parameter gradients go into grads (+=).
     */
    void activationUnitBackward(Tensor dQuery, Tensor dKeys, AttentionParams grads, Tensor dOut, Tensor dWeights,
                                Tensor weights, Workspace ws, Tensor query, Tensor keys, Tensor lengths,
                                AttentionParams params, AttentionSpec spec, int B, int T);

    /**
     * DIN's interest block as one op: {@link #activationUnit}(out, weights, ...) over the history
     * (keys) for the candidate (query), then {@link #pooledInterestConcat}(x, s, query, keys,
     * lengths, out): x[:, off:off + 4W] = [query, s, query * s, out] with s the history's sum pool
     * (written: the backward reads it). W = spec.width(). By default the two ops; the CUDA backend
     * writes the block from the unit's pooling launch.
     */
    default void attentionInterest(Tensor x, Tensor s, Tensor out, Tensor weights, Workspace ws, Tensor query, Tensor keys, Tensor lengths,
                                   AttentionParams params, AttentionSpec spec, int B, int T, boolean training, int xStride, int off) {
        int W = spec.width();
        activationUnit(out, weights, ws, query, keys, lengths, params, spec, B, T, training);
        pooledInterestConcat(x, s, query, keys, lengths, out, B, T, W, W, xStride, off);
    }

    /**
     * Backward of {@link #attentionInterest} from dx: dQuery and dKeys (=, dKeys at the valid
     * positions t &lt; lengths[b]), the unit's parameter gradients (+=). By default
     * {@link #pooledInterestConcatBackward} (which also writes dS, dOut and dKeys' padded positions
     * as 0), then {@link #activationUnitBackward}; a backend that fuses them may leave dS, dOut and
     * the padded positions of dKeys unwritten (no consumer reads them: the gathers' backward skips
     * padded positions).
     */
    default void attentionInterestBackward(Tensor dQuery, Tensor dKeys, Tensor dS, Tensor dOut, AttentionParams grads, Tensor dx, Tensor s,
                                           Tensor weights, Workspace ws, Tensor query, Tensor keys, Tensor lengths, AttentionParams params,
                                           AttentionSpec spec, int B, int T, int xStride, int off) {
        int W = spec.width();
        pooledInterestConcatBackward(dQuery, dS, dKeys, dOut, dx, query, s, lengths, B, T, W, W, xStride, off);
        activationUnitBackward(dQuery, dKeys, grads, dOut, null, weights, ws, query, keys, lengths, params, spec, B, T);
    }

    /**
     * {@link #attentionInterestBackward}, then {@link #embeddingGatherBackward}(lookups): the step's lookups' backward,
     * some of which read dQuery and dKeys. By default the two ops; the CUDA backend adds the lookups' gradients in the
     * launch that sums the unit's partial gradients, those that read dQuery from its elements as they are written.
     */
    default void attentionInterestBackward(Tensor dQuery, Tensor dKeys, Tensor dS, Tensor dOut, AttentionParams grads, Tensor dx, Tensor s,
                                           Tensor weights, Workspace ws, Tensor query, Tensor keys, Tensor lengths, AttentionParams params,
                                           AttentionSpec spec, int B, int T, int xStride, int off, java.util.List<Gather> lookups) {
        attentionInterestBackward(dQuery, dKeys, dS, dOut, grads, dx, s, weights, ws, query, keys, lengths, params, spec, B, T, xStride, off);
        embeddingGatherBackward(lookups);
    }

    // ---------------------------------------------------------------- recurrence

    /**
     * A GRU-family recurrence over each sample's valid positions (DESIGN.md §3), h_{-1} = 0; for
     * t &lt; lengths[b], with x_t = x[b, t, :], a_t = att[b, t] and the parameter columns [u, r, n]:
     * <pre>
     *   u_t = sigmoid(x_t Wx_u + bx_u + h_{t-1} Wh_u + bh_u)
     *   r_t = sigmoid(x_t Wx_r + bx_r + h_{t-1} Wh_r + bh_r)
     *   n_t = tanh(x_t Wx_n + bx_n + r_t * (h_{t-1} Wh_n + bh_n))
     *   GRU:   h_t = (1 - u_t) * h_{t-1} + u_t * n_t
     *   AUGRU: h_t = (1 - a_t u_t) * h_{t-1} + a_t u_t * n_t
     *   AGRU:  h_t = (1 - a_t) h_{t-1} + a_t n_t          (u_t unused)
     * </pre>
     * Positions t &gt;= lengths[b] are neither computed nor read: the recurrence stops at each
     * sample's length, and x and att there may hold anything.
     * <pre>
     * hOut    (B, T, H) or null   written: h_t for t &lt; len, exactly 0 for t &gt;= len
     * hLast   (B, H) or null      written: h_{len-1}, 0 when len = 0
     * x       (B, T, E)           att (B, T), null for GRU      lengths (B), 0 &lt;= len &lt;= T
     * p       wx (E, 3H), wh (H, 3H), bx (3H), bh (3H)
     * </pre>
     * The workspace receives what the backward needs (the gates and the hidden states).
     */
    void recurrence(Tensor hOut, Tensor hLast, Workspace ws, Tensor x, Tensor att, Tensor lengths, RecurrenceParams p,
                    Recurrence kind, int B, int T, int E, int H);

    /**
     * Backward of {@link #recurrence}, after the forward of the same batch filled {@code ws}.
     * Incoming gradients: dHOut (B, T, H) for every state and/or dHLast (B, H) for the last one
     * (either may be null; dHOut at padded positions is ignored). dx (B, T, E) and dAtt (B, T) are
     * overwritten (=), 0 at padded positions; dAtt is null for GRU. Parameter gradients go into
     * grads (+=).
     */
    void recurrenceBackward(Tensor dx, Tensor dAtt, RecurrenceParams grads, Tensor dHOut, Tensor dHLast, Workspace ws,
                            Tensor x, Tensor att, Tensor lengths, RecurrenceParams p, Recurrence kind, int B, int T, int E, int H);

    // ---------------------------------------------------------------- loss

    /**
     * Binary cross-entropy on logits, numerically stable, averaged over B; writes loss[0] and
     * dLogits = scale * (sigmoid(z) - y) / B (=). labels are 0/1 as floats.
     */
    void bceWithLogits(Tensor loss, Tensor dLogits, Tensor logits, Tensor labels, int B, float scale);

    /** {@link #bceWithLogits} over the first n = rows[0] of the B rows (null: all B): the mean over n, dLogits = 0 past n. */
    default void bceWithLogits(Tensor loss, Tensor dLogits, Tensor logits, Tensor labels, int B, float scale, Tensor rows) {
        if (rows == null) {
            bceWithLogits(loss, dLogits, logits, labels, B, scale);
            return;
        }
        fill(dLogits, 0f, B);
        bceWithLogits(loss, dLogits, logits, labels, rowCount(rows, B), scale);
    }

    // ---------------------------------------------------------------- dense optimizer

    /**
     * Adam (Kingma and Ba) on n values with bias correction at 1-based step {@code step};
     * weightDecay adds weightDecay * p to the gradient (L2, not decoupled). Does not clear grad.
     */
    void adam(Tensor param, Tensor grad, Tensor m, Tensor v, int n, float lr, float beta1, float beta2, float eps,
              float weightDecay, int step);

    /**
     * {@link #adam} on each dense parameter of the list (value, grad, state1 = m, state2 = v, its
     * whole size) with the same settings; a backend may fuse them into one launch. The result is
     * the same as the calls one by one, bit for bit.
     */
    default void adam(java.util.List<Param> params, float lr, float beta1, float beta2, float eps, float weightDecay, int step) {
        for (Param p : params) adam(p.value(), p.grad(), p.state1(), p.state2(), p.value().size(), lr, beta1, beta2, eps, weightDecay, step);
    }

    /**
     * One optimizer step over a model: {@link #sparseUpdate}(tables, sparse, step) when there are
     * tables, then {@link #adam}(dense, ...) when there are dense parameters (they share no
     * tensor). By default the two ops; a backend may do both in one launch, with the same results.
     */
    default void optimizerStep(java.util.List<TableUpdate> tables, SparseOptimizer sparse, java.util.List<Param> dense, float lr, float beta1,
                               float beta2, float eps, float weightDecay, int step) {
        if (!tables.isEmpty()) sparseUpdate(tables, sparse, step);
        if (!dense.isEmpty()) adam(dense, lr, beta1, beta2, eps, weightDecay, step);
    }

    @Override
    void close();

    /**
     * Asks for the arithmetic of the matrix products ({@link Precision}) from the next operation on;
     * returns what this backend will use. The CPU backends compute in fp32 whatever is asked.
     */
    default Precision setPrecision(Precision asked) {
        return Precision.FP32;
    }

    /** The arithmetic of the matrix products now in use. */
    default Precision precision() {
        return Precision.FP32;
    }

    /** Free device memory in bytes, or -1 for a backend that computes in host memory. */
    default long deviceFreeBytes() {
        return -1;
    }
}
