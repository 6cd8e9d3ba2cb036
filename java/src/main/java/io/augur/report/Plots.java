package io.augur.report;

import java.awt.Color;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.Rectangle;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import javax.imageio.ImageIO;

/**
 * Training curves as PNG files, drawn with Java2D from the records of a {@link MetricsLog}:
 *
 * <ul>
 *   <li>{@value #LOSS_PNG}: training loss against the step, the raw values (light) with a smoothed
 *       line over them, DIEN's auxiliary loss when logged, each epoch's mean loss, and dashed lines
 *       at the epoch boundaries;
 *   <li>{@value #VALID_PNG}: two panels per epoch: valid AUC and GAUC (the best epoch marked), and
 *       valid logloss beside the mean training loss (a widening gap is overfitting); the test
 *       numbers of a summary record, when present, in the title.
 * </ul>
 *
 * <p>Java2D rather than a chart library: two small chart types need no extra dependency, and the
 * details that matter here (a robust y range that ignores early spikes, decimation of long step
 * series, epoch markers) are easier to get right by hand. Rendering is headless: the class sets
 * {@code java.awt.headless=true} (unless the property is already set) before AWT loads.
 *
 * <p>A resumed run appends to its log and repeats steps; a step or epoch that comes again
 * replaces what was logged for it before.
 */
public final class Plots {

    static {
        if (System.getProperty("java.awt.headless") == null) System.setProperty("java.awt.headless", "true");
    }

    public static final String LOSS_PNG = "loss.png";
    public static final String VALID_PNG = "valid.png";
    public static final int WIDTH = 1000;
    public static final int LOSS_HEIGHT = 560;
    public static final int VALID_HEIGHT = 820;

    private Plots() {}

    /** Reads a metrics log and writes its plots into {@code outDir}; see {@link #write}. */
    public static List<Path> writeFromLog(Path metricsLog, Path outDir, String runName) throws IOException {
        return write(MetricsLog.read(metricsLog), outDir, runName);
    }

    /**
     * Writes {@value #LOSS_PNG} (when there are step records) and {@value #VALID_PNG} (when there are
     * valid eval records) into {@code outDir}.
     *
     * @param runName shown in the titles, e.g. "din" or the run folder's name; may be null
     * @return the files written
     */
    public static List<Path> write(List<MetricsRecord> records, Path outDir, String runName) throws IOException {
        Files.createDirectories(outDir);
        List<Path> written = new ArrayList<>();
        BufferedImage loss = lossImage(records, runName, WIDTH, LOSS_HEIGHT);
        if (loss != null) written.add(writePng(loss, outDir.resolve(LOSS_PNG)));
        BufferedImage valid = validImage(records, runName, WIDTH, VALID_HEIGHT);
        if (valid != null) written.add(writePng(valid, outDir.resolve(VALID_PNG)));
        return written;
    }

    /** Writes a PNG through a temporary file, so a viewer never sees half an image. */
    public static Path writePng(BufferedImage image, Path file) throws IOException {
        Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
        try {
            if (!ImageIO.write(image, "png", tmp.toFile())) throw new IOException("no PNG writer in this JVM");
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
        return file;
    }

    // ---- loss.png ----

    /** The training-loss chart, or null when the records hold no step with a loss. */
    public static BufferedImage lossImage(List<MetricsRecord> records, String runName, int width, int height) {
        Map<Long, MetricsRecord> steps = bySteps(records, MetricsRecord.Kind.STEP);
        if (steps.isEmpty()) return null;
        double[] x = new double[steps.size()], y = new double[steps.size()], aux = new double[steps.size()];
        boolean hasAux = false;
        int i = 0;
        for (MetricsRecord r : steps.values()) {
            x[i] = r.step();
            y[i] = r.loss() == null ? Double.NaN : r.loss();
            aux[i] = r.auxLoss() == null ? Double.NaN : r.auxLoss();
            hasAux |= r.auxLoss() != null;
            i++;
        }
        double[] smooth = ema(y);
        Chart c = new Chart(title(runName, "training loss"), "step", "loss (BCE)");
        c.add(new Chart.Series("raw", x, y, new Color(0x1f, 0x77, 0xb4, 80), 1f, false, false));
        c.add(new Chart.Series("smoothed" + last(smooth), x, smooth, Chart.BLUE, 2.4f, false, false));
        double[] auxSmooth = null;
        if (hasAux) {
            auxSmooth = ema(aux);
            c.add(new Chart.Series("aux loss, smoothed" + last(auxSmooth), x, auxSmooth, Chart.ORANGE, 2f, true, false));
        }

        // Each epoch's mean loss at the middle of its steps, and a dashed line where it ends.
        Map<Integer, MetricsRecord> epochs = byEpoch(records, MetricsRecord.Kind.EPOCH, null);
        List<double[]> means = new ArrayList<>();
        int every = Math.max(1, (int) Math.ceil(epochs.size() / 12.0));
        double prevEnd = 0;
        for (MetricsRecord r : epochs.values()) {
            if (r.step() == null) continue;
            if (r.loss() != null) means.add(new double[] {(prevEnd + r.step()) / 2, r.loss()});
            boolean label = r.epoch() % every == 0 || every == 1;
            c.marker(new Chart.Marker(r.step(), label ? "epoch " + r.epoch() : null, Chart.GRAY, true, false));
            prevEnd = r.step();
        }
        if (!means.isEmpty())
            c.add(new Chart.Series("epoch mean", column(means, 0), column(means, 1), Chart.PURPLE, 1.5f, false, true));

        // A y range that holds 98% of the raw points and the smoothed curve after its first 5%:
        // a few start-up spikes must not squash the rest of the run into a flat line.
        double[] settled = Arrays.copyOfRange(smooth, smooth.length / 20, smooth.length);
        double lo = Math.min(min(settled), percentile(y, 0.01));
        double hi = Math.max(max(settled), percentile(y, 0.99));
        if (auxSmooth != null) {
            lo = Math.min(lo, min(auxSmooth));
            hi = Math.max(hi, max(auxSmooth));
        }
        for (double[] m : means) {
            lo = Math.min(lo, m[1]);
            hi = Math.max(hi, m[1]);
        }
        if (Double.isFinite(lo) && Double.isFinite(hi) && hi > lo) {
            double y0 = lo - 0.06 * (hi - lo), y1 = hi + 0.06 * (hi - lo);
            c.yRange(y0, y1);
            long outside = Arrays.stream(y).filter(v -> Double.isFinite(v) && (v < y0 || v > y1)).count();
            if (outside > 0) c.note(outside + " of " + y.length + " raw points lie outside the y range");
        }
        if (x.length > 1) c.xRange(Math.min(0, x[0]), x[x.length - 1]);

        BufferedImage img = canvas(width, height);
        Graphics2D g = graphics(img);
        c.draw(g, new Rectangle(0, 0, width, height));
        g.dispose();
        return img;
    }

    // ---- valid.png ----

    /** The per-epoch validation chart, or null when the records hold no valid eval. */
    public static BufferedImage validImage(List<MetricsRecord> records, String runName, int width, int height) {
        Map<Integer, MetricsRecord> valid = byEpoch(records, MetricsRecord.Kind.EVAL, MetricsRecord.VALID);
        if (valid.isEmpty()) return null;
        int n = valid.size();
        double[] ep = new double[n], auc = new double[n], gauc = new double[n], logloss = new double[n];
        int i = 0, best = -1;
        for (MetricsRecord r : valid.values()) {
            ep[i] = r.epoch();
            auc[i] = nan(r.auc());
            gauc[i] = nan(r.gauc());
            logloss[i] = nan(r.logloss());
            if (Double.isFinite(auc[i]) && (best < 0 || auc[i] > auc[best])) best = i;
            i++;
        }
        Chart top = new Chart("valid AUC and GAUC", "epoch", "AUC / GAUC").integerX();
        top.add(new Chart.Series("AUC", ep, auc, Chart.BLUE, 2f, false, true));
        if (Arrays.stream(gauc).anyMatch(Double::isFinite)) top.add(new Chart.Series("GAUC", ep, gauc, Chart.GREEN, 2f, false, true));
        if (best >= 0)
            top.marker(new Chart.Marker(ep[best], String.format(Locale.ROOT, "best AUC %.4f @ epoch %d", auc[best], (int) ep[best]),
                    Chart.RED, false, true));

        Chart bottom = new Chart("loss per epoch", "epoch", "logloss").integerX();
        bottom.add(new Chart.Series("valid logloss", ep, logloss, Chart.RED, 2f, false, true));
        Map<Integer, MetricsRecord> train = byEpoch(records, MetricsRecord.Kind.EPOCH, null);
        List<double[]> tl = new ArrayList<>();
        for (MetricsRecord r : train.values()) if (r.loss() != null) tl.add(new double[] {r.epoch(), r.loss()});
        if (!tl.isEmpty()) bottom.add(new Chart.Series("train loss (epoch mean)", column(tl, 0), column(tl, 1), Chart.BLUE, 2f, true, true));
        double x0 = ep[0], x1 = ep[n - 1];
        for (double[] t : tl) {
            x0 = Math.min(x0, t[0]);
            x1 = Math.max(x1, t[0]);
        }
        top.xRange(x0 - 0.5, x1 + 0.5);
        bottom.xRange(x0 - 0.5, x1 + 0.5);

        BufferedImage img = canvas(width, height);
        Graphics2D g = graphics(img);
        g.setFont(Chart.TITLE_FONT);
        FontMetrics fm = g.getFontMetrics();
        String title = title(runName, "validation per epoch");
        MetricsRecord summary = lastSummary(records);
        if (summary != null && summary.auc() != null)
            title += String.format(Locale.ROOT, "   (%s AUC %.4f  GAUC %.4f  logloss %.4f)", summary.split() == null ? "test" : summary.split(),
                    nan(summary.auc()), nan(summary.gauc()), nan(summary.logloss()));
        g.setColor(new Color(0x222222));
        g.drawString(title, (width - fm.stringWidth(title)) / 2, fm.getAscent() + 8);
        int head = fm.getHeight() + 14;
        int half = (height - head) / 2;
        top.draw(g, new Rectangle(0, head, width, half));
        bottom.draw(g, new Rectangle(0, head + half, width, height - head - half));
        g.dispose();
        return img;
    }

    // ---- helpers ----

    private static BufferedImage canvas(int width, int height) {
        if (width < 200 || height < 150) throw new IllegalArgumentException("image too small: " + width + "x" + height);
        return new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
    }

    private static Graphics2D graphics(BufferedImage img) {
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_STROKE_CONTROL, RenderingHints.VALUE_STROKE_PURE);
        g.setRenderingHint(RenderingHints.KEY_RENDERING, RenderingHints.VALUE_RENDER_QUALITY);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, img.getWidth(), img.getHeight());
        return g;
    }

    private static String title(String runName, String what) {
        return runName == null || runName.isBlank() ? what : runName + " — " + what;
    }

    /** Step records by step, a repeated step replacing later ones logged before (a resumed run). */
    static Map<Long, MetricsRecord> bySteps(List<MetricsRecord> records, MetricsRecord.Kind kind) {
        TreeMap<Long, MetricsRecord> out = new TreeMap<>();
        for (MetricsRecord r : records) {
            if (r.kind() != kind || r.step() == null) continue;
            out.tailMap(r.step(), true).clear();
            out.put(r.step(), r);
        }
        return out;
    }

    /** Records of a kind (and split) by epoch, the last one of an epoch winning. */
    private static Map<Integer, MetricsRecord> byEpoch(List<MetricsRecord> records, MetricsRecord.Kind kind, String split) {
        TreeMap<Integer, MetricsRecord> out = new TreeMap<>();
        for (MetricsRecord r : records) {
            if (r.kind() != kind || r.epoch() == null) continue;
            if (split != null && !split.equals(r.split())) continue;
            out.put(r.epoch(), r);
        }
        return out;
    }

    private static MetricsRecord lastSummary(List<MetricsRecord> records) {
        MetricsRecord s = null;
        for (MetricsRecord r : records) if (r.kind() == MetricsRecord.Kind.SUMMARY) s = r;
        return s;
    }

    /**
     * Exponential moving average with bias correction (the first values are not pulled toward 0),
     * its span growing with the series: about n/30 points, between 1 and 500. NaN inputs are skipped
     * and stay NaN in the output.
     */
    static double[] ema(double[] y) {
        double span = Math.min(500, Math.max(1, y.length / 30.0));
        double beta = 1 - 1 / span;
        double[] out = new double[y.length];
        double acc = 0, weight = 0;
        for (int i = 0; i < y.length; i++) {
            if (!Double.isFinite(y[i])) {
                out[i] = Double.NaN;
                continue;
            }
            acc = beta * acc + (1 - beta) * y[i];
            weight = beta * weight + (1 - beta);
            out[i] = acc / weight;
        }
        return out;
    }

    private static String last(double[] v) {
        for (int i = v.length - 1; i >= 0; i--) if (Double.isFinite(v[i])) return String.format(Locale.ROOT, " (last %.4f)", v[i]);
        return "";
    }

    private static double percentile(double[] v, double q) {
        double[] f = Arrays.stream(v).filter(Double::isFinite).sorted().toArray();
        if (f.length == 0) return Double.NaN;
        return f[(int) Math.min(f.length - 1, Math.max(0, Math.round(q * (f.length - 1))))];
    }

    private static double min(double[] v) { return Arrays.stream(v).filter(Double::isFinite).min().orElse(Double.NaN); }

    private static double max(double[] v) { return Arrays.stream(v).filter(Double::isFinite).max().orElse(Double.NaN); }

    private static double[] column(List<double[]> rows, int c) {
        double[] out = new double[rows.size()];
        for (int i = 0; i < out.length; i++) out[i] = rows.get(i)[c];
        return out;
    }

    private static double nan(Double v) { return v == null ? Double.NaN : v; }
}
