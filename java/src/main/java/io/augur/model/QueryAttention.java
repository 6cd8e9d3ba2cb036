package io.augur.model;

import io.augur.backend.Activation;
import io.augur.backend.AttentionParams;
import io.augur.backend.AttentionSpec;
import io.augur.backend.Backend;
import io.augur.backend.Tensor;
import io.augur.backend.Workspace;
import io.augur.config.ModelConfig;

/**
 * DIEN's attention over hidden states (DESIGN.md §3): the candidate is projected to the states'
 * width, q = PReLU(e_a W_q + b_q) (size H), then the activation unit scores every valid state,
 * a_t = MLP_att([q, h_t, q - h_t, q * h_t]) (hidden 80-40), softmaxed over the valid positions.
 * Parameters: name.query.weight (E, H), name.query.bias, name.query_act.alpha, and the unit's
 * name.fc1..fc3 (as in DIN's {@link Din.AttentionLayer}).
 * <pre>
 *   ea (B, E)  -&gt;  q (B, H);   states (B, T, H)  -&gt;  weights (B, T), and pooled (B, H) if asked
 * </pre>
 */
final class QueryAttention {
    final AttentionSpec spec;
    final AttentionParams params, grads;
    final Workspace ws;
    final Layers.Linear query;
    final Layers.Act queryAct;
    final Tensor weights;           // (maxB, T): a_t, 0 at padded positions
    final Tensor dWeights;          // (maxB, T)
    private final Tensor dQ, dQPre, dEa; // (maxB, H), (maxB, H), (maxB, E)
    private final int E, H;

    QueryAttention(ParamStore ps, String name, ModelConfig cfg, int E, int H, int maxB, int T) {
        if (!cfg.attSoftmax()) {
            throw new IllegalArgumentException("the " + cfg.kind().label() + " attention is always softmaxed over valid positions"
                    + " (it gates a recurrence); --no-att-softmax applies to din only");
        }
        this.E = E;
        this.H = H;
        spec = new AttentionSpec(H, cfg.attHidden().get(0), cfg.attHidden().get(1), cfg.attActivation(), true, cfg.momentum(), cfg.diceEps());
        query = new Layers.Linear(ps, name + ".query", E, H, maxB);
        queryAct = new Layers.Act(ps, name + ".query_act", Activation.PRELU, H, maxB, cfg.momentum(), cfg.diceEps());
        Din.AttentionLayer layer = new Din.AttentionLayer(ps, name, spec);
        params = layer.params;
        grads = layer.grads;
        ws = ps.backend().attentionWorkspace(name + ".ws", spec, maxB, T);
        ps.countWorkspace(ws.bytes());
        weights = ps.activation(name + ".weights", maxB, T);
        dWeights = ps.activation(name + ".weights.grad", maxB, T);
        dQ = ps.activation(name + ".q.grad", maxB, H);
        dQPre = ps.activation(name + ".q_pre.grad", maxB, H);
        dEa = ps.activation(name + ".e_a.grad", maxB, E);
    }

    /** The query of the last forward, (maxB, H). */
    Tensor q() { return queryAct.y; }

    /** Fills {@link #weights}; pooled (B, H) = sum_t a_t states_t when non-null. */
    void forward(Backend be, Tensor pooled, Tensor ea, Tensor states, Tensor lengths, int B, int T, boolean training) {
        Tensor q = Layers.linearAct(be, query, queryAct, ea, B, training);
        be.activationUnit(pooled, weights, ws, q, states, lengths, params, spec, B, T, training);
    }

    /**
     * From the incoming dPooled (B, H) and/or dWeights (either may be null): adds the states'
     * gradient to dStates (+=) and the candidate's to dEaOut (+=); parameter gradients +=.
     */
    void backward(Backend be, Tensor dEaOut, Tensor dStates, Tensor dPooled, Tensor dW, Tensor ea, Tensor states, Tensor lengths,
                  int B, int T) {
        be.fill(dQ, 0f, B * H);
        be.activationUnitBackward(dQ, dStates, grads, dPooled, dW, weights, ws, q(), states, lengths, params, spec, B, T);
        queryAct.backward(be, dQPre, dQ, query.y, B);
        query.backward(be, dEa, dQPre, ea, B);
        be.addInto(dEaOut, dEa, B * E);
    }
}
