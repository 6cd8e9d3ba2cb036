package io.augur.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The {@code augur} command line as {@link Augur#main} configures it ({@link Augur#commandLine()}),
 * on a tiny generated world: generate, train, info and bench succeed and print what they should;
 * bad flags and bad data end with a non-zero status and one line that names the problem.
 */
public class CliTest {
    /** A tiny world (~3,000 train rows, T = 10) and a tiny model keep every command well under a few seconds. */
    public static final String[] TINY_WORLD = {"--users", "300", "--items", "200", "--categories", "10", "--mean-history", "8",
            "--max-behaviours", "40", "--T", "10"};
    public static final String[] TINY_MODEL = {"--emb-dim", "4", "--att-hidden", "8,4", "--mlp-hidden", "8,4"};

    @TempDir
    static Path shared;
    static Path data;

    /** What a command did: exit status, everything it printed to stdout, and the command line's error writer. */
    public record Result(int code, String out, String err) {
        @Override
        public String toString() { return "exit " + code + "\n--- out:\n" + out + "--- err:\n" + err; }
    }

    /**
     * Runs one command line. The commands print their results with System.out (not the command
     * line's writer), so stdout is captured as well as the writers set with setOut/setErr.
     */
    public static Result run(String... args) {
        CommandLine cl = Augur.commandLine();
        StringWriter out = new StringWriter(), err = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        ByteArrayOutputStream sysOut = new ByteArrayOutputStream();
        PrintStream saved = System.out;
        int code;
        System.setOut(new PrintStream(sysOut, true, StandardCharsets.UTF_8));
        try {
            code = cl.execute(args);
        } finally {
            System.out.flush();
            System.setOut(saved);
        }
        return new Result(code, out + sysOut.toString(StandardCharsets.UTF_8), err.toString());
    }

    public static String[] args(String[]... parts) {
        List<String> all = new ArrayList<>();
        for (String[] p : parts) all.addAll(List.of(p));
        return all.toArray(String[]::new);
    }

    @BeforeAll
    static void generate() {
        System.setProperty("java.awt.headless", "true");
        data = shared.resolve("world");
        Result r = run(args(new String[] {"generate", "--out", data.toString()}, TINY_WORLD));
        assertEquals(0, r.code(), r.toString());
        assertTrue(r.out().contains("synthetic world"), r.toString());
        assertTrue(Files.isRegularFile(data.resolve("dataset.json")), "generate wrote no dataset.json");
        assertTrue(Files.isRegularFile(data.resolve("train.arrow")), "generate wrote no train.arrow");
    }

    @Test
    void trainPrintsTheResultLine(@TempDir Path tmp) throws IOException {
        Path runDir = tmp.resolve("run");
        Result r = run(args(new String[] {"train", "--data", data.toString(), "--out", runDir.toString(), "--model", "din", "--epochs", "1",
                "--batch-size", "32", "--eval-batch-size", "256", "--lr", "0.01", "--threads", "2"}, TINY_MODEL));
        assertEquals(0, r.code(), r.toString());
        String line = r.out().lines().filter(l -> l.startsWith("din ")).findFirst().orElse(null);
        assertTrue(line != null, "no line starting with the model name:\n" + r);
        assertTrue(line.contains("test AUC") && line.contains("GAUC"), line);
        assertTrue(r.out().contains("run folder: " + runDir), r.toString());
        assertTrue(Files.isRegularFile(runDir.resolve("summary.json")), "no summary.json in " + runDir);
        assertTrue(Files.isRegularFile(runDir.resolve("best.ckpt")), "no best.ckpt in " + runDir);
        JsonNode summary = new ObjectMapper().readTree(runDir.resolve("summary.json").toFile());
        if (summary.path("device").asText().startsWith("cpu")) assertTrue(summary.path("device_memory_mib").isNull(), summary.toString());
        else assertTrue(summary.path("device_memory_mib").asDouble() > 0, summary.toString());
    }

    /** DIEN's ablations and the two-layer GRU attention baseline run from the command line. */
    @ParameterizedTest
    @CsvSource({"dien,augru,1", "dien,agru,1", "dien,aigru,1", "dien,augru,0", "gru-att,augru,1"})
    void recurrentModelsTrainFromTheCommandLine(String model, String evolution, String auxWeight, @TempDir Path tmp) {
        Path runDir = tmp.resolve("run");
        Result r = run(args(new String[] {"train", "--data", data.toString(), "--out", runDir.toString(), "--model", model, "--evolution", evolution,
                "--aux-weight", auxWeight, "--gru-hidden", "6", "--aux-hidden", "6,3", "--epochs", "1", "--batch-size", "32",
                "--eval-batch-size", "256", "--lr", "0.01", "--threads", "2"}, TINY_MODEL));
        assertEquals(0, r.code(), r.toString());
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith(model + " ") && l.contains("test AUC")), r.toString());
    }

    @Test
    void badRecurrentFlagsFailWithOneLine(@TempDir Path tmp) {
        Result r = run(args(new String[] {"train", "--model", "dien", "--evolution", "lstm", "--data", data.toString(), "--out",
                tmp.resolve("a").toString(), "--epochs", "1"}, TINY_MODEL));
        assertNotEquals(0, r.code(), r.toString());
        assertTrue(r.err().contains("lstm") && r.err().contains("augru"), r.toString());
        r = run(args(new String[] {"train", "--model", "dien", "--no-att-softmax", "--data", data.toString(), "--out", tmp.resolve("b").toString(),
                "--epochs", "1"}, TINY_MODEL));
        assertNotEquals(0, r.code(), r.toString());
        assertTrue(r.err().contains("always softmaxed"), r.toString());
        r = run(args(new String[] {"train", "--model", "dien", "--aux-weight", "-1", "--data", data.toString(), "--out", tmp.resolve("c").toString(),
                "--epochs", "1"}, TINY_MODEL));
        assertNotEquals(0, r.code(), r.toString());
        assertTrue(r.err().contains("auxiliary loss weight"), r.toString());
        assertEquals(1, r.err().lines().count(), "one line, no stack trace:\n" + r);
    }

    @Test
    void cudaFailsNamingTheBackendAndSuggestingCpu(@TempDir Path tmp) {
        org.junit.jupiter.api.Assumptions.assumeFalse(io.augur.backend.cuda.GpuTesting.available(), "a GPU is usable here: --device cuda runs");
        Result r = run(args(new String[] {"train", "--device", "cuda", "--data", data.toString(), "--out", tmp.resolve("run").toString(),
                "--epochs", "1"}, TINY_MODEL));
        assertNotEquals(0, r.code(), r.toString());
        assertTrue(r.err().startsWith("augur train: "), r.toString());
        assertTrue(r.err().contains("CUDA backend"), r.toString());
        assertTrue(r.err().contains("--device cpu"), r.toString());
        assertEquals(1, r.err().lines().count(), "one line, no stack trace:\n" + r);
    }

    /** A --device that is none of the forms fails before anything is read or written; so does a GPU number that is not there. */
    @Test
    void anUnknownDeviceFailsBeforeAnythingRuns(@TempDir Path tmp) {
        Result r = run(args(new String[] {"train", "--device", "cuda:one", "--data", data.toString(), "--out", tmp.resolve("run").toString()},
                TINY_MODEL));
        assertEquals(2, r.code(), r.toString());
        assertTrue(r.err().startsWith("augur train: unknown device 'cuda:one'"), r.toString());
        assertEquals(1, r.err().lines().count(), "one line, no stack trace:\n" + r);
        assertTrue(Files.notExists(tmp.resolve("run")), "a failed run left a run folder");
        Result b = run("bench", "--device", "gpu", "--data", data.toString());
        assertEquals(2, b.code(), b.toString());
        assertTrue(b.err().contains("unknown device 'gpu' (expected auto, cpu, cpu-reference, cuda or cuda:N)"), b.toString());
        Result far = run(args(new String[] {"train", "--device", "cuda:99", "--data", data.toString(), "--out", tmp.resolve("far").toString(),
                "--epochs", "1"}, TINY_MODEL));
        assertNotEquals(0, far.code(), far.toString());
        assertTrue(far.err().startsWith("augur train: --device cuda:99 cannot run"), far.toString());
        Result info = run("info", "--device", "cpu");
        assertEquals(2, info.code(), info.toString());
        assertTrue(info.err().contains("augur info shows a GPU's details: cuda or cuda:N"), info.toString());
    }

    @Test
    void truncatedTrainFileFailsNamingTheFile(@TempDir Path tmp) throws IOException {
        Path bad = tmp.resolve("bad");
        try (Stream<Path> files = Files.walk(data)) { // the dataset folder has a counts/ subfolder
            for (Path f : files.toList()) Files.copy(f, bad.resolve(data.relativize(f).toString()));
        }
        Path train = bad.resolve("train.arrow");
        long size = Files.size(train);
        try (FileChannel ch = FileChannel.open(train, StandardOpenOption.WRITE)) {
            ch.truncate(size / 2);
        }
        Result r = run(args(new String[] {"train", "--data", bad.toString(), "--out", tmp.resolve("run").toString(), "--epochs", "1"},
                TINY_MODEL));
        assertNotEquals(0, r.code(), r.toString());
        assertTrue(r.err().startsWith("augur train: "), r.toString());
        assertTrue(r.err().contains(train.toString()), "the error does not name " + train + ":\n" + r);
        assertEquals(1, r.err().lines().count(), "one line, no stack trace:\n" + r);
    }

    @Test
    void unknownModelFailsNamingTheValue(@TempDir Path tmp) {
        Result r = run("train", "--model", "nosuch", "--data", data.toString(), "--out", tmp.resolve("run").toString(), "--epochs", "1");
        assertNotEquals(0, r.code(), r.toString());
        assertTrue(r.err().contains("nosuch"), r.toString());
        assertTrue(r.err().contains("base") && r.err().contains("din"), "the error should list the valid models:\n" + r);
        assertTrue(Files.notExists(tmp.resolve("run")), "a failed run left a run folder");
    }

    @Test
    void unknownPrecisionFailsNamingTheOption(@TempDir Path tmp) {
        Result r = run("train", "--precision", "bf16", "--data", data.toString(), "--out", tmp.resolve("run").toString(), "--epochs", "1");
        assertNotEquals(0, r.code(), r.toString());
        assertTrue(r.err().contains("--precision bf16") && r.err().contains("fp32, tf32 or tf32x3"), r.toString());
        assertEquals(1, r.err().lines().count(), "one line, no stack trace:\n" + r);
        assertTrue(Files.notExists(tmp.resolve("run")), "a failed run left a run folder");
    }

    /** A --tuning file that is not a tuning table is an error naming it and its fault, before anything runs, on any device. */
    @Test
    void aTuningTableThatIsNotOneFailsBeforeAnythingRuns(@TempDir Path tmp) throws IOException {
        Path table = tmp.resolve("tuning.json");
        Files.writeString(table, "{\"schema\": \"augur-tuning/1\", \"entries\": 3}");
        Result r = run(args(new String[] {"train", "--device", "cpu", "--data", data.toString(), "--out", tmp.resolve("run").toString(),
                "--tuning", table.toString()}, TINY_MODEL));
        assertEquals(2, r.code(), r.toString());
        assertTrue(r.err().contains("tuning table " + table + ": field 'entries' must be an array"), r.toString());
        assertTrue(Files.notExists(tmp.resolve("run")), "a failed run left a run folder");
        Result missing = run("bench", "--data", data.toString(), "--tuning", tmp.resolve("none.json").toString());
        assertTrue(missing.err().contains("tuning table " + tmp.resolve("none.json") + ": no such file"), missing.toString());
        Result save = run("bench", "--data", data.toString(), "--save-tuning", tmp.resolve("t.json").toString());
        assertTrue(save.err().contains("--save-tuning " + tmp.resolve("t.json") + " needs --autotune"), save.toString());
        Result saveBad = run("bench", "--data", data.toString(), "--autotune", "--save-tuning", table.toString());
        assertTrue(saveBad.err().contains("tuning table " + table + ": field 'entries'"), saveBad.toString());
    }

    @Test
    void infoPrintsTheCpuBackend() {
        Result r = run("info");
        assertEquals(0, r.code(), r.toString());
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("backend") && l.contains("cpu: available")), r.toString());
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("backend") && l.contains("cuda: not available")), r.toString());
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("nvtx") && l.contains(io.augur.backend.cuda.Nvtx.describe())), r.toString());
    }

    @Test
    void benchPrintsJsonWithSamplesPerSecond() throws IOException {
        Result r = run(args(new String[] {"bench", "--data", data.toString(), "--batch-sizes", "16", "--repeats", "1", "--warmup-seconds", "0.2",
                "--seconds", "0.5", "--json", "--threads", "2", "--precision", "tf32", "--resident-data", "--autotune"}, TINY_MODEL));
        assertEquals(0, r.code(), r.toString());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals("fp32", j.path("precision").asText(), "the CPU computes in fp32 whatever is asked:\n" + r);
        assertTrue(j.path("settings").path("resident_data").asBoolean(), "--resident-data is recorded as asked:\n" + r);
        assertFalse(j.path("results").path(0).path("resident_data").asBoolean(), "the CPU reads batches from host memory anyway:\n" + r);
        assertTrue(j.path("results").path(0).path("autotune").isMissingNode(), "the CPU has no kernel settings to autotune:\n" + r);
        JsonNode sps = j.path("samples_per_s");
        assertTrue(sps.isNumber(), "samples_per_s is not a number:\n" + r);
        assertTrue(sps.asDouble() > 0, "samples_per_s = " + sps);
        assertEquals("din", j.path("model").asText(), r.toString());
        assertEquals(16, j.path("results").path(0).path("batch_size").asInt(), r.toString());
    }
}
