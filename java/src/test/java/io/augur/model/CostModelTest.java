package io.augur.model;

import io.augur.backend.Activation;
import io.augur.backend.Param;
import io.augur.backend.cpu.CpuBackend;
import io.augur.config.ModelConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The cost model counts from the shapes: its dense parameter count equals what the models build,
 * and its FLOPs and bytes match a count done by hand on a tiny configuration.
 */
class CostModelTest {
    static final Features FEATURES = new Features(List.of(new Features.Field("user_id", "user", 30)), 40, 7, 6);

    static ModelConfig tiny(ModelConfig.Kind kind, Activation att, float auxWeight) {
        return new ModelConfig(kind, 2, List.of(3, 2), att, true, List.of(5, 4), null, 1e-5f, 1e-8f, 0.99f, 0.01f,
                new ModelConfig.Sequence(3, ModelConfig.Evolution.AUGRU, auxWeight, List.of(4, 2)));
    }

    @ParameterizedTest
    @CsvSource({"BASE,SIGMOID,1", "DIN,SIGMOID,1", "DIN,DICE,1", "DIN,PRELU,1", "DIEN,SIGMOID,1", "DIEN,SIGMOID,0", "GRU_ATT,SIGMOID,1"})
    void denseParameterCountMatchesTheBuiltModel(ModelConfig.Kind kind, Activation att, float auxWeight) {
        ModelConfig cfg = tiny(kind, att, auxWeight);
        long built = 0;
        try (CpuBackend be = new CpuBackend(false, 1)) {
            CtrModel m = Models.create(be, cfg, FEATURES, 8, 1);
            for (Param p : m.params()) if (p.kind() == Param.Kind.DENSE) built += p.value().size();
        }
        CostModel.Cost c = CostModel.perSample(cfg, 1, 8, new CostModel.Workload(2, 1, 10));
        assertEquals(built, c.denseParams(), kind + " " + att);
    }

    /** D = 2 (E = 4), attention 3-2, top MLP 5-4, one profile field, L = 2 valid positions, B = 8. */
    @Test
    void dinByHand() {
        CostModel.Cost c = CostModel.perSample(tiny(ModelConfig.Kind.DIN, Activation.SIGMOID, 1), 1, 8, new CostModel.Workload(2, 1, 10));
        // x = [u (2), e_a, s, e_a*s (4 each), v (4)] = 18 wide: 18*5 + 5*4 + 4*1 = 114 MACs
        // the unit per position: 16*3 + 3*2 + 2*1 = 56 MACs, 2 positions
        assertEquals(2.0 * (114 + 112), c.forwardFlops(), 1e-9);
        assertEquals(2 * c.forwardFlops(), c.backwardFlops(), 1e-9);
        // lookups: user, item, cate, 2 x 2 history = 7 rows of D = 2
        // inputs 9 words; gather and grad 7*2 words each; sparse 10/8 rows * 2 * 7 words; dense params * 10 / 8 words
        long dense = (2L * 18 + 18 * 5 + 5 + 5 + 5 * 4 + 4 + 4 + 4 + 1) + (16 * 3 + 3 + 3 * 2 + 2 + 2 + 1);
        assertEquals(dense, c.denseParams());
        double words = 9 + 14 + 14 + 10.0 / 8 * 2 * 7 + dense * 10.0 / 8;
        assertEquals(4 * words, c.bytes(), 1e-9);
    }

    /** DIEN: E = 4, H = 3, L = 2, P = 1. */
    @Test
    void dienByHand() {
        CostModel.Cost c = CostModel.perSample(tiny(ModelConfig.Kind.DIEN, Activation.SIGMOID, 1), 1, 8, new CostModel.Workload(2, 1, 10));
        double top = 17 * 5 + 5 * 4 + 4;                 // x = 2 + 12 + 3
        double extractor = 2 * (4 * 9 + 3 * 9);          // per step x (4 x 9) and h (3 x 9)
        double evolution = 2 * (3 * 9 + 3 * 9);
        double query = 4 * 3;
        double att = 2 * (12 * 3 + 3 * 2 + 2);
        double aux = 2 * 1 * (7 * 4 + 4 * 2 + 2);         // 2P rows of [h, e] (7 wide)
        assertEquals(2 * (top + extractor + evolution + query + att + aux), c.forwardFlops(), 1e-9);
        // lookups: user, item, cate, 2 x 2 history, 2 x 1 negatives = 9
        assertEquals(4 * (11 + 9 * 2 * 2 + 10.0 / 8 * 2 * 7 + c.denseParams() * 10.0 / 8), c.bytes(), 1e-9);
    }

    @Test
    void floorIsTheSlowerOfComputeAndMemory() {
        CostModel.Cost c = new CostModel.Cost(1e6, 2e6, 1e4, 0, java.util.Map.of(), java.util.Map.of());
        assertEquals(1e12 / 3e6, CostModel.floorSamplesPerS(c, 1e12, 1e12), 1e-6);   // compute-bound
        assertEquals(1e9 / 1e4, CostModel.floorSamplesPerS(c, 1e15, 1e9), 1e-6);     // memory-bound
    }
}
