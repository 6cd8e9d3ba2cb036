package io.augur.train;

import io.augur.backend.DType;
import java.util.Arrays;
import java.util.Objects;

/**
 * A named host array with a shape, as stored in a {@link Checkpoint}: fp32 (parameters, optimizer
 * moments, BatchNorm/Dice running statistics) or int32 (counters, id maps). Shapes are row-major.
 * The data array is shared, not copied: a checkpoint of a large embedding table costs no second
 * copy. Do not change the array while a write is in progress.
 */
public final class NamedArray {

    private final String name;
    private final DType dtype;
    private final int[] shape;
    private final float[] f32;
    private final int[] i32;

    private NamedArray(String name, DType dtype, int[] shape, float[] f32, int[] i32, int length) {
        Objects.requireNonNull(name, "name");
        if (name.isEmpty()) throw new IllegalArgumentException("empty tensor name");
        long size = sizeOf(name, shape);
        if (size != length)
            throw new IllegalArgumentException(name + ": shape " + Arrays.toString(shape) + " holds " + size + " elements, the array has " + length);
        this.name = name;
        this.dtype = dtype;
        this.shape = shape.clone();
        this.f32 = f32;
        this.i32 = i32;
    }

    /** An fp32 array; {@code data.length} must equal the product of {@code shape} (1 for a scalar, shape {}). */
    public static NamedArray f32(String name, int[] shape, float[] data) {
        return new NamedArray(name, DType.F32, shape, data, null, data.length);
    }

    /** An int32 array; {@code data.length} must equal the product of {@code shape}. */
    public static NamedArray i32(String name, int[] shape, int[] data) {
        return new NamedArray(name, DType.I32, shape, null, data, data.length);
    }

    static long sizeOf(String name, int[] shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException(name + ": negative dimension in " + Arrays.toString(shape));
            n *= d;
            if (n > Integer.MAX_VALUE) throw new IllegalArgumentException(name + ": more than 2^31-1 elements in " + Arrays.toString(shape));
        }
        return n;
    }

    public String name() { return name; }

    public DType dtype() { return dtype; }

    public int[] shape() { return shape.clone(); }

    public int rank() { return shape.length; }

    /** Number of elements. */
    public int size() { return dtype == DType.F32 ? f32.length : i32.length; }

    /** The fp32 data (shared); fails for an int32 array. */
    public float[] floats() {
        if (f32 == null) throw new IllegalStateException(name + " is " + dtype + ", not F32");
        return f32;
    }

    /** The int32 data (shared); fails for an fp32 array. */
    public int[] ints() {
        if (i32 == null) throw new IllegalStateException(name + " is " + dtype + ", not I32");
        return i32;
    }

    /** Same name, dtype, shape and elements (floats compared as {@link Arrays#equals(float[], float[])} does: NaN equals NaN). */
    @Override
    public boolean equals(Object o) {
        return o instanceof NamedArray a && name.equals(a.name) && dtype == a.dtype && Arrays.equals(shape, a.shape)
                && Arrays.equals(f32, a.f32) && Arrays.equals(i32, a.i32);
    }

    @Override
    public int hashCode() { return Objects.hash(name, dtype, Arrays.hashCode(shape)); }

    @Override
    public String toString() { return name + Arrays.toString(shape) + ":" + dtype; }
}
