package io.augur.backend;

/**
 * The activation unit's parameters (or, with the same layout, their gradients).
 * <pre>
 * w1 (4W, h1)  rows in the input order [q, k, q - k, q * k]    b1 (h1)
 * w2 (h1, h2)  b2 (h2)     w3 (h2, 1)   b3 (1)
 * alpha1 (h1), alpha2 (h2)              PReLU / Dice slopes; null for sigmoid
 * runMean1, runVar1 (h1), runMean2, runVar2 (h2)   Dice running statistics; null otherwise
 * </pre>
 * In a gradient set only the w, b and alpha fields are used. Batch statistics that backward
 * needs live in the op's {@link Workspace}.
 */
public record AttentionParams(Tensor w1, Tensor b1, Tensor alpha1, Tensor w2, Tensor b2, Tensor alpha2, Tensor w3, Tensor b3,
                              Tensor runMean1, Tensor runVar1, Tensor runMean2, Tensor runVar2) {
}
