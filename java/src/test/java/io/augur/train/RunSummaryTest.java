package io.augur.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RunSummaryTest {

    @TempDir
    Path dir;

    record Cfg(int batch, double lr, String attention) {}

    private static RunSummary sample() {
        return new RunSummary("din", "cpu (16 threads)", "data/amazon-books", 42L, 4, 3, 0.742, 0.7412, 0.7003, 0.5123,
                12_345.4, 812.4, 1161.5, RunSummary.configTree(new Cfg(128, 1e-3, "80-40")));
    }

    @Test
    void writesSnakeCaseFieldsInOrderAndReadsBack() throws IOException {
        Path f = dir.resolve("run/summary.json");
        sample().write(f);
        JsonNode tree = new ObjectMapper().readTree(f.toFile());
        List<String> names = new ArrayList<>();
        for (Iterator<String> it = tree.fieldNames(); it.hasNext(); ) names.add(it.next());
        assertEquals(List.of("model", "device", "dataset", "seed", "epochs", "best_epoch", "best_valid_auc", "test_auc", "test_gauc",
                "test_logloss", "train_samples_per_s", "wall_s", "device_memory_mib", "config"), names);
        assertEquals(1161.5, tree.get("device_memory_mib").asDouble());
        assertEquals(0.7412, tree.get("test_auc").asDouble());
        assertEquals(128, tree.get("config").get("batch").asInt());
        assertEquals("80-40", tree.get("config").get("attention").asText());
        assertEquals(sample(), RunSummary.read(f));
        assertTrue(Files.readString(f).endsWith("}\n"));
        try (var s = Files.list(f.getParent())) {
            assertEquals(1, s.count(), "no temporary file left");
        }
    }

    @Test
    void humanLineReadsLikeTheReadmeSays() {
        assertEquals("din  test AUC 0.7412  GAUC 0.7003  logloss 0.5123  best valid AUC 0.7420 @ epoch 3  12,345 samples/s",
                sample().humanLine());
    }

    @Test
    void nanMetricsSurviveAndConfigDefaultsToEmpty() throws IOException {
        Map<String, Object> cfg = new LinkedHashMap<>();
        cfg.put("epochs", 1);
        RunSummary s = new RunSummary("dien", "cpu", "tiny", 1, 1, 1, 0.6, 0.6, Double.NaN, 0.69, 100, 1, null, null);
        Path f = dir.resolve("summary.json");
        s.write(f);
        assertTrue(Files.readString(f).contains("\"test_gauc\" : \"NaN\""), Files.readString(f));
        RunSummary back = RunSummary.read(f);
        assertTrue(Double.isNaN(back.testGauc()));
        assertTrue(Files.readString(f).contains("\"device_memory_mib\" : null"), "on the CPU: " + Files.readString(f));
        assertEquals(null, back.deviceMemoryMib());
        assertTrue(back.config().isObject() && back.config().isEmpty());
        assertTrue(s.humanLine().contains("GAUC NaN"), s.humanLine());
        assertEquals(1, RunSummary.configTree(cfg).get("epochs").asInt());
    }
}
