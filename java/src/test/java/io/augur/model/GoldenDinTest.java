package io.augur.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.augur.backend.Activation;
import io.augur.backend.Backend;
import io.augur.backend.Param;
import io.augur.backend.Tensor;
import io.augur.backend.cpu.CpuBackend;
import io.augur.config.ModelConfig;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The Java reference against an independent PyTorch implementation of the same formulas
 * (scripts/golden_din.py; values in src/test/resources/golden). One forward/backward of BaseModel
 * and DIN on a tiny fixed input, checking the logits, the loss, the intermediate tensors and
 * every parameter gradient. The fast path is checked too, against the same values.
 */
class GoldenDinTest {
    /**
     * Tolerance per tensor: |ours - golden| <= ATOL + RTOL * max|golden|. Both sides compute in
     * fp32 with different summation orders, so values differ in the last bits; BatchNorm and Dice
     * over a batch of 5 divide by small standard deviations, and the script measured its own fp32
     * values within 8e-6 (relative to each tensor's largest value) of exact fp64 arithmetic. An
     * element-wise relative bound would fail on entries that are sums cancelling to near zero
     * (the sigmoid-attention gradients), so the scale is the tensor's largest value. 1e-4 leaves a
     * margin of ten over the measured error and still catches any formula error, which shows up
     * at 1e-2 or more.
     */
    static final double RTOL = 1e-4, ATOL = 1e-7;

    @ParameterizedTest
    @ValueSource(strings = {"din_sigmoid", "din_dice_softmax", "din_prelu", "base"})
    void referenceMatchesPyTorch(String name) throws IOException {
        try (CpuBackend be = CpuBackend.reference()) {
            check(name, be);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"din_sigmoid", "din_dice_softmax", "din_prelu", "base"})
    void fastPathMatchesPyTorch(String name) throws IOException {
        try (CpuBackend be = new CpuBackend(false, 2)) {
            check(name, be);
        }
    }

    static JsonNode load(String name) throws IOException {
        try (InputStream in = GoldenDinTest.class.getResourceAsStream("/golden/" + name + ".json")) {
            if (in == null) fail("missing golden file golden/" + name + ".json (run scripts/golden_din.py)");
            return new ObjectMapper().readTree(in);
        }
    }

    private static void check(String name, Backend be) throws IOException {
        JsonNode g = load(name);
        JsonNode c = g.get("config");
        int B = c.get("B").asInt(), T = c.get("T").asInt(), D = c.get("D").asInt();
        boolean din = c.get("model").asText().equals("din");
        Features features = new Features(List.of(new Features.Field("user_id", "user", c.get("vocab").get("user").asInt())),
                c.get("vocab").get("item").asInt(), c.get("vocab").get("cate").asInt(), T);
        Activation attAct = din ? Activation.parse(c.get("attention_activation").asText()) : Activation.SIGMOID;
        // the baseline has no activation unit; its attention sizes are unused
        List<Integer> attHidden = din ? ints(c.get("att_hidden")) : List.of(1, 1);
        ModelConfig cfg = new ModelConfig(din ? ModelConfig.Kind.DIN : ModelConfig.Kind.BASE, D, attHidden, attAct,
                din && c.get("softmax").asBoolean(), ints(c.get("mlp_hidden")), null, (float) c.get("bn_eps").asDouble(),
                (float) c.get("dice_eps").asDouble(), 0.99f, 0.01f);
        // maxB larger than B: the model must touch only the first B rows
        CtrModel model = din ? new Din(be, cfg, features, B + 3, 1) : new BaseModel(be, cfg, features, B + 3, 1);

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
        int[] lengths = intArr(in.get("lengths"));
        model.batch.load(be, B, floats(in.get("labels")), new int[][] {intArr(in.get("user"))}, intArr(in.get("item")), intArr(in.get("cate")),
                intArr(in.get("hist_item")), intArr(in.get("hist_cate")), null, null, lengths);
        model.zeroGrads();
        Tensor logits = model.forward(true);
        float loss = model.loss();
        model.backward();

        JsonNode out = g.get("outputs");
        assertClose(name + " loss", new float[] {(float) out.get("loss").asDouble()}, new float[] {loss});
        assertClose(name + " logits", floats(out.get("logits").get("data")), download(be, logits, B));
        assertClose(name + " s", floats(out.get("s").get("data")), download(be, model.s, B * model.E));
        assertClose(name + " x", floats(out.get("x").get("data")), download(be, model.x, B * model.xWidth));
        if (din) {
            Din d = (Din) model;
            assertClose(name + " att_weights", floats(out.get("att_weights").get("data")), download(be, d.attentionWeights(), B * T));
        }
        assertClose(name + " grad_x", floats(out.get("grad_x").get("data")), download(be, model.dx, B * model.xWidth));

        JsonNode grads = g.get("grads");
        List<String> checked = new ArrayList<>();
        for (Param p : model.params()) {
            if (p.kind() == Param.Kind.BUFFER) continue;
            float[] expected = floats(grads.get(p.name()).get("data"));
            float[] actual = new float[p.value().size()];
            if (p.kind() == Param.Kind.DENSE) be.download(p.grad(), actual, actual.length);
            else be.downloadGrad(p.sparseGrad(), actual);
            assertClose(name + " grad " + p.name(), expected, actual);
            checked.add(p.name());
        }
        assertEquals(theirs.size(), checked.size(), name + ": every parameter's gradient is checked");
    }

    static void assertClose(String what, float[] expected, float[] actual) {
        assertEquals(expected.length, actual.length, what + ": length");
        StringBuilder bad = new StringBuilder();
        int mismatches = 0;
        double scale = 0;
        for (float e : expected) scale = Math.max(scale, Math.abs(e));
        double tol = ATOL + RTOL * scale;
        for (int k = 0; k < expected.length; k++) {
            if (!(Math.abs(expected[k] - actual[k]) <= tol)) {
                if (mismatches++ < 5) bad.append(String.format("  [%d] expected %.8g got %.8g%n", k, expected[k], actual[k]));
            }
        }
        if (mismatches > 0) fail(what + ": " + mismatches + " of " + expected.length + " values off\n" + bad);
    }

    static float[] download(Backend be, Tensor t, int n) {
        float[] a = new float[n];
        be.download(t, a, n);
        return a;
    }

    static float[] floats(JsonNode arr) {
        float[] a = new float[arr.size()];
        for (int k = 0; k < a.length; k++) a[k] = (float) arr.get(k).asDouble();
        return a;
    }

    static int[] intArr(JsonNode arr) {
        int[] a = new int[arr.size()];
        for (int k = 0; k < a.length; k++) a[k] = arr.get(k).asInt();
        return a;
    }

    static List<Integer> ints(JsonNode arr) {
        List<Integer> l = new ArrayList<>();
        arr.forEach(n -> l.add(n.asInt()));
        return l;
    }
}
