package io.augur.model;

import io.augur.backend.Activation;
import io.augur.backend.Backend;
import io.augur.backend.Recurrence;
import io.augur.backend.Tensor;
import io.augur.config.ModelConfig;

import java.util.List;

/**
 * DIEN (DESIGN.md §3), written against {@link Backend}:
 * <pre>
 *   interest extractor   h_t = GRU(e_t), t &lt; len                                  (B, T, H)
 *   auxiliary loss       aux([h_{t-1}, e_t]) says click, aux([h_{t-1}, ê_t]) no click, 1 &lt;= t &lt; len;
 *                        aux = BatchNorm -&gt; 100 sigmoid -&gt; 50 sigmoid -&gt; 1 logit
 *                        L_aux = (1/P) sum over the P valid pairs of [BCE(click, 1) + BCE(non-click, 0)]
 *   attention            q = PReLU(W_q e_a); a_t = softmax_t MLP_att([q, h_t, q - h_t, q * h_t])
 *   interest evolution   AUGRU (u'_t = a_t u_t), AGRU (a_t replaces u_t) or AIGRU (a GRU over a_t h_t);
 *                        h'_len, the last state                                       (B, H)
 *   x = [u, e_a, s, e_a * s, h'_len]      total loss = CE + alpha_aux * L_aux
 * </pre>
 * The auxiliary network runs on the P pairs of the batch packed into 2P rows (click and non-click
 * rows interleaved), so its BatchNorm statistics are taken over all 2P rows together. It runs in
 * training only; its buffers are planned for {@link #maxTrainB} samples. Every recurrence stops at
 * each sample's length.
 *
 * <p>Gradient flow: the GRU states h receive from the evolution layer (=), then the auxiliary
 * pairs and the attention (+=); e_t receives from the sum pool (=), then the auxiliary pairs and
 * the extractor GRU (+=); e_a from the feature vector (=), then the query projection (+=).
 */
public final class Dien extends CtrModel {
    private int H, rowsMax;
    private ModelConfig.Sequence seq;
    private Layers.Gru extractor, evolution;
    private QueryAttention attention;
    private Tensor h, dH, dGruIn;               // (maxB*T, H), (maxB*T, H), (maxB*T, E)
    private Tensor hLast, dHLast;               // (maxB, H)
    private Tensor scaled, dScaled;             // AIGRU: (maxB*T, H)
    private Tensor negHist, dNegHist;           // (maxTrainB*T, E)
    private Tensor pairs, dPairs;               // (2 maxTrainB (T-1), H+E)
    private Layers.Mlp aux;
    private Tensor auxLabels, auxLoss, dAuxLogits, auxLogits;
    private boolean auxActive;

    public Dien(Backend be, ModelConfig cfg, Features features, int maxB, int maxTrainB, long seed) {
        super(be, cfg, features, maxB, maxTrainB, seed, cfg.sequence().auxWeight() > 0);
    }

    public Dien(Backend be, ModelConfig cfg, Features features, int maxB, long seed) {
        this(be, cfg, features, maxB, maxB, seed);
    }

    @Override
    public String name() { return "dien"; }

    @Override
    protected int interestWidth() { return cfg.sequence().gruHidden(); }

    @Override
    protected void buildInterest(ParamStore ps) {
        seq = cfg.sequence();
        H = seq.gruHidden();
        extractor = new Layers.Gru(ps, "extractor", Recurrence.GRU, E, H, maxB, T);
        attention = new QueryAttention(ps, "att", cfg, E, H, maxB, T);
        Recurrence cell = switch (seq.evolution()) {
            case AUGRU -> Recurrence.AUGRU;
            case AGRU -> Recurrence.AGRU;
            case AIGRU -> Recurrence.GRU;
        };
        evolution = new Layers.Gru(ps, "evolution", cell, H, H, maxB, T);
        h = ps.activation("h", maxB * T, H);
        dH = ps.activation("h.grad", maxB * T, H);
        dGruIn = ps.activation("extractor.x.grad", maxB * T, E);
        hLast = ps.activation("evolution.h_last", maxB, H);
        dHLast = ps.activation("evolution.h_last.grad", maxB, H);
        if (seq.evolution() == ModelConfig.Evolution.AIGRU) {
            scaled = ps.activation("evolution.x", maxB * T, H);
            dScaled = ps.activation("evolution.x.grad", maxB * T, H);
        }
        if (seq.auxWeight() > 0) {
            rowsMax = 2 * maxTrainB * Math.max(T - 1, 1);
            negHist = ps.activation("neg_hist", maxTrainB * T, E);
            dNegHist = ps.activation("neg_hist.grad", maxTrainB * T, E);
            pairs = ps.activation("aux.x", rowsMax, H + E);
            dPairs = ps.activation("aux.x.grad", rowsMax, H + E);
            aux = new Layers.Mlp(ps, "aux", H + E, seq.auxHidden(), Activation.SIGMOID, rowsMax, cfg.momentum(), cfg.bnEps(), cfg.diceEps());
            auxLabels = ps.input("aux.labels", rowsMax);
            float[] labels = new float[rowsMax];
            for (int r = 0; r < rowsMax; r += 2) labels[r] = 1f;   // rows 2p: the click, 2p+1: the non-click
            ps.backend().upload(auxLabels, labels, rowsMax);
            auxLoss = ps.activation("aux.loss", 1);
            dAuxLogits = ps.activation("aux.logits.grad", rowsMax);
        }
    }

    @Override
    protected void interestForward(int B, boolean training) {
        extractor.forward(be, h, null, hist, null, batch.lengths, B, T);
        attention.forward(be, null, ea, h, batch.lengths, B, T, training);
        Tensor a = attention.weights;
        if (seq.evolution() == ModelConfig.Evolution.AIGRU) {
            be.scaleSequence(scaled, h, a, batch.lengths, B, T, H);
            evolution.forward(be, null, hLast, scaled, null, batch.lengths, B, T);
        } else {
            evolution.forward(be, null, hLast, h, a, batch.lengths, B, T);
        }
        concat(hLast, B);

        auxActive = false;
        if (training && seq.auxWeight() > 0) {
            if (B > maxTrainB) throw new IllegalArgumentException("training batch of " + B + " samples; the model was planned for " + maxTrainB);
            if (!batch.hasNegatives()) {
                throw new IllegalStateException("DIEN's auxiliary loss needs a negative behaviour per position; the batch has none"
                        + " (the trainer samples them when the dataset has no neg_hist columns)");
            }
            int P = batch.pairs();
            if (P > 0) {   // negHist was gathered with the other lookups (addGathers)
                be.auxPairs(pairs, h, hist, negHist, batch.pairStart, batch.lengths, B, T, H, E, auxRowsFor(P));
                auxLogits = aux.forward(be, pairs, auxRowsFor(P), true, auxCount());
                auxActive = true;
            }
        }
    }

    @Override
    protected void auxiliaryLossForward(int B) {
        if (!auxActive) return;
        int P = batch.pairs();
        // bceWithLogits averages over its 2P rows; L_aux averages the pair sums over P: twice that mean.
        // scale 2 alpha makes dLogits = alpha (sigmoid(z) - y) / P, the gradient of alpha * L_aux.
        be.bceWithLogits(auxLoss, dAuxLogits, auxLogits, auxLabels, auxRowsFor(P), 2f * seq.auxWeight(), auxCount());
    }

    /**
     * The auxiliary network's rows for P pairs: 2P, or, on a backend that replays fixed-shape steps
     * (CUDA graphs), 2P rounded up to a multiple of max(256, 2P's highest power of two / 8), at
     * most an eighth more, so that a few graphs serve every batch; the rows past 2P are left out
     * by the count in device memory ({@link #auxCount}).
     */
    private int auxRowsFor(int P) {
        int n = 2 * P;
        if (!be.fixedShapeSteps()) return n;
        int q = Math.max(256, Integer.highestOneBit(Math.max(n, 1)) / 8);
        return Math.min(rowsMax, (n + q - 1) / q * q);
    }

    /** The device-side row count of the auxiliary network (2P) when its rows are padded, else null. */
    private Tensor auxCount() {
        return be.fixedShapeSteps() ? batch.auxRows : null;
    }

    /** A training step's key names its padded auxiliary row count too: each count is a graph of its own. */
    @Override
    public String stepKey(String kind, int B) {
        String key = super.stepKey(kind, B);
        if (!kind.equals("train") || seq.auxWeight() <= 0 || !be.fixedShapeSteps() || !batch.hasNegatives()) return key;
        int P = batch.pairs();
        return key + "/aux" + (P > 0 ? auxRowsFor(P) : 0);
    }

    /** The negative behaviours' lookups, when this training step has auxiliary pairs. */
    @Override
    protected void addGathers(List<Backend.Gather> gathers, int B, boolean training) {
        // (a batch past maxTrainB or without negatives fails in interestForward, as before)
        if (!training || seq.auxWeight() <= 0 || B > maxTrainB || !batch.hasNegatives() || batch.pairs() == 0) return;
        gathers.add(Backend.Gather.forward(negHist, batch.negItems, batch.lengths, itemEmb.value(), B * T, T, D, E, 0));
        gathers.add(Backend.Gather.forward(negHist, batch.negCates, batch.lengths, cateEmb.value(), B * T, T, D, E, D));
    }

    @Override
    protected void addGatherGrads(List<Backend.Gather> grads, int B) {
        if (!auxActive) return;
        grads.add(Backend.Gather.backward(itemEmb.sparseGrad(), dNegHist, batch.negItems, batch.lengths, B * T, T, D, E, 0));
        grads.add(Backend.Gather.backward(cateEmb.sparseGrad(), dNegHist, batch.negCates, batch.lengths, B * T, T, D, E, D));
    }

    @Override
    protected java.util.function.DoubleSupplier auxiliaryLossLater() {
        if (!auxActive) {
            double v = seq.auxWeight() > 0 ? 0.0 : Double.NaN;
            return () -> v;
        }
        java.util.function.DoubleSupplier s = be.readLater(auxLoss);
        return () -> 2.0 * (float) s.getAsDouble();
    }

    @Override
    protected double auxiliaryWeight() { return seq.auxWeight(); }

    @Override
    protected void interestBackward(int B) {
        concatBackward(dHLast, B);
        Tensor a = attention.weights, dA = attention.dWeights;
        if (seq.evolution() == ModelConfig.Evolution.AIGRU) {
            evolution.backward(be, dScaled, null, null, dHLast, scaled, null, batch.lengths, B, T);
            be.scaleSequenceBackward(dH, dA, dScaled, h, a, batch.lengths, B, T, H);
        } else {
            evolution.backward(be, dH, dA, null, dHLast, h, a, batch.lengths, B, T);
        }
        if (auxActive) {
            int P = batch.pairs();
            aux.backward(be, dPairs, dAuxLogits, pairs, auxRowsFor(P), auxCount());
            be.auxPairsBackward(dH, dHist, dNegHist, dPairs, batch.pairStart, batch.lengths, B, T, H, E);   // dNegHist's lookups: addGatherGrads
        }
        attention.backward(be, dEa, dH, null, dA, ea, h, batch.lengths, B, T);
        extractor.backward(be, dGruIn, null, dH, null, hist, null, batch.lengths, B, T);
        be.addInto(dHist, dGruIn, B * T * E);
    }

    /** The attention weights a_t of the last forward (maxB, T), for inspection. */
    public Tensor attentionWeights() { return attention.weights; }

    /** The extractor's hidden states of the last forward (maxB * T, H). */
    public Tensor hiddenStates() { return h; }

    /** The evolution layer's last states h'_len of the last forward (maxB, H). */
    public Tensor evolvedInterest() { return hLast; }

    /** The auxiliary logits of the last training forward (2P rows: click, non-click, ...), or null without the auxiliary loss. */
    public Tensor auxLogits() { return auxActive ? auxLogits : null; }
}
