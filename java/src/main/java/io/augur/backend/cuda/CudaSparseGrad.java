package io.augur.backend.cuda;

import io.augur.backend.SparseGrad;

/**
 * The sparse gradient of a (V, D) embedding table on the GPU (layout in cuda/sparse_grad.cuh):
 * a fixed-point (V, D) int64 accumulator, a touched flag per row, the touched-row list and its
 * length, all in the arena. Backward of a gather adds with integer atomics (deterministic) and
 * appends first-touched rows; {@code sparse_update_kernel} walks the list and clears it (its last
 * block empties the list, counting finished blocks in {@link #done}, so no memset follows it).
 *
 * <p>The host keeps {@link #pendingRows}, the rows gathered since the last update: an upper bound
 * of the list's length that sizes the update's launch without reading the device.
 */
final class CudaSparseGrad implements SparseGrad {
    /** Fixed-point scale of the accumulator (FIXED_SHIFT in sparse_grad.cuh). */
    static final double FIXED_SCALE = 0x1p40;

    private final String name;
    private final int rows, dim, capacity;
    final Arena.Slice acc, flag, list, count, done;
    private final CudaBackend backend;
    long pendingRows;

    CudaSparseGrad(CudaBackend backend, Arena arena, String name, int rows, int dim, int maxIdsPerStep) {
        if (rows <= 0 || dim <= 0) throw new IllegalArgumentException(name + ": table shape must be positive, got (" + rows + ", " + dim + ")");
        if (maxIdsPerStep <= 0) throw new IllegalArgumentException(name + ": maxIdsPerStep must be positive, got " + maxIdsPerStep);
        this.backend = backend;
        this.name = name;
        this.rows = rows;
        this.dim = dim;
        this.capacity = Math.min(rows, maxIdsPerStep);
        acc = arena.reserve(name + ".acc", 8L * rows * dim);
        flag = arena.reserve(name + ".flag", 4L * rows);
        list = arena.reserve(name + ".list", 4L * capacity);
        count = arena.reserve(name + ".count", 4);
        done = arena.reserve(name + ".blocks_done", 4);
    }

    @Override public String name() { return name; }
    @Override public int rows() { return rows; }
    @Override public int dim() { return dim; }
    int capacity() { return capacity; }

    /** Reads the list's length from the device (waits for the device; tests and logs only). */
    @Override
    public int touchedRows() { return Math.min(backend.readInt(count), capacity); }

    long bytes() { return acc.bytes() + flag.bytes() + list.bytes() + count.bytes() + done.bytes(); }

    @Override
    public String toString() { return "SparseGrad " + name + " (" + rows + ", " + dim + ") on the GPU"; }
}
