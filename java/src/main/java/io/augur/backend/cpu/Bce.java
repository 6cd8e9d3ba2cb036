package io.augur.backend.cpu;

/**
 * Binary cross-entropy on logits, averaged over the batch, forward and backward in one pass.
 * <pre>
 *   loss[0]   = (1/B) sum_r  max(z_r, 0) - z_r y_r + log1p(exp(-|z_r|))     (= -log sigmoid / -log(1 - sigmoid), stable)
 *   dLogits_r = scale (sigmoid(z_r) - y_r) / B                               (=)
 * logits z, labels y (0/1 as floats), dLogits (B)     loss (1)
 * </pre>
 * The loss is summed in double. The batch is a single column of B values, so one thread runs it
 * on both paths.
 */
final class Bce {
    private Bce() {}

    static void forwardBackwardRef(float[] loss, float[] dLogits, float[] logits, float[] labels, int B, float scale) {
        double sum = 0;
        for (int r = 0; r < B; r++) {
            double z = logits[r], y = labels[r];
            sum += Math.max(z, 0) - z * y + Math.log1p(Math.exp(-Math.abs(z)));
            dLogits[r] = (float) (scale * (1.0 / (1.0 + Math.exp(-z)) - y) / B);
        }
        loss[0] = B > 0 ? (float) (sum / B) : 0f;
    }
}
