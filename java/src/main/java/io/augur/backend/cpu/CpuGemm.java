package io.augur.backend.cpu;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * Single-threaded fp32 matrix kernels for the fast CPU path; callers split rows of C across
 * {@link CpuThreads}. All matrices are row-major with explicit offsets and leading dimensions. A
 * call reads and writes only the rows and columns it is given (C[i, 0:N) of its own rows), so
 * threads that own disjoint rows of C never touch each other's elements.
 *
 * <p>Two implementations, chosen once per JVM:
 * <ul>
 *   <li>{@link VectorGemm}: 6 x 16 register-blocked micro-kernels on the Vector API, used when the
 *       JVM was started with {@code --add-modules jdk.incubator.vector} (the launcher, Maven's
 *       compiler and Surefire all pass it). About 23-29 GFLOP/s per core on the 2-core
 *       development machine (AMD EPYC, Zen 4) on the layers' shapes, 3-4.5x the scalar kernels.</li>
 *   <li>{@link ScalarGemm}: plain loops that C2 auto-vectorises, about 6.4 GFLOP/s per core there;
 *       used when the module is absent, when the JVM cannot run 256-bit vectors natively, or with
 *       {@code -Daugur.gemm=scalar}.</li>
 * </ul>
 * Both are deterministic and give results independent of how callers split the rows; they differ
 * from each other by rounding (the vector kernels use FMA).
 */
public final class CpuGemm {
    private CpuGemm() {}

    private static final Logger LOG = LogManager.getLogger(CpuGemm.class);

    /** Name of the incubator module with the Vector API. */
    static final String VECTOR_MODULE = "jdk.incubator.vector";

    /** True: {@link VectorGemm}; false: {@link ScalarGemm}. Fixed at class initialisation. */
    private static final boolean VECTOR;
    private static final String PROVIDER;

    static {
        String asked = System.getProperty("augur.gemm", "auto").trim().toLowerCase(java.util.Locale.ROOT);
        String why = null;
        boolean vector = false;
        if (asked.equals("scalar")) {
            why = "-Daugur.gemm=scalar";
        } else if (!asked.equals("auto") && !asked.equals("vector")) {
            why = "unknown -Daugur.gemm=" + asked + " (auto, vector or scalar)";
        } else if (ModuleLayer.boot().findModule(VECTOR_MODULE).isEmpty()) {
            why = "the JVM was started without --add-modules " + VECTOR_MODULE;
        } else {
            try {
                why = VectorGemm.unsupportedReason();
                vector = why == null;
            } catch (LinkageError | RuntimeException e) { // an incompatible incubator API, a bad -Daugur.gemm.bits
                why = "the Vector API failed to load: " + e;
            }
        }
        VECTOR = vector;
        PROVIDER = vector ? "vector-" + VectorGemm.bits() : "scalar";
        if (vector) {
            LOG.debug("CPU GEMM: Vector API kernels ({}-bit vectors, 6 x {} tiles)", VectorGemm.bits(), 2 * VectorGemm.L);
        } else if (asked.equals("vector")) {
            LOG.warn("CPU GEMM: scalar kernels although -Daugur.gemm=vector: {}", why);
        } else {
            LOG.info("CPU GEMM: scalar kernels ({})", why);
        }
    }

    /** The implementation in use: {@code "vector-512"}, {@code "vector-256"} (the vector width in bits) or {@code "scalar"}. */
    public static String provider() { return PROVIDER; }

    /** C[M, N] = (accumulate ? C : 0) + A[M, K] B[K, N]. */
    public static void nn(int M, int N, int K, float[] A, int aOff, int lda, float[] B, int bOff, int ldb,
                          float[] C, int cOff, int ldc, boolean accumulate) {
        if (VECTOR) VectorGemm.nn(M, N, K, A, aOff, lda, B, bOff, ldb, C, cOff, ldc, accumulate);
        else ScalarGemm.nn(M, N, K, A, aOff, lda, B, bOff, ldb, C, cOff, ldc, accumulate);
    }

    /**
     * C[M, N] += A[K, M]^T B[K, N]: the weight gradient x^T dy, reducing over the K batch rows.
     * Only rows [m0, m1) of C are computed, so threads can split C's rows. Steps whose A values
     * are all zero may be skipped (for finite B that changes nothing).
     */
    public static void tn(int m0, int m1, int N, int K, float[] A, int aOff, int lda, float[] B, int bOff, int ldb,
                          float[] C, int cOff, int ldc) {
        if (VECTOR) VectorGemm.tn(m0, m1, N, K, A, aOff, lda, B, bOff, ldb, C, cOff, ldc);
        else ScalarGemm.tn(m0, m1, N, K, A, aOff, lda, B, bOff, ldb, C, cOff, ldc);
    }

    /** dst[cols, rows] = src[rows, cols]^T. */
    public static void transpose(float[] src, int sOff, int rows, int cols, float[] dst, int dOff) {
        ScalarGemm.transpose(src, sOff, rows, cols, dst, dOff);
    }
}
