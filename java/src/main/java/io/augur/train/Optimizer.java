package io.augur.train;

import io.augur.backend.Backend;
import io.augur.backend.Param;
import io.augur.backend.SparseOptimizer;
import io.augur.backend.Tensor;
import io.augur.config.TrainConfig;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * One optimizer over all of a model's parameters: Adam for dense parameters, and for embedding
 * tables the sparse-row optimizer with MBAR (DESIGN.md §3), which touches only the rows the batch
 * used. Its state tensors are created here, once.
 */
public final class Optimizer {
    private final Backend be;
    private final TrainConfig cfg;
    private final SparseOptimizer sparse;
    private final List<Param> dense;
    private final List<Backend.TableUpdate> tables = new ArrayList<>();
    private int step;

    /**
     * @param countsByTable for each embedding table, the training-split count of every id (MBAR's n_j)
     */
    public Optimizer(Backend be, List<Param> params, Map<String, int[]> countsByTable, TrainConfig cfg) {
        this.be = be;
        this.cfg = cfg;
        this.sparse = cfg.sparseOptimizer();
        this.dense = params.stream().filter(p -> p.kind() == Param.Kind.DENSE).toList();
        for (Param p : params) {
            switch (p.kind()) {
                case DENSE -> p.setState(be.floats(p.name() + ".adam_m", p.value().shape()), be.floats(p.name() + ".adam_v", p.value().shape()));
                case EMBEDDING -> {
                    int slots = sparse.kind().slots();
                    Tensor s1 = slots >= 1 ? be.floats(p.name() + ".state1", p.value().shape()) : null;
                    Tensor s2 = slots >= 2 ? be.floats(p.name() + ".state2", p.value().shape()) : null;
                    p.setState(s1, s2);
                    int[] c = countsByTable.get(p.name());
                    if (c == null) throw new IllegalArgumentException("no id counts for embedding table " + p.name() + " (MBAR needs them)");
                    int rows = p.value().dim(0);
                    if (c.length != rows) throw new IllegalArgumentException("id counts for " + p.name() + " have " + c.length + " entries, the table " + rows + " rows");
                    Tensor ct = be.ints(p.name() + ".counts", rows);
                    be.upload(ct, c, rows);
                    tables.add(new Backend.TableUpdate(p.value(), s1, s2, p.sparseGrad(), ct));
                }
                case BUFFER -> { }
            }
        }
    }

    /**
     * Applies one update from the accumulated gradients; sparse gradients are cleared, dense ones
     * are not. Every embedding table and every dense parameter in one call (one launch on the GPU).
     */
    public void step() {
        step++;
        be.optimizerStep(tables, sparse, dense, cfg.lr(), cfg.beta1(), cfg.beta2(), cfg.adamEps(), cfg.weightDecay(), step);
    }

    public int stepCount() { return step; }
}
