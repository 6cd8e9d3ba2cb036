package io.augur.backend;

/**
 * Shape and options of an activation unit: query and key width, hidden sizes, hidden activation,
 * softmax over valid positions, and the statistics settings Dice uses.
 *
 * @param width      W: width of the query and of each key (E for DIN, H for DIEN)
 * @param h1         first hidden layer (80 in the paper)
 * @param h2         second hidden layer (40)
 * @param activation hidden activation (sigmoid by default)
 * @param softmax    normalise the scores over the valid positions (off for DIN by default)
 * @param momentum   running-statistics decay for Dice (0.99)
 * @param eps        Dice epsilon (1e-8)
 */
public record AttentionSpec(int width, int h1, int h2, Activation activation, boolean softmax, float momentum, float eps) {
    public AttentionSpec {
        if (width <= 0 || h1 <= 0 || h2 <= 0) throw new IllegalArgumentException("attention sizes must be positive: " + width + "/" + h1 + "/" + h2);
    }

    /** Rows of the first weight matrix: the 4W-wide input [q, k, q - k, q * k]. */
    public int inputWidth() { return 4 * width; }
}
