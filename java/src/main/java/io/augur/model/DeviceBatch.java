package io.augur.model;

import io.augur.backend.Backend;
import io.augur.backend.Tensor;

/**
 * A batch on the model's backend, planned for up to maxB samples: the same fields as the host
 * batch the data reader fills. {@link #load} copies a host batch in; nothing is allocated per batch.
 */
public final class DeviceBatch {
    public final int maxB, T;
    public final Tensor labels;       // (maxB) 0/1
    public final Tensor[] profile;    // F x (maxB)
    public final Tensor items, cates; // (maxB)
    public final Tensor histItems, histCates;  // (maxB, T) padded with 0
    public final Tensor negItems, negCates;    // (maxB, T) or null
    public final Tensor lengths;      // (maxB)
    /** (maxB) with negatives: sum over earlier samples of max(len - 1, 0), the packing of DIEN's auxiliary pairs. */
    public final Tensor pairStart;
    /** (1) with negatives: 2P, the auxiliary network's rows, in device memory (see {@link #pairs()}). */
    public final Tensor auxRows;
    private final int[] pairStartHost;
    private int size, pairs;
    private boolean negativesLoaded;

    public DeviceBatch(ParamStore ps, int maxB, int T, int profileFields, boolean withNegatives) {
        this.maxB = maxB;
        this.T = T;
        labels = ps.input("batch.labels", maxB);
        profile = new Tensor[profileFields];
        for (int f = 0; f < profileFields; f++) profile[f] = ps.intInput("batch.profile" + f, maxB);
        items = ps.intInput("batch.items", maxB);
        cates = ps.intInput("batch.cates", maxB);
        histItems = ps.intInput("batch.hist_items", maxB, T);
        histCates = ps.intInput("batch.hist_cates", maxB, T);
        negItems = withNegatives ? ps.intInput("batch.neg_items", maxB, T) : null;
        negCates = withNegatives ? ps.intInput("batch.neg_cates", maxB, T) : null;
        lengths = ps.intInput("batch.lengths", maxB);
        pairStart = withNegatives ? ps.intInput("batch.pair_start", maxB) : null;
        pairStartHost = withNegatives ? new int[maxB] : null;
        auxRows = withNegatives ? ps.intInput("batch.aux_rows", 1) : null;
    }

    /**
     * Copies one host batch of {@code B} samples in (arrays laid out as the tensors). The negative
     * behaviours may be null (evaluation needs none); a model that needs them checks
     * {@link #hasNegatives()}.
     */
    public void load(Backend be, int B, float[] labelsIn, int[][] profileIn, int[] itemsIn, int[] catesIn,
                     int[] histItemsIn, int[] histCatesIn, int[] negItemsIn, int[] negCatesIn, int[] lengthsIn) {
        loadSamples(be, B, labelsIn, profileIn, itemsIn, catesIn);
        be.upload(histItems, histItemsIn, B * T);
        be.upload(histCates, histCatesIn, B * T);
        negativesLoaded = negItems != null && negItemsIn != null;
        if (negativesLoaded) {
            be.upload(negItems, negItemsIn, B * T);
            be.upload(negCates, negCatesIn, B * T);
        }
        loadLengths(be, B, lengthsIn);
    }

    /**
     * As {@link #load}, with the histories (and the negative ones, where {@code resident} holds
     * them) gathered on the backend from {@code resident} by the batch's row numbers
     * ({@code rowIndex}, rows of the file resident was made from) instead of copied in.
     */
    public void loadResident(Backend be, int B, float[] labelsIn, int[][] profileIn, int[] itemsIn, int[] catesIn, int[] lengthsIn,
                             int[] rowIndex, ResidentHistories resident) {
        if (resident.negatives && negItems == null) throw new IllegalArgumentException("resident negative histories for a batch without negatives");
        loadSamples(be, B, labelsIn, profileIn, itemsIn, catesIn);
        resident.gather(be, this, rowIndex, B);
        negativesLoaded = resident.negatives;
        loadLengths(be, B, lengthsIn);
    }

    private void loadSamples(Backend be, int B, float[] labelsIn, int[][] profileIn, int[] itemsIn, int[] catesIn) {
        if (B < 1 || B > maxB) throw new IllegalArgumentException("batch of " + B + " samples; planned for 1.." + maxB);
        if (profileIn.length != profile.length) throw new IllegalArgumentException("batch has " + profileIn.length + " profile fields, model " + profile.length);
        be.upload(labels, labelsIn, B);
        for (int f = 0; f < profile.length; f++) be.upload(profile[f], profileIn[f], B);
        be.upload(items, itemsIn, B);
        be.upload(cates, catesIn, B);
    }

    /** The lengths, and with negatives DIEN's pair packing from them. */
    private void loadLengths(Backend be, int B, int[] lengthsIn) {
        be.upload(lengths, lengthsIn, B);
        if (pairStart != null) {
            int p = 0;
            for (int b = 0; b < B; b++) {
                int len = lengthsIn[b];
                if (len < 0 || len > T) throw new IllegalArgumentException("sample " + b + " has history length " + len + ", outside [0, " + T + "]");
                pairStartHost[b] = p;
                p += Math.max(len - 1, 0);
            }
            be.upload(pairStart, pairStartHost, B);
            be.upload(auxRows, new int[] {2 * p}, 1);
            pairs = p;
        }
        this.size = B;
    }

    public int size() { return size; }

    /** Whether the last {@link #load} brought negative behaviours. */
    public boolean hasNegatives() { return negativesLoaded; }

    /** P, the number of (h_{t-1}, e_t) pairs of the loaded batch: sum_b max(len_b - 1, 0) (0 without negatives). */
    public int pairs() { return pairs; }
}
