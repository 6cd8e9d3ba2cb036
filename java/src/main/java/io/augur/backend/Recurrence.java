package io.augur.backend;

/**
 * The recurrent cell of {@link Backend#recurrence}: DIEN's interest extractor (GRU) and its two
 * attention-driven interest-evolution cells (DESIGN.md §3).
 * <ul>
 *   <li>{@link #GRU}: h_t = (1 - u_t) * h_{t-1} + u_t * n_t; no attention.</li>
 *   <li>{@link #AUGRU}: the update gate scaled by the attention score, u~_t = a_t u_t.</li>
 *   <li>{@link #AGRU}: the attention score replaces the update gate, h_t = (1 - a_t) h_{t-1} + a_t n_t.</li>
 * </ul>
 */
public enum Recurrence {
    GRU, AUGRU, AGRU;

    /** True when the cell reads the attention scores a_t. */
    public boolean usesAttention() { return this != GRU; }
}
