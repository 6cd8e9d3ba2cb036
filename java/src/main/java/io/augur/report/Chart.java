package io.augur.report;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.Rectangle;
import java.awt.Shape;
import java.awt.Stroke;
import java.awt.geom.AffineTransform;
import java.awt.geom.Ellipse2D;
import java.awt.geom.Line2D;
import java.awt.geom.Path2D;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * One panel of a line chart drawn with Java2D: a title, axes with "nice" ticks and labels, a light
 * grid, line series (optionally with markers), dashed vertical markers, and a legend placed in the
 * corner that covers the fewest data points. Data are clipped to the plot area, so a y range set
 * by hand (to keep a spike from squashing the curve) is honoured.
 */
final class Chart {

    static final Color BLUE = new Color(0x1f77b4);
    static final Color ORANGE = new Color(0xff7f0e);
    static final Color GREEN = new Color(0x2ca02c);
    static final Color RED = new Color(0xd62728);
    static final Color PURPLE = new Color(0x9467bd);
    static final Color GRAY = new Color(0x7f7f7f);

    private static final Color GRID = new Color(0xe6e6e6);
    private static final Color AXIS = new Color(0x444444);
    private static final Color TEXT = new Color(0x222222);
    static final Font TITLE_FONT = new Font(Font.SANS_SERIF, Font.BOLD, 16);
    private static final Font LABEL_FONT = new Font(Font.SANS_SERIF, Font.PLAIN, 13);
    private static final Font TICK_FONT = new Font(Font.SANS_SERIF, Font.PLAIN, 12);
    private static final Font SMALL_FONT = new Font(Font.SANS_SERIF, Font.PLAIN, 11);

    /** A line: points with NaN y break it. Drawn in the order added; the legend lists those with a name. */
    record Series(String name, double[] x, double[] y, Color color, float width, boolean dashed, boolean markers) {}

    /**
     * A dashed vertical line at x with a small label (or none) beside it: at the top or the bottom
     * of the plot, to the left of the line (right-aligned, e.g. "epoch 2" at the end of epoch 2) or
     * to its right.
     */
    record Marker(double x, String label, Color color, boolean labelLeft, boolean labelBottom) {}

    private final String title;
    private final String xLabel;
    private final String yLabel;
    private final List<Series> series = new ArrayList<>();
    private final List<Marker> markers = new ArrayList<>();
    private double yMin = Double.NaN, yMax = Double.NaN;
    private double xMin = Double.NaN, xMax = Double.NaN;
    private boolean integerX;
    private String note;

    Chart(String title, String xLabel, String yLabel) {
        this.title = title;
        this.xLabel = xLabel;
        this.yLabel = yLabel;
    }

    Chart add(Series s) { series.add(s); return this; }

    Chart marker(Marker m) { markers.add(m); return this; }

    /** Fixes the y range instead of fitting it to the data. */
    Chart yRange(double min, double max) { yMin = min; yMax = max; return this; }

    /** Fixes the x range instead of fitting it to the data. */
    Chart xRange(double min, double max) { xMin = min; xMax = max; return this; }

    /** A small grey remark above the plot's top right corner (e.g. that the y range is clipped). */
    Chart note(String text) { note = text; return this; }

    /** x ticks on whole numbers only (epochs). */
    Chart integerX() { integerX = true; return this; }

    boolean isEmpty() {
        for (Series s : series) for (double v : s.y) if (Double.isFinite(v)) return false;
        return true;
    }

    // ---- layout and drawing ----

    void draw(Graphics2D g0, Rectangle area) {
        Graphics2D g = (Graphics2D) g0.create();
        try {
            drawInto(g, area);
        } finally {
            g.dispose();
        }
    }

    private void drawInto(Graphics2D g, Rectangle area) {
        double[] xr = range(true);
        double[] yr = range(false);
        double[] xt = integerX ? integerTicks(xr[0], xr[1]) : ticks(xr[0], xr[1]);
        double[] yt = ticks(yr[0], yr[1]);
        String[] yl = labels(yt, 0);
        String[] xl = labels(xt, 0);

        g.setFont(TICK_FONT);
        FontMetrics tm = g.getFontMetrics();
        int yTickWidth = 0;
        for (String s : yl) yTickWidth = Math.max(yTickWidth, tm.stringWidth(s));
        int left = area.x + 12 + g.getFontMetrics(LABEL_FONT).getHeight() + 6 + yTickWidth + 6;
        int top = area.y + (title == null ? 10 : g.getFontMetrics(TITLE_FONT).getHeight() + 14);
        int right = area.x + area.width - 20;
        int bottom = area.y + area.height - (tm.getHeight() + 8 + g.getFontMetrics(LABEL_FONT).getHeight() + 10);
        Rectangle plot = new Rectangle(left, top, Math.max(10, right - left), Math.max(10, bottom - top));
        Mapper m = new Mapper(plot, xr, yr);

        // Title, centred over the plot area.
        if (title != null) {
            g.setFont(TITLE_FONT);
            g.setColor(TEXT);
            FontMetrics fm = g.getFontMetrics();
            g.drawString(title, plot.x + (plot.width - fm.stringWidth(title)) / 2, area.y + fm.getAscent() + 6);
        }

        if (note != null) {
            g.setFont(SMALL_FONT);
            g.setColor(GRAY);
            g.drawString(note, plot.x + plot.width - g.getFontMetrics().stringWidth(note), plot.y - 5);
        }

        // Grid and ticks.
        g.setFont(TICK_FONT);
        g.setStroke(new BasicStroke(1f));
        for (int i = 0; i < yt.length; i++) {
            int py = (int) Math.round(m.py(yt[i]));
            g.setColor(GRID);
            g.drawLine(plot.x, py, plot.x + plot.width, py);
            g.setColor(AXIS);
            g.drawLine(plot.x - 5, py, plot.x, py);
            g.setColor(TEXT);
            g.drawString(yl[i], plot.x - 8 - tm.stringWidth(yl[i]), py + tm.getAscent() / 2 - 1);
        }
        for (int i = 0; i < xt.length; i++) {
            int px = (int) Math.round(m.px(xt[i]));
            g.setColor(GRID);
            g.drawLine(px, plot.y, px, plot.y + plot.height);
            g.setColor(AXIS);
            g.drawLine(px, plot.y + plot.height, px, plot.y + plot.height + 5);
            g.setColor(TEXT);
            g.drawString(xl[i], px - tm.stringWidth(xl[i]) / 2, plot.y + plot.height + 7 + tm.getAscent());
        }

        // Axis labels.
        g.setFont(LABEL_FONT);
        FontMetrics lm = g.getFontMetrics();
        g.setColor(TEXT);
        if (xLabel != null)
            g.drawString(xLabel, plot.x + (plot.width - lm.stringWidth(xLabel)) / 2, plot.y + plot.height + 8 + tm.getHeight() + lm.getAscent() + 2);
        if (yLabel != null) {
            AffineTransform saved = g.getTransform();
            g.translate(area.x + 12 + lm.getAscent(), plot.y + (plot.height + lm.stringWidth(yLabel)) / 2.0);
            g.rotate(-Math.PI / 2);
            g.drawString(yLabel, 0, 0);
            g.setTransform(saved);
        }

        // Vertical markers, then the data, clipped to the plot area.
        Shape oldClip = g.getClip();
        g.clip(plot);
        g.setFont(SMALL_FONT);
        FontMetrics sm = g.getFontMetrics();
        for (Marker mk : markers) {
            double px = m.px(mk.x);
            g.setColor(mk.color);
            g.setStroke(new BasicStroke(1f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {4f, 4f}, 0f));
            g.draw(new Line2D.Double(px, plot.y, px, plot.y + plot.height));
            if (mk.label != null) {
                float lx = mk.labelLeft ? (float) px - 4 - sm.stringWidth(mk.label) : (float) px + 4;
                float ly = mk.labelBottom ? plot.y + plot.height - sm.getDescent() - 3 : plot.y + sm.getAscent() + 2;
                g.drawString(mk.label, lx, ly);
            }
        }
        for (Series s : series) drawSeries(g, s, m);
        g.setClip(oldClip);

        // Frame.
        g.setColor(AXIS);
        g.setStroke(new BasicStroke(1f));
        g.drawRect(plot.x, plot.y, plot.width, plot.height);

        drawLegend(g, m, plot);
    }

    private static void drawSeries(Graphics2D g, Series s, Mapper m) {
        Stroke stroke = s.dashed
                ? new BasicStroke(s.width, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 10f, new float[] {7f, 5f}, 0f)
                : new BasicStroke(s.width, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND);
        g.setStroke(stroke);
        g.setColor(s.color);
        g.draw(path(s, m));
        if (s.markers) {
            double r = s.width + 2.5;
            for (int i = 0; i < s.x.length; i++) {
                if (!Double.isFinite(s.y[i])) continue;
                Ellipse2D dot = new Ellipse2D.Double(m.px(s.x[i]) - r, m.py(s.y[i]) - r, 2 * r, 2 * r);
                g.setColor(Color.WHITE);
                g.fill(dot);
                g.setColor(s.color);
                g.setStroke(new BasicStroke(1.6f));
                g.draw(dot);
            }
        }
    }

    /**
     * The series as a path. With many more points than pixel columns, each column keeps its first,
     * lowest, highest and last point: the envelope looks the same and the path stays small.
     */
    private static Path2D path(Series s, Mapper m) {
        Path2D.Double p = new Path2D.Double();
        boolean decimate = s.x.length > 4 * m.plot.width;
        boolean pen = false;
        long column = Long.MIN_VALUE;
        double minY = 0, maxY = 0, lastX = 0, lastY = 0;
        for (int i = 0; i < s.x.length; i++) {
            double x = s.x[i], y = s.y[i];
            if (!Double.isFinite(y) || !Double.isFinite(x)) {
                if (decimate && pen) flushColumn(p, lastX, minY, maxY, lastY);
                pen = false;
                column = Long.MIN_VALUE;
                continue;
            }
            double px = m.px(x), py = m.py(y);
            if (!decimate) {
                if (pen) p.lineTo(px, py); else p.moveTo(px, py);
                pen = true;
                continue;
            }
            long c = (long) Math.floor(px);
            if (pen && c == column) {
                minY = Math.min(minY, py);
                maxY = Math.max(maxY, py);
            } else {
                if (pen) flushColumn(p, lastX, minY, maxY, lastY);
                if (pen) p.lineTo(px, py); else p.moveTo(px, py);
                pen = true;
                column = c;
                minY = maxY = py;
            }
            lastX = px;
            lastY = py;
        }
        if (decimate && pen) flushColumn(p, lastX, minY, maxY, lastY);
        return p;
    }

    private static void flushColumn(Path2D p, double x, double minY, double maxY, double lastY) {
        p.lineTo(x, minY);
        p.lineTo(x, maxY);
        p.lineTo(x, lastY);
    }

    private void drawLegend(Graphics2D g, Mapper m, Rectangle plot) {
        List<Series> named = new ArrayList<>();
        for (Series s : series) if (s.name != null) named.add(s);
        if (named.isEmpty()) return;
        g.setFont(LABEL_FONT);
        FontMetrics fm = g.getFontMetrics();
        int swatch = 26, pad = 8, row = fm.getHeight() + 2;
        int textW = 0;
        for (Series s : named) textW = Math.max(textW, fm.stringWidth(s.name));
        int w = pad + swatch + 6 + textW + pad, h = pad + row * named.size() + pad - 2;
        Rectangle best = null;
        int bestCount = Integer.MAX_VALUE;
        int inset = 10;
        int[][] corners = {
                {plot.x + plot.width - w - inset, plot.y + inset + 12},  // top right (below marker labels)
                {plot.x + plot.width - w - inset, plot.y + plot.height - h - inset},
                {plot.x + inset, plot.y + inset + 12},
                {plot.x + inset, plot.y + plot.height - h - inset}};
        for (int[] c : corners) {
            Rectangle r = new Rectangle(c[0], c[1], w, h);
            int count = 0;
            for (Series s : series) {
                for (int i = 0; i < s.x.length; i++)
                    if (Double.isFinite(s.y[i]) && r.contains(m.px(s.x[i]), m.py(s.y[i]))) count++;
            }
            if (count < bestCount) {
                bestCount = count;
                best = r;
            }
        }
        g.setColor(new Color(255, 255, 255, 225));
        g.fill(best);
        g.setColor(new Color(0xbbbbbb));
        g.setStroke(new BasicStroke(1f));
        g.draw(best);
        int y = best.y + pad;
        for (Series s : named) {
            int mid = y + row / 2;
            g.setColor(s.color);
            g.setStroke(s.dashed
                    ? new BasicStroke(Math.max(2f, s.width), BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 10f, new float[] {7f, 5f}, 0f)
                    : new BasicStroke(Math.max(2f, s.width)));
            g.drawLine(best.x + pad, mid, best.x + pad + swatch, mid);
            if (s.markers) {
                Ellipse2D dot = new Ellipse2D.Double(best.x + pad + swatch / 2.0 - 3.5, mid - 3.5, 7, 7);
                g.setColor(Color.WHITE);
                g.fill(dot);
                g.setColor(s.color);
                g.setStroke(new BasicStroke(1.6f));
                g.draw(dot);
            }
            g.setColor(TEXT);
            g.drawString(s.name, best.x + pad + swatch + 6, mid + fm.getAscent() / 2 - 1);
            y += row;
        }
    }

    // ---- ranges, ticks and labels ----

    private double[] range(boolean xAxis) {
        double lo = xAxis ? xMin : yMin, hi = xAxis ? xMax : yMax;
        if (!Double.isNaN(lo) && !Double.isNaN(hi)) return new double[] {lo, hi};
        double min = Double.POSITIVE_INFINITY, max = Double.NEGATIVE_INFINITY;
        for (Series s : series) {
            for (int i = 0; i < s.x.length; i++) {
                if (!Double.isFinite(s.y[i]) || !Double.isFinite(s.x[i])) continue;
                double v = xAxis ? s.x[i] : s.y[i];
                min = Math.min(min, v);
                max = Math.max(max, v);
            }
        }
        if (min > max) return new double[] {0, 1};
        if (xAxis && integerX) return new double[] {min - 0.5, max + 0.5};
        double span = max - min;
        if (span == 0) {
            double d = Math.max(Math.abs(max) * 0.05, 1e-3);
            return new double[] {min - d, max + d};
        }
        double padding = xAxis ? 0 : 0.06 * span;
        return new double[] {min - padding, max + padding};
    }

    /** Ticks at 1, 2 or 5 × 10^k within [lo, hi], about six of them. */
    static double[] ticks(double lo, double hi) {
        double step = niceStep((hi - lo) / 6);
        double first = Math.ceil(lo / step - 1e-9) * step;
        List<Double> t = new ArrayList<>();
        for (int i = 0; first + i * step <= hi + step * 1e-9 && i < 100; i++) t.add(clean(first + i * step, step));
        return t.stream().mapToDouble(Double::doubleValue).toArray();
    }

    private static double[] integerTicks(double lo, double hi) {
        double step = Math.max(1, niceStep((hi - lo) / 8));
        double first = Math.ceil(lo / step) * step;
        List<Double> t = new ArrayList<>();
        for (double v = first; v <= hi; v += step) t.add(v);
        return t.stream().mapToDouble(Double::doubleValue).toArray();
    }

    static double niceStep(double raw) {
        if (!(raw > 0)) return 1;
        double mag = Math.pow(10, Math.floor(Math.log10(raw)));
        double f = raw / mag;
        return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
    }

    /** Rounds away the float noise of first + i·step (0.30000000000000004 → 0.3). */
    private static double clean(double v, double step) {
        double scale = Math.pow(10, Math.max(0, 2 - Math.floor(Math.log10(step))));
        return Math.round(v * scale) / scale;
    }

    /** Tick labels with as many decimals as the step needs; 10k, 250k, 1.5M for large values. */
    static String[] labels(double[] ticks, int extraDecimals) {
        String[] out = new String[ticks.length];
        if (ticks.length == 0) return out;
        double step = ticks.length > 1 ? ticks[1] - ticks[0] : Math.max(Math.abs(ticks[0]), 1);
        double maxAbs = 0;
        for (double t : ticks) maxAbs = Math.max(maxAbs, Math.abs(t));
        double div = 1;
        String suffix = "";
        if (maxAbs >= 1e6) { div = 1e6; suffix = "M"; }
        else if (maxAbs >= 1e4) { div = 1e3; suffix = "k"; }
        int decimals = Math.max(0, (int) Math.ceil(-Math.log10(step / div) - 1e-9)) + extraDecimals;
        for (int i = 0; i < ticks.length; i++) {
            double v = ticks[i] / div;
            if (Math.abs(v) < step / div * 1e-6) v = 0; // no "-0.00"
            out[i] = String.format(Locale.ROOT, "%." + decimals + "f", v) + (v == 0 ? "" : suffix);
        }
        return out;
    }

    /** Data to pixel coordinates of one plot area. */
    private static final class Mapper {
        final Rectangle plot;
        final double x0, x1, y0, y1;

        Mapper(Rectangle plot, double[] xr, double[] yr) {
            this.plot = plot;
            x0 = xr[0];
            x1 = xr[1] > xr[0] ? xr[1] : xr[0] + 1;
            y0 = yr[0];
            y1 = yr[1] > yr[0] ? yr[1] : yr[0] + 1;
        }

        double px(double x) { return plot.x + (x - x0) / (x1 - x0) * plot.width; }

        double py(double y) { return plot.y + plot.height - (y - y0) / (y1 - y0) * plot.height; }
    }
}
