package io.augur.model;

import io.augur.backend.Backend;
import io.augur.config.ModelConfig;
import io.augur.data.Dataset;
import io.augur.data.DatasetInfo;
import io.augur.data.FieldSpec;

import java.util.ArrayList;
import java.util.List;

/** Builds a model by name, and the model's view of a dataset. */
public final class Models {
    private Models() {}

    /** A model planned for batches of up to maxB samples, training and evaluation alike. */
    public static CtrModel create(Backend be, ModelConfig cfg, Features features, int maxB, long seed) {
        return create(be, cfg, features, maxB, maxB, seed);
    }

    /**
     * A model planned for batches of up to maxB samples, of which training batches have at most
     * maxTrainB (buffers only training uses, like DIEN's auxiliary network, are sized by it).
     */
    public static CtrModel create(Backend be, ModelConfig cfg, Features features, int maxB, int maxTrainB, long seed) {
        return switch (cfg.kind()) {
            case BASE -> new BaseModel(be, cfg, features, maxB, seed);
            case DIN -> new Din(be, cfg, features, maxB, seed);
            case DIEN -> new Dien(be, cfg, features, maxB, maxTrainB, seed);
            case GRU_ATT -> new GruAttention(be, cfg, features, maxB, seed);
        };
    }

    /** Profile fields, vocabularies and T as the dataset describes them. */
    public static Features features(Dataset data) {
        DatasetInfo info = data.info();
        List<Features.Field> profile = new ArrayList<>();
        for (FieldSpec f : info.profileFields()) profile.add(new Features.Field(f.name(), f.vocab(), info.vocabSize(f.vocab())));
        return new Features(profile, info.vocabSize("item"), info.vocabSize("cate"), data.schema().historyLength());
    }
}
