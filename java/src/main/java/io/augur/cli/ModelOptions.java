package io.augur.cli;

import io.augur.backend.Activation;
import io.augur.config.ModelConfig;
import picocli.CommandLine.Option;

import java.util.List;

/** The model's flags, shared by train and bench. Defaults are the paper's Amazon config. */
public final class ModelOptions {
    @Option(names = "--model", defaultValue = "din",
            description = "base, din, dien or gru-att (the DIEN paper's two-layer GRU attention baseline) (default: ${DEFAULT-VALUE})")
    String model;

    @Option(names = "--emb-dim", defaultValue = "18", description = "embedding width D per field (default: ${DEFAULT-VALUE})")
    int embDim;

    @Option(names = "--att-hidden", defaultValue = "80,40", split = ",", description = "activation-unit hidden sizes (default: ${DEFAULT-VALUE})")
    List<Integer> attHidden;

    @Option(names = "--att-activation", defaultValue = "sigmoid", description = "activation-unit activation: sigmoid, prelu or dice (default: ${DEFAULT-VALUE})")
    String attActivation;

    @Option(names = "--att-softmax", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "softmax the attention weights over valid positions (default: on; --no-att-softmax gives the DIN paper's unnormalised weights)")
    boolean attSoftmax;

    @Option(names = "--mlp-hidden", defaultValue = "200,80", split = ",", description = "top MLP hidden sizes (default: ${DEFAULT-VALUE})")
    List<Integer> mlpHidden;

    @Option(names = "--mlp-activation", description = "top MLP activation: dice, prelu or sigmoid (default: dice for din, prelu for base)")
    String mlpActivation;

    @Option(names = "--emb-init-std", defaultValue = "0.01", description = "std of the normal init of embedding rows (default: ${DEFAULT-VALUE})")
    float embInitStd;

    @Option(names = "--gru-hidden", defaultValue = "36", description = "dien, gru-att: GRU hidden size H (default: ${DEFAULT-VALUE})")
    int gruHidden;

    @Option(names = "--evolution", defaultValue = "augru", description = "dien: interest evolution layer, augru, agru or aigru (default: ${DEFAULT-VALUE})")
    String evolution;

    @Option(names = "--aux-weight", defaultValue = "1", description = "dien: weight of the auxiliary loss, 0 = off (default: ${DEFAULT-VALUE})")
    float auxWeight;

    @Option(names = "--aux-hidden", defaultValue = "100,50", split = ",", description = "dien: auxiliary network hidden sizes (default: ${DEFAULT-VALUE})")
    List<Integer> auxHidden;

    ModelConfig toConfig() {
        ModelConfig d = ModelConfig.defaults(ModelConfig.Kind.parse(model));
        return new ModelConfig(d.kind(), embDim, attHidden, Activation.parse(attActivation), attSoftmax, mlpHidden,
                mlpActivation == null ? null : Activation.parse(mlpActivation), d.bnEps(), d.diceEps(), d.momentum(), embInitStd,
                new ModelConfig.Sequence(gruHidden, ModelConfig.Evolution.parse(evolution), auxWeight, auxHidden));
    }
}
