package io.augur.backend.cpu;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static io.augur.backend.cpu.OpTesting.POISON;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Both GEMM providers ({@link ScalarGemm}, {@link VectorGemm}) against a double-precision reference
 * on shapes that are not multiples of the tiles (M, N, K odd, N = 1, K = 0 and 1), with offsets
 * and leading dimensions wider than the matrices, accumulate on and off, and tn with m0 > 0.
 * Everything outside the addressed sub-matrices is a NaN poison: it must stay in place in C and,
 * if read into a result, would make it NaN.
 *
 * <p>Tolerance: each C[i, j] is a sum of n = K + 1 terms (the K products and the initial C),
 * rounded in fp32. Whatever the order and grouping, with or without FMA, the standard bound for
 * floating-point summation (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed.,
 * section 3.1 and 4.2) is |got - exact| <= gamma_n * (|C0| + sum_k |A[i,k] B[k,j]|), gamma_n =
 * n u / (1 - n u), u = 2^-24; one more n for the products' own rounding gives the
 * {@code (K + 2) u} used here (times 1.01 for the 1 / (1 - n u)). That is a proven worst case,
 * not a fitted margin, and at K = 77 it is still about 5e-6 relative to the sum of magnitudes.
 *
 * <p>The vector provider is also held to its exact specification: every element is the chain
 * {@code c = Math.fma(A[i,k], B[k,j], c)} over k = 0..K-1, bit for bit, so it cannot depend on
 * which tile or edge kernel an element falls in, or on how callers split rows.
 */
class CpuGemmTest {

    /** One implementation of the kernels. */
    interface Gemm {
        void nn(int M, int N, int K, float[] A, int aOff, int lda, float[] B, int bOff, int ldb, float[] C, int cOff, int ldc, boolean acc);

        void tn(int m0, int m1, int N, int K, float[] A, int aOff, int lda, float[] B, int bOff, int ldb, float[] C, int cOff, int ldc);
    }

    static final Gemm SCALAR = new Gemm() {
        public void nn(int M, int N, int K, float[] A, int aOff, int lda, float[] B, int bOff, int ldb, float[] C, int cOff, int ldc, boolean acc) {
            ScalarGemm.nn(M, N, K, A, aOff, lda, B, bOff, ldb, C, cOff, ldc, acc);
        }

        public void tn(int m0, int m1, int N, int K, float[] A, int aOff, int lda, float[] B, int bOff, int ldb, float[] C, int cOff, int ldc) {
            ScalarGemm.tn(m0, m1, N, K, A, aOff, lda, B, bOff, ldb, C, cOff, ldc);
        }
    };

    /** Built only when the module is there: naming VectorGemm without it would fail to link. */
    static Gemm vector() {
        Assumptions.assumeTrue(ModuleLayer.boot().findModule(CpuGemm.VECTOR_MODULE).isPresent(),
                "the JVM runs without --add-modules " + CpuGemm.VECTOR_MODULE);
        return new Gemm() {
            public void nn(int M, int N, int K, float[] A, int aOff, int lda, float[] B, int bOff, int ldb, float[] C, int cOff, int ldc, boolean acc) {
                VectorGemm.nn(M, N, K, A, aOff, lda, B, bOff, ldb, C, cOff, ldc, acc);
            }

            public void tn(int m0, int m1, int N, int K, float[] A, int aOff, int lda, float[] B, int bOff, int ldb, float[] C, int cOff, int ldc) {
                VectorGemm.tn(m0, m1, N, K, A, aOff, lda, B, bOff, ldb, C, cOff, ldc);
            }
        };
    }

    static final int[] MS = {1, 2, 3, 5, 6, 7, 8, 13, 37};
    static final int[] NS = {1, 3, 7, 8, 9, 15, 16, 17, 24, 31, 36, 50, 108};
    static final int[] KS = {0, 1, 2, 5, 36, 77};
    static final double U = 0x1p-24;

    /** A buffer of {@code len} poison with rows x cols values at off, leading dimension ld; some values are exactly zero. */
    static float[] matrix(SplittableRandom rng, int len, int off, int rows, int cols, int ld) {
        float[] a = new float[len];
        java.util.Arrays.fill(a, POISON);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) a[off + r * ld + c] = rng.nextInt(8) == 0 ? 0f : (float) (rng.nextDouble() * 2 - 1);
        }
        return a;
    }

    /** The vector provider's specification for one element: a float FMA chain in k order. */
    static float fmaChain(float c, int K, float[] A, int a, int aks, float[] B, int b, int ldb) {
        for (int k = 0; k < K; k++) c = Math.fma(A[a + k * aks], B[b + k * ldb], c);
        return c;
    }

    /**
     * Checks C against the reference (C0 + sum_k A[i,k] B[k,j], A[i,k] = A[a0 + i ars + k aks]) over
     * rows x N at cOff/ldc, and that every other element of C is still the poison.
     */
    static void check(String what, boolean exactFma, float[] C, float[] C0, int cOff, int ldc, int rows, int N, int K,
                      float[] A, int a0, int ars, int aks, float[] B, int bOff, int ldb) {
        boolean[] inside = new boolean[C.length];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < N; j++) {
                int p = cOff + i * ldc + j;
                inside[p] = true;
                double exact = C0[p], mag = Math.abs(C0[p]);
                for (int k = 0; k < K; k++) {
                    double t = (double) A[a0 + i * ars + k * aks] * B[bOff + k * ldb + j];
                    exact += t;
                    mag += Math.abs(t);
                }
                double tol = 1.01 * (K + 2) * U * mag;
                if (!(Math.abs(C[p] - exact) <= tol)) {
                    fail(String.format(Locale.ROOT, "%s: C[%d, %d] = %s, reference %s, tolerance %.3g", what, i, j, C[p], exact, tol));
                }
                if (exactFma) {
                    float spec = fmaChain(C0[p], K, A, a0 + i * ars, aks, B, bOff + j, ldb);
                    if (Float.floatToRawIntBits(spec) != Float.floatToRawIntBits(C[p])) {
                        fail(String.format(Locale.ROOT, "%s: C[%d, %d] = %s, not the FMA chain's %s", what, i, j, C[p], spec));
                    }
                }
            }
        }
        for (int p = 0; p < C.length; p++) {
            if (!inside[p] && Float.floatToRawIntBits(C[p]) != Float.floatToRawIntBits(POISON)) fail(what + ": wrote C[" + p + "] outside the matrix");
        }
    }

    static void nnCases(Gemm g, boolean exactFma) {
        SplittableRandom rng = new SplittableRandom(7);
        int cases = 0;
        for (int M : MS) {
            for (int N : NS) {
                for (int K : KS) {
                    for (boolean acc : new boolean[] {false, true}) {
                        // offsets and leading dimensions wider than the matrices
                        int aOff = 3, lda = K + 5, bOff = 7, ldb = N + 3, cOff = 11, ldc = N + 4;
                        float[] A = matrix(rng, aOff + M * lda + 2, aOff, M, K, lda);
                        float[] B = matrix(rng, bOff + Math.max(1, K) * ldb + 2, bOff, K, N, ldb);
                        float[] C = matrix(rng, cOff + M * ldc + 2, cOff, M, N, ldc);
                        float[] C0 = C.clone();
                        if (!acc) { // the kernel must not read C: poison it, and compare with 0
                            for (int i = 0; i < M; i++) for (int j = 0; j < N; j++) { C[cOff + i * ldc + j] = POISON; C0[cOff + i * ldc + j] = 0f; }
                        }
                        g.nn(M, N, K, A, aOff, lda, B, bOff, ldb, C, cOff, ldc, acc);
                        String what = String.format(Locale.ROOT, "nn M=%d N=%d K=%d acc=%b", M, N, K, acc);
                        check(what, exactFma, C, C0, cOff, ldc, M, N, K, A, aOff, lda, 1, B, bOff, ldb);
                        cases++;
                    }
                }
            }
        }
        assertEquals(MS.length * NS.length * KS.length * 2, cases);
    }

    static void tnCases(Gemm g, boolean exactFma) {
        SplittableRandom rng = new SplittableRandom(11);
        for (int M : MS) {
            for (int N : NS) {
                for (int K : KS) {
                    // A is (K, Mtot) with lda > Mtot; only C rows [m0, m1) are computed
                    int m0 = 2, m1 = m0 + M, Mtot = m1 + 3;
                    int aOff = 5, lda = Mtot + 2, bOff = 3, ldb = N + 5, cOff = 9, ldc = N + 2;
                    float[] A = matrix(rng, aOff + Math.max(1, K) * lda + 1, aOff, K, Mtot, lda);
                    if (K > 2) { // a whole row of A that is zero: the skip path
                        for (int m = 0; m < Mtot; m++) A[aOff + lda + m] = 0f;
                    }
                    float[] B = matrix(rng, bOff + Math.max(1, K) * ldb + 1, bOff, K, N, ldb);
                    float[] C = new float[cOff + Mtot * ldc + 3];
                    java.util.Arrays.fill(C, POISON);
                    for (int m = m0; m < m1; m++) for (int j = 0; j < N; j++) C[cOff + m * ldc + j] = (float) (rng.nextDouble() - 0.5);
                    float[] C0 = C.clone();
                    g.tn(m0, m1, N, K, A, aOff, lda, B, bOff, ldb, C, cOff, ldc);
                    String what = String.format(Locale.ROOT, "tn m0=%d m1=%d N=%d K=%d", m0, m1, N, K);
                    // element (i, k) of the transposed operand: A[aOff + k lda + m0 + i]
                    check(what, exactFma, C, C0, cOff + m0 * ldc, ldc, M, N, K, A, aOff + m0, 1, lda, B, bOff, ldb);
                }
            }
        }
    }

    @Test
    void scalarNn() { nnCases(SCALAR, false); }

    @Test
    void scalarTn() { tnCases(SCALAR, false); }

    @Test
    void vectorNn() { nnCases(vector(), true); }

    @Test
    void vectorTn() { tnCases(vector(), true); }

    /**
     * The vector kernels at the other width this machine runs natively (256 bits where the JIT
     * prefers 512, say), in a child JVM since the width is fixed when VectorGemm loads.
     */
    @Test
    void vectorKernelsAtTheOtherWidths() throws Exception {
        vector();
        int preferred = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.vectorBitSize();
        int ran = 0;
        for (int bits : new int[] {256, 512}) {
            if (bits > preferred || bits == VectorGemm.bits()) continue;
            String out = runJava(List.of("--add-modules=" + CpuGemm.VECTOR_MODULE, "-D" + VectorGemm.BITS_PROPERTY + "=" + bits), WidthProbe.class);
            assertTrue(out.contains("vector cases passed at " + bits + " bits"), out);
            ran++;
        }
        Assumptions.assumeTrue(ran > 0, "no other vector width below the preferred " + preferred + " bits");
    }

    /** Run in a child JVM by {@link #vectorKernelsAtTheOtherWidths}. */
    static final class WidthProbe {
        public static void main(String[] args) {
            nnCases(vector(), true);
            tnCases(vector(), true);
            System.out.println("vector cases passed at " + VectorGemm.bits() + " bits");
        }
    }

    /** Output (stdout and stderr) of a child JVM on this class path; fails unless it exits with 0 within a minute. */
    static String runJava(List<String> jvmOptions, Class<?> main) throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvmOptions);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), main.getName()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out;
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            out = r.lines().collect(Collectors.joining("\n"));
        }
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "child JVM did not finish");
        assertEquals(0, p.exitValue(), out);
        return out;
    }

    /** Splitting the rows of C across calls (as threads do) gives the same bits, for both providers and both kernels. */
    @Test
    void rowSplitDoesNotChangeBits() {
        List<Gemm> gemms = new ArrayList<>(List.of(SCALAR));
        if (ModuleLayer.boot().findModule(CpuGemm.VECTOR_MODULE).isPresent()) gemms.add(vector());
        SplittableRandom rng = new SplittableRandom(3);
        int M = 59, N = 50, K = 41;
        float[] A = OpTesting.uniform(rng, M * K, -1, 1), B = OpTesting.uniform(rng, K * N, -1, 1), C0 = OpTesting.uniform(rng, M * N, -1, 1);
        float[] At = new float[K * M];
        ScalarGemm.transpose(A, 0, M, K, At, 0);
        for (Gemm g : gemms) {
            float[] whole = C0.clone(), wholeT = C0.clone();
            g.nn(M, N, K, A, 0, K, B, 0, N, whole, 0, N, true);
            g.tn(0, M, N, K, At, 0, M, B, 0, N, wholeT, 0, N);
            for (int[] cuts : new int[][] {{0, 1, M}, {0, 7, 29, M}, {0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, M}, {0, 58, M}}) {
                float[] split = C0.clone(), splitT = C0.clone();
                for (int s = 0; s + 1 < cuts.length; s++) {
                    int lo = cuts[s], hi = cuts[s + 1];
                    g.nn(hi - lo, N, K, A, lo * K, K, B, 0, N, split, lo * N, N, true);
                    g.tn(lo, hi, N, K, At, 0, M, B, 0, N, splitT, 0, N);
                }
                OpTesting.assertSameBits("nn split " + java.util.Arrays.toString(cuts), whole, split, 0, M * N);
                OpTesting.assertSameBits("tn split " + java.util.Arrays.toString(cuts), wholeT, splitT, 0, M * N);
            }
        }
    }

    /** In this JVM (Surefire passes --add-modules) the facade picks the vector kernels where the hardware has 256-bit vectors. */
    @Test
    void facadeUsesVectorKernelsWithTheModule() {
        Assumptions.assumeTrue(ModuleLayer.boot().findModule(CpuGemm.VECTOR_MODULE).isPresent());
        String expected = VectorGemm.unsupportedReason() == null ? "vector-" + VectorGemm.bits() : "scalar";
        assertEquals(expected, CpuGemm.provider());
    }

    /** A JVM started without the module runs the scalar kernels, without ever loading VectorGemm. */
    @Test
    void facadeFallsBackWithoutTheModule() throws Exception {
        String out = runJava(List.of("-verbose:class"), ProviderProbe.class);
        assertTrue(out.contains("provider=scalar result=11.0"), out);
        assertTrue(out.contains("io.augur.backend.cpu.ScalarGemm"), "ScalarGemm was not loaded:\n" + out);
        assertTrue(!out.contains("io.augur.backend.cpu.VectorGemm") && !out.contains("jdk.incubator.vector"),
                "the vector classes were loaded:\n" + out);
    }

    /** Run in a child JVM by {@link #facadeFallsBackWithoutTheModule}. */
    static final class ProviderProbe {
        public static void main(String[] args) {
            float[] c = new float[1];
            CpuGemm.nn(1, 1, 2, new float[] {1, 2}, 0, 2, new float[] {3, 4}, 0, 1, c, 0, 1, false);
            System.out.println("provider=" + CpuGemm.provider() + " result=" + c[0]);
        }
    }
}
