package io.augur.backend.cpu;

import io.augur.backend.AttentionParams;
import io.augur.backend.AttentionSpec;
import io.augur.backend.Workspace;

/** The activation unit (DIN's local attention). Being written. */
final class ActivationUnit {
    private ActivationUnit() {}

    static final class CpuWorkspace implements Workspace {
        CpuWorkspace(AttentionSpec spec, int maxB, int T) {}

        @Override
        public long bytes() { return 0; }
    }

    static void forwardRef(float[] out, float[] weights, CpuWorkspace ws, float[] q, float[] keys, int[] lengths,
                           AttentionParams p, AttentionSpec spec, int B, int T, boolean training) {
        throw new UnsupportedOperationException("activation unit not written yet");
    }

    static void forward(CpuThreads th, float[] out, float[] weights, CpuWorkspace ws, float[] q, float[] keys, int[] lengths,
                        AttentionParams p, AttentionSpec spec, int B, int T, boolean training) {
        throw new UnsupportedOperationException("activation unit not written yet");
    }

    static void backwardRef(float[] dq, float[] dKeys, AttentionParams g, float[] dOut, float[] dWeights, float[] weights,
                            CpuWorkspace ws, float[] q, float[] keys, int[] lengths, AttentionParams p, AttentionSpec spec, int B, int T) {
        throw new UnsupportedOperationException("activation unit not written yet");
    }

    static void backward(CpuThreads th, float[] dq, float[] dKeys, AttentionParams g, float[] dOut, float[] dWeights, float[] weights,
                         CpuWorkspace ws, float[] q, float[] keys, int[] lengths, AttentionParams p, AttentionSpec spec, int B, int T) {
        throw new UnsupportedOperationException("activation unit not written yet");
    }
}
