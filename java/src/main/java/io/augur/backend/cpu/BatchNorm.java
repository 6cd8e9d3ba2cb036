package io.augur.backend.cpu;

/** Placeholder: being written. */
final class BatchNorm {
    private BatchNorm() {}

    static void forwardRef(float[] y, float[] mean, float[] invStd, float[] x, float[] gamma, float[] beta, float[] runMean, float[] runVar, int B, int C, boolean training, float momentum, float eps) { throw new UnsupportedOperationException("not written yet"); }
    static void forward(CpuThreads th, float[] y, float[] mean, float[] invStd, float[] x, float[] gamma, float[] beta, float[] runMean, float[] runVar, int B, int C, boolean training, float momentum, float eps) { throw new UnsupportedOperationException("not written yet"); }
    static void backwardRef(float[] dx, float[] dGamma, float[] dBeta, float[] dy, float[] mean, float[] invStd, float[] x, float[] gamma, int B, int C) { throw new UnsupportedOperationException("not written yet"); }
    static void backward(CpuThreads th, float[] dx, float[] dGamma, float[] dBeta, float[] dy, float[] mean, float[] invStd, float[] x, float[] gamma, int B, int C) { throw new UnsupportedOperationException("not written yet"); }
}
