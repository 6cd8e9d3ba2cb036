package io.augur.train;

import java.io.PrintStream;
import java.time.Duration;
import java.util.Locale;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * Progress of one pass (a training epoch, an evaluation) over a known number of samples.
 *
 * <p>On an interactive terminal ({@code System.console() != null}) it redraws one line on stderr,
 * at most ten times a second:
 * <pre>
 * epoch 3/10 [=========>          ]  45.2%  123,456/273,000  12,345 samples/s  ETA 0:12  loss 0.5123
 * </pre>
 * Anywhere else (CI, a pipe, a log file) it writes a Log4j2 INFO line every {@code interval} (10 s
 * by default) and nothing in between, so a long run's log grows by a line per interval, never per
 * batch:
 * <pre>
 * epoch 3/10: 45.2% (123,456/273,000 samples), 12,345 samples/s, ETA 0:12, loss 0.5123
 * </pre>
 *
 * <p>The rate is the mean since the pass began; the ETA is what remains at that rate. The loss
 * shown is a bias-corrected moving average of the losses given to {@link #update} (about the last
 * 50 updates), since single batch losses jump around. Not thread-safe: call from the training loop.
 */
public final class Progress {

    private static final Logger LOG = LogManager.getLogger(Progress.class);

    public static final Duration DEFAULT_LOG_INTERVAL = Duration.ofSeconds(10);
    /** At most ten redraws a second on a terminal. */
    static final long REDRAW_NANOS = 100_000_000L;
    static final int BAR_WIDTH = 20;
    private static final double LOSS_BETA = 0.98;

    private final String label;
    private final long total;
    private final boolean interactive;
    private final PrintStream terminal;
    private final Consumer<String> sink;
    private final LongSupplier clock;
    private final long intervalNanos;
    private final long startNanos;

    private long lastEmitNanos;
    private long done;
    private double lossAcc, lossWeight;
    private int lastWidth;
    private boolean finished;

    private Progress(String label, long total, boolean interactive, PrintStream terminal, Consumer<String> sink,
                     LongSupplier clock, Duration interval) {
        if (interval.isNegative() || interval.isZero()) throw new IllegalArgumentException("interval must be positive: " + interval);
        this.label = label;
        this.total = total;
        this.interactive = interactive;
        this.terminal = terminal;
        this.sink = sink;
        this.clock = clock;
        this.intervalNanos = interval.toNanos();
        this.startNanos = clock.getAsLong();
        this.lastEmitNanos = startNanos;
    }

    /**
     * A reporter for a pass over {@code totalSamples} samples (0 or less if unknown): a redrawn line
     * on a terminal, INFO lines every 10 s otherwise.
     *
     * @param label what is running, e.g. "epoch 3/10" or "eval valid"
     */
    public static Progress start(String label, long totalSamples) {
        return start(label, totalSamples, DEFAULT_LOG_INTERVAL);
    }

    /** As {@link #start(String, long)} with another interval between log lines. */
    public static Progress start(String label, long totalSamples, Duration logInterval) {
        boolean tty = System.console() != null;
        return new Progress(label, totalSamples, tty, System.err, LOG::info, System::nanoTime, logInterval);
    }

    /** The non-interactive reporter with its clock and sink given (tests, or a caller's own logger). */
    public static Progress logging(String label, long totalSamples, Duration interval, LongSupplier nanoClock, Consumer<String> sink) {
        return new Progress(label, totalSamples, false, null, sink, nanoClock, interval);
    }

    /** The terminal reporter drawing on {@code out} with a given clock (tests). */
    static Progress terminal(String label, long totalSamples, PrintStream out, LongSupplier nanoClock) {
        return new Progress(label, totalSamples, true, out, null, nanoClock, DEFAULT_LOG_INTERVAL);
    }

    /**
     * Reports the samples done so far in this pass (cumulative) and the latest batch loss. A NaN or
     * infinite loss stays in the average, so a diverged run shows "loss NaN" rather than an old value.
     */
    public void update(long samplesDone, double loss) {
        lossAcc = LOSS_BETA * lossAcc + (1 - LOSS_BETA) * loss;
        lossWeight = LOSS_BETA * lossWeight + (1 - LOSS_BETA);
        update(samplesDone);
    }

    /** Reports the samples done so far in this pass (cumulative), without a loss (evaluation). */
    public void update(long samplesDone) {
        done = samplesDone;
        long now = clock.getAsLong();
        long since = now - lastEmitNanos;
        if (interactive) {
            if (since >= REDRAW_NANOS) {
                draw(now);
                lastEmitNanos = now;
            }
        } else if (since >= intervalNanos) {
            sink.accept(logLine(now));
            lastEmitNanos = now;
        }
    }

    /** Ends the pass: a last redraw and a newline on a terminal, a summary line in a log. Idempotent. */
    public void finish() {
        if (finished) return;
        finished = true;
        long now = clock.getAsLong();
        if (interactive) {
            draw(now);
            terminal.print('\n');
            terminal.flush();
        } else {
            double s = seconds(now);
            StringBuilder b = new StringBuilder(label).append(": done, ").append(group(done)).append(" samples in ")
                    .append(String.format(Locale.ROOT, "%.1f s", s)).append(", ").append(rateText(now)).append(" samples/s");
            if (lossWeight > 0) b.append(", loss ").append(lossText());
            sink.accept(b.toString());
        }
    }

    /** Mean samples per second since the pass began. */
    public double samplesPerSecond() { return rate(clock.getAsLong()); }

    /** The moving average of the losses reported, NaN if none. */
    public double smoothedLoss() { return lossWeight > 0 ? lossAcc / lossWeight : Double.NaN; }

    // ---- text ----

    private void draw(long now) {
        String line = terminalLine(now);
        int pad = Math.max(0, lastWidth - line.length());
        terminal.print('\r' + line + " ".repeat(pad));
        terminal.flush();
        lastWidth = line.length();
    }

    String terminalLine(long now) {
        StringBuilder b = new StringBuilder(label);
        if (total > 0) {
            double f = Math.min(1.0, (double) done / total);
            int filled = (int) Math.floor(f * BAR_WIDTH);
            b.append(" [").append("=".repeat(filled));
            if (filled < BAR_WIDTH) b.append('>').append(" ".repeat(BAR_WIDTH - filled - 1));
            b.append(']').append(String.format(Locale.ROOT, " %5.1f%%", 100 * f));
            b.append("  ").append(group(done)).append('/').append(group(total));
        } else {
            b.append("  ").append(group(done));
        }
        b.append("  ").append(rateText(now)).append(" samples/s");
        if (total > 0) b.append("  ETA ").append(eta(now));
        if (lossWeight > 0) b.append("  loss ").append(lossText());
        return b.toString();
    }

    String logLine(long now) {
        StringBuilder b = new StringBuilder(label).append(": ");
        if (total > 0) {
            b.append(String.format(Locale.ROOT, "%.1f%% (%s/%s samples)", 100 * Math.min(1.0, (double) done / total), group(done), group(total)));
        } else {
            b.append(group(done)).append(" samples");
        }
        b.append(", ").append(rateText(now)).append(" samples/s");
        if (total > 0) b.append(", ETA ").append(eta(now));
        if (lossWeight > 0) b.append(", loss ").append(lossText());
        return b.toString();
    }

    private double seconds(long now) { return (now - startNanos) / 1e9; }

    private double rate(long now) {
        double s = seconds(now);
        return s > 0 ? done / s : 0;
    }

    private String rateText(long now) { return group(Math.round(rate(now))); }

    private String eta(long now) {
        double r = rate(now);
        if (!(r > 0)) return "?";
        return clockText(Math.max(0, total - done) / r);
    }

    private String lossText() { return String.format(Locale.ROOT, "%.4f", lossAcc / lossWeight); }

    /** 12 → "0:12", 754 → "12:34", 4000 → "1:06:40". */
    static String clockText(double seconds) {
        long s = Math.round(seconds);
        long h = s / 3600, m = (s % 3600) / 60, sec = s % 60;
        return h > 0 ? String.format(Locale.ROOT, "%d:%02d:%02d", h, m, sec) : String.format(Locale.ROOT, "%d:%02d", m, sec);
    }

    static String group(long v) { return String.format(Locale.ROOT, "%,d", v); }
}
