package io.augur.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.augur.backend.Backend;
import io.augur.backend.Backends;
import io.augur.config.ModelConfig;
import io.augur.config.TrainConfig;
import io.augur.config.WorldConfig;
import io.augur.data.Dataset;
import io.augur.data.SyntheticWorld;
import io.augur.model.CtrModel;
import io.augur.model.Models;
import io.augur.train.RunSummary;
import io.augur.train.Trainer;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code augur train}: trains a model on a dataset folder and evaluates it on test. */
@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Train a model, evaluate on valid every epoch (early stopping on AUC), and report test AUC, GAUC and logloss.",
                "Without --data, uses data/default and generates the default synthetic world there first if it is missing."})
public final class TrainCommand implements Callable<Integer> {
    private static final Logger LOG = LogManager.getLogger(TrainCommand.class);

    @Option(names = "--data", description = "dataset folder (default: data/default, generated on first use)")
    Path data;

    @Option(names = "--device", defaultValue = "auto", description = "auto, cpu, cpu-reference, cuda or cuda:N (GPU N as the driver "
            + "numbers those CUDA_VISIBLE_DEVICES leaves; cuda and auto take cuda:0) (default: ${DEFAULT-VALUE})")
    String device;

    @Option(names = "--cuda-graphs", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "on the GPU, capture each step into a CUDA graph and replay it (default: on)")
    boolean cudaGraphs;

    @Mixin
    GpuOptions gpuOptions;

    @Option(names = "--out", description = "run folder for logs, checkpoint, plots and summary.json (default: runs/<model>-<time>)")
    Path out;

    @Mixin
    ModelOptions modelOptions;

    @Mixin
    TrainOptions trainOptions;

    @Override
    public Integer call() throws Exception {
        Backends.parse(device);        // an unknown device fails before anything is read or written
        gpuOptions.askedPrecision();   // and so does an unknown precision
        gpuOptions.tuningTable();      // and so does a --tuning file that is not a table, on any device
        ModelConfig mcfg = modelOptions.toConfig();
        TrainConfig tcfg = trainOptions.toConfig();
        Path dataDir = data != null ? data : SyntheticWorld.ensure(Path.of("data", "default"), WorldConfig.defaults());
        Path runDir = out != null ? out
                : Path.of("runs", mcfg.kind().label() + "-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        Dataset ds = Dataset.open(dataDir);

        Map<String, Object> runConfig = new LinkedHashMap<>();
        runConfig.put("data", dataDir.toString());
        runConfig.put("device", device);
        runConfig.put("model", mcfg);
        runConfig.put("train", tcfg);
        LOG.info("run {}: seed {}, config {}", runDir, tcfg.seed(), new ObjectMapper().writeValueAsString(runConfig));

        try (Backend be = Backends.create(device, tcfg.threads())) {
            if (be instanceof io.augur.backend.cuda.CudaBackend cb) cb.setStepGraphs(cudaGraphs);
            runConfig.put("precision", gpuOptions.applyPrecision(be).label());
            if (be instanceof io.augur.backend.cuda.CudaBackend cb) {
                String from = gpuOptions.applyTuning(cb, mcfg, tcfg.batchSize());
                runConfig.put("kernel_settings", cb.tuning().toString());
                runConfig.put("kernel_settings_from", from);
            }
            int maxB = Math.max(tcfg.batchSize(), tcfg.evalBatchSize());
            CtrModel model = Models.create(be, mcfg, Models.features(ds), maxB, tcfg.batchSize(), tcfg.seed());
            runConfig.put("resident_data", gpuOptions.residentData);
            Trainer trainer = new Trainer(be, model, ds, tcfg, runDir, runConfig);
            trainer.setResidentData(gpuOptions.residentData);
            RunSummary s = trainer.run();
            System.out.println(s.humanLine());
            System.out.println("run folder: " + runDir);
        }
        return 0;
    }
}
