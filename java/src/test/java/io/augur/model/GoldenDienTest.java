package io.augur.model;

import com.fasterxml.jackson.databind.JsonNode;
import io.augur.backend.Activation;
import io.augur.backend.Backend;
import io.augur.backend.Param;
import io.augur.backend.Tensor;
import io.augur.backend.cpu.CpuBackend;
import io.augur.config.ModelConfig;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import static io.augur.model.GoldenDinTest.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * One DIEN training step against the independent PyTorch implementation in
 * scripts/golden_dien.py: the extractor's states, the attention weights, the evolved interest,
 * the feature vector, the logits, the cross-entropy, the auxiliary loss and the total loss, the
 * gradient at x and every parameter gradient (embedding rows reached through the negatives
 * included). AUGRU with the auxiliary loss (the paper's DIEN), AGRU with weight 0.5, and AIGRU
 * without the auxiliary network; on the reference and on the fast path. Tolerances as in
 * {@link GoldenDinTest} (the script measured its fp32 values within 7e-6 of fp64).
 */
class GoldenDienTest {
    @ParameterizedTest
    @ValueSource(strings = {"dien_augru_aux", "dien_agru_aux", "dien_aigru"})
    void referenceMatchesPyTorch(String name) throws IOException {
        try (CpuBackend be = CpuBackend.reference()) {
            check(name, be);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"dien_augru_aux", "dien_agru_aux", "dien_aigru"})
    void fastPathMatchesPyTorch(String name) throws IOException {
        try (CpuBackend be = new CpuBackend(false, 2)) {
            check(name, be);
        }
    }

    private static void check(String name, Backend be) throws IOException {
        JsonNode g = GoldenDinTest.load(name);
        JsonNode c = g.get("config");
        int B = c.get("B").asInt(), T = c.get("T").asInt(), D = c.get("D").asInt(), H = c.get("H").asInt();
        float auxWeight = (float) c.get("aux_weight").asDouble();
        Features features = new Features(List.of(new Features.Field("user_id", "user", c.get("vocab").get("user").asInt())),
                c.get("vocab").get("item").asInt(), c.get("vocab").get("cate").asInt(), T);
        ModelConfig.Sequence seq = new ModelConfig.Sequence(H, ModelConfig.Evolution.parse(c.get("evolution").asText()), auxWeight,
                ints(c.get("aux_hidden")));
        ModelConfig cfg = new ModelConfig(ModelConfig.Kind.DIEN, D, ints(c.get("att_hidden")), Activation.parse(c.get("attention_activation").asText()),
                true, ints(c.get("mlp_hidden")), null, (float) c.get("bn_eps").asDouble(), (float) c.get("dice_eps").asDouble(), 0.99f, 0.01f, seq);
        // maxB larger than B: the model must touch only the first B rows
        Dien model = new Dien(be, cfg, features, B + 3, B + 2, 1);

        JsonNode params = g.get("params");
        Set<String> ours = new TreeSet<>();
        for (Param p : model.params()) {
            if (p.kind() == Param.Kind.BUFFER) continue;
            ours.add(p.name());
            JsonNode gp = params.get(p.name());
            if (gp == null) fail(name + ": parameter " + p.name() + " is not in the golden file");
            float[] data = floats(gp.get("data"));
            assertEquals(p.value().size(), data.length, name + ": size of " + p.name());
            be.upload(p.value(), data, data.length);
        }
        Set<String> theirs = new TreeSet<>();
        params.fieldNames().forEachRemaining(theirs::add);
        assertEquals(theirs, ours, name + ": parameter names");

        JsonNode in = g.get("inputs");
        model.batch.load(be, B, floats(in.get("labels")), new int[][] {intArr(in.get("user"))}, intArr(in.get("item")), intArr(in.get("cate")),
                intArr(in.get("hist_item")), intArr(in.get("hist_cate")), intArr(in.get("neg_item")), intArr(in.get("neg_cate")),
                intArr(in.get("lengths")));
        model.zeroGrads();
        Tensor logits = model.forward(true);
        float loss = model.loss();
        model.backward();

        JsonNode out = g.get("outputs");
        assertClose(name + " loss", new float[] {(float) out.get("loss").asDouble()}, new float[] {loss});
        if (auxWeight > 0) {
            assertClose(name + " aux loss", new float[] {(float) out.get("aux_loss").asDouble()}, new float[] {(float) model.lastAuxLoss()});
            assertClose(name + " aux logits", floats(out.get("aux_logits").get("data")),
                    download(be, model.auxLogits(), out.get("aux_logits").get("data").size()));
        } else {
            assertEquals(Double.NaN, model.lastAuxLoss(), name + ": no auxiliary loss without the auxiliary network");
            assertNull(model.auxLogits());
        }
        assertClose(name + " logits", floats(out.get("logits").get("data")), download(be, logits, B));
        assertClose(name + " s", floats(out.get("s").get("data")), download(be, model.s, B * model.E));
        assertClose(name + " h", floats(out.get("h").get("data")), download(be, model.hiddenStates(), B * T * H));
        assertClose(name + " att_weights", floats(out.get("att_weights").get("data")), download(be, model.attentionWeights(), B * T));
        assertClose(name + " h_last", floats(out.get("h_last").get("data")), download(be, model.evolvedInterest(), B * H));
        assertClose(name + " x", floats(out.get("x").get("data")), download(be, model.x, B * model.xWidth));
        assertClose(name + " grad_x", floats(out.get("grad_x").get("data")), download(be, model.dx, B * model.xWidth));

        JsonNode grads = g.get("grads");
        int checked = 0;
        for (Param p : model.params()) {
            if (p.kind() == Param.Kind.BUFFER) continue;
            float[] expected = floats(grads.get(p.name()).get("data"));
            float[] actual = new float[p.value().size()];
            if (p.kind() == Param.Kind.DENSE) be.download(p.grad(), actual, actual.length);
            else be.downloadGrad(p.sparseGrad(), actual);
            assertClose(name + " grad " + p.name(), expected, actual);
            checked++;
        }
        assertEquals(theirs.size(), checked, name + ": every parameter's gradient is checked");
    }
}
