package io.augur.backend.cpu;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Finite-difference gradient check of an op's reference forward/backward pair.
 *
 * <p>The scalar checked is L(theta) = sum over the registered outputs of sum_i w_i out_i, with fixed
 * random weights w (uniform in [-1, 1]), accumulated in double. Its gradient with respect to an
 * output is w itself, so {@link #output} hands w back to be passed to the backward as the incoming
 * gradient. For every registered array theta (inputs and parameters alike) and every element i,
 * the numeric derivative is the central difference
 * <pre>  (L(theta_i + h) - L(theta_i - h)) / (actual fp32 distance between the two points)</pre>
 * and is compared with the analytic gradient the backward left in the array's gradient buffer:
 * |analytic - numeric| &lt;= atol + rtol |numeric|.
 *
 * <p>Defaults, for ops computed in fp32 on O(1) data:
 * <ul>
 *   <li>{@link #DEFAULT_STEP} h = 1e-2: the outputs are fp32, so L carries a rounding noise of about
 *       1e-7 sqrt(n) relative; divided by 2h that stays near 1e-5, while the truncation error
 *       h^2 f'''/6 is about 2e-5 for smooth O(1) ops. Measured on BatchNorm and Dice through the
 *       batch statistics (B = 6): max error 1e-5 at h = 1e-2, against 1e-4 at h = 1e-3 (noise)
 *       and 5e-4 at h = 1e-1 (truncation).</li>
 *   <li>{@link #DEFAULT_ATOL} 1e-3 and {@link #DEFAULT_RTOL} 1e-2: about fifty times the sum of
 *       those two errors, and still far below what a wrong formula gives (a missing term or a
 *       wrong sign is an O(1) relative error).</li>
 * </ul>
 * Ops with kinks (PReLU at 0) must keep their inputs further than h from the kink.
 *
 * <p>Example (Linear):
 * <pre>{@code
 *   GradCheck gc = new GradCheck(42);
 *   float[] dy = gc.output("y", y, B * out);            // w = dL/dy, fixed random
 *   gc.wrt("x", x, dx, B * in).wrt("W", W, dW, in * out).wrt("b", b, db, out);
 *   gc.run(() -> Linear.forwardRef(y, x, W, b, B, in, out),
 *          () -> Linear.backwardRef(dx, dW, db, dy, x, W, B, in, out))
 *     .assertOk();
 * }</pre>
 * Before the backward runs, the checker zeroes every registered gradient buffer (its first n
 * elements), so parameter gradients that the backward adds to start from zero.
 */
public final class GradCheck {
    public static final float DEFAULT_STEP = 1e-2f;
    public static final double DEFAULT_ATOL = 1e-3;
    public static final double DEFAULT_RTOL = 1e-2;
    /** Mismatches listed in a report. */
    public static final int REPORTED = 10;

    private record Output(String name, float[] values, int n, float[] weights) {}

    private record Wrt(String name, float[] values, float[] grad, int n, boolean mayBeZero) {}

    /** One element whose analytic and numeric derivatives disagree. */
    public record Mismatch(String array, int index, double analytic, double numeric) {
        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%s[%d]: analytic %.6g, numeric %.6g, diff %.3g", array, index, analytic, numeric, analytic - numeric);
        }
    }

    private final SplittableRandom rng;
    private final List<Output> outputs = new ArrayList<>();
    private final List<Wrt> wrts = new ArrayList<>();
    private float step = DEFAULT_STEP;
    private double atol = DEFAULT_ATOL, rtol = DEFAULT_RTOL;
    private int maxPerArray = Integer.MAX_VALUE;

    public GradCheck(long seed) {
        this.rng = new SplittableRandom(seed);
    }

    /** Finite-difference step h (default {@link #DEFAULT_STEP}); say why when changing it. */
    public GradCheck step(float h) {
        if (!(h > 0)) throw new IllegalArgumentException("step must be positive");
        this.step = h;
        return this;
    }

    /** Tolerance atol + rtol |numeric| (defaults {@link #DEFAULT_ATOL}, {@link #DEFAULT_RTOL}); say why when changing it. */
    public GradCheck tolerance(double atol, double rtol) {
        this.atol = atol;
        this.rtol = rtol;
        return this;
    }

    /** Checks at most this many elements of each array (a fixed random subset of the indices), for large arrays. */
    public GradCheck maxPerArray(int max) {
        if (max < 1) throw new IllegalArgumentException("maxPerArray must be >= 1");
        this.maxPerArray = max;
        return this;
    }

    /**
     * Registers out[0:n] as an output of the forward: L gains sum_i w_i out[i]. Returns w, a fresh
     * array of n fixed random weights: it is dL/dout, to be passed to the backward.
     */
    public float[] output(String name, float[] out, int n) {
        float[] w = new float[n];
        for (int i = 0; i < n; i++) w[i] = (float) (2 * rng.nextDouble() - 1);
        outputs.add(new Output(name, out, n, w));
        return w;
    }

    /**
     * Registers value[0:n] as differentiated: its elements are perturbed one by one, and grad[0:n],
     * as left by the backward, is compared with the numeric derivative. The array's numeric
     * gradient must not be zero everywhere (a check that compares zeros with zeros proves nothing).
     */
    public GradCheck wrt(String name, float[] value, float[] grad, int n) {
        return wrt(name, value, grad, n, false);
    }

    /** As {@link #wrt(String, float[], float[], int)}; mayBeZero allows an identically zero gradient (e.g. a bias under softmax). */
    public GradCheck wrt(String name, float[] value, float[] grad, int n, boolean mayBeZero) {
        if (value == grad) throw new IllegalArgumentException(name + ": value and gradient must be different arrays");
        wrts.add(new Wrt(name, value, grad, n, mayBeZero));
        return this;
    }

    /**
     * Runs the check. {@code forward} recomputes every registered output from the current values
     * of the registered arrays; {@code backward} writes the registered gradients for the current
     * values, using the weights returned by {@link #output} as incoming gradients. On return the
     * arrays hold their original values and the outputs the forward at those values.
     */
    public Report run(Runnable forward, Runnable backward) {
        if (outputs.isEmpty() || wrts.isEmpty()) throw new IllegalStateException("register at least one output and one array to differentiate");
        forward.run();
        for (Wrt w : wrts) java.util.Arrays.fill(w.grad, 0, w.n, 0f);
        backward.run();
        List<float[]> analytic = new ArrayList<>();
        for (Wrt w : wrts) analytic.add(java.util.Arrays.copyOf(w.grad, w.n));

        Report report = new Report(atol, rtol, step);
        for (int a = 0; a < wrts.size(); a++) {
            Wrt w = wrts.get(a);
            float[] an = analytic.get(a);
            boolean anyNonZero = false;
            for (int i : indices(w.n)) {
                float orig = w.values[i];
                float plus = orig + step, minus = orig - step;
                w.values[i] = plus;
                forward.run();
                double lPlus = loss();
                w.values[i] = minus;
                forward.run();
                double lMinus = loss();
                w.values[i] = orig;
                double numeric = (lPlus - lMinus) / ((double) plus - (double) minus);
                if (numeric != 0) anyNonZero = true;
                report.compare(w.name, i, an[i], numeric);
            }
            if (!anyNonZero && !w.mayBeZero) report.allZero.add(w.name);
        }
        forward.run();
        return report;
    }

    private int[] indices(int n) {
        if (n <= maxPerArray) {
            int[] all = new int[n];
            for (int i = 0; i < n; i++) all[i] = i;
            return all;
        }
        // a fixed random subset: partial Fisher-Yates shuffle of [0, n)
        int[] perm = new int[n];
        for (int i = 0; i < n; i++) perm[i] = i;
        for (int i = 0; i < maxPerArray; i++) {
            int j = i + rng.nextInt(n - i);
            int t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        return java.util.Arrays.copyOf(perm, maxPerArray);
    }

    private double loss() {
        double l = 0;
        for (Output o : outputs) {
            for (int i = 0; i < o.n; i++) l += (double) o.weights[i] * o.values[i];
        }
        return l;
    }

    /** Outcome of a check: the mismatches (first {@link #REPORTED} kept) and error statistics. */
    public static final class Report {
        private final double atol, rtol;
        private final float step;
        private final List<Mismatch> mismatches = new ArrayList<>();
        private final List<String> allZero = new ArrayList<>();
        private int checked, failed;
        private double maxAbsError, worstRatio;

        Report(double atol, double rtol, float step) {
            this.atol = atol;
            this.rtol = rtol;
            this.step = step;
        }

        void compare(String array, int index, double analytic, double numeric) {
            checked++;
            double err = Math.abs(analytic - numeric);
            double allowed = atol + rtol * Math.abs(numeric);
            maxAbsError = Math.max(maxAbsError, err);
            worstRatio = Math.max(worstRatio, err / allowed);
            if (!(err <= allowed)) { // also catches NaN
                failed++;
                if (mismatches.size() < REPORTED) mismatches.add(new Mismatch(array, index, analytic, numeric));
            }
        }

        public boolean ok() { return failed == 0 && allZero.isEmpty(); }
        public int checked() { return checked; }
        public int failed() { return failed; }
        public List<Mismatch> mismatches() { return List.copyOf(mismatches); }
        /** Largest |analytic - numeric|. */
        public double maxAbsError() { return maxAbsError; }
        /** Largest error as a fraction of its allowance (below 1 passes). */
        public double worstRatio() { return worstRatio; }

        public String summary() {
            StringBuilder sb = new StringBuilder(String.format(Locale.ROOT,
                    "gradient check: %d of %d elements outside %.1e + %.1e |numeric| (h = %.1e); max |error| %.3g, worst error/allowed %.3f",
                    failed, checked, atol, rtol, step, maxAbsError, worstRatio));
            for (Mismatch m : mismatches) sb.append("\n  ").append(m);
            for (String z : allZero) sb.append("\n  ").append(z).append(": numeric gradient is zero everywhere (nothing checked)");
            return sb.toString();
        }

        /** Throws an AssertionError with the summary unless the check passed. */
        public Report assertOk() {
            if (!ok()) throw new AssertionError(summary());
            return this;
        }

        @Override
        public String toString() { return summary(); }
    }
}
