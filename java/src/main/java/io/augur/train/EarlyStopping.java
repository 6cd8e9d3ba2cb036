package io.augur.train;

/**
 * Early stopping on a metric to maximise (valid AUC). After each epoch, {@link #update} is given
 * the epoch's value; an epoch improves when its value is at least {@code minDelta} above the best so
 * far (the first finite value always improves; NaN never does). Training should stop once
 * {@code patience} epochs in a row have not improved. The best epoch and value are remembered so the
 * trainer can keep (or reload) that epoch's checkpoint.
 *
 * <p>Example, patience 2, minDelta 0.001: AUCs 0.70, 0.72, 0.7205, 0.719 → epochs 3 and 4 do not
 * improve (0.7205 is less than 0.001 above 0.72), so {@link #shouldStop} is true after epoch 4 and
 * the best is 0.72 at epoch 2.
 */
public final class EarlyStopping {

    private final int patience;
    private final double minDelta;
    private int bestEpoch = -1;
    private double bestValue = Double.NaN;
    private int sinceBest;

    /**
     * @param patience epochs without improvement tolerated before stopping, {@code >= 1}; to train
     *                 every epoch, pass at least the number of epochs
     * @param minDelta the least gain that counts as an improvement, {@code >= 0}
     */
    public EarlyStopping(int patience, double minDelta) {
        if (patience < 1) throw new IllegalArgumentException("patience must be >= 1, got " + patience);
        if (!(minDelta >= 0)) throw new IllegalArgumentException("minDelta must be >= 0, got " + minDelta);
        this.patience = patience;
        this.minDelta = minDelta;
    }

    /**
     * Rebuilds the state saved with a checkpoint, so a resumed run stops where the original would.
     */
    public static EarlyStopping restore(int patience, double minDelta, int bestEpoch, double bestValue, int epochsWithoutImprovement) {
        EarlyStopping s = new EarlyStopping(patience, minDelta);
        if (epochsWithoutImprovement < 0) throw new IllegalArgumentException("epochsWithoutImprovement " + epochsWithoutImprovement);
        s.bestEpoch = bestEpoch;
        s.bestValue = bestValue;
        s.sinceBest = epochsWithoutImprovement;
        return s;
    }

    /**
     * Records one epoch's value.
     *
     * @return true when this epoch is the new best
     */
    public boolean update(int epoch, double value) {
        boolean improved = !Double.isNaN(value) && (bestEpoch < 0 || value >= bestValue + minDelta);
        if (improved) {
            bestEpoch = epoch;
            bestValue = value;
            sinceBest = 0;
        } else {
            sinceBest++;
        }
        return improved;
    }

    /** True once {@code patience} epochs in a row have not improved. */
    public boolean shouldStop() { return sinceBest >= patience; }

    /** The epoch of the best value, or −1 before any finite value. */
    public int bestEpoch() { return bestEpoch; }

    /** The best value, NaN before any. */
    public double bestValue() { return bestValue; }

    public int epochsWithoutImprovement() { return sinceBest; }

    public int patience() { return patience; }

    public double minDelta() { return minDelta; }

    @Override
    public String toString() {
        return "EarlyStopping{best " + bestValue + " @ epoch " + bestEpoch + ", " + sinceBest + "/" + patience + " without improvement}";
    }
}
