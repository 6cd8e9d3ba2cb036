package io.augur.backend;

/**
 * The gradient of an embedding table for one step, kept sparse: only rows whose ids occur in the
 * batch are stored. Backward of the gather adds into it; {@link Backend#sparseUpdate} applies the
 * optimizer to exactly those rows and clears it for the next step.
 */
public interface SparseGrad {
    String name();
    /** Rows of the table (vocabulary size). */
    int rows();
    /** Width of a row. */
    int dim();
    /** Distinct rows touched since the last update (for logs and tests). */
    int touchedRows();
}
