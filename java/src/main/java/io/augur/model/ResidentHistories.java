package io.augur.model;

import io.augur.backend.Backend;
import io.augur.backend.Tensor;
import io.augur.data.SampleFile;

import java.util.ArrayList;
import java.util.List;

/**
 * A training file's history columns kept in the backend's memory ({@code train --resident-data},
 * DESIGN.md §5's "a dataset that fits on the device can stay resident"): uploaded once, as the
 * file stores them (row offsets and the concatenated behaviours, no padding), and gathered into
 * each batch's (B, T) tensors by {@link Backend#historyGather} from the batch's row numbers. The
 * host then fills only a batch's per-sample columns and sends B row numbers instead of the B x T
 * histories (2 or 4 columns of T ints per sample: the bulk of a batch's bytes and of the host's
 * filling work).
 */
public final class ResidentHistories {
    public final int rows, maxB;
    /** (rows + 1) */
    public final Tensor offsets;
    /** The behaviour columns: items, categories, then (with negatives) negative items and categories. */
    public final List<Tensor> values;
    /** (maxB) the current batch's row numbers. */
    public final Tensor batchRows;
    public final boolean negatives;
    public final long bytes;

    /**
     * Plans and uploads the columns of {@code file} (the negative ones when {@code negatives}, which
     * the file must have) on {@code be}; for batches of up to {@code maxB} samples.
     */
    public ResidentHistories(Backend be, SampleFile file, int maxB, boolean negatives) {
        SampleFile.HistoryColumns h = file.historyColumns();
        if (negatives && h.negItems() == null) throw new IllegalArgumentException(file.path().getFileName() + " has no neg_hist columns to keep resident");
        this.rows = h.rows();
        this.maxB = maxB;
        this.negatives = negatives;
        this.bytes = h.bytes(negatives);
        this.from = negatives ? new int[] {0, 0, 1, 1} : new int[] {0, 0};
        int n = Math.max(1, h.offsets()[rows]);
        offsets = be.ints("resident.offsets", rows + 1);
        List<int[]> columns = new ArrayList<>(List.of(h.items(), h.cates()));
        if (negatives) columns.addAll(List.of(h.negItems(), h.negCates()));
        String[] names = {"resident.hist_items", "resident.hist_cates", "resident.neg_items", "resident.neg_cates"};
        List<Tensor> v = new ArrayList<>();
        for (int c = 0; c < columns.size(); c++) v.add(be.ints(names[c], n));
        values = List.copyOf(v);
        batchRows = be.ints("resident.batch_rows", maxB);
        be.synchronize();   // the planned tensors allocated now, so the uploads below go straight from these arrays
        be.upload(offsets, h.offsets(), rows + 1);
        for (int c = 0; c < columns.size(); c++) be.upload(values.get(c), columns.get(c), h.offsets()[rows]);
    }

    /** Each column's first position taken from the file: the negatives' first stays 0, as the trainer's NegativeSampler leaves it (no auxiliary pair uses it). */
    private final int[] from;
    /** The batch whose tensors {@link #outs} lists (a model's batch is one object: listed once, not per step). */
    private DeviceBatch outsOf;
    private List<Tensor> outs;

    /** The device's (B, T) history tensors of {@code batch} from its row numbers (uploaded here). */
    void gather(Backend be, DeviceBatch batch, int[] rowIndex, int B) {
        if (B > maxB) throw new IllegalArgumentException("batch of " + B + " samples; resident histories planned for " + maxB);
        if (batch != outsOf) {
            outs = negatives ? List.of(batch.histItems, batch.histCates, batch.negItems, batch.negCates) : List.of(batch.histItems, batch.histCates);
            outsOf = batch;
        }
        be.upload(batchRows, rowIndex, B);
        be.historyGather(outs, values, from, offsets, batchRows, rows, B, batch.T);
    }
}
