package io.augur.model;

import io.augur.backend.Activation;
import io.augur.backend.Backend;
import io.augur.backend.Param;
import io.augur.backend.Recurrence;
import io.augur.backend.RecurrenceParams;
import io.augur.backend.Tensor;
import io.augur.backend.Tower;
import io.augur.backend.Workspace;

/**
 * The dense building blocks, each holding its parameters and the buffers its forward saves,
 * planned for batches of up to maxB rows. forward/backward take the actual batch size.
 */
public final class Layers {
    private Layers() {}

    /** y = x W + b. */
    public static final class Linear {
        public final Param weight, bias;
        public final int in, out;
        public final Tensor y;

        public Linear(ParamStore ps, String name, int in, int out, int maxB) {
            this.in = in;
            this.out = out;
            this.weight = ps.dense(name + ".weight", ParamStore.Init.linear(in), in, out);
            this.bias = ps.dense(name + ".bias", ParamStore.Init.linear(in), out);
            this.y = ps.activation(name + ".y", maxB, out);
        }

        public Tensor forward(Backend be, Tensor x, int B) {
            be.linear(y, x, weight.value(), bias.value(), B, in, out);
            return y;
        }

        /** dx = dy W^T (skipped when dx is null); weight and bias gradients +=. */
        public void backward(Backend be, Tensor dx, Tensor dy, Tensor x, int B) {
            be.linearBackward(dx, weight.grad(), bias.grad(), dy, x, weight.value(), B, in, out);
        }
    }

    /**
     * fc then act on x: fc.y = x W + b, act.y = act(fc.y). Sigmoid and PReLU go through
     * {@link Backend#linearAct} (one launch with the built-in GEMM); Dice, whose statistics span the
     * batch, runs after the product. Returns act.y.
     */
    public static Tensor linearAct(Backend be, Linear fc, Act act, Tensor x, int B, boolean training) {
        if (act.kind == Activation.DICE) return act.forward(be, fc.forward(be, x, B), B, training);
        be.linearAct(fc.y, act.y, x, fc.weight.value(), fc.bias.value(), act.kind, act.alpha == null ? null : act.alpha.value(), B, fc.in, fc.out);
        return act.y;
    }

    /** BatchNorm with affine gamma/beta and running statistics (the top tower's first op: Backend.towerForward). */
    public static final class BatchNorm {
        public final Param gamma, beta, runMean, runVar;
        public final Tensor y, mean, invStd;
        final float momentum, eps;

        public BatchNorm(ParamStore ps, String name, int channels, int maxB, float momentum, float eps) {
            this.momentum = momentum;
            this.eps = eps;
            gamma = ps.dense(name + ".gamma", ParamStore.Init.constant(1f), channels);
            beta = ps.dense(name + ".beta", ParamStore.Init.constant(0f), channels);
            runMean = ps.buffer(name + ".running_mean", 0f, channels);
            runVar = ps.buffer(name + ".running_var", 1f, channels);
            y = ps.activation(name + ".y", maxB, channels);
            mean = ps.activation(name + ".mean", channels);
            invStd = ps.activation(name + ".inv_std", channels);
        }
    }

    /** A hidden activation: sigmoid, PReLU (alpha 0.25) or Dice (alpha 0, running statistics). */
    public static final class Act {
        public final Activation kind;
        public final Param alpha, runMean, runVar;
        public final Tensor y, mean, invStd;
        final int channels;
        final float momentum, eps;

        public Act(ParamStore ps, String name, Activation kind, int channels, int maxB, float momentum, float eps) {
            this.kind = kind;
            this.channels = channels;
            this.momentum = momentum;
            this.eps = eps;
            this.y = ps.activation(name + ".y", maxB, channels);
            if (kind == Activation.SIGMOID) {
                alpha = runMean = runVar = null;
                mean = invStd = null;
            } else {
                alpha = ps.dense(name + ".alpha", ParamStore.Init.constant(kind == Activation.PRELU ? 0.25f : 0f), channels);
                if (kind == Activation.DICE) {
                    runMean = ps.buffer(name + ".running_mean", 0f, channels);
                    runVar = ps.buffer(name + ".running_var", 1f, channels);
                    mean = ps.activation(name + ".mean", channels);
                    invStd = ps.activation(name + ".inv_std", channels);
                } else {
                    runMean = runVar = null;
                    mean = invStd = null;
                }
            }
        }

        public Tensor forward(Backend be, Tensor x, int B, boolean training) {
            switch (kind) {
                case SIGMOID -> be.sigmoid(y, x, B * channels);
                case PRELU -> be.prelu(y, x, alpha.value(), B, channels);
                case DICE -> be.dice(y, mean, invStd, x, alpha.value(), runMean.value(), runVar.value(), B, channels, training, momentum, eps);
            }
            return y;
        }

        public void backward(Backend be, Tensor dx, Tensor dy, Tensor x, int B) {
            switch (kind) {
                case SIGMOID -> be.sigmoidBackward(dx, dy, y, B * channels);
                case PRELU -> be.preluBackward(dx, alpha.grad(), dy, x, alpha.value(), B, channels);
                case DICE -> be.diceBackward(dx, alpha.grad(), dy, mean, invStd, x, alpha.value(), B, channels);
            }
        }
    }

    /**
     * The top tower: BatchNorm &rarr; [Linear &rarr; act] per hidden size &rarr; Linear(1) logit.
     * backward writes dx (=), the gradient of the tower's input.
     */
    public static final class Mlp {
        public final BatchNorm bn;
        public final Linear[] fc;
        public final Act[] act;
        final Tensor[] dAct;   // gradient at each activation's output (maxB, h)
        final Tensor[] dPre;   // gradient at each activation's input (maxB, h)
        final Tensor dBn;      // gradient at the BatchNorm output (maxB, in)
        public final int in;

        public Mlp(ParamStore ps, String name, int in, java.util.List<Integer> hidden, Activation activation, int maxB,
                   float momentum, float bnEps, float diceEps) {
            this.in = in;
            int L = hidden.size();
            bn = new BatchNorm(ps, name + ".bn", in, maxB, momentum, bnEps);
            fc = new Linear[L + 1];
            act = new Act[L];
            dAct = new Tensor[L];
            dPre = new Tensor[L];
            int width = in;
            for (int l = 0; l < L; l++) {
                int h = hidden.get(l);
                fc[l] = new Linear(ps, name + ".fc" + (l + 1), width, h, maxB);
                act[l] = new Act(ps, name + ".act" + (l + 1), activation, h, maxB, momentum, diceEps);
                dAct[l] = ps.activation(name + ".act" + (l + 1) + ".dy", maxB, h);
                dPre[l] = ps.activation(name + ".act" + (l + 1) + ".dx", maxB, h);
                width = h;
            }
            fc[L] = new Linear(ps, name + ".fc" + (L + 1), width, 1, maxB);
            dBn = ps.activation(name + ".bn.dy", maxB, in);
            tower = describe();
        }

        /** The tower as {@link Backend#towerForward} takes it. */
        public final Tower tower;

        private Tower describe() {
            Tower.Norm norm = new Tower.Norm(bn.y, bn.mean, bn.invStd, bn.gamma.value(), bn.beta.value(), bn.runMean.value(), bn.runVar.value(),
                    bn.gamma.grad(), bn.beta.grad(), dBn, in, bn.momentum, bn.eps);
            java.util.List<Tower.Layer> hidden = new java.util.ArrayList<>();
            for (int l = 0; l < act.length; l++) {
                Linear f = fc[l];
                Act a = act[l];
                hidden.add(new Tower.Layer(f.weight.value(), f.bias.value(), f.weight.grad(), f.bias.grad(), f.y, dPre[l], a.kind, a.y, dAct[l],
                        value(a.alpha), a.alpha == null ? null : a.alpha.grad(), a.mean, a.invStd, value(a.runMean), value(a.runVar),
                        f.in, f.out, a.momentum, a.eps));
            }
            Linear h = fc[act.length];
            Tower.Layer head = new Tower.Layer(h.weight.value(), h.bias.value(), h.weight.grad(), h.bias.grad(), h.y, null, null, null, null,
                    null, null, null, null, null, null, h.in, h.out, 0f, 0f);
            return new Tower(norm, hidden, head);
        }

        private static Tensor value(Param p) { return p == null ? null : p.value(); }

        /** Returns the logits (maxB, 1). */
        public Tensor forward(Backend be, Tensor x, int B, boolean training) {
            return forward(be, x, B, training, null);
        }

        /**
         * rows: how many of the B rows count, in device memory (null: all B). Only the BatchNorm's
         * statistics look across rows; every other layer is row by row, so rows past the count
         * compute values nobody reads, and their gradients are zero when dLogits is zero there.
         */
        public Tensor forward(Backend be, Tensor x, int B, boolean training, Tensor rows) {
            return be.towerForward(tower, x, B, training, rows, null);
        }

        /** A training forward over all B rows and its loss (Backend.bceWithLogits into loss.loss and loss.dLogits), as one op. */
        public Tensor forwardWithLoss(Backend be, Tensor x, int B, Tower.Loss loss) {
            return be.towerForward(tower, x, B, true, null, loss);
        }

        public void backward(Backend be, Tensor dx, Tensor dLogits, Tensor x, int B) {
            backward(be, dx, dLogits, x, B, null);
        }

        public void backward(Backend be, Tensor dx, Tensor dLogits, Tensor x, int B, Tensor rows) {
            be.towerBackward(tower, dx, dLogits, x, B, rows);
        }
    }

    /**
     * A GRU-family recurrence (GRU, AUGRU, AGRU) with its parameters, their gradients and the
     * workspace its forward fills. Parameters name.wx (E, 3H), name.wh (H, 3H), name.bx and name.bh
     * (3H), columns [u, r, n], initialised U(-1/sqrt(H), 1/sqrt(H)) as PyTorch's GRU is.
     */
    public static final class Gru {
        public final RecurrenceParams params, grads;
        public final Workspace ws;
        public final Recurrence kind;
        public final int in, hidden;

        public Gru(ParamStore ps, String name, Recurrence kind, int in, int hidden, int maxB, int T) {
            this.kind = kind;
            this.in = in;
            this.hidden = hidden;
            ParamStore.Init init = ParamStore.Init.uniform((float) (1.0 / Math.sqrt(hidden)));
            Param wx = ps.dense(name + ".wx", init, in, 3 * hidden);
            Param wh = ps.dense(name + ".wh", init, hidden, 3 * hidden);
            Param bx = ps.dense(name + ".bx", init, 3 * hidden);
            Param bh = ps.dense(name + ".bh", init, 3 * hidden);
            params = new RecurrenceParams(wx.value(), wh.value(), bx.value(), bh.value());
            grads = new RecurrenceParams(wx.grad(), wh.grad(), bx.grad(), bh.grad());
            ws = ps.backend().recurrenceWorkspace(name + ".ws", maxB, T, in, hidden);
            ps.countWorkspace(ws.bytes());
        }

        /** hOut (B, T, H) and/or hLast (B, H), either may be null; att (B, T) for AUGRU/AGRU, null for GRU. */
        public void forward(Backend be, Tensor hOut, Tensor hLast, Tensor x, Tensor att, Tensor lengths, int B, int T) {
            be.recurrence(hOut, hLast, ws, x, att, lengths, params, kind, B, T, in, hidden);
        }

        /** dx (=), dAtt (=, null for GRU); parameter gradients +=. */
        public void backward(Backend be, Tensor dx, Tensor dAtt, Tensor dHOut, Tensor dHLast, Tensor x, Tensor att, Tensor lengths, int B, int T) {
            be.recurrenceBackward(dx, dAtt, grads, dHOut, dHLast, ws, x, att, lengths, params, kind, B, T, in, hidden);
        }
    }
}
