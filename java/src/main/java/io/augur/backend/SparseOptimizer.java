package io.augur.backend;

import java.util.Locale;

/**
 * The optimizer of embedding rows, applied only to rows that occur in the batch (DESIGN.md §3).
 *
 * @param kind   SGD (the paper), ADAGRAD or ADAM (lazy: moments of untouched rows stay as they are)
 * @param lr     learning rate
 * @param lambda MBAR strength: g_j += lambda * w_j / n_j; 0 turns it off
 * @param beta1  Adam
 * @param beta2  Adam
 * @param eps    Adam / Adagrad
 */
public record SparseOptimizer(Kind kind, float lr, float lambda, float beta1, float beta2, float eps) {
    public enum Kind {
        SGD, ADAGRAD, ADAM;

        public static Kind parse(String s) {
            try {
                return valueOf(s.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("unknown sparse optimizer '" + s + "' (expected sgd, adagrad or adam)");
            }
        }

        /** Number of (V, D) state slots. */
        public int slots() { return this == SGD ? 0 : this == ADAGRAD ? 1 : 2; }
    }
}
