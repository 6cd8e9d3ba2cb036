package io.augur.backend;

import java.util.List;

/**
 * The top MLP as one unit for {@link Backend#towerForward} and {@link Backend#towerBackward}:
 * BatchNorm over the input x, then per hidden layer pre = h W + b and out = act(pre), then the
 * logit layer (width 1). It names every tensor that the layer-by-layer ops pass between them, so
 * that a backend may run the tower in fewer launches and still leave each of them as those ops
 * would (the CUDA backend: one launch per hidden layer and direction at small batches).
 *
 * @param norm   the BatchNorm over x (channels = the width of x)
 * @param hidden the hidden layers, bottom up (none: the logit reads the BatchNorm's output)
 * @param head   the logit layer: {@code act} null, {@code pre} the logits (B, 1)
 */
public record Tower(Norm norm, List<Layer> hidden, Layer head) {
    public Tower {
        hidden = List.copyOf(hidden);
        int width = norm.channels();
        for (Layer l : hidden) {
            if (l.in() != width) throw new IllegalArgumentException("tower layer of input width " + l.in() + " above a layer of width " + width);
            if (l.act() == null) throw new IllegalArgumentException("a hidden tower layer needs an activation");
            width = l.width();
        }
        if (head.in() != width || head.width() != 1 || head.act() != null) {
            throw new IllegalArgumentException("the tower's head must map width " + width + " to one logit without activation");
        }
    }

    /**
     * BatchNorm with affine gamma/beta: y (B, C) and its saved statistics, the parameters, running
     * statistics, the parameter gradients and dy, the gradient at y (B, C) that the backward fills
     * on the way down (the layer-by-layer ops use it; a fused backward may not).
     */
    public record Norm(Tensor y, Tensor mean, Tensor invStd, Tensor gamma, Tensor beta, Tensor runMean, Tensor runVar,
                       Tensor dGamma, Tensor dBeta, Tensor dy, int channels, float momentum, float eps) {}

    /**
     * The loss a training forward may compute with the logits, as {@link Backend#bceWithLogits}
     * does: loss (1) the mean binary cross-entropy over the B rows, dLogits (B) = scale (sigmoid(z) - y) / B.
     */
    public record Loss(Tensor labels, Tensor loss, Tensor dLogits, float scale) {}

    /**
     * A linear layer and its activation: pre = h W + b (B, width), out = act(pre). alpha (PReLU,
     * Dice) and mean/invStd/runMean/runVar (Dice) are null where the activation has none; dOut
     * (the gradient at out) is a buffer of the layer-by-layer backward, dPre the gradient at pre.
     */
    public record Layer(Tensor weight, Tensor bias, Tensor dWeight, Tensor dBias, Tensor pre, Tensor dPre, Activation act,
                        Tensor out, Tensor dOut, Tensor alpha, Tensor dAlpha, Tensor mean, Tensor invStd, Tensor runMean,
                        Tensor runVar, int in, int width, float momentum, float eps) {}
}
