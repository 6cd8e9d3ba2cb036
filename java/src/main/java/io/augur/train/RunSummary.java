package io.augur.train;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;
import java.util.Objects;

/**
 * The outcome of a training run, written as {@code summary.json} in the run folder: what a
 * benchmark table, a comparison script or a person needs without reading the logs.
 *
 * <pre>
 * {
 *   "model" : "din", "device" : "cuda:0 NVIDIA H200", "dataset" : "data/amazon-books",
 *   "seed" : 42, "epochs" : 4, "best_epoch" : 3, "best_valid_auc" : 0.742,
 *   "test_auc" : 0.7412, "test_gauc" : 0.7003, "test_logloss" : 0.5123,
 *   "train_samples_per_s" : 12345.6, "wall_s" : 812.4, "device_memory_mib" : 1161.4,
 *   "config" : { ... the run's final configuration ... }
 * }
 * </pre>
 *
 * <p>{@code epochs} is the number of epochs trained (fewer than configured after an early stop);
 * {@code best_epoch} counts from 1; {@code train_samples_per_s} is training throughput excluding
 * evaluation; {@code wall_s} the whole run; {@code device_memory_mib} the device memory Augur had
 * allocated at the end (its arena segments: parameters, optimizer state, the planned activations
 * and workspaces of training and evaluation; and the input staging), null on the CPU and in
 * summaries written before it existed. A metric that could not be computed is NaN, written as the
 * JSON string "NaN" (Jackson's convention) and read back as NaN.
 */
@JsonPropertyOrder({"model", "device", "dataset", "seed", "epochs", "best_epoch", "best_valid_auc", "test_auc", "test_gauc",
        "test_logloss", "train_samples_per_s", "wall_s", "device_memory_mib", "config"})
@JsonIgnoreProperties(ignoreUnknown = true)
public record RunSummary(
        @JsonProperty("model") String model,
        @JsonProperty("device") String device,
        @JsonProperty("dataset") String dataset,
        @JsonProperty("seed") long seed,
        @JsonProperty("epochs") int epochs,
        @JsonProperty("best_epoch") int bestEpoch,
        @JsonProperty("best_valid_auc") double bestValidAuc,
        @JsonProperty("test_auc") double testAuc,
        @JsonProperty("test_gauc") double testGauc,
        @JsonProperty("test_logloss") double testLogloss,
        @JsonProperty("train_samples_per_s") double trainSamplesPerS,
        @JsonProperty("wall_s") double wallS,
        @JsonProperty("device_memory_mib") Double deviceMemoryMib,
        @JsonProperty("config") JsonNode config) {

    public static final String FILE_NAME = "summary.json";

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    public RunSummary {
        Objects.requireNonNull(model, "model");
        if (config == null) config = JSON.createObjectNode();
    }

    /** A configuration object (a config record, a map) as the JSON tree stored under "config". */
    public static JsonNode configTree(Object config) { return JSON.valueToTree(config); }

    /** The JSON text, pretty-printed. */
    public String toJson() {
        try {
            return JSON.writeValueAsString(this);
        } catch (IOException e) {
            throw new IllegalStateException("summary not serializable", e);
        }
    }

    /** Writes the JSON (with a final newline) to {@code file} through a temporary file and a rename. */
    public void write(Path file) throws IOException {
        Path target = file.toAbsolutePath();
        Files.createDirectories(target.getParent());
        Path tmp = target.resolveSibling("." + target.getFileName() + ".tmp");
        try {
            Files.writeString(tmp, toJson() + "\n", StandardCharsets.UTF_8);
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    public static RunSummary read(Path file) throws IOException {
        return JSON.readValue(file.toFile(), RunSummary.class);
    }

    /**
     * One line for the log and the console:
     * {@code din  test AUC 0.7412  GAUC 0.7003  logloss 0.5123  best valid AUC 0.7420 @ epoch 3  12,345 samples/s}
     */
    public String humanLine() {
        return String.format(Locale.ROOT, "%s  test AUC %.4f  GAUC %.4f  logloss %.4f  best valid AUC %.4f @ epoch %d  %,d samples/s",
                model, testAuc, testGauc, testLogloss, bestValidAuc, bestEpoch, Math.round(trainSamplesPerS));
    }
}
