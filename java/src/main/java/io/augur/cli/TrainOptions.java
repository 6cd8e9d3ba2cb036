package io.augur.cli;

import io.augur.backend.SparseOptimizer;
import io.augur.config.TrainConfig;
import picocli.CommandLine.Option;

/** The optimisation flags, shared by train and bench. */
public final class TrainOptions {
    @Option(names = "--epochs", defaultValue = "3", description = "maximum epochs (default: ${DEFAULT-VALUE})")
    int epochs;

    @Option(names = "--batch-size", defaultValue = "128", description = "training batch size (default: ${DEFAULT-VALUE})")
    int batchSize;

    @Option(names = "--eval-batch-size", defaultValue = "1024", description = "evaluation batch size (default: ${DEFAULT-VALUE})")
    int evalBatchSize;

    @Option(names = "--lr", defaultValue = "0.001", description = "Adam learning rate of dense parameters (default: ${DEFAULT-VALUE})")
    float lr;

    @Option(names = "--sparse-optimizer", defaultValue = "adam", description = "optimizer of embedding rows: adam (lazy), adagrad or sgd (default: ${DEFAULT-VALUE})")
    String sparseOptimizer;

    @Option(names = "--sparse-lr", description = "learning rate of embedding rows (default: --lr)")
    Float sparseLr;

    @Option(names = "--mbar-lambda", defaultValue = "0.01", description = "mini-batch aware regularisation strength, 0 = off (default: ${DEFAULT-VALUE})")
    float mbarLambda;

    @Option(names = "--weight-decay", defaultValue = "0", description = "L2 on dense parameters (default: ${DEFAULT-VALUE})")
    float weightDecay;

    @Option(names = "--patience", defaultValue = "2", description = "epochs without a better valid AUC before stopping (default: ${DEFAULT-VALUE})")
    int patience;

    @Option(names = "--seed", defaultValue = "42", description = "seed of initialisation and shuffling (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--threads", defaultValue = "0", description = "CPU threads, 0 = all cores (default: ${DEFAULT-VALUE})")
    int threads;

    @Option(names = "--aux-negatives", defaultValue = "auto",
            description = "DIEN's auxiliary-loss negatives: auto (the dataset's neg_hist columns, else uniform), uniform or popularity (default: ${DEFAULT-VALUE})")
    String auxNegatives;

    TrainConfig toConfig() {
        TrainConfig d = TrainConfig.defaults();
        return new TrainConfig(epochs, batchSize, evalBatchSize, lr, SparseOptimizer.Kind.parse(sparseOptimizer), sparseLr == null ? lr : sparseLr,
                mbarLambda, weightDecay, d.beta1(), d.beta2(), d.adamEps(), patience, seed, threads,
                TrainConfig.AuxNegatives.parse(auxNegatives));
    }
}
