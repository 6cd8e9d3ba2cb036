package io.augur.report;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Objects;

/**
 * One line of a metrics log (JSON lines, see {@link MetricsLog}). Every field but {@code kind} is
 * optional and left out of the JSON when null. Field names in the file are snake_case.
 *
 * <ul>
 *   <li>{@code step}: a training step (or the mean over the last logging interval): epoch, step,
 *       samples, loss, optionally aux_loss (DIEN), lr, samples_per_s.
 *   <li>{@code epoch}: the end of a training epoch: epoch, step, samples, loss (the epoch's mean
 *       training loss), samples_per_s.
 *   <li>{@code eval}: an evaluation pass over {@code split} ("valid" or "test"): epoch, step,
 *       count, auc, gauc, logloss.
 *   <li>{@code summary}: the run's final numbers, usually on "test".
 * </ul>
 *
 * <p>Counters: {@code epoch} counts from 1; {@code step} is the number of optimizer steps done
 * since the run began; {@code samples} the number of training samples seen; {@code elapsed_s} the
 * seconds since the log was opened (stamped by the writer when left null). Non-finite numbers are
 * written as the JSON strings "NaN", "Infinity", "-Infinity" and read back as such.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public record MetricsRecord(
        @JsonProperty("kind") Kind kind,
        @JsonProperty("split") String split,
        @JsonProperty("epoch") Integer epoch,
        @JsonProperty("step") Long step,
        @JsonProperty("samples") Long samples,
        @JsonProperty("loss") Double loss,
        @JsonProperty("aux_loss") Double auxLoss,
        @JsonProperty("lr") Double lr,
        @JsonProperty("count") Long count,
        @JsonProperty("auc") Double auc,
        @JsonProperty("gauc") Double gauc,
        @JsonProperty("logloss") Double logloss,
        @JsonProperty("samples_per_s") Double samplesPerS,
        @JsonProperty("elapsed_s") Double elapsedS) {

    /** What a line records. */
    public enum Kind {
        @JsonProperty("step") STEP,
        @JsonProperty("epoch") EPOCH,
        @JsonProperty("eval") EVAL,
        @JsonProperty("summary") SUMMARY
    }

    public static final String VALID = "valid";
    public static final String TEST = "test";

    public MetricsRecord {
        Objects.requireNonNull(kind, "kind");
    }

    /** A training step: the loss of the step (or the mean since the last step line). */
    public static MetricsRecord step(int epoch, long step, long samples, double loss, double lr) {
        return new MetricsRecord(Kind.STEP, null, epoch, step, samples, loss, null, lr, null, null, null, null, null, null);
    }

    /** The end of a training epoch with its mean training loss and throughput. */
    public static MetricsRecord epoch(int epoch, long step, long samples, double meanLoss, double samplesPerS) {
        return new MetricsRecord(Kind.EPOCH, null, epoch, step, samples, meanLoss, null, null, null, null, null, null, samplesPerS, null);
    }

    /** An evaluation pass over {@code split} after {@code epoch}. */
    public static MetricsRecord eval(String split, int epoch, long step, long count, double auc, double gauc, double logloss) {
        return new MetricsRecord(Kind.EVAL, split, epoch, step, null, null, null, null, count, auc, gauc, logloss, null, null);
    }

    /** The final numbers of a run on {@code split} (usually test). */
    public static MetricsRecord summary(String split, int epoch, long count, double auc, double gauc, double logloss, double trainSamplesPerS) {
        return new MetricsRecord(Kind.SUMMARY, split, epoch, null, null, null, null, null, count, auc, gauc, logloss, trainSamplesPerS, null);
    }

    public MetricsRecord withAuxLoss(double v) {
        return new MetricsRecord(kind, split, epoch, step, samples, loss, v, lr, count, auc, gauc, logloss, samplesPerS, elapsedS);
    }

    public MetricsRecord withSamplesPerS(double v) {
        return new MetricsRecord(kind, split, epoch, step, samples, loss, auxLoss, lr, count, auc, gauc, logloss, v, elapsedS);
    }

    public MetricsRecord withElapsedS(double v) {
        return new MetricsRecord(kind, split, epoch, step, samples, loss, auxLoss, lr, count, auc, gauc, logloss, samplesPerS, v);
    }
}
