package io.augur.config;

import io.augur.backend.SparseOptimizer;

/**
 * How a model is trained. Every field has a default ({@link #defaults()}) and a CLI flag.
 *
 * @param epochs         maximum epochs (early stopping may end sooner)
 * @param batchSize      training batch size
 * @param evalBatchSize  evaluation batch size
 * @param lr             Adam learning rate of the dense parameters (1e-3)
 * @param sparseKind     optimizer of embedding rows: adam (lazy), adagrad or sgd (the paper)
 * @param sparseLr       learning rate of embedding rows (defaults to lr)
 * @param mbarLambda     MBAR strength lambda (0.01; 0 turns it off)
 * @param weightDecay    L2 on dense parameters (0)
 * @param beta1          Adam
 * @param beta2          Adam
 * @param adamEps        Adam / Adagrad epsilon
 * @param patience       epochs without a better valid AUC before stopping
 * @param seed           seeds parameter initialisation and the shuffle
 * @param threads        CPU threads (0 = all cores)
 * @param auxNegatives   where DIEN's auxiliary loss takes its non-clicked behaviours from (auto)
 */
public record TrainConfig(int epochs, int batchSize, int evalBatchSize, float lr, SparseOptimizer.Kind sparseKind, float sparseLr,
                          float mbarLambda, float weightDecay, float beta1, float beta2, float adamEps, int patience, long seed,
                          int threads, AuxNegatives auxNegatives) {

    /** The source of the negative behaviours ê_t of DIEN's auxiliary loss. */
    public enum AuxNegatives {
        /** The dataset's neg_hist columns when it has them, else drawn uniformly. */
        AUTO,
        /** Drawn uniformly over the items seen in the training split (never the clicked item). */
        UNIFORM,
        /** Drawn by training-split frequency (never the clicked item). */
        POPULARITY;

        public static AuxNegatives parse(String s) {
            try {
                return valueOf(s.trim().toUpperCase(java.util.Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("unknown negative source '" + s + "' (expected auto, uniform or popularity)");
            }
        }

        public String label() { return name().toLowerCase(java.util.Locale.ROOT); }
    }

    /** A configuration with {@link AuxNegatives#AUTO}. */
    public TrainConfig(int epochs, int batchSize, int evalBatchSize, float lr, SparseOptimizer.Kind sparseKind, float sparseLr,
                       float mbarLambda, float weightDecay, float beta1, float beta2, float adamEps, int patience, long seed, int threads) {
        this(epochs, batchSize, evalBatchSize, lr, sparseKind, sparseLr, mbarLambda, weightDecay, beta1, beta2, adamEps, patience, seed,
                threads, AuxNegatives.AUTO);
    }

    public TrainConfig {
        if (epochs < 1) throw new IllegalArgumentException("epochs must be >= 1, got " + epochs);
        if (batchSize < 1) throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
        if (evalBatchSize < 1) throw new IllegalArgumentException("eval batch size must be >= 1, got " + evalBatchSize);
        if (!(lr > 0)) throw new IllegalArgumentException("learning rate must be > 0, got " + lr);
        if (!(sparseLr > 0)) throw new IllegalArgumentException("sparse learning rate must be > 0, got " + sparseLr);
        if (mbarLambda < 0) throw new IllegalArgumentException("MBAR lambda must be >= 0, got " + mbarLambda);
        if (patience < 1) throw new IllegalArgumentException("patience must be >= 1, got " + patience);
        if (threads < 0) throw new IllegalArgumentException("threads must be >= 0, got " + threads);
        java.util.Objects.requireNonNull(auxNegatives, "auxNegatives");
    }

    public TrainConfig withBatch(int train, int eval) {
        return new TrainConfig(epochs, train, eval, lr, sparseKind, sparseLr, mbarLambda, weightDecay, beta1, beta2, adamEps, patience, seed,
                threads, auxNegatives);
    }

    public static TrainConfig defaults() {
        return new TrainConfig(3, 128, 1024, 1e-3f, SparseOptimizer.Kind.ADAM, 1e-3f, 0.01f, 0f, 0.9f, 0.999f, 1e-8f, 2, 42L, 0);
    }

    public SparseOptimizer sparseOptimizer() {
        return new SparseOptimizer(sparseKind, sparseLr, mbarLambda, beta1, beta2, sparseKind == SparseOptimizer.Kind.ADAGRAD ? 1e-10f : adamEps);
    }

    public int effectiveThreads() { return threads == 0 ? Runtime.getRuntime().availableProcessors() : threads; }
}
