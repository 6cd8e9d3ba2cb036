package io.augur.backend.cpu;

import io.augur.backend.SparseGrad;

/** Placeholder: being written. */
final class CpuSparseGrad implements SparseGrad {
    private final String name;
    private final int rows, dim;

    CpuSparseGrad(String name, int rows, int dim, int maxIdsPerStep) { this.name = name; this.rows = rows; this.dim = dim; }

    @Override public String name() { return name; }
    @Override public int rows() { return rows; }
    @Override public int dim() { return dim; }
    @Override public int touchedRows() { return 0; }
}
