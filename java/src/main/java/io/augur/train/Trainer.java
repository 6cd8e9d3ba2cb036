package io.augur.train;

import io.augur.backend.Backend;
import io.augur.backend.Param;
import io.augur.backend.cuda.Nvtx;
import io.augur.config.TrainConfig;
import io.augur.data.Batch;
import io.augur.data.BatchReader;
import io.augur.data.Dataset;
import io.augur.data.SampleFile;
import io.augur.model.CtrModel;
import io.augur.model.ResidentHistories;
import io.augur.report.MetricsLog;
import io.augur.report.MetricsRecord;
import io.augur.report.Plots;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The training loop every model shares: epochs of shuffled batches, evaluation on valid after each
 * epoch, early stopping on valid AUC, the best parameters checkpointed atomically, then the best
 * parameters evaluated on test. Writes into the run folder: metrics.jsonl, best.ckpt, loss.png,
 * valid.png and summary.json.
 */
public final class Trainer {
    private static final Logger LOG = LogManager.getLogger(Trainer.class);
    /** NVTX ranges of a training step (Nvtx; pushed only while a profiler is attached). */
    private static final Nvtx.Range TRAIN_STEP = Nvtx.range("train step", Nvtx.STEP), LOAD_BATCH = Nvtx.range("load batch", Nvtx.DATA);
    public static final String CHECKPOINT = "best.ckpt";
    public static final String METRICS = "metrics.jsonl";
    public static final String SUMMARY = "summary.json";

    private final Backend be;
    private final CtrModel model;
    private final Dataset data;
    private final TrainConfig cfg;
    private final Path out;
    private final Map<String, Object> runConfig;
    /** Training steps between two "step" records in metrics.jsonl. */
    private final int logEvery;
    /** DIEN's auxiliary-loss negatives, made on the first training step of a model that needs them. */
    private NegativeSampler negatives;
    /** Asked for with {@link #setResidentData}; {@link #resident} is what could be done. */
    private boolean residentAsked, residentDecided;
    private ResidentHistories resident;

    public Trainer(Backend be, CtrModel model, Dataset data, TrainConfig cfg, Path out, Map<String, Object> runConfig) {
        this.be = be;
        this.model = model;
        this.data = data;
        this.cfg = cfg;
        this.out = out;
        this.runConfig = runConfig;
        this.logEvery = 20;
    }

    /** Id counts of the training split for each embedding table (MBAR's n_j), keyed by parameter name. */
    public static Map<String, int[]> countsByTable(CtrModel model, Dataset data) {
        Map<String, int[]> counts = new HashMap<>();
        for (Param p : model.embeddingTables()) {
            String vocab = p.name().substring("emb.".length());
            counts.put(p.name(), data.counts(vocab));
        }
        return counts;
    }

    public RunSummary run() throws IOException {
        long t0 = System.nanoTime();
        SampleFile train = data.train();   // read and validated before anything is written
        Files.createDirectories(out);
        Optimizer opt = new Optimizer(be, model.params(), countsByTable(model, data), cfg);
        LOG.info("model {}: {} parameters ({} dense), activations and workspaces {} MiB; backend {}", model.name(),
                String.format("%,d", parameterCount(model)), String.format("%,d", denseCount(model)), model.activationBytes() >> 20, be.describe());
        EarlyStopping stopper = new EarlyStopping(cfg.patience(), 0.0);
        long samples = 0;
        long step = 0;
        double trainNanos = 0;
        int epochsRun = 0;
        // each epoch's reader (its shuffle and buffers) opened while the epoch before it trains
        try (MetricsLog log = MetricsLog.create(out.resolve(METRICS));
             EpochsAhead<BatchReader> epochs = new EpochsAhead<>(e -> trainBatches(cfg.batchSize(), cfg.seed(), e, false), cfg.epochs())) {
            for (int epoch = 1; epoch <= cfg.epochs(); epoch++) {
                epochsRun = epoch;
                double lossSum = 0, intervalLoss = 0, intervalAux = 0;
                int intervalSteps = 0;
                long epochSamples = 0;
                long e0 = System.nanoTime();
                try (Nvtx.Scope epochRange = Nvtx.push("epoch " + epoch + "/" + cfg.epochs(), Nvtx.STEP);
                     BatchReader reader = epochs.open(epoch)) {
                    Progress progress = Progress.start("epoch " + epoch + "/" + cfg.epochs(), reader.rowsPerEpoch());
                    // Step i's loss is read after step i + 1 is issued: the host loads and issues
                    // the next batch while the device still runs the last one.
                    Batch b = reader.next();
                    CtrModel.StepLoss pending = null;
                    int pendingSize = 0;
                    while (b != null || pending != null) {
                        long s0 = System.nanoTime();
                        CtrModel.StepLoss issued = b != null ? trainStepLater(opt, b) : null;
                        int issuedSize = b != null ? b.size : 0;
                        if (pending != null) {
                            float loss = pending.loss();   // waits for the step before this one
                            trainNanos += System.nanoTime() - s0;
                            if (!Float.isFinite(loss)) {
                                throw new IllegalStateException("loss became " + loss + " at epoch " + epoch + ", step " + (step + 1)
                                        + "; lower --lr (now " + cfg.lr() + ")");
                            }
                            step++;
                            samples += pendingSize;
                            epochSamples += pendingSize;
                            lossSum += loss * pendingSize;
                            intervalLoss += loss;
                            intervalAux += pending.auxLoss();
                            intervalSteps++;
                            progress.update(epochSamples, loss);
                            if (intervalSteps == logEvery) {
                                MetricsRecord rec = MetricsRecord.step(epoch, step, samples, intervalLoss / intervalSteps, cfg.lr());
                                if (!Double.isNaN(intervalAux)) rec = rec.withAuxLoss(intervalAux / intervalSteps);
                                log.write(rec);
                                intervalLoss = 0;
                                intervalAux = 0;
                                intervalSteps = 0;
                            }
                        } else {
                            trainNanos += System.nanoTime() - s0;
                        }
                        pending = issued;
                        pendingSize = issuedSize;
                        b = issued != null ? reader.next() : null;
                    }
                    progress.finish();
                }
                double epochS = (System.nanoTime() - e0) / 1e9;
                double sps = epochSamples / epochS;
                log.write(MetricsRecord.epoch(epoch, step, samples, lossSum / epochSamples, sps));
                Metrics valid = evaluate(data.valid());
                log.write(MetricsRecord.eval(MetricsRecord.VALID, epoch, step, valid.count(), valid.auc(), valid.gauc(), valid.logloss()));
                boolean better = stopper.update(epoch, valid.auc());
                LOG.info("epoch {}: train loss {} ({} samples/s)  valid AUC {}  GAUC {}  logloss {}{}", epoch, f4(lossSum / epochSamples),
                        String.format("%,.0f", sps), f4(valid.auc()), f4(valid.gauc()), f4(valid.logloss()), better ? "  (best so far, checkpointed)" : "");
                if (better) saveCheckpoint(out.resolve(CHECKPOINT), epoch, valid.auc());
                if (stopper.shouldStop()) {
                    LOG.info("early stop: valid AUC has not improved for {} epochs (best {} at epoch {})", stopper.epochsWithoutImprovement(),
                            f4(stopper.bestValue()), stopper.bestEpoch());
                    break;
                }
            }
            String steps = be.stepSummary();
            if (!steps.isEmpty()) LOG.info("{}", steps);
            loadCheckpoint(out.resolve(CHECKPOINT));
            Metrics test = evaluate(data.test());
            double trainSps = samples / (trainNanos / 1e9);
            log.write(MetricsRecord.summary(MetricsRecord.TEST, stopper.bestEpoch(), test.count(), test.auc(), test.gauc(), test.logloss(), trainSps));
            long deviceBytes = be.deviceBytesAllocated();
            RunSummary summary = new RunSummary(model.name(), be.deviceLabel(), data.dir().toString(), cfg.seed(), epochsRun, stopper.bestEpoch(),
                    stopper.bestValue(), test.auc(), test.gauc(), test.logloss(), trainSps, (System.nanoTime() - t0) / 1e9,
                    deviceBytes >= 0 ? deviceBytes / 1048576.0 : null, RunSummary.configTree(runConfig));
            summary.write(out.resolve(SUMMARY));
            log.close();
            try {
                Plots.writeFromLog(out.resolve(METRICS), out, model.name());
            } catch (IOException | RuntimeException e) {
                LOG.warn("could not draw the training curves: {}", e.toString());
            }
            return summary;
        }
    }

    /**
     * Keep the training file's histories in the backend's memory ({@code train --resident-data}):
     * batches then carry row numbers instead of histories, and the device gathers them
     * ({@link ResidentHistories}). Decided when the first batches are asked for: ignored, with a
     * log line that says why, on a backend that computes in host memory, for a model whose
     * auxiliary negatives are drawn on the host, or when the columns would take more than half of
     * the free device memory.
     */
    public void setResidentData(boolean on) {
        if (residentDecided) throw new IllegalStateException("setResidentData after the first batches");
        residentAsked = on;
    }

    /** Uses histories another trainer of the same backend made resident (the benchmark's repeated runs). */
    public void setResidentData(ResidentHistories shared) {
        if (residentDecided) throw new IllegalStateException("setResidentData after the first batches");
        if (shared.maxB < model.batch.maxB || shared.negatives != (model.batch.negItems != null)) {
            throw new IllegalArgumentException("resident histories for batches of " + shared.maxB + (shared.negatives ? " with" : " without")
                    + " negatives do not fit this model's batches");
        }
        residentAsked = true;
        residentDecided = true;
        resident = shared;
    }

    /** The resident training histories, or null (after the first {@link #trainBatches}). */
    public ResidentHistories residentHistories() { return resident; }

    private void decideResident() {
        if (residentDecided) return;
        residentDecided = true;
        if (!residentAsked) return;
        SampleFile train = data.train();
        long free = be.deviceFreeBytes();
        if (free < 0) {
            LOG.info("--resident-data: the {} backend reads batches from host memory anyway; ignored", be.name());
            return;
        }
        boolean negs = model.batch.negItems != null;
        if (negs && !readsNegativeColumns()) {
            LOG.warn("--resident-data: the auxiliary loss's negatives are drawn on the host from each batch's histories; batches are copied in as usual");
            return;
        }
        long bytes = train.historyColumns().bytes(negs);
        if (bytes > free / 2) {
            LOG.warn("--resident-data: the training histories take {} MiB, more than half of the {} MiB free on the device; batches are copied in as usual",
                    bytes >> 20, free >> 20);
            return;
        }
        resident = new ResidentHistories(be, train, model.batch.maxB, negs);
        LOG.info("--resident-data: the training histories ({} rows, {} behaviours{}, {} MiB) stay on the device; each batch sends its row numbers",
                String.format("%,d", train.rows()), String.format("%,d", train.historyValues()), negs ? " with their negatives" : "", bytes >> 20);
    }

    /**
     * The training batches of an epoch (shuffled by seed and epoch), with the histories or, when
     * they are resident, without (row numbers and lengths only).
     */
    public BatchReader trainBatches(int batchSize, long seed, int epoch, boolean dropLast) {
        decideResident();
        return data.train().batches(batchSize, true, seed, epoch, dropLast, resident == null && readsNegativeColumns(), resident == null);
    }

    /** One optimisation step on a host batch; returns the loss (with DIEN, CE + alpha_aux * aux). */
    public float trainStep(Optimizer opt, Batch b) {
        try (Nvtx.Scope r = TRAIN_STEP.open()) {
            loadForTraining(b);
            return model.trainStep(opt::step);
        }
    }

    /**
     * One optimisation step on a host batch, issued without waiting for the device (the batch
     * object may be reused at once); the loss is read when asked for. {@link #train} reads step
     * i's loss after issuing step i + 1, so the host prepares the next step while the device runs.
     */
    public CtrModel.StepLoss trainStepLater(Optimizer opt, Batch b) {
        try (Nvtx.Scope r = TRAIN_STEP.open()) {
            loadForTraining(b);
            return model.trainStepLater(opt::step);
        }
    }

    private void loadForTraining(Batch b) {
        try (Nvtx.Scope r = LOAD_BATCH.open()) {
            loadBatch(b);
        }
    }

    private void loadBatch(Batch b) {
        if (!b.hasHistories()) {
            if (resident == null) throw new IllegalStateException("a batch without histories, and none resident (batches from trainBatches only)");
            model.batch.loadResident(be, b.size, b.labels, b.profile, b.items, b.cates, b.lengths, b.rowIndex, resident);
            return;
        }
        if (model.batch.negItems != null) {
            if (negatives == null) {
                negatives = NegativeSampler.create(cfg.auxNegatives(), data.train(), model.features().itemVocab(), data.counts("item"),
                        model.maxTrainB, cfg.seed());
                LOG.info("auxiliary-loss negatives: {}", negatives.fromColumns() ? "the dataset's neg_hist columns"
                        : "sampled " + (cfg.auxNegatives() == io.augur.config.TrainConfig.AuxNegatives.POPULARITY ? "by popularity" : "uniformly")
                        + " over the training items, never the clicked one");
            }
            negatives.fill(b);
            model.batch.load(be, b.size, b.labels, b.profile, b.items, b.cates, b.histItems, b.histCates, negatives.negItems,
                    negatives.negCates, b.lengths);
        } else {
            load(b);
        }
    }

    private void load(Batch b) {
        model.batch.load(be, b.size, b.labels, b.profile, b.items, b.cates, b.histItems, b.histCates, null, null, b.lengths);
    }

    /**
     * Whether training batches need the dataset's neg_hist columns: only for a model with an
     * auxiliary loss (its batch has negatives) that takes them from the dataset (--aux-negatives
     * auto on a dataset that has them; otherwise the sampler draws them).
     */
    public boolean readsNegativeColumns() {
        return model.batch.negItems != null && NegativeSampler.readsColumns(cfg.auxNegatives(), data.schema());
    }

    /** AUC, GAUC and logloss of the model (inference mode) on one split. */
    public Metrics evaluate(SampleFile split) {
        Metrics m = new Metrics(Math.max(16, split.rows()));
        int E = cfg.evalBatchSize();
        // Batch i's probabilities are read after batch i + 1 is issued (two sets of buffers; the
        // reader recycles a batch at the next next(), so its users and labels are copied out).
        float[][] probs = new float[2][E], labels = new float[2][E];
        int[][] users = new int[2][E];
        try (Nvtx.Scope r = Nvtx.push("evaluate " + split.path().getFileName(), Nvtx.EVAL);
             BatchReader reader = split.batches(E, false, 0L, 0, false, false)) {
            Batch b = reader.next();
            Runnable pending = null;
            int pendingCount = 0, k = 0;
            while (b != null || pending != null) {
                Runnable issued = null;
                int count = 0;
                if (b != null) {
                    load(b);
                    issued = model.predictStepLater(probs[k]);
                    count = b.size;
                    System.arraycopy(b.profile[0], 0, users[k], 0, count);
                    System.arraycopy(b.labels, 0, labels[k], 0, count);
                }
                if (pending != null) {
                    pending.run();
                    m.addAll(users[1 - k], labels[1 - k], probs[1 - k], pendingCount);
                }
                pending = issued;
                pendingCount = count;
                k ^= 1;
                b = issued != null ? reader.next() : null;
            }
        }
        return m;
    }

    private void saveCheckpoint(Path file, int epoch, double validAuc) {
        try (Nvtx.Scope r = Nvtx.push("checkpoint", Nvtx.FILE)) {
            writeCheckpoint(file, epoch, validAuc);
        }
    }

    private void writeCheckpoint(Path file, int epoch, double validAuc) {
        List<NamedArray> tensors = new ArrayList<>();
        for (Param p : model.params()) {
            float[] v = new float[p.value().size()];
            be.download(p.value(), v, v.length);
            tensors.add(NamedArray.f32(p.name(), p.value().shape(), v));
        }
        Map<String, Object> meta = new LinkedHashMap<>();
        meta.put("model", model.name());
        meta.put("epoch", epoch);
        meta.put("valid_auc", validAuc);
        meta.put("config", runConfig);
        try {
            Checkpoint.write(file, meta, tensors);
        } catch (IOException e) {
            throw new UncheckedIOException("could not write checkpoint " + file, e);
        }
    }

    /** Loads parameters written by {@link #saveCheckpoint} into the model. */
    public static void loadInto(CtrModel model, Path file) throws IOException {
        Checkpoint.Contents c = Checkpoint.read(file);
        for (Param p : model.params()) {
            NamedArray a = c.tensor(p.name());   // throws, naming the file, when the tensor is missing
            if (!java.util.Arrays.equals(a.shape(), p.value().shape())) {
                throw new IOException(file + ": tensor " + p.name() + " has shape " + java.util.Arrays.toString(a.shape()) + ", the model "
                        + java.util.Arrays.toString(p.value().shape()));
            }
            model.backend().upload(p.value(), a.floats(), a.size());
        }
    }

    private void loadCheckpoint(Path file) throws IOException {
        if (Files.exists(file)) loadInto(model, file);
    }

    static long parameterCount(CtrModel m) {
        long n = 0;
        for (Param p : m.params()) if (p.kind() != Param.Kind.BUFFER) n += p.value().size();
        return n;
    }

    static long denseCount(CtrModel m) {
        long n = 0;
        for (Param p : m.params()) if (p.kind() == Param.Kind.DENSE) n += p.value().size();
        return n;
    }

    static String f4(double v) { return String.format("%.4f", v); }
}
