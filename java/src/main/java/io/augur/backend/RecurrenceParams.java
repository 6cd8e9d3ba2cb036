package io.augur.backend;

/**
 * The parameters of a {@link Recurrence} cell (or, with the same layout, their gradients).
 * <pre>
 * wx (E, 3H)   input weights        bx (3H)   input bias
 * wh (H, 3H)   recurrent weights    bh (3H)   recurrent bias
 * </pre>
 * The 3H columns are ordered [u (update gate), r (reset gate), n (candidate)]. The AGRU cell does
 * not use the update gate, so its u columns get zero gradients.
 */
public record RecurrenceParams(Tensor wx, Tensor wh, Tensor bx, Tensor bh) {
}
