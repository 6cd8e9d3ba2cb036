package io.augur.backend;

/** Hidden-layer activations of the activation unit and the MLPs (DESIGN.md §3). */
public enum Activation {
    /** 1 / (1 + e^-x), no parameters. */
    SIGMOID,
    /** max(0, x) + alpha * min(0, x), alpha per channel. */
    PRELU,
    /** p(x) x + (1 - p(x)) alpha x with p = sigmoid of the batch-normalised x, alpha per channel. */
    DICE;

    public static Activation parse(String s) {
        try {
            return valueOf(s.trim().toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown activation '" + s + "' (expected sigmoid, prelu or dice)");
        }
    }
}
