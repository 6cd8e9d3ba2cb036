package io.augur.model;

import io.augur.backend.Backend;
import io.augur.config.ModelConfig;

/** Embedding&amp;MLP: x = [u, e_a, s, e_a * s] — the history enters only through sum pooling. */
public final class BaseModel extends CtrModel {

    public BaseModel(Backend be, ModelConfig cfg, Features features, int maxB, long seed) {
        super(be, cfg, features, maxB, seed, false);
    }

    @Override
    public String name() { return "base"; }

    @Override
    protected int interestWidth() { return 0; }

    @Override
    protected void buildInterest(ParamStore ps) { }

    @Override
    protected void interestForward(int B, boolean training) { concat(null, B); }

    @Override
    protected void interestBackward(int B) { concatBackward(null, B); }
}
