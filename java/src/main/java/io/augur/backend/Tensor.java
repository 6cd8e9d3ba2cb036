package io.augur.backend;

import java.util.Arrays;

/**
 * A handle to a buffer owned by a {@link Backend}: host arrays on the CPU, a slice of the arena on
 * the GPU. Models see only handles, never the memory behind them, so the same model code runs on
 * every backend. Shapes are row-major; the last dimension is contiguous.
 */
public abstract class Tensor {
    private final String name;
    private final DType dtype;
    private final int[] shape;
    private final int size;

    protected Tensor(String name, DType dtype, int[] shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException(name + ": negative dimension in " + Arrays.toString(shape));
            n = Math.min((long) Integer.MAX_VALUE + 1, n * d);   // capped past the limit, so the product cannot overflow
        }
        if (n > Integer.MAX_VALUE) {
            java.math.BigInteger exact = java.math.BigInteger.ONE;
            for (int d : shape) exact = exact.multiply(java.math.BigInteger.valueOf(d));
            throw new IllegalArgumentException(String.format(java.util.Locale.ROOT,
                    "%s%s: %,d elements, more than one tensor holds (%,d); a smaller batch size (or table) makes it fit",
                    name, Arrays.toString(shape), exact, Integer.MAX_VALUE));
        }
        this.name = name;
        this.dtype = dtype;
        this.shape = shape.clone();
        this.size = (int) n;
    }

    public String name() { return name; }
    public DType dtype() { return dtype; }
    public int[] shape() { return shape.clone(); }
    public int dim(int i) { return shape[i]; }
    public int rank() { return shape.length; }
    /** Number of elements. */
    public int size() { return size; }

    @Override
    public String toString() { return name + Arrays.toString(shape) + ":" + dtype; }
}
