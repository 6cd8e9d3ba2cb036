package io.augur.model;

import io.augur.backend.Activation;
import io.augur.config.ModelConfig;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The work of one training sample of a model configuration, counted from the shapes (DESIGN.md §3),
 * for the throughput floors in docs/PERFORMANCE.md and the achieved FLOP/s and bytes/s of
 * {@code augur bench}.
 *
 * <p><b>FLOPs</b>: GEMM FLOPs only (2 per multiply-add); elementwise work (activations, BatchNorm,
 * Dice, gates, softmax) is left out. Sequence layers are counted over the valid positions only
 * (mean length L per sample), the auxiliary network over its 2P rows (P = mean max(len - 1, 0)).
 * Backward of every product is twice its forward (the input gradient and the weight gradient;
 * every layer's input needs its gradient, since all of them lead back to the embeddings). The
 * activation unit's first layer is counted as written, a (4W x h1) product per position; Augur
 * computes it with a (2W x h1) product per position plus one per sample (see ActivationUnit).
 *
 * <p><b>Bytes</b>: the compulsory memory traffic of a step, fp32 values and int32 ids, per sample:
 * the batch's ids and labels, one read of every embedding row looked up, one write of its
 * gradient, the sparse optimizer on each distinct row the batch touches (read value, m, v and
 * gradient, write value, m, v: 7 rows; rows per batch measured from the data), and every dense
 * parameter read in forward and backward, its gradient written, and Adam's read of 4 and write of
 * 3 arrays (10 passes over the dense parameters per step, shared by the B samples). Activations
 * are not counted: a fused implementation can keep them on chip or recompute them, so this is a
 * floor, not what any implementation moves.
 */
public final class CostModel {
    private CostModel() {}

    /** Bytes per fp32 value and per int32 id. */
    static final int WORD = 4;
    /** Passes over each dense parameter per step: forward read, backward read, gradient write, Adam 4 reads + 3 writes. */
    static final int DENSE_PASSES = 10;
    /** Rows moved per distinct embedding row in the lazy-Adam update: read value, m, v, gradient; write value, m, v. */
    static final int SPARSE_ROW_PASSES = 7;

    /**
     * What the data contributes.
     *
     * @param meanLength         L, mean valid history positions per training sample
     * @param meanPairs          P, mean auxiliary pairs per sample, mean of max(len - 1, 0)
     * @param uniqueRowsPerBatch distinct embedding rows (all tables) one training batch touches, mean
     */
    public record Workload(double meanLength, double meanPairs, double uniqueRowsPerBatch) {}

    /**
     * Per-sample cost.
     *
     * @param forwardFlops   GEMM FLOPs of the forward pass
     * @param backwardFlops  GEMM FLOPs of the backward pass
     * @param bytes          compulsory bytes of the whole step (forward, backward, update), per sample
     * @param denseParams    trainable dense parameters (embedding tables excluded)
     * @param forwardByPart  forward FLOPs of each part of the model
     * @param bytesByPart    bytes of each kind of traffic
     */
    public record Cost(double forwardFlops, double backwardFlops, double bytes, long denseParams,
                       Map<String, Double> forwardByPart, Map<String, Double> bytesByPart) {
        /** Forward + backward GEMM FLOPs. */
        public double flops() { return forwardFlops + backwardFlops; }
    }

    /**
     * The cost per training sample of {@code cfg} at batch size B.
     *
     * @param profileFields F, profile fields (user_id and any extra)
     */
    public static Cost perSample(ModelConfig cfg, int profileFields, int B, Workload w) {
        if (B < 1) throw new IllegalArgumentException("batch size " + B + " < 1");
        int D = cfg.embDim(), E = 2 * D;
        int H = cfg.sequence().gruHidden();
        double L = w.meanLength();
        boolean aux = cfg.kind() == ModelConfig.Kind.DIEN && cfg.sequence().auxWeight() > 0;
        double P = aux ? w.meanPairs() : 0;

        Map<String, Double> fwd = new LinkedHashMap<>();
        long dense = 0;
        int interest = 0;
        switch (cfg.kind()) {
            case BASE -> { }
            case DIN -> {
                interest = E;
                fwd.put("attention", L * mlpMacs(4 * E, cfg.attHidden(), 1) * 2);
                dense += attentionParams(E, cfg);
            }
            case DIEN, GRU_ATT -> {
                interest = H;
                boolean dien = cfg.kind() == ModelConfig.Kind.DIEN;
                fwd.put(dien ? "extractor_gru" : "gru1", L * gruMacs(E, H) * 2);
                dense += gruParams(E, H);
                if (!dien) {
                    fwd.put("gru2", L * gruMacs(H, H) * 2);
                    dense += gruParams(H, H);
                }
                fwd.put("query", (double) E * H * 2);
                dense += (long) E * H + H + H;            // W_q, b_q, PReLU alpha
                fwd.put("attention", L * mlpMacs(4 * H, cfg.attHidden(), 1) * 2);
                dense += attentionParams(H, cfg);
                if (dien) {
                    fwd.put("evolution_gru", L * gruMacs(H, H) * 2);
                    dense += gruParams(H, H);
                    if (aux) {
                        fwd.put("aux_net", 2 * P * mlpMacs(H + E, cfg.sequence().auxHidden(), 1) * 2);
                        dense += 2L * (H + E) + mlpParams(H + E, cfg.sequence().auxHidden(), 1, false);
                    }
                }
            }
        }
        int x = profileFields * D + 3 * E + interest;
        fwd.put("top_mlp", mlpMacs(x, cfg.mlpHidden(), 1) * 2);
        dense += 2L * x + mlpParams(x, cfg.mlpHidden(), 1, cfg.topActivation() != Activation.SIGMOID);   // BatchNorm gamma, beta; the MLP

        double forward = 0;
        for (double v : fwd.values()) forward += v;

        double lookups = profileFields + 2 + 2 * L + 2 * P;
        Map<String, Double> bytes = new LinkedHashMap<>();
        bytes.put("inputs", (lookups + 2) * WORD);   // ids, the length and the label
        bytes.put("embedding_gather", lookups * D * WORD);
        bytes.put("embedding_grad", lookups * D * WORD);
        bytes.put("sparse_update", w.uniqueRowsPerBatch() / B * D * WORD * SPARSE_ROW_PASSES);
        bytes.put("dense_params", (double) dense * WORD * DENSE_PASSES / B);
        double total = 0;
        for (double v : bytes.values()) total += v;
        return new Cost(forward, 2 * forward, total, dense, fwd, bytes);
    }

    /** Multiply-adds of an MLP in -> hidden... -> out per row. */
    static double mlpMacs(int in, List<Integer> hidden, int out) {
        double macs = 0;
        int w = in;
        for (int h : hidden) {
            macs += (double) w * h;
            w = h;
        }
        return macs + (double) w * out;
    }

    /** Weights and biases of an MLP, plus one activation parameter per hidden channel when withAlpha. */
    static long mlpParams(int in, List<Integer> hidden, int out, boolean withAlpha) {
        long n = 0;
        int w = in;
        for (int h : hidden) {
            n += (long) w * h + h + (withAlpha ? h : 0);
            w = h;
        }
        return n + (long) w * out + out;
    }

    /** The activation unit over width W: 4W -> h1 -> h2 -> 1 (PReLU/Dice add one alpha per hidden channel; sigmoid none). */
    static long attentionParams(int W, ModelConfig cfg) {
        return mlpParams(4 * W, cfg.attHidden(), 1, cfg.attActivation() != Activation.SIGMOID);
    }

    /** Per step: x (in x 3H) and h (H x 3H) products. */
    static double gruMacs(int in, int H) {
        return (double) in * 3 * H + (double) H * 3 * H;
    }

    static long gruParams(int in, int H) {
        return (long) in * 3 * H + (long) H * 3 * H + 6L * H;
    }

    /** Samples/s at the larger of the compute time (at peakFlops) and the memory time (at peakBytes). */
    public static double floorSamplesPerS(Cost c, double peakFlopsPerS, double peakBytesPerS) {
        return 1.0 / Math.max(c.flops() / peakFlopsPerS, c.bytes() / peakBytesPerS);
    }
}
