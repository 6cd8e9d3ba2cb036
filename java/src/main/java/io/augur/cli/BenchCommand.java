package io.augur.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.augur.backend.Backend;
import io.augur.backend.Backends;
import io.augur.config.ModelConfig;
import io.augur.config.TrainConfig;
import io.augur.config.WorldConfig;
import io.augur.data.Batch;
import io.augur.data.BatchReader;
import io.augur.data.Dataset;
import io.augur.data.SampleFile;
import io.augur.data.SyntheticWorld;
import io.augur.model.CtrModel;
import io.augur.model.Models;
import io.augur.train.Optimizer;
import io.augur.train.Trainer;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code augur bench}: steady-state training throughput. For each batch size, a fresh model trains
 * on shuffled batches of the train split (read through the same prefetching reader as training):
 * first for --warmup-seconds (JIT compilation, first touch of memory; not counted), then for
 * --seconds, timed. That is one run; the figure reported is the median of --repeats runs.
 */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Measure steady-state training samples/s (median of several runs) on a synthetic world of the benchmark shape.",
                "Without --data, uses data/bench (20,000 users, ~21 behaviours each, T = 100), generated on first use."})
public final class BenchCommand implements Callable<Integer> {
    private static final Logger LOG = LogManager.getLogger(BenchCommand.class);

    @Option(names = "--data", description = "dataset folder (default: data/bench, generated on first use)")
    Path data;

    @Option(names = "--device", defaultValue = "cpu", description = "cpu, cpu-reference, cuda or auto (default: ${DEFAULT-VALUE})")
    String device;

    @Option(names = "--batch-sizes", defaultValue = "128,1024", split = ",", description = "batch sizes to measure (default: ${DEFAULT-VALUE})")
    List<Integer> batchSizes;

    @Option(names = "--repeats", defaultValue = "3", description = "runs per batch size; the median is reported (default: ${DEFAULT-VALUE})")
    int repeats;

    @Option(names = "--warmup-seconds", defaultValue = "4", description = "untimed training before each run (default: ${DEFAULT-VALUE})")
    double warmupSeconds;

    @Option(names = "--seconds", defaultValue = "8", description = "timed training per run (default: ${DEFAULT-VALUE})")
    double seconds;

    @Option(names = "--json", description = "print one JSON object instead of the table")
    boolean json;

    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--threads", defaultValue = "0", description = "CPU threads, 0 = all cores (default: ${DEFAULT-VALUE})")
    int threads;

    @Option(names = "--seed", defaultValue = "42", description = "seed (default: ${DEFAULT-VALUE})")
    long seed;

    /** One timed run. */
    record Run(double samplesPerS, long steps, double stepMsP50, double stepMsP90) {}

    @Override
    public Integer call() throws Exception {
        if (repeats < 1) throw new IllegalArgumentException("--repeats must be >= 1, got " + repeats);
        if (!(seconds > 0)) throw new IllegalArgumentException("--seconds must be > 0, got " + seconds);
        Path dataDir = data != null ? data : SyntheticWorld.ensure(Path.of("data", "bench"), WorldConfig.benchmark());
        Dataset ds = Dataset.open(dataDir);
        SampleFile train = ds.train();
        ModelConfig mcfg = modelOptions.toConfig();
        List<Map<String, Object>> results = new ArrayList<>();
        String backendName;
        try (Backend be = Backends.create(device, threads)) {
            backendName = be.describe();
            for (int B : batchSizes) {
                TrainConfig tcfg = withBatch(TrainConfig.defaults(), B);
                List<Run> runs = new ArrayList<>();
                for (int r = 0; r < repeats; r++) {
                    CtrModel model = Models.create(be, mcfg, Models.features(ds), B, seed + r);
                    Optimizer opt = new Optimizer(be, model.params(), Trainer.countsByTable(model, ds), tcfg);
                    Trainer trainer = new Trainer(be, model, ds, tcfg, Path.of("."), Map.of());
                    Run run = timedRun(trainer, opt, train, B, seed + r);
                    LOG.info("{} batch {} run {}/{}: {} samples/s ({} steps, step p50 {} ms)", mcfg.kind().label(), B, r + 1, repeats,
                            String.format("%,.0f", run.samplesPerS()), run.steps(), String.format("%.2f", run.stepMsP50()));
                    runs.add(run);
                }
                double[] sps = runs.stream().mapToDouble(Run::samplesPerS).sorted().toArray();
                Map<String, Object> res = new LinkedHashMap<>();
                res.put("batch_size", B);
                res.put("samples_per_s", sps[sps.length / 2]);
                res.put("runs_samples_per_s", Arrays.stream(runs.stream().mapToDouble(Run::samplesPerS).toArray()).boxed().toList());
                res.put("step_ms_p50", median(runs.stream().mapToDouble(Run::stepMsP50).toArray()));
                res.put("step_ms_p90", median(runs.stream().mapToDouble(Run::stepMsP90).toArray()));
                res.put("steps_per_run", runs.stream().mapToLong(Run::steps).min().orElse(0));
                results.add(res);
            }
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("model", mcfg.kind().label());
        out.put("device", device);
        out.put("backend", backendName);
        out.put("samples_per_s", results.get(0).get("samples_per_s"));
        out.put("results", results);
        out.put("repeats", repeats);
        out.put("warmup_s", warmupSeconds);
        out.put("timed_s", seconds);
        out.put("dataset", Map.of("dir", dataDir.toString(), "train_rows", train.rows(), "T", ds.schema().historyLength(),
                "mean_history", (double) train.historyValues() / train.rows()));
        out.put("model_config", mcfg);
        out.put("machine", Map.of("cpu", InfoCommand.cpuModel(), "cores", Runtime.getRuntime().availableProcessors(),
                "java", System.getProperty("java.vm.name") + " " + System.getProperty("java.version"),
                "os", System.getProperty("os.name") + " " + System.getProperty("os.arch")));
        out.put("date", Instant.now().toString());
        if (json) {
            System.out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(out));
        } else {
            System.out.printf("%s training on %s, %s (median of %d runs of %.0f s after %.0f s warm-up)%n", mcfg.kind().label(), dataDir, backendName,
                    repeats, seconds, warmupSeconds);
            System.out.printf("%10s %14s %12s %12s   %s%n", "batch", "samples/s", "step p50 ms", "step p90 ms", "runs");
            for (Map<String, Object> r : results) {
                @SuppressWarnings("unchecked") List<Double> rs = (List<Double>) r.get("runs_samples_per_s");
                System.out.printf("%10d %14.0f %12.2f %12.2f   %s%n", (Integer) r.get("batch_size"), (Double) r.get("samples_per_s"),
                        (Double) r.get("step_ms_p50"), (Double) r.get("step_ms_p90"),
                        rs.stream().map(v -> String.format("%.0f", v)).toList());
            }
        }
        return 0;
    }

    private Run timedRun(Trainer trainer, Optimizer opt, SampleFile train, int B, long runSeed) {
        long warmupEnd = System.nanoTime() + (long) (warmupSeconds * 1e9);
        long[] stepNanos = new long[1 << 16];
        int steps = 0;
        long samples = 0;
        long timedStart = -1, timedEnd = -1;
        int epoch = 0;
        outer:
        while (true) {
            epoch++;
            try (BatchReader reader = train.batches(B, true, runSeed, epoch, true)) {
                Batch b;
                while ((b = reader.next()) != null) {
                    long t0 = System.nanoTime();
                    if (timedStart < 0 && t0 >= warmupEnd) timedStart = t0;
                    trainer.trainStep(opt, b);
                    long t1 = System.nanoTime();
                    if (timedStart >= 0) {
                        if (steps < stepNanos.length) stepNanos[steps] = t1 - t0;
                        steps++;
                        samples += b.size;
                        if (t1 - timedStart >= seconds * 1e9) {
                            timedEnd = t1;
                            break outer;
                        }
                    }
                }
            }
        }
        long[] st = Arrays.copyOf(stepNanos, Math.min(steps, stepNanos.length));
        Arrays.sort(st);
        return new Run(samples / ((timedEnd - timedStart) / 1e9), steps, st[st.length / 2] / 1e6, st[(int) (st.length * 0.9)] / 1e6);
    }

    static TrainConfig withBatch(TrainConfig t, int B) {
        return t.withBatch(B, B);
    }

    static double median(double[] a) {
        double[] s = a.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
