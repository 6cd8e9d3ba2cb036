package io.augur.backend.cpu;

/** Placeholder: being written. */
final class Dice {
    private Dice() {}

    static void forwardRef(float[] y, float[] mean, float[] invStd, float[] x, float[] alpha, float[] runMean, float[] runVar, int B, int C, boolean training, float momentum, float eps) { throw new UnsupportedOperationException("not written yet"); }
    static void forward(CpuThreads th, float[] y, float[] mean, float[] invStd, float[] x, float[] alpha, float[] runMean, float[] runVar, int B, int C, boolean training, float momentum, float eps) { throw new UnsupportedOperationException("not written yet"); }
    static void backwardRef(float[] dx, float[] dAlpha, float[] dy, float[] mean, float[] invStd, float[] x, float[] alpha, int B, int C) { throw new UnsupportedOperationException("not written yet"); }
    static void backward(CpuThreads th, float[] dx, float[] dAlpha, float[] dy, float[] mean, float[] invStd, float[] x, float[] alpha, int B, int C) { throw new UnsupportedOperationException("not written yet"); }
}
