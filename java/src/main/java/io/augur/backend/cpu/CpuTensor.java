package io.augur.backend.cpu;

import io.augur.backend.DType;
import io.augur.backend.Tensor;

/** A tensor in a Java array. Ops reach the array through {@link #f(Tensor)} and {@link #i(Tensor)}. */
public final class CpuTensor extends Tensor {
    final float[] f;
    final int[] i;

    CpuTensor(String name, DType dtype, int[] shape) {
        super(name, dtype, shape);
        this.f = dtype == DType.F32 ? new float[size()] : null;
        this.i = dtype == DType.I32 ? new int[size()] : null;
    }

    /** The fp32 array behind t, or null when t is null. */
    public static float[] f(Tensor t) {
        if (t == null) return null;
        if (!(t instanceof CpuTensor c) || c.f == null) throw new IllegalArgumentException("not a CPU fp32 tensor: " + t);
        return c.f;
    }

    /** The int32 array behind t, or null when t is null. */
    public static int[] i(Tensor t) {
        if (t == null) return null;
        if (!(t instanceof CpuTensor c) || c.i == null) throw new IllegalArgumentException("not a CPU int32 tensor: " + t);
        return c.i;
    }

    /** Wraps arrays for tests and references: a tensor whose storage is {@code data}. */
    public static CpuTensor wrap(String name, float[] data, int... shape) {
        CpuTensor t = new CpuTensor(name, data, null, shape);
        if (t.size() > data.length) throw new IllegalArgumentException(name + ": shape larger than data");
        return t;
    }

    private CpuTensor(String name, float[] f, int[] i, int[] shape) {
        super(name, f != null ? DType.F32 : DType.I32, shape);
        this.f = f;
        this.i = i;
    }

    public static CpuTensor wrap(String name, int[] data, int... shape) {
        CpuTensor t = new CpuTensor(name, null, data, shape);
        if (t.size() > data.length) throw new IllegalArgumentException(name + ": shape larger than data");
        return t;
    }
}
