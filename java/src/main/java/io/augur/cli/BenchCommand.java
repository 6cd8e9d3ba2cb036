package io.augur.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.augur.backend.Backend;
import io.augur.backend.Backends;
import io.augur.backend.GenericCeilings;
import io.augur.backend.OpTimer;
import io.augur.backend.Profiling;
import io.augur.backend.cuda.Autotuner;
import io.augur.backend.cuda.CudaBackend;
import io.augur.backend.cuda.KernelTuning;
import io.augur.backend.cuda.Nvtx;
import io.augur.backend.cuda.TuningTable;
import io.augur.config.ModelConfig;
import io.augur.config.TrainConfig;
import io.augur.config.WorldConfig;
import io.augur.data.Batch;
import io.augur.data.BatchReader;
import io.augur.data.Dataset;
import io.augur.data.SampleFile;
import io.augur.data.SyntheticWorld;
import io.augur.model.CostModel;
import io.augur.model.CtrModel;
import io.augur.model.Models;
import io.augur.train.EpochsAhead;
import io.augur.train.Optimizer;
import io.augur.train.Trainer;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

/**
 * {@code augur bench}: steady-state training throughput, and what goes with it. For each model and
 * batch size:
 * <ol>
 *   <li>{@code --repeats} runs, each on a fresh model: untimed warm-up (at least --warmup-steps
 *       steps and --warmup-seconds; JIT compilation, first touch of memory), then --steps timed
 *       training steps (or --seconds of them) on shuffled batches read through the same
 *       prefetching reader as {@code train}. A run's figure is samples / wall time of its timed
 *       steps (data reading included); the result is the median run; step-time percentiles are
 *       the medians of the runs' percentiles;</li>
 *   <li>evaluation throughput: forward in inference mode and the probabilities copied back, over
 *       batches of the valid split of the same size;</li>
 *   <li>peak host memory over the model's runs (the process's resident set, dataset included, and
 *       the JVM heap) and peak device memory where the backend can say ({@link Profiling});</li>
 *   <li>the model's GEMM FLOPs and compulsory bytes per sample ({@link CostModel}) and the achieved
 *       FLOP/s and bytes/s, as a share of the measured ceilings with --ceilings;</li>
 *   <li>with --profile, one more run in which every op is timed: each op's share of the step.
 *       A backend with {@link Profiling} times its kernels itself (CUDA events); otherwise the
 *       host times each call ({@link OpTimer}), which is exact on the CPU.</li>
 * </ol>
 * Output: a short table, or one JSON object (--json; --out also writes it to a file).
 * --smoke runs everything in seconds on a tiny generated world (CI).
 */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Measure steady-state training samples/s (median of several runs), evaluation samples/s, step times, peak memory",
                "and achieved FLOP/s on a synthetic world of the benchmark shape.",
                "Without --data, uses data/bench (20,000 users, ~21 behaviours each, T = 100), generated on first use."})
public final class BenchCommand implements Callable<Integer> {
    private static final Logger LOG = LogManager.getLogger(BenchCommand.class);
    /** The JSON layout; scripts/perf_report.py and scripts/torch_ref.py share it. */
    public static final String SCHEMA = "augur-bench/2";
    /** The tiny world of --smoke: ~3,000 training rows, T = 10. */
    static final WorldConfig SMOKE_WORLD = WorldConfig.builder().users(300).items(200).categories(10).meanHistory(8).maxBehaviours(40)
            .historyLength(10).build();

    @Option(names = "--data", description = "dataset folder (default: data/bench, generated on first use; with --smoke a tiny temporary world)")
    Path data;

    @Option(names = "--device", defaultValue = "cpu", description = "cpu, cpu-reference, cuda, cuda:N (device N) or auto (default: ${DEFAULT-VALUE})")
    String device;

    @Option(names = "--cuda-graphs", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "on the GPU, capture each step into a CUDA graph and replay it (default: on; --profile's timed run is always eager)")
    boolean cudaGraphs;

    @Mixin
    GpuOptions gpuOptions;

    @Option(names = "--models", split = ",", description = "models to measure, e.g. base,din,dien (default: the --model flag)")
    List<String> models;

    @Option(names = "--batch-sizes", defaultValue = "128,1024", split = ",", description = "batch sizes to measure (default: ${DEFAULT-VALUE})")
    List<Integer> batchSizes;

    @Option(names = "--repeats", defaultValue = "3", description = "runs per model and batch size; the median is reported (default: ${DEFAULT-VALUE})")
    int repeats;

    @Option(names = "--warmup-steps", defaultValue = "20", description = "untimed steps before each run, at least (default: ${DEFAULT-VALUE})")
    int warmupSteps;

    @Option(names = "--warmup-seconds", defaultValue = "3", description = "untimed seconds before each run, at least (default: ${DEFAULT-VALUE})")
    double warmupSeconds;

    @Option(names = "--steps", defaultValue = "200", description = "timed training steps per run (default: ${DEFAULT-VALUE})")
    int steps;

    @Option(names = "--seconds", defaultValue = "0", description = "if > 0: time this many seconds per run instead of --steps steps (default: ${DEFAULT-VALUE})")
    double seconds;

    @Option(names = "--autotune", description = "on the GPU, before each model and batch size's runs: pick the kernel settings by measuring short runs under "
            + "each (Autotuner: PDL, the tower fused and its clusters, the activation unit's tiles and blocks, the small GEMM); the runs then use the "
            + "settings chosen, and the record lists every trial")
    boolean autotune;

    @Option(names = "--autotune-seconds", defaultValue = "0.5", description = "timed seconds of each --autotune trial, after 10 steps and 0.3 s of "
            + "warm-up (default: ${DEFAULT-VALUE})")
    double autotuneSeconds;

    @Option(names = "--save-tuning", description = "with --autotune on the GPU: add each model and batch size's choice to this tuning table "
            + "(created if missing; an entry with the same device, model, shape, precision and batch size is replaced), written after each "
            + "search; train and bench read it with --tuning FILE")
    Path saveTuning;

    @Option(names = "--eval-steps", defaultValue = "50", description = "timed evaluation batches (default: ${DEFAULT-VALUE})")
    int evalSteps;

    @Option(names = "--profile", description = "one more run per model and batch size with every op timed: each op's share of the step")
    boolean profile;

    @Option(names = "--ceilings", description = "measure the device's fp32 GEMM rate and streaming bandwidth (a few seconds)")
    boolean ceilings;

    @Option(names = "--cost-only", description = "no training: only the cost model's FLOPs and bytes per sample (and --ceilings), in seconds")
    boolean costOnly;

    @Option(names = "--smoke", description = "a few seconds in all: tiny world (unless --data), base,din,dien (unless --models), batch 16 "
            + "(unless --batch-sizes), 1 run of 5 steps, --profile and a quick --ceilings")
    boolean smoke;

    /** True when --smoke chose the models: a model this backend cannot run is then skipped, not an error. */
    private boolean smokeChoseModels;

    @Option(names = "--json", description = "print one JSON object instead of the table")
    boolean json;

    @Option(names = "--out", description = "also write the JSON object to this file")
    Path out;

    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--threads", defaultValue = "0", description = "CPU threads, 0 = all cores (default: ${DEFAULT-VALUE})")
    int threads;

    @Option(names = "--seed", defaultValue = "42", description = "seed (default: ${DEFAULT-VALUE})")
    long seed;

    @Spec
    CommandLine.Model.CommandSpec spec;

    /** How long a run is: untimed warm-up (at least so many steps and seconds), then so many timed steps, or seconds if > 0. */
    record Length(int warmupSteps, double warmupSeconds, int steps, double seconds) {}

    /** A measured run's length, from the options. */
    private Length runLength() { return new Length(warmupSteps, warmupSeconds, steps, seconds); }

    /** One timed run: its throughput and every step's duration. */
    record Run(double samplesPerS, long[] stepNanos, long[] issueNanos) {
        double stepMs(double q) { return quantileMs(stepNanos, q); }

        /** The host's part of a step: loading the batch and issuing the step, without the wait for the one before. */
        double issueMs(double q) { return quantileMs(issueNanos, q); }

        private static double quantileMs(long[] nanos, double q) {
            long[] s = nanos.clone();
            Arrays.sort(s);
            return s[Math.min(s.length - 1, (int) Math.floor(q * s.length))] / 1e6;
        }

        double meanStepMs() { return Arrays.stream(stepNanos).average().orElse(0) / 1e6; }
    }

    @Override
    public Integer call() throws Exception {
        if (smoke) applySmoke();
        Backends.parse(device);   // an unknown --device fails before anything runs
        if (repeats < 1) throw new IllegalArgumentException("--repeats must be >= 1, got " + repeats);
        if (autotune && !(autotuneSeconds > 0)) throw new IllegalArgumentException("--autotune-seconds must be > 0, got " + autotuneSeconds);
        if (saveTuning != null && !autotune) throw new IllegalArgumentException("--save-tuning " + saveTuning + " needs --autotune: it saves the searches' choices");
        if (saveTuning != null && costOnly) throw new IllegalArgumentException("--save-tuning needs runs: not with --cost-only");
        gpuOptions.tuningTable();   // a --tuning or --save-tuning file that is not a table fails before anything runs, on any device
        if (saveTuning != null) TuningTable.readOrEmpty(saveTuning);
        if (steps < 1 && !(seconds > 0)) throw new IllegalArgumentException("--steps must be >= 1 (or --seconds > 0), got " + steps);
        if (evalSteps < 1) throw new IllegalArgumentException("--eval-steps must be >= 1, got " + evalSteps);
        for (int B : batchSizes) if (B < 1) throw new IllegalArgumentException("batch sizes must be >= 1, got " + B);
        List<ModelConfig> configs = new ArrayList<>();
        for (String m : models != null ? models : List.of(modelOptions.model)) {
            modelOptions.model = m.trim();
            configs.add(modelOptions.toConfig());
        }
        Path tmpWorld = null;
        try {
            Path dataDir;
            if (data != null) {
                dataDir = data;
            } else if (smoke) {
                tmpWorld = Files.createTempDirectory("augur-bench-smoke");
                dataDir = tmpWorld.resolve("world");
                SyntheticWorld.generate(SMOKE_WORLD, dataDir);
            } else {
                dataDir = SyntheticWorld.ensure(Path.of("data", "bench"), WorldConfig.benchmark());
            }
            Map<String, Object> result = measure(dataDir, configs);
            String text = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(result);
            if (out != null) {
                if (out.toAbsolutePath().getParent() != null) Files.createDirectories(out.toAbsolutePath().getParent());
                Files.writeString(out, text + "\n");
                LOG.info("wrote {}", out);
            }
            if (json) System.out.println(text);
            else printTable(System.out, result);
            return 0;
        } finally {
            if (tmpWorld != null) deleteTree(tmpWorld);
        }
    }

    private void applySmoke() {
        CommandLine.ParseResult pr = spec.commandLine().getParseResult();
        if (models == null) {
            models = List.of("base", "din", "dien");
            smokeChoseModels = true;
        }
        if (!pr.hasMatchedOption("--batch-sizes")) batchSizes = List.of(16);
        repeats = 1;
        warmupSteps = 2;
        warmupSeconds = 0;
        steps = 5;
        seconds = 0;
        evalSteps = 2;
        profile = true;
        ceilings = true;
    }

    private Map<String, Object> measure(Path dataDir, List<ModelConfig> configs) {
        gpuOptions.askedPrecision();   // an unknown name fails before the backend starts
        Dataset ds = Dataset.open(dataDir);
        SampleFile train = ds.train();
        int fields = ds.schema().numProfileFields();
        List<Map<String, Object>> results = new ArrayList<>();
        Map<String, Object> out = new LinkedHashMap<>();
        try (Backend be = Backends.create(device, threads)) {
            if (be instanceof CudaBackend cb) cb.setStepGraphs(cudaGraphs);
            gpuOptions.applyPrecision(be);
            Profiling prof = be instanceof Profiling p ? p : null;
            Profiling.Ceilings ceil = null;
            if (ceilings) {
                ceil = prof != null ? prof.measureCeilings(smoke) : GenericCeilings.measure(be, smoke);
                LOG.info("ceilings: {} GFLOP/s fp32, {} GB/s ({})", String.format("%.1f", ceil.fp32FlopsPerS() / 1e9),
                        String.format("%.1f", ceil.bytesPerS() / 1e9), ceil.how());
            }
            double meanLength = (double) train.historyValues() / train.rows();
            double meanPairs = meanPairs(train);
            List<Map<String, Object>> skipped = new ArrayList<>();
            for (ModelConfig mcfg : configs) {
                for (int B : batchSizes) {
                    try {
                        results.add(measureOne(be, prof, ds, mcfg, B, fields, meanLength, meanPairs, ceil));
                    } catch (io.augur.backend.cuda.DeviceMemoryException e) {
                        // a batch the device cannot hold is reported and the rest measured (the backend gave its plan up)
                        LOG.warn("{} at batch {} skipped: {}", mcfg.kind().label(), B, e.getMessage());
                        skipped.add(Map.of("model", mcfg.kind().label(), "batch_size", B, "reason", String.valueOf(e.getMessage())));
                    } catch (UnsupportedOperationException e) {
                        if (!smokeChoseModels) throw e;
                        // --smoke's default list names every model; one this backend lacks is
                        // reported, not fatal (name it with --models to make it an error)
                        LOG.warn("{} skipped: {}", mcfg.kind().label(), e.getMessage());
                        skipped.add(Map.of("model", mcfg.kind().label(), "batch_size", B, "reason", String.valueOf(e.getMessage())));
                    }
                }
            }
            out.put("schema", SCHEMA);
            out.put("tool", "augur");
            out.put("model", configs.get(0).kind().label());
            out.put("models", configs.stream().map(c -> c.kind().label()).toList());
            out.put("device", be.name());   // cpu, cpu-reference or cuda, whichever --device (auto, cuda:N, ...) opened
            out.put("device_label", be.deviceLabel());
            out.put("backend", be.describe());
            if (be instanceof CudaBackend) out.put("cuda_graphs", cudaGraphs);
            out.put("precision", be.precision().label());
            out.put("samples_per_s", results.isEmpty() ? null : results.get(0).get("train_samples_per_s"));
            out.put("results", results);
            if (!skipped.isEmpty()) out.put("skipped", skipped);
            out.put("ceilings", ceil == null ? null : ceilingsJson(ceil));
            out.put("device_profiling", prof != null ? "the backend's own (Profiling): kernel times, peak device memory, ceilings"
                    : "n/a on this backend: no device timers or device memory (op shares are host-timed around each call, exact on the CPU)");
        }
        Map<String, Object> settings = new LinkedHashMap<>();
        settings.put("smoke", smoke);
        settings.put("resident_data", gpuOptions.residentData);
        settings.put("cost_only", costOnly);
        settings.put("repeats", repeats);
        settings.put("warmup_steps", warmupSteps);
        settings.put("warmup_s", warmupSeconds);
        settings.put("steps", seconds > 0 ? null : steps);
        settings.put("timed_s", seconds > 0 ? seconds : null);
        settings.put("eval_steps", evalSteps);
        settings.put("threads", threads == 0 ? Runtime.getRuntime().availableProcessors() : threads);
        settings.put("seed", seed);
        settings.put("profile", profile);
        settings.put("autotune", autotune ? Map.of("seconds_per_trial", autotuneSeconds, "min_gain", Autotuner.MIN_GAIN) : null);
        settings.put("tuning", gpuOptions.tuning);
        settings.put("save_tuning", saveTuning == null ? null : saveTuning.toString());
        settings.put("optimizer", "Adam 1e-3 (dense); lazy Adam + MBAR lambda 0.01 on the embedding rows a batch touches");
        out.put("settings", settings);
        Map<String, Object> dsJson = new LinkedHashMap<>();
        dsJson.put("dir", dataDir.toString());
        dsJson.put("train_rows", train.rows());
        dsJson.put("T", ds.schema().historyLength());
        dsJson.put("mean_history", (double) train.historyValues() / train.rows());
        dsJson.put("mean_pairs", meanPairs(train));
        dsJson.put("vocab", ds.schema().vocabularies());
        out.put("dataset", dsJson);
        Map<String, Object> cfgs = new LinkedHashMap<>();
        for (ModelConfig c : configs) cfgs.put(c.kind().label(), c);
        out.put("model_configs", cfgs);
        out.put("machine", HostInfo.machine());
        out.put("command", command());
        // the -Daugur.* settings a run was given (AUGUR_JAVA_OPTS): the command line alone does not show them
        Map<String, String> props = new java.util.TreeMap<>();
        for (String k : System.getProperties().stringPropertyNames()) if (k.startsWith("augur.")) props.put(k, System.getProperty(k));
        out.put("system_properties", props);
        out.put("git_commit", HostInfo.gitCommit());
        out.put("date", Instant.now().toString());
        return out;
    }

    /**
     * One model and batch size: with --autotune on the GPU, first the kernel settings chosen by measuring
     * ({@link Autotuner}), which the runs then use and which are put back after them; then {@link #measureRuns}.
     */
    private Map<String, Object> measureOne(Backend be, Profiling prof, Dataset ds, ModelConfig mcfg, int B, int fields,
                                           double meanLength, double meanPairs, Profiling.Ceilings ceil) {
        if (!(be instanceof CudaBackend cb)) {
            if (autotune && !costOnly) LOG.warn("--autotune: the {} backend has no kernel settings to choose; ignored", be.name());
            return measureRuns(be, prof, ds, mcfg, B, fields, meanLength, meanPairs, ceil);
        }
        KernelTuning before = cb.tuning();
        String from;
        try {
            from = gpuOptions.applyTuning(cb, mcfg, B);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        KernelTuning start = cb.tuning();
        try {
            Autotuner.Result tuned = null;
            if (autotune && !costOnly) {
                TrainConfig tcfg = TrainConfig.defaults().withBatch(B, B);
                LOG.info("{} batch {}: autotuning the kernel settings ({} s a trial)", mcfg.kind().label(), B, autotuneSeconds);
                tuned = Autotuner.search(start, Autotuner.axes(cb), t -> autotuneTrial(cb, ds, mcfg, B, tcfg, t));
                cb.setTuning(tuned.chosen());
            }
            Map<String, Object> res = measureRuns(be, prof, ds, mcfg, B, fields, meanLength, meanPairs, ceil);
            res.put("kernel_settings", cb.tuning().toString());
            res.put("kernel_settings_from", tuned != null ? "--autotune, starting from " + start + " (" + from + ")" : from);
            if (tuned != null && saveTuning != null) saveChoice(cb, mcfg, B, tuned, res);
            if (tuned != null) {
                res.put("autotune", tuned.toJson());
                if (res.get("peak_device_mib") != null)
                    res.put("peak_device_note", "the device's memory in use, with the " + tuned.trials().size()
                            + " autotune trials' models, which stay allocated until the backend closes");
            }
            return res;
        } finally {
            cb.setTuning(before);
        }
    }

    /** This run's command line as typed ("augur bench ..."), for the records. */
    private String command() {
        return "augur " + String.join(" ", spec.commandLine().getParseResult().originalArgs());
    }

    /**
     * --save-tuning: the search's choice for {@code mcfg} at batch {@code B} into the table file, with what was measured
     * (the runs' median under it, the search's start), re-read and written whole each time so that a later failure
     * keeps the entries written before it.
     */
    private void saveChoice(CudaBackend cb, ModelConfig mcfg, int B, Autotuner.Result tuned, Map<String, Object> res) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("train_samples_per_s", res.get("train_samples_per_s"));
        m.put("autotune_start_samples_per_s", tuned.trials().get(0).samplesPerS());
        m.put("autotune_start", tuned.start().toString());
        m.put("autotune_trials", tuned.trials().size());
        m.put("driver_version", cb.runtime().driverVersion);
        m.put("date", Instant.now().toString());
        m.put("git_commit", HostInfo.gitCommit());
        m.put("command", command());
        TuningTable.Entry e = new TuningTable.Entry(TuningTable.keyOf(cb, mcfg, B), tuned.chosen().changes(KernelTuning.builtIn()), m);
        try {
            TuningTable.readOrEmpty(saveTuning).with(e).write(saveTuning);
        } catch (IOException x) {
            throw new UncheckedIOException("writing the tuning table " + saveTuning, x);
        }
        LOG.info("{} batch {}: saved {} to {}", mcfg.kind().label(), B, e.settings().isEmpty() ? "the built-in settings" : String.join(" ", e.settings()), saveTuning);
    }

    /**
     * One trial of --autotune: a fresh model trained under {@code t} for 10 steps and 0.3 s untimed (2 steps with --smoke), then
     * --autotune-seconds timed. Its figure is B over the median step time, which a pause of the JVM or the
     * host in so short a run moves less than the mean.
     */
    private Autotuner.Score autotuneTrial(CudaBackend cb, Dataset ds, ModelConfig mcfg, int B, TrainConfig tcfg, KernelTuning t) {
        cb.setTuning(t);
        cb.resetSettingsRead();
        CtrModel model = Models.create(cb, mcfg, Models.features(ds), B, seed);
        Optimizer opt = new Optimizer(cb, model.params(), Trainer.countsByTable(model, ds), tcfg);
        Trainer trainer = newTrainer(cb, model, ds, tcfg);
        Run run;
        try (Nvtx.Scope range = Nvtx.push("autotune batch " + B + ": " + t, Nvtx.BENCH)) {
            run = timedRun(trainer, opt, ds.train(), B, seed, null, smoke ? new Length(2, 0, 0, autotuneSeconds) : new Length(10, 0.3, 0, autotuneSeconds));
        }
        keepResident(trainer, model);
        double p50 = run.stepMs(0.5);
        return new Autotuner.Score(B / (p50 / 1e3), p50, cb.settingsRead());
    }

    private Map<String, Object> measureRuns(Backend be, Profiling prof, Dataset ds, ModelConfig mcfg, int B, int fields,
                                            double meanLength, double meanPairs, Profiling.Ceilings ceil) {
        String label = mcfg.kind().label();
        SampleFile train = ds.train();
        CostModel.Workload w = new CostModel.Workload(meanLength, meanPairs, uniqueRowsPerBatch(train, B, mcfg));
        CostModel.Cost cost = CostModel.perSample(mcfg, fields, B, w);
        if (costOnly) {
            Map<String, Object> res = new LinkedHashMap<>();
            res.put("model", label);
            res.put("batch_size", B);
            res.put("train_samples_per_s", null);
            putCost(res, w, cost, ceil);
            return res;
        }
        TrainConfig tcfg = TrainConfig.defaults().withBatch(B, B);
        System.gc();
        boolean rssReset = HostInfo.resetPeaks();
        if (prof != null) prof.resetPeakDeviceBytes();

        List<Run> runs = new ArrayList<>();
        CtrModel model = null;
        for (int r = 0; r < repeats; r++) {
            model = Models.create(be, mcfg, Models.features(ds), B, seed + r);
            Optimizer opt = new Optimizer(be, model.params(), Trainer.countsByTable(model, ds), tcfg);
            Trainer trainer = newTrainer(be, model, ds, tcfg);
            Run run;
            try (Nvtx.Scope range = Nvtx.push(label + " batch " + B + " run " + (r + 1) + "/" + repeats, Nvtx.BENCH)) {
                run = timedRun(trainer, opt, train, B, seed + r, null, runLength());
            }
            keepResident(trainer, model);
            LOG.info("{} batch {} run {}/{}: {} samples/s ({} steps, step p50 {} ms, of which the host's issue {} ms)", label, B, r + 1, repeats,
                    String.format("%,.0f", run.samplesPerS()), run.stepNanos().length, String.format("%.3f", run.stepMs(0.5)),
                    String.format("%.3f", run.issueMs(0.5)));
            runs.add(run);
        }
        boolean residentUsed = model != null && resident.containsKey(residentKey(model));
        double evalSps;
        try (Nvtx.Scope range = Nvtx.push(label + " batch " + B + " evaluation", Nvtx.EVAL)) {
            evalSps = evalRun(be, model, ds.valid(), B);
        }
        LOG.info("{} batch {} evaluation: {} samples/s", label, B, String.format("%,.0f", evalSps));
        model = null;

        Map<String, Object> res = new LinkedHashMap<>();
        res.put("model", label);
        res.put("batch_size", B);
        double[] sps = runs.stream().mapToDouble(Run::samplesPerS).toArray();
        double trainSps = median(sps);
        res.put("train_samples_per_s", trainSps);
        res.put("samples_per_s", trainSps);
        res.put("runs_train_samples_per_s", Arrays.stream(sps).boxed().toList());
        Map<String, Object> stepMs = new LinkedHashMap<>();
        stepMs.put("p50", median(runs.stream().mapToDouble(r -> r.stepMs(0.5)).toArray()));
        stepMs.put("p90", median(runs.stream().mapToDouble(r -> r.stepMs(0.9)).toArray()));
        stepMs.put("p99", median(runs.stream().mapToDouble(r -> r.stepMs(0.99)).toArray()));
        stepMs.put("mean", median(runs.stream().mapToDouble(Run::meanStepMs).toArray()));
        res.put("step_ms", stepMs);
        // the host's share: when issue_ms.p50 is close to step_ms.p50 the device waits for the host
        Map<String, Object> issueMs = new LinkedHashMap<>();
        issueMs.put("p50", median(runs.stream().mapToDouble(r -> r.issueMs(0.5)).toArray()));
        issueMs.put("p90", median(runs.stream().mapToDouble(r -> r.issueMs(0.9)).toArray()));
        res.put("issue_ms", issueMs);
        res.put("resident_data", residentUsed);
        res.put("steps_per_run", runs.stream().mapToInt(r -> r.stepNanos().length).min().orElse(0));
        res.put("eval_samples_per_s", evalSps);

        res.put("peak_host_rss_mib", HostInfo.peakRssMib());
        res.put("peak_host_rss_note", rssReset ? "this model and batch size's runs; the process's resident set, dataset included"
                : "the process's lifetime peak (the kernel's peak could not be reset)");
        res.put("peak_heap_mib", HostInfo.peakHeapMib());
        long dev = prof != null ? prof.peakDeviceBytes() : -1;
        res.put("peak_device_mib", dev >= 0 ? dev / 1048576.0 : null);
        if (dev < 0) res.put("peak_device_note", "n/a on this backend");

        putCost(res, w, cost, ceil);
        Map<String, Object> ach = new LinkedHashMap<>();
        ach.put("flops_per_s", cost.flops() * trainSps);
        ach.put("bytes_per_s", cost.bytes() * trainSps);
        ach.put("of_flops_ceiling", ceil == null ? null : cost.flops() * trainSps / ceil.fp32FlopsPerS());
        ach.put("of_bytes_ceiling", ceil == null ? null : cost.bytes() * trainSps / ceil.bytesPerS());
        res.put("achieved", ach);
        if (profile) res.put("op_profile", profileRun(be, prof, ds, mcfg, B, tcfg));
        return res;
    }

    /** Histories made resident by an earlier run, by batch capacity and negatives (one upload per backend). */
    private final Map<String, io.augur.model.ResidentHistories> resident = new java.util.HashMap<>();

    private static String residentKey(CtrModel model) { return model.batch.maxB + "/" + (model.batch.negItems != null); }

    /** A trainer for a benchmark run; with --resident-data, on the histories an earlier run made resident, if any. */
    private Trainer newTrainer(Backend be, CtrModel model, Dataset ds, TrainConfig tcfg) {
        Trainer t = new Trainer(be, model, ds, tcfg, Path.of("."), Map.of());
        if (gpuOptions.residentData) {
            io.augur.model.ResidentHistories r = resident.get(residentKey(model));
            if (r != null) t.setResidentData(r);
            else t.setResidentData(true);
        }
        return t;
    }

    private void keepResident(Trainer t, CtrModel model) {
        if (t.residentHistories() != null) resident.putIfAbsent(residentKey(model), t.residentHistories());
    }

    /**
     * One run of --steps steps (at least 3) with every op timed. Shares are of the summed step
     * times; what no op accounts for (batch assembly on the host, negative sampling, the
     * framework between calls) is "unattributed".
     */
    private Map<String, Object> profileRun(Backend be, Profiling prof, Dataset ds, ModelConfig mcfg, int B, TrainConfig tcfg) {
        Backend run = prof != null ? be : OpTimer.wrap(be);
        CtrModel model = Models.create(run, mcfg, Models.features(ds), B, seed);
        Optimizer opt = new Optimizer(run, model.params(), Trainer.countsByTable(model, ds), tcfg);
        Trainer trainer = newTrainer(run, model, ds, tcfg);
        OpTimer timer = OpTimer.of(run);
        Runnable startTiming = () -> {
            if (prof != null) {
                prof.resetOpStats();
                prof.setOpTiming(true);
            } else {
                timer.reset();
                timer.setOn(true);
            }
        };
        if (timer != null) timer.setOn(false);
        Run r = timedRun(trainer, opt, ds.train(), B, seed, startTiming, runLength());
        Map<String, Profiling.OpStats> stats;
        if (prof != null) {
            prof.setOpTiming(false);
            stats = prof.opStats();
        } else {
            timer.setOn(false);
            stats = timer.stats();
        }
        int n = r.stepNanos().length;
        double stepSeconds = Arrays.stream(r.stepNanos()).sum() / 1e9;
        List<Map<String, Object>> ops = new ArrayList<>();
        double attributed = 0;
        List<Map.Entry<String, Profiling.OpStats>> sorted = new ArrayList<>(stats.entrySet());
        sorted.sort(Comparator.comparingDouble((Map.Entry<String, Profiling.OpStats> e) -> e.getValue().seconds()).reversed());
        for (Map.Entry<String, Profiling.OpStats> e : sorted) {
            Map<String, Object> op = new LinkedHashMap<>();
            op.put("op", e.getKey());
            op.put("calls_per_step", (double) e.getValue().calls() / n);
            op.put("ms_per_step", e.getValue().seconds() / n * 1e3);
            op.put("share", e.getValue().seconds() / stepSeconds);
            attributed += e.getValue().seconds();
            ops.add(op);
        }
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("source", prof != null ? "the backend's own op timers (Profiling)"
                : "host wall time around each Backend call, then synchronize (OpTimer); exact on the CPU");
        p.put("steps", n);
        p.put("step_ms", stepSeconds / n * 1e3);
        p.put("ops", ops);
        p.put("unattributed_share", Math.max(0, 1 - attributed / stepSeconds));
        return p;
    }

    /**
     * Warm-up, then the timed steps. onTimedStart (may be null) runs once, just before the first
     * timed step (the profiling run switches its timers on there).
     */
    private Run timedRun(Trainer trainer, Optimizer opt, SampleFile train, int B, long runSeed, Runnable onTimedStart, Length len) {
        int warmupSteps = len.warmupSteps(), steps = len.steps();
        double warmupSeconds = len.warmupSeconds(), seconds = len.seconds();
        long start = System.nanoTime();
        long[] stepNanos = new long[seconds > 0 ? 1 << 12 : Math.max(steps, 1)];
        long[] issueNanos = new long[stepNanos.length];
        int warm = 0, timed = 0;
        long samples = 0;
        long timedStart = -1, timedEnd = -1;
        int epoch = 0;
        CtrModel.StepLoss pending = null;
        boolean dropLast = train.rows() >= B;
        // each epoch's reader opened while the one before is read, as train does (EpochsAhead)
        try (EpochsAhead<BatchReader> epochs = new EpochsAhead<>(e -> trainer.trainBatches(B, runSeed, e, dropLast),
                Integer.MAX_VALUE)) {
            outer:
            while (true) {
                epoch++;
                try (BatchReader reader = epochs.open(epoch)) {
                    Batch b;
                    boolean any = false;
                    while ((b = reader.next()) != null) {
                        any = true;
                        if (timedStart < 0) {
                            if (warm < warmupSteps || System.nanoTime() - start < warmupSeconds * 1e9) {
                                CtrModel.StepLoss issued = trainer.trainStepLater(opt, b);
                                if (pending != null) pending.loss();
                                pending = issued;
                                warm++;
                                continue;
                            }
                            if (pending != null) pending.loss();   // the timed part starts with the device idle
                            pending = null;
                            if (onTimedStart != null) onTimedStart.run();
                            timedStart = System.nanoTime();
                        }
                        // as train does: step i's loss is read after step i + 1 is issued, so a step's
                        // time is its issue plus the wait for the one before
                        long t0 = System.nanoTime();
                        CtrModel.StepLoss issued = trainer.trainStepLater(opt, b);
                        long tIssued = System.nanoTime();
                        if (pending != null) pending.loss();
                        pending = issued;
                        long t1 = System.nanoTime();
                        if (timed == stepNanos.length) {
                            stepNanos = Arrays.copyOf(stepNanos, 2 * timed);
                            issueNanos = Arrays.copyOf(issueNanos, 2 * timed);
                        }
                        issueNanos[timed] = tIssued - t0;
                        samples += b.size;
                        boolean last = seconds > 0 ? t1 - timedStart >= seconds * 1e9 : timed + 1 >= steps;
                        if (last) {
                            pending.loss();   // the timed part ends when the device has finished its last step
                            t1 = System.nanoTime();
                        }
                        stepNanos[timed++] = t1 - t0;
                        if (last) {
                            timedEnd = t1;
                            break outer;
                        }
                    }
                    if (!any) throw new IllegalStateException(train.path() + " has no rows to train on");
                }
            }
        }
        return new Run(samples / ((timedEnd - timedStart) / 1e9), Arrays.copyOf(stepNanos, timed), Arrays.copyOf(issueNanos, timed));
    }

    /** Inference throughput: load, forward (inference mode), probabilities to the host, over valid batches of size B. */
    private double evalRun(Backend be, CtrModel model, SampleFile split, int B) {
        // as Trainer.evaluate: batch i's probabilities are read after batch i + 1 is issued
        float[][] probs = new float[2][B];
        int warm = Math.max(1, Math.min(warmupSteps, 10)), done = 0, k = 0;
        long samples = 0, t0 = -1;
        Runnable pending = null;
        while (true) {
            try (BatchReader reader = split.batches(B, false, 0L, 0, split.rows() >= B, false)) {
                Batch b;
                boolean any = false;
                while ((b = reader.next()) != null) {
                    any = true;
                    if (warm == 0 && t0 < 0) {
                        if (pending != null) pending.run();   // the timed part starts with the device idle
                        pending = null;
                        t0 = System.nanoTime();
                    }
                    model.batch.load(be, b.size, b.labels, b.profile, b.items, b.cates, b.histItems, b.histCates, null, null, b.lengths);
                    Runnable issued = model.predictStepLater(probs[k]);
                    k ^= 1;
                    if (pending != null) pending.run();
                    pending = issued;
                    if (warm > 0) {
                        warm--;
                        continue;
                    }
                    samples += b.size;
                    if (++done >= evalSteps) {
                        pending.run();   // and ends when the last batch's probabilities are on the host
                        return samples / ((System.nanoTime() - t0) / 1e9);
                    }
                }
                if (!any) throw new IllegalStateException(split.path() + " has no rows to evaluate");
            }
        }
    }

    /** Mean auxiliary pairs per training row, max(len - 1, 0). */
    static double meanPairs(SampleFile train) {
        long p = 0;
        for (int r = 0; r < train.rows(); r++) p += Math.max(train.historyLength(r) - 1, 0);
        return (double) p / train.rows();
    }

    /**
     * Distinct embedding rows (all tables) a shuffled training batch of B rows touches, mean over
     * up to 20 batches: profile ids, target and history items and categories, and the negatives'
     * at positions 1..len-1 for DIEN with the auxiliary loss when the dataset has them (sampled
     * negatives touch about as many).
     */
    static double uniqueRowsPerBatch(SampleFile train, int B, ModelConfig cfg) {
        boolean negs = cfg.kind() == ModelConfig.Kind.DIEN && cfg.sequence().auxWeight() > 0 && train.schema().hasNegHist();
        int batches = 0;
        long total = 0;
        try (BatchReader reader = train.batches(B, true, 7L, 1, train.rows() >= B)) {
            Batch b;
            while (batches < 20 && (b = reader.next()) != null) {
                Set<Long> rows = new HashSet<>();
                int T = b.T;
                for (int r = 0; r < b.size; r++) {
                    for (int f = 0; f < b.profile.length; f++) rows.add(key(10 + f, b.profile[f][r]));
                    rows.add(key(0, b.items[r]));
                    rows.add(key(1, b.cates[r]));
                    for (int t = 0; t < b.lengths[r]; t++) {
                        rows.add(key(0, b.histItems[r * T + t]));
                        rows.add(key(1, b.histCates[r * T + t]));
                        if (negs && t >= 1) {
                            rows.add(key(0, b.negItems[r * T + t]));
                            rows.add(key(1, b.negCates[r * T + t]));
                        }
                    }
                }
                total += rows.size();
                batches++;
            }
        }
        return batches == 0 ? 0 : (double) total / batches;
    }

    private static long key(int table, int id) { return ((long) table << 32) | (id & 0xffffffffL); }

    private static void putCost(Map<String, Object> res, CostModel.Workload w, CostModel.Cost cost, Profiling.Ceilings ceil) {
        Map<String, Object> wj = new LinkedHashMap<>();
        wj.put("mean_length", w.meanLength());
        wj.put("mean_pairs", w.meanPairs());
        wj.put("unique_rows_per_batch", w.uniqueRowsPerBatch());
        res.put("workload", wj);
        res.put("cost", costJson(cost));
        if (ceil != null) res.put("floor_samples_per_s", CostModel.floorSamplesPerS(cost, ceil.fp32FlopsPerS(), ceil.bytesPerS()));
    }

    private static Map<String, Object> costJson(CostModel.Cost c) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("flops_per_sample", c.flops());
        m.put("forward_flops_per_sample", c.forwardFlops());
        m.put("backward_flops_per_sample", c.backwardFlops());
        m.put("bytes_per_sample", c.bytes());
        m.put("dense_params", c.denseParams());
        m.put("forward_flops_by_part", c.forwardByPart());
        m.put("bytes_by_part", c.bytesByPart());
        m.put("counted", "GEMM FLOPs of forward + backward over valid positions; compulsory bytes (CostModel)");
        return m;
    }

    private static Map<String, Object> ceilingsJson(Profiling.Ceilings c) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("fp32_flops_per_s", c.fp32FlopsPerS());
        m.put("bytes_per_s", c.bytesPerS());
        m.put("how", c.how());
        return m;
    }

    @SuppressWarnings("unchecked")
    static void printTable(PrintStream o, Map<String, Object> r) {
        Map<String, Object> s = (Map<String, Object>) r.get("settings");
        o.printf(Locale.ROOT, "augur bench on %s, %s; %s runs of %s after >= %s warm-up steps; %s%n", ((Map<String, Object>) r.get("dataset")).get("dir"),
                r.get("backend"), s.get("repeats"), s.get("steps") != null ? s.get("steps") + " steps" : s.get("timed_s") + " s", s.get("warmup_steps"),
                ((Map<String, Object>) r.get("machine")).get("cpu"));
        if (!Boolean.TRUE.equals(s.get("cost_only"))) {
            o.printf(Locale.ROOT, "%-6s %6s %12s %9s %9s %9s %12s %9s %9s  %s%n", "model", "batch", "train/s", "p50 ms", "p90 ms", "p99 ms", "eval/s",
                    "RSS MiB", "GFLOP/s", "runs (train/s)");
        }
        for (Map<String, Object> x : (List<Map<String, Object>>) r.get("results")) {
            if (x.get("train_samples_per_s") == null) {
                Map<String, Object> c = (Map<String, Object>) x.get("cost");
                o.printf(Locale.ROOT, "%-6s %6d   cost only: %.3f MFLOP and %.1f KB per sample%n", x.get("model"), (Integer) x.get("batch_size"),
                        (Double) c.get("flops_per_sample") / 1e6, (Double) c.get("bytes_per_sample") / 1e3);
                continue;
            }
            Map<String, Object> st = (Map<String, Object>) x.get("step_ms");
            Map<String, Object> a = (Map<String, Object>) x.get("achieved");
            String gf = String.format(Locale.ROOT, "%.2f", (Double) a.get("flops_per_s") / 1e9);
            o.printf(Locale.ROOT, "%-6s %6d %12.0f %9.2f %9.2f %9.2f %12.0f %9.0f %9s  %s%n", x.get("model"), (Integer) x.get("batch_size"),
                    (Double) x.get("train_samples_per_s"), (Double) st.get("p50"), (Double) st.get("p90"), (Double) st.get("p99"),
                    (Double) x.get("eval_samples_per_s"), (Double) x.get("peak_host_rss_mib"), gf,
                    ((List<Double>) x.get("runs_train_samples_per_s")).stream().map(v -> String.format(Locale.ROOT, "%.0f", v)).toList());
        }
        if (r.get("skipped") instanceof List<?> sk) {
            for (Object o1 : sk) {
                Map<String, Object> x = (Map<String, Object>) o1;
                o.printf(Locale.ROOT, "%-6s %6d   skipped: %s%n", x.get("model"), (Integer) x.get("batch_size"), x.get("reason"));
            }
        }
        for (Map<String, Object> x : (List<Map<String, Object>>) r.get("results")) {
            Map<String, Object> t = (Map<String, Object>) x.get("autotune");
            if (t == null) continue;
            List<Map<String, Object>> trials = (List<Map<String, Object>>) t.get("trials");
            List<String> changes = (List<String>) t.get("chosen_changes");
            o.printf(Locale.ROOT, "autotune %s batch %s: %s, from %d trials (%.0f samples/s at the start)%n", x.get("model"), x.get("batch_size"),
                    changes.isEmpty() ? "kept the starting settings" : "chose " + String.join(" ", changes), trials.size(),
                    (Double) trials.get(0).get("samples_per_s"));
        }
        Map<String, Object> c = (Map<String, Object>) r.get("ceilings");
        if (c != null) {
            o.printf(Locale.ROOT, "ceilings: %.1f GFLOP/s fp32, %.1f GB/s (%s)%n", (Double) c.get("fp32_flops_per_s") / 1e9,
                    (Double) c.get("bytes_per_s") / 1e9, c.get("how"));
        }
        o.printf(Locale.ROOT, "peak device memory, kernel shares: %s%n", r.get("device_profiling"));
        for (Map<String, Object> x : (List<Map<String, Object>>) r.get("results")) {
            Map<String, Object> p = (Map<String, Object>) x.get("op_profile");
            if (p == null) continue;
            StringBuilder sb = new StringBuilder();
            for (Map<String, Object> op : (List<Map<String, Object>>) p.get("ops")) {
                double share = (Double) op.get("share");
                if (share < 0.02) continue;
                sb.append(String.format(Locale.ROOT, " %s %.0f%%", op.get("op"), 100 * share));
            }
            o.printf(Locale.ROOT, "op shares %s batch %s (step %.2f ms):%s, unattributed %.0f%%%n", x.get("model"), x.get("batch_size"),
                    (Double) p.get("step_ms"), sb, 100 * (Double) p.get("unattributed_share"));
        }
    }

    static double median(double[] a) {
        double[] s = a.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    LOG.warn("could not delete {}: {}", p, e.toString());
                }
            });
        } catch (IOException e) {
            LOG.warn("could not delete {}: {}", dir, e.toString());
        }
    }
}
