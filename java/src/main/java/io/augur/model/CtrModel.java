package io.augur.model;

import io.augur.backend.Backend;
import io.augur.backend.Param;
import io.augur.backend.Tensor;
import io.augur.backend.cuda.Nvtx;
import io.augur.config.ModelConfig;

import java.util.ArrayList;
import java.util.List;

/**
 * What BaseModel, DIN and DIEN share, written once against {@link Backend}:
 * <pre>
 *   u    = [emb(field_f)]_f             profile fields (user_id first)      F_p = D * fields
 *   e_a  = [item_emb(item), cate_emb(cate)]                                 E = 2D
 *   e_t  = the same for each history position, 0 at padded positions       (B, T, E)
 *   s    = sum_{t &lt; len} e_t
 *   x    = [u, e_a, s, e_a * s, interest...]   the interest part is the subclass's
 *   logit = MLP(x)   BatchNorm -&gt; hidden layers with Dice/PReLU -&gt; 1
 * </pre>
 * Every buffer is planned here for batches of up to maxB samples; a step allocates nothing.
 * Gradient flow into e_a and e_t: {@code pooledInterestConcatBackward} (the interest block's and
 * the sum pool's backward) writes them (=), then the subclass's interest backward adds to them (+=).
 */
public abstract class CtrModel {
    protected final Backend be;
    protected final ModelConfig cfg;
    protected final Features features;
    protected final ParamStore ps;
    public final int maxB, T, D, E;
    /** The largest training batch (buffers used only in training, like DIEN's auxiliary network, are planned for it). */
    public final int maxTrainB;
    /** Width of the profile block of x. */
    protected final int profileWidth;
    /** Width of x. */
    public final int xWidth;

    public final DeviceBatch batch;
    public final Param[] profileEmb;
    public final Param itemEmb, cateEmb;

    protected final Tensor x, ea, hist, s;       // (maxB, F), (maxB, E), (maxB*T, E), (maxB, E)
    protected final Tensor dx, dEa, dHist, dS;   // gradients of the same
    protected final Layers.Mlp mlp;
    protected final Tensor loss, dLogits, prob;  // (1), (maxB), (maxB)
    /** The training loss as the tower computes it with the logits (lossForward's BCE). */
    private final io.augur.backend.Tower.Loss bce;
    private Tensor logits;
    private double lastAux = Double.NaN;
    /** NVTX ranges of a training step's parts, and of the host's wait for a step's loss (Nvtx). */
    private static final Nvtx.Range FORWARD = Nvtx.range("forward", Nvtx.STEP), BACKWARD = Nvtx.range("backward", Nvtx.STEP),
            UPDATE = Nvtx.range("update", Nvtx.STEP), WAIT_FOR_STEP = Nvtx.range("wait for step", Nvtx.WAIT);
    private static final java.util.concurrent.atomic.AtomicInteger INSTANCES = new java.util.concurrent.atomic.AtomicInteger();
    /** Tells this model's step keys from another's on the same backend. */
    private final int instance = INSTANCES.incrementAndGet();

    protected CtrModel(Backend be, ModelConfig cfg, Features features, int maxB, long seed, boolean withNegatives) {
        this(be, cfg, features, maxB, maxB, seed, withNegatives);
    }

    /**
     * @param maxB          the largest batch of any kind (training or evaluation)
     * @param maxTrainB     the largest training batch, at most maxB
     * @param withNegatives whether batches carry negative behaviours (DIEN's auxiliary loss)
     */
    protected CtrModel(Backend be, ModelConfig cfg, Features features, int maxB, int maxTrainB, long seed, boolean withNegatives) {
        if (maxTrainB < 1 || maxTrainB > maxB) throw new IllegalArgumentException("training batch " + maxTrainB + " outside [1, " + maxB + "]");
        this.maxTrainB = maxTrainB;
        this.be = be;
        this.cfg = cfg;
        this.features = features;
        this.maxB = maxB;
        this.T = features.T();
        this.D = cfg.embDim();
        this.E = 2 * D;
        this.ps = new ParamStore(be, seed);
        int fields = features.profile().size();
        this.profileWidth = fields * D;
        this.xWidth = profileWidth + 3 * E + interestWidth();

        batch = new DeviceBatch(ps, maxB, T, fields, withNegatives);
        int lookupsPerStep = maxB * (T + 1) * (withNegatives ? 2 : 1);
        profileEmb = new Param[fields];
        for (int f = 0; f < fields; f++) {
            Features.Field fd = features.profile().get(f);
            profileEmb[f] = ps.embedding("emb." + fd.vocab(), fd.vocabSize(), D, maxB, cfg.embInitStd());
        }
        itemEmb = ps.embedding("emb.item", features.itemVocab(), D, lookupsPerStep, cfg.embInitStd());
        cateEmb = ps.embedding("emb.cate", features.cateVocab(), D, lookupsPerStep, cfg.embInitStd());

        x = ps.activation("x", maxB, xWidth);
        ea = ps.activation("e_a", maxB, E);
        hist = ps.activation("hist", maxB * T, E);
        s = ps.activation("s", maxB, E);
        dx = ps.activation("x.grad", maxB, xWidth);
        dEa = ps.activation("e_a.grad", maxB, E);
        dHist = ps.activation("hist.grad", maxB * T, E);
        dS = ps.activation("s.grad", maxB, E);
        buildInterest(ps);
        mlp = new Layers.Mlp(ps, "mlp", xWidth, cfg.mlpHidden(), cfg.topActivation(), maxB, cfg.momentum(), cfg.bnEps(), cfg.diceEps());
        loss = ps.activation("loss", 1);
        dLogits = ps.activation("logits.grad", maxB);
        prob = ps.activation("prob", maxB);
        bce = new io.augur.backend.Tower.Loss(batch.labels, loss, dLogits, 1f);
    }

    /** Width of the subclass's interest block in x (0 for the baseline). */
    protected abstract int interestWidth();

    /** Creates the subclass's parameters and buffers (called from the constructor). */
    protected abstract void buildInterest(ParamStore ps);

    /** Writes [e_a, s, e_a * s, interest...] into x from column profileWidth on. */
    protected abstract void interestForward(int B, boolean training);

    /** From dx: writes dEa and dS (=), and adds the interest block's share to dEa and dHist. */
    protected abstract void interestBackward(int B);

    /** Further lookups of this forward, joining the fields' lookups in one call (DIEN's negative behaviours). */
    protected void addGathers(List<Backend.Gather> gathers, int B, boolean training) { }

    /**
     * Whether anything of this model reads the history's embeddings (hist) at padded positions: if not, its lookups may
     * leave those rows unwritten ({@link Backend.Gather#paddingLeft}). True here, the safe answer: the sum pool reads the
     * valid positions, but DIEN's recurrence and a layer-by-layer unit may read all of them.
     */
    protected boolean historyPaddingRead() { return true; }

    /** Further lookup backwards of this step, after interestBackward produced their gradients; they go first in the list. */
    protected void addGatherGrads(List<Backend.Gather> grads, int B) { }

    /**
     * Extra loss terms of the subclass (DIEN's auxiliary loss), computed on the device after the
     * main loss of a training forward, nothing read back. Their backward runs inside
     * {@link #interestBackward}.
     */
    protected void auxiliaryLossForward(int B) { }

    /** The unweighted auxiliary loss {@link #readLoss} last read, or NaN when the model has none. */
    public double lastAuxLoss() { return lastAux; }

    public abstract String name();

    public Backend backend() { return be; }
    public ModelConfig config() { return cfg; }
    public Features features() { return features; }
    public List<Param> params() { return ps.all(); }
    public Param param(String name) { return ps.get(name); }
    public long activationBytes() { return ps.activationBytes(); }

    /** All embedding tables with the vocabulary each indexes. */
    public List<Param> embeddingTables() {
        List<Param> out = new ArrayList<>();
        for (Param p : ps.all()) if (p.kind() == Param.Kind.EMBEDDING) out.add(p);
        return out;
    }

    /** Forward pass over the loaded batch; returns the logits (maxB, 1), valid for the first B rows. */
    public Tensor forward(boolean training) {
        return forward(training, false, List.of());
    }

    /**
     * withLoss: a training forward that also computes the loss and dLogits ({@link #lossForward}'s
     * BCE) with the logits; cleared: tensors zeroed with the lookups (a training step's dense gradients).
     */
    private Tensor forward(boolean training, boolean withLoss, List<Tensor> cleared) {
        int B = batch.size();
        List<Backend.Gather> gathers = new ArrayList<>(profileEmb.length + 4);
        for (int f = 0; f < profileEmb.length; f++) {
            gathers.add(Backend.Gather.forward(x, batch.profile[f], null, profileEmb[f].value(), B, 1, D, xWidth, f * D));
        }
        gathers.add(Backend.Gather.forward(ea, batch.items, null, itemEmb.value(), B, 1, D, E, 0));
        gathers.add(Backend.Gather.forward(ea, batch.cates, null, cateEmb.value(), B, 1, D, E, D));
        Backend.Gather histItems = Backend.Gather.forward(hist, batch.histItems, batch.lengths, itemEmb.value(), B * T, T, D, E, 0);
        Backend.Gather histCates = Backend.Gather.forward(hist, batch.histCates, batch.lengths, cateEmb.value(), B * T, T, D, E, D);
        boolean padding = historyPaddingRead();
        gathers.add(padding ? histItems : histItems.paddingLeft());
        gathers.add(padding ? histCates : histCates.paddingLeft());
        addGathers(gathers, B, training);
        be.embeddingGather(gathers, cleared);
        interestForward(B, training);   // its concat pools the history into s
        logits = withLoss ? mlp.forwardWithLoss(be, x, B, bce) : mlp.forward(be, x, B, training);
        return logits;
    }

    /** Loss of the last forward (binary cross-entropy, mean over the batch) and dLogits; returns it. */
    public float loss() {
        lossForward();
        return readLoss();
    }

    /** {@link #loss()} without reading it back (inside a step run by {@link Backend#runStep}). */
    public void lossForward() {
        int B = batch.size();
        be.bceWithLogits(loss, dLogits, logits, batch.labels, B, 1f);
        auxiliaryLossForward(B);
    }

    /** The loss {@link #lossForward()} computed (waits for the device); later ops do not change it. */
    public float readLoss() {
        StepLoss l = issuedLoss();
        float v = l.loss();
        lastAux = l.auxLoss();
        return v;
    }

    /** The losses of the step just issued, to be read later. */
    private StepLoss issuedLoss() {
        return new StepLoss(be.readLater(loss), auxiliaryLossLater(), auxiliaryWeight());
    }

    /**
     * One training step on the loaded batch: zeroed gradients, forward, loss, backward and the
     * optimizer's update ({@code update}), all device work, run through {@link Backend#runStep}
     * (a CUDA graph per batch size on the GPU); returns the loss.
     */
    public float trainStep(Runnable update) {
        issueTrainStep(update);
        return readLoss();
    }

    private void issueTrainStep(Runnable update) {
        be.runStep(stepKey("train", batch.size()), () -> {
            try (Nvtx.Scope r = FORWARD.open()) {
                forward(true, true, denseGrads());   // the gradients zeroed with the lookups; lossForward's BCE with the logits
                auxiliaryLossForward(batch.size());
            }
            try (Nvtx.Scope r = BACKWARD.open()) {
                backward();
            }
            try (Nvtx.Scope r = UPDATE.open()) {
                update.run();
            }
        });
    }

    /**
     * {@link #trainStep} without waiting for the device: the step is issued and its loss is read
     * when asked for, so the caller can load and issue the next batch first (the device never
     * waits for the host's read-back). The batch tensors may be reloaded at once: the copies of
     * the next batch are ordered after this step on the device.
     */
    public StepLoss trainStepLater(Runnable update) {
        issueTrainStep(update);
        return issuedLoss();
    }

    /** The unweighted auxiliary loss of the step just issued, read later (NaN when the model has none). */
    protected java.util.function.DoubleSupplier auxiliaryLossLater() { return () -> Double.NaN; }

    /** The weight of {@link #auxiliaryLossLater} in the total loss. */
    protected double auxiliaryWeight() { return 0; }

    /**
     * The losses of a step issued by {@link #trainStepLater}; reading one waits for the step.
     * {@link #loss()} is what {@link #trainStep} returns: the CTR loss plus the weighted auxiliary
     * loss (when there is one).
     */
    public static final class StepLoss {
        private final java.util.function.DoubleSupplier ce, aux;
        private final double auxWeight;

        public StepLoss(java.util.function.DoubleSupplier ce, java.util.function.DoubleSupplier aux, double auxWeight) {
            this.ce = ce;
            this.aux = aux;
            this.auxWeight = auxWeight;
        }

        public float loss() {
            try (Nvtx.Scope r = WAIT_FOR_STEP.open()) {
                double a = aux.getAsDouble();
                return (float) ce.getAsDouble() + (Double.isNaN(a) ? 0f : (float) (auxWeight * a));
            }
        }

        /** The unweighted auxiliary loss, NaN without one. */
        public double auxLoss() { return aux.getAsDouble(); }
    }

    /** An inference forward of the loaded batch through {@link Backend#runStep}, then its probabilities into out[0:B]. */
    public void predictStep(float[] out) {
        predictStepLater(out).run();
    }

    /**
     * {@link #predictStep} without waiting: the forward and the sigmoid are issued (one CUDA graph
     * on the GPU) and out[0:B] is filled by the time the returned Runnable has run, so the caller
     * can load and issue the next batch first.
     */
    public Runnable predictStepLater(float[] out) {
        int B = batch.size();
        be.runStep(stepKey("eval", B), () -> {
            forward(false);
            be.sigmoid(prob, logits, B);
        });
        return be.downloadLater(prob, out, B);
    }

    /** The {@link Backend#runStep} key of this model's steps of one kind ("train", "eval") and batch size. */
    public String stepKey(String kind, int B) {
        return name() + "#" + instance + "/" + kind + "/" + B;
    }

    /** Backward of the last forward and {@link #loss()}; parameter gradients are added to. */
    public void backward() {
        int B = batch.size();
        mlp.backward(be, dx, dLogits, x, B);
        interestAndLookupsBackward(B);
    }

    /**
     * The interest block's backward ({@link #interestBackward}), then the lookups' ({@link #lookupsBackward}); a model
     * whose backend op takes both at once overrides this.
     */
    protected void interestAndLookupsBackward(int B) {
        interestBackward(B);
        be.embeddingGatherBackward(lookupsBackward(B));
    }

    /**
     * The lookups' backwards of this step, in the order a backend that adds them one by one takes them: the model's own
     * ({@link #addGatherGrads}) first, then the profile's fields, the candidate's and the history's.
     */
    protected List<Backend.Gather> lookupsBackward(int B) {
        List<Backend.Gather> grads = new ArrayList<>(profileEmb.length + 6);
        addGatherGrads(grads, B);   // first: where the backend adds one by one, in the order the model's backward produced them
        for (int f = 0; f < profileEmb.length; f++) {
            grads.add(Backend.Gather.backward(profileEmb[f].sparseGrad(), dx, batch.profile[f], null, B, 1, D, xWidth, f * D));
        }
        grads.add(Backend.Gather.backward(itemEmb.sparseGrad(), dEa, batch.items, null, B, 1, D, E, 0));
        grads.add(Backend.Gather.backward(cateEmb.sparseGrad(), dEa, batch.cates, null, B, 1, D, E, D));
        grads.add(Backend.Gather.backward(itemEmb.sparseGrad(), dHist, batch.histItems, batch.lengths, B * T, T, D, E, 0));
        grads.add(Backend.Gather.backward(cateEmb.sparseGrad(), dHist, batch.histCates, batch.lengths, B * T, T, D, E, D));
        return grads;
    }

    /** Sets every dense gradient to zero (sparse gradients are cleared by their update). */
    public void zeroGrads() {
        be.zero(denseGrads());
    }

    private List<Tensor> denseGrads() {
        if (denseGrads == null || denseGradsOf != ps.size()) {
            denseGrads = ps.all().stream().filter(p -> p.kind() == Param.Kind.DENSE).map(Param::grad).toList();
            denseGradsOf = ps.size();
        }
        return denseGrads;
    }

    /** The dense gradients, in parameter order, and the parameter count they were listed from. */
    private List<Tensor> denseGrads;
    private int denseGradsOf;

    // ------------------------------------------------ helpers for the subclasses

    /**
     * The shared part of the interest block: s = the history's sum pool, then [e_a, s, e_a * s]
     * (+ v) at column profileWidth (one op: {@link Backend#pooledInterestConcat}).
     */
    protected void concat(Tensor v, int B) {
        be.pooledInterestConcat(x, s, ea, hist, batch.lengths, v, B, T, E, v == null ? 0 : interestWidth(), xWidth, profileWidth);
    }

    /** Backward of {@link #concat}: dEa, dS, dV (=), and dHist (=) from the sum pool. */
    protected void concatBackward(Tensor dV, int B) {
        be.pooledInterestConcatBackward(dEa, dS, dHist, dV, dx, ea, s, batch.lengths, B, T, E, dV == null ? 0 : interestWidth(), xWidth, profileWidth);
    }
}
