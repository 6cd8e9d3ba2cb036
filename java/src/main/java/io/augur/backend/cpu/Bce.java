package io.augur.backend.cpu;

/** Placeholder: being written. */
final class Bce {
    private Bce() {}

    static void forwardBackwardRef(float[] loss, float[] dLogits, float[] logits, float[] labels, int B, float scale) { throw new UnsupportedOperationException("not written yet"); }
}
