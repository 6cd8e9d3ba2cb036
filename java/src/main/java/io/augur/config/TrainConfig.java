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
 */
public record TrainConfig(int epochs, int batchSize, int evalBatchSize, float lr, SparseOptimizer.Kind sparseKind, float sparseLr,
                          float mbarLambda, float weightDecay, float beta1, float beta2, float adamEps, int patience, long seed,
                          int threads) {

    public TrainConfig {
        if (epochs < 1) throw new IllegalArgumentException("epochs must be >= 1, got " + epochs);
        if (batchSize < 1) throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
        if (evalBatchSize < 1) throw new IllegalArgumentException("eval batch size must be >= 1, got " + evalBatchSize);
        if (!(lr > 0)) throw new IllegalArgumentException("learning rate must be > 0, got " + lr);
        if (!(sparseLr > 0)) throw new IllegalArgumentException("sparse learning rate must be > 0, got " + sparseLr);
        if (mbarLambda < 0) throw new IllegalArgumentException("MBAR lambda must be >= 0, got " + mbarLambda);
        if (patience < 1) throw new IllegalArgumentException("patience must be >= 1, got " + patience);
        if (threads < 0) throw new IllegalArgumentException("threads must be >= 0, got " + threads);
    }

    public static TrainConfig defaults() {
        return new TrainConfig(3, 128, 1024, 1e-3f, SparseOptimizer.Kind.ADAM, 1e-3f, 0.01f, 0f, 0.9f, 0.999f, 1e-8f, 2, 42L, 0);
    }

    public SparseOptimizer sparseOptimizer() {
        return new SparseOptimizer(sparseKind, sparseLr, mbarLambda, beta1, beta2, sparseKind == SparseOptimizer.Kind.ADAGRAD ? 1e-10f : adamEps);
    }

    public int effectiveThreads() { return threads == 0 ? Runtime.getRuntime().availableProcessors() : threads; }
}
