package io.augur.report;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.GraphicsEnvironment;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PlotsTest {

    @TempDir
    Path dir;

    private static final byte[] PNG_SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

    /** Four epochs of 250 logged steps: a decaying noisy loss with early spikes, an aux loss, evals. */
    static List<MetricsRecord> syntheticRun(boolean withAux) {
        SplittableRandom rnd = new SplittableRandom(3);
        List<MetricsRecord> out = new ArrayList<>();
        double[] validAuc = {0.6812, 0.7135, 0.7243, 0.7219};
        long step = 0;
        for (int epoch = 1; epoch <= 4; epoch++) {
            double sum = 0;
            for (int i = 0; i < 250; i++) {
                step += 20;
                double loss = 0.46 + 0.23 * Math.exp(-step / 2500.0) + 0.05 * rnd.nextGaussian();
                if (step < 200 && i % 3 == 0) loss += 1.5; // start-up spikes, to be left off the y range
                sum += loss;
                MetricsRecord r = MetricsRecord.step(epoch, step, step * 128, loss, 1e-3);
                if (withAux) r = r.withAuxLoss(0.5 + 0.19 * Math.exp(-step / 4000.0) + 0.04 * rnd.nextGaussian());
                out.add(r);
            }
            out.add(MetricsRecord.epoch(epoch, step, step * 128, sum / 250, 15_000));
            double auc = validAuc[epoch - 1];
            out.add(MetricsRecord.eval(MetricsRecord.VALID, epoch, step, 50_000, auc, auc - 0.035, 0.62 - (auc - 0.68) * 1.2 + 0.01 * epoch * epoch / 4));
        }
        out.add(MetricsRecord.summary(MetricsRecord.TEST, 3, 50_000, 0.7231, 0.6897, 0.5472, 15_000));
        return out;
    }

    @Test
    void writesReadablePngsOfTheRightSizeHeadless() throws IOException {
        List<Path> files = Plots.write(syntheticRun(true), dir.resolve("plots"), "dien");
        assertTrue(GraphicsEnvironment.isHeadless());
        assertEquals(List.of(dir.resolve("plots/loss.png"), dir.resolve("plots/valid.png")), files);
        assertPng(files.get(0), Plots.WIDTH, Plots.LOSS_HEIGHT);
        assertPng(files.get(1), Plots.WIDTH, Plots.VALID_HEIGHT);
        try (var s = Files.list(dir.resolve("plots"))) {
            assertEquals(2, s.count(), "no temporary files left");
        }
    }

    private static void assertPng(Path f, int w, int h) throws IOException {
        byte[] bytes = Files.readAllBytes(f);
        assertArrayEquals(PNG_SIGNATURE, Arrays.copyOf(bytes, 8));
        BufferedImage img = ImageIO.read(f.toFile());
        assertEquals(w, img.getWidth());
        assertEquals(h, img.getHeight());
        // Not blank: the background is white and some pixels are the chart's blue (#1f77b4 family).
        assertEquals(0xffffff, img.getRGB(2, 2) & 0xffffff);
        int blue = 0;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int rgb = img.getRGB(x, y);
                int r = (rgb >> 16) & 0xff, g = (rgb >> 8) & 0xff, b = rgb & 0xff;
                if (b > 150 && r < 80 && g > 90 && g < 150) blue++;
            }
        assertTrue(blue > 200, f + ": only " + blue + " blue pixels");
    }

    @Test
    void readsALogFileAndSkipsChartsWithoutData() throws IOException {
        Path log = dir.resolve("metrics.jsonl");
        try (MetricsLog m = MetricsLog.create(log)) {
            m.write(MetricsRecord.step(1, 10, 1280, 0.69, 1e-3));
            m.write(MetricsRecord.step(1, 20, 2560, 0.66, 1e-3));
        }
        List<Path> files = Plots.writeFromLog(log, dir, null);
        assertEquals(List.of(dir.resolve("loss.png")), files);
        assertNull(Plots.validImage(MetricsLog.read(log), "x", 800, 600));
        assertNull(Plots.lossImage(List.of(), "x", 800, 600));
    }

    @Test
    void resumedRunReplacesRepeatedSteps() {
        List<MetricsRecord> r = new ArrayList<>();
        for (int s = 1; s <= 10; s++) r.add(MetricsRecord.step(1, s, s, 1.0, 1e-3));
        for (int s = 6; s <= 12; s++) r.add(MetricsRecord.step(1, s, s, 0.5, 1e-3));
        var steps = Plots.bySteps(r, MetricsRecord.Kind.STEP);
        assertEquals(12, steps.size());
        assertEquals(1.0, steps.get(5L).loss());
        assertEquals(0.5, steps.get(6L).loss());
        assertEquals(0.5, steps.get(10L).loss());
        BufferedImage img = Plots.lossImage(r, "resumed", 640, 400);
        assertEquals(640, img.getWidth());
        assertEquals(400, img.getHeight());
    }

    @Test
    void smoothingIsDebiasedAndSkipsNaN() {
        double[] flat = new double[300];
        Arrays.fill(flat, 0.5);
        flat[10] = Double.NaN;
        double[] s = Plots.ema(flat);
        assertEquals(0.5, s[0], 1e-12);
        assertTrue(Double.isNaN(s[10]));
        assertEquals(0.5, s[299], 1e-12);
    }

    @Test
    void ticksAreRoundNumbers() {
        assertArrayEquals(new double[] {0.45, 0.5, 0.55, 0.6, 0.65, 0.7}, Chart.ticks(0.43, 0.72), 1e-12);
        assertArrayEquals(new String[] {"0", "5k", "10k", "15k"}, Chart.labels(new double[] {0, 5000, 10000, 15000}, 0));
        assertArrayEquals(new String[] {"0.70", "0.72"}, Chart.labels(new double[] {0.70, 0.72}, 0));
    }
}
