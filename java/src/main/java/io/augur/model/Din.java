package io.augur.model;

import io.augur.backend.AttentionParams;
import io.augur.backend.AttentionSpec;
import io.augur.backend.Backend;
import io.augur.backend.Param;
import io.augur.backend.Tensor;
import io.augur.backend.Workspace;
import io.augur.config.ModelConfig;

/**
 * DIN: the activation unit weighs each behaviour by its relevance to the candidate,
 * v_U = sum_t w_t e_t with w_t = MLP_att([e_a, e_t, e_a - e_t, e_a * e_t]), and
 * x = [u, e_a, s, e_a * s, v_U].
 */
public final class Din extends CtrModel {
    private AttentionSpec spec;
    private AttentionParams att, attGrad;
    private Workspace ws;
    private Tensor v, dV, weights;

    public Din(Backend be, ModelConfig cfg, Features features, int maxB, long seed) {
        super(be, cfg, features, maxB, seed, false);
    }

    @Override
    public String name() { return "din"; }

    @Override
    protected int interestWidth() { return 2 * cfg.embDim(); }

    @Override
    protected void buildInterest(ParamStore ps) {
        spec = new AttentionSpec(E, cfg.attHidden().get(0), cfg.attHidden().get(1), cfg.attActivation(), cfg.attSoftmax(),
                cfg.momentum(), cfg.diceEps());
        AttentionLayer layer = new AttentionLayer(ps, "att", spec);
        att = layer.params;
        attGrad = layer.grads;
        ws = be.attentionWorkspace("att.ws", spec, maxB, T);
        ps.countWorkspace(ws.bytes());
        v = ps.activation("v", maxB, E);
        dV = ps.activation("v.grad", maxB, E);
        weights = ps.activation("att.weights", maxB, T);
    }

    /** hist goes to the unit alone (its pooling makes the sum pool s too): padding is read where the unit reads it. */
    @Override
    protected boolean historyPaddingRead() { return be.attentionReadsPadding(ws); }

    @Override
    protected void interestForward(int B, boolean training) {
        // the unit, then [e_a, s, e_a * s, v_U] (concat's block, v_U = the unit's output)
        be.attentionInterest(x, s, v, weights, ws, ea, hist, batch.lengths, att, spec, B, T, training, xWidth, profileWidth);
    }

    @Override
    protected void interestBackward(int B) {
        be.attentionInterestBackward(dEa, dHist, dS, dV, attGrad, dx, s, weights, ws, ea, hist, batch.lengths, att, spec, B, T, xWidth, profileWidth);
    }

    /** The interest block's backward and the lookups' in one op (the CUDA backend adds the lookups' gradients in the unit's reduce launch). */
    @Override
    protected void interestAndLookupsBackward(int B) {
        be.attentionInterestBackward(dEa, dHist, dS, dV, attGrad, dx, s, weights, ws, ea, hist, batch.lengths, att, spec, B, T, xWidth, profileWidth,
                lookupsBackward(B));
    }

    /** The attention weights of the last forward (maxB, T), for inspection. */
    public Tensor attentionWeights() { return weights; }

    /** The activation unit's parameters, created in {@link ParamStore} under {@code name}. */
    public static final class AttentionLayer {
        public final AttentionParams params, grads;

        public AttentionLayer(ParamStore ps, String name, AttentionSpec spec) {
            int in = spec.inputWidth(), h1 = spec.h1(), h2 = spec.h2();
            Param w1 = ps.dense(name + ".fc1.weight", ParamStore.Init.linear(in), in, h1);
            Param b1 = ps.dense(name + ".fc1.bias", ParamStore.Init.linear(in), h1);
            Param a1 = null, a2 = null, rm1 = null, rv1 = null, rm2 = null, rv2 = null;
            boolean hasAlpha = spec.activation() != io.augur.backend.Activation.SIGMOID;
            boolean dice = spec.activation() == io.augur.backend.Activation.DICE;
            float alpha0 = dice ? 0f : 0.25f;
            if (hasAlpha) a1 = ps.dense(name + ".act1.alpha", ParamStore.Init.constant(alpha0), h1);
            if (dice) {
                rm1 = ps.buffer(name + ".act1.running_mean", 0f, h1);
                rv1 = ps.buffer(name + ".act1.running_var", 1f, h1);
            }
            Param w2 = ps.dense(name + ".fc2.weight", ParamStore.Init.linear(h1), h1, h2);
            Param b2 = ps.dense(name + ".fc2.bias", ParamStore.Init.linear(h1), h2);
            if (hasAlpha) a2 = ps.dense(name + ".act2.alpha", ParamStore.Init.constant(alpha0), h2);
            if (dice) {
                rm2 = ps.buffer(name + ".act2.running_mean", 0f, h2);
                rv2 = ps.buffer(name + ".act2.running_var", 1f, h2);
            }
            Param w3 = ps.dense(name + ".fc3.weight", ParamStore.Init.linear(h2), h2, 1);
            Param b3 = ps.dense(name + ".fc3.bias", ParamStore.Init.linear(h2), 1);
            params = new AttentionParams(w1.value(), b1.value(), val(a1), w2.value(), b2.value(), val(a2), w3.value(), b3.value(),
                    val(rm1), val(rv1), val(rm2), val(rv2));
            grads = new AttentionParams(w1.grad(), b1.grad(), a1 == null ? null : a1.grad(), w2.grad(), b2.grad(),
                    a2 == null ? null : a2.grad(), w3.grad(), b3.grad(), null, null, null, null);
        }

        private static Tensor val(Param p) { return p == null ? null : p.value(); }
    }
}
