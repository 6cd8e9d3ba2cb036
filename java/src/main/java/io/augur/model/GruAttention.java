package io.augur.model;

import io.augur.backend.Backend;
import io.augur.backend.Recurrence;
import io.augur.backend.Tensor;
import io.augur.config.ModelConfig;

/**
 * The DIEN paper's "two-layer GRU attention" baseline: two stacked GRUs model the behaviour
 * sequence and an attention layer pools the second layer's states against the candidate,
 * <pre>
 *   h1_t = GRU_1(e_t),  h2_t = GRU_2(h1_t)                  (B, T, H), t &lt; len
 *   q = PReLU(W_q e_a);  a_t = softmax_t MLP_att([q, h2_t, q - h2_t, q * h2_t])
 *   v = sum_t a_t h2_t;  x = [u, e_a, s, e_a * s, v]
 * </pre>
 * No auxiliary loss; PReLU in the top MLP (DESIGN.md §3's baseline activation).
 */
public final class GruAttention extends CtrModel {
    private int H;
    private Layers.Gru gru1, gru2;
    private QueryAttention attention;
    private Tensor h1, dH1, h2, dH2, dGruIn, v, dV;

    public GruAttention(Backend be, ModelConfig cfg, Features features, int maxB, long seed) {
        super(be, cfg, features, maxB, seed, false);
    }

    @Override
    public String name() { return "gru-att"; }

    @Override
    protected int interestWidth() { return cfg.sequence().gruHidden(); }

    @Override
    protected void buildInterest(ParamStore ps) {
        H = cfg.sequence().gruHidden();
        gru1 = new Layers.Gru(ps, "gru1", Recurrence.GRU, E, H, maxB, T);
        gru2 = new Layers.Gru(ps, "gru2", Recurrence.GRU, H, H, maxB, T);
        attention = new QueryAttention(ps, "att", cfg, E, H, maxB, T);
        h1 = ps.activation("h1", maxB * T, H);
        dH1 = ps.activation("h1.grad", maxB * T, H);
        h2 = ps.activation("h2", maxB * T, H);
        dH2 = ps.activation("h2.grad", maxB * T, H);
        dGruIn = ps.activation("gru1.x.grad", maxB * T, E);
        v = ps.activation("v", maxB, H);
        dV = ps.activation("v.grad", maxB, H);
    }

    @Override
    protected void interestForward(int B, boolean training) {
        gru1.forward(be, h1, null, hist, null, batch.lengths, B, T);
        gru2.forward(be, h2, null, h1, null, batch.lengths, B, T);
        attention.forward(be, v, ea, h2, batch.lengths, B, T, training);
        concat(v, B);
    }

    @Override
    protected void interestBackward(int B) {
        concatBackward(dV, B);
        be.fill(dH2, 0f, B * T * H);
        attention.backward(be, dEa, dH2, dV, null, ea, h2, batch.lengths, B, T);
        gru2.backward(be, dH1, null, dH2, null, h1, null, batch.lengths, B, T);
        gru1.backward(be, dGruIn, null, dH1, null, hist, null, batch.lengths, B, T);
        be.addInto(dHist, dGruIn, B * T * E);
    }

    /** The attention weights of the last forward (maxB, T). */
    public Tensor attentionWeights() { return attention.weights; }
}
