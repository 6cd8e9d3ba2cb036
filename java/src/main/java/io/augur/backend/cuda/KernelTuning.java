package io.augur.backend.cuda;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The kernels' shape choices of one {@link CudaBackend}: the activation unit's tiles, threads,
 * blocks and where its partial gradients live, or the unit layer by layer; the top tower fused or layer by layer, its
 * channels a block and its clusters; the small GEMM's rule; programmatic dependent launch. None
 * changes a result beyond the order of a sum; each changes how fast a step runs, by amounts only
 * a device shows.
 *
 * <p>Each has a system property of its own ({@link #PROPERTIES}, set through AUGUR_JAVA_OPTS),
 * read by {@link #fromProperties}, which is what a backend starts with. {@link #with} takes the
 * same names and values, so that a search ({@link Autotuner}) and a person comparing settings by
 * hand use one vocabulary. An unknown value is an error that names the property and what it takes.
 *
 * @param attentionFused          whether a sigmoid or PReLU activation unit runs in the fused kernels (activation_unit.cu);
 *                                false runs it layer by layer (activation_unit_unfused.cu: whole-batch products over
 *                                the packed valid positions), as a Dice unit always runs
 * @param attentionRowsForward    positions per tile of the unit's forward; 0: automatic (CudaBackend.attentionRows:
 *                                32, or 16 for a batch too small to give every block several tiles of 32)
 * @param attentionRowsBackward   the same for the unit's backward
 * @param attentionThreads        threads of the unit's forward and backward blocks, a multiple of 32 up to the
 *                                kernels' MAX_THREADS
 * @param attentionBlocksPerSm    backward blocks per multiprocessor, each with its own slice of partial gradients;
 *                                0: as many as fit at once (registers and shared memory), at most 3
 * @param attentionPartialsOnChip whether the backward keeps its per-block partial gradients in shared memory where
 *                                they fit beside a tile of rows; false makes every tile add into the block's slice
 *                                in global memory
 * @param attentionDm3OnChip      with the partials on chip, whether dM3 (3W x h1, 34.5 KB in the Amazon config, the
 *                                largest) is too; off chip it leaves two backward blocks of an H200 multiprocessor
 *                                about 80 KB of L1 for the weights the products read instead of about 28 KB
 * @param towerFused              whether the top tower's hidden layers may run fused, a launch per layer each way
 *                                (false: always the layer-by-layer ops)
 * @param towerCols               channels a fused tower block owns, a power of two from 1 to 32, the same in every launch;
 *                                0: automatic, per launch (CudaBackend.towerColsFor: of 4, 8, 16 and 32 the one whose launch
 *                                takes the fewest rounds of blocks on the device without fewer blocks a multiprocessor)
 * @param towerChunk              columns of the gradient from the layer above that a fused tower backward block stages at
 *                                a time, the same in every backward ({@link #TOWER_CHUNK_ALL}: all of them at once);
 *                                0: automatic, per launch where towerCols is automatic too (CudaBackend.towerBackwardFor:
 *                                with the channels, the fewest rounds of blocks, then the fewest chunks), else all at once
 * @param towerCluster            blocks per cluster of the fused tower; 0: the smallest of 1, 2, 4 and 8 that fits
 *                                (clusters on compute capability 9.0 and up); 16, above the portable size, only when set
 * @param gemmSmall               when the built-in GEMM sends a product to gemm_small_kernel
 * @param pdl                     programmatic dependent launch where the device and driver take it
 * @param attentionVectorTiles    whether the fused unit's fp32 products may run on vector tiles (float4 loads) where
 *                                the widths and weights allow (CudaBackend.attentionVectorTiles); false always takes
 *                                the scalar tiles. The same sums in the same order either way: the same bits
 * @param attentionRowGroups      the most groups of threads among which the fused backward's two per-column stages
 *                                (the activations' derivatives and their sums over a tile's rows) split the rows, each
 *                                group a thread a column; 0: as many as the block holds (6 and 3 in the Amazon config
 *                                at 256 threads); 1: a thread a column over all the rows, as before the groups
 * @param attentionQuerySums      whether the fused backward makes dMa and the rows' shares of dQuery (the query's third
 *                                of r3 = [k, q * k, q]) from each sample's sum of dH1 over its rows in a tile, where the
 *                                tile has room for the sums: 2W-wide products over the rows instead of 3W, and a W x h1
 *                                product a sample; false (the built-in setting since 2026-11-26): every row carries q
 *                                through both products. Measured on the H200 the rows were faster both times (the
 *                                thirty-first session's one run a size, and the thirty-seventh's three: 783,004 against
 *                                749,024 samples/s at batch 128, 3,811,685 against 3,563,841 at 2048), where the sums
 *                                were predicted to save 5 to 9% at 2048; {@link Autotuner} still tries them
 * @param attentionReduceGathers  whether DIN's step adds its lookups' gradients in the launch that sums the fused unit's
 *                                partial gradients (activation_unit_reduce_gather_kernel: the lookups' blocks beside the
 *                                reduce's, the candidate's lookups from dQuery's elements as the reduce writes them), one
 *                                launch where there were two; false: the reduce, then embedding_gather_multi_backward_kernel.
 *                                The same integer sums either way
 * @param attentionSplitK         whether the unit forward's MLP products may split K over the block's idle threads where
 *                                its tiles hold at most {@link AttentionArgs#SPLIT_ROWS} positions (batch 128 in the
 *                                Amazon config: activation_unit.cu's split_product, a few KB more shared memory);
 *                                false: every tile summed whole in k order, as before. The sums round differently
 */
public record KernelTuning(boolean attentionFused, int attentionRowsForward, int attentionRowsBackward, int attentionThreads, int attentionBlocksPerSm,
                           boolean attentionPartialsOnChip, boolean attentionDm3OnChip,
                           boolean towerFused, int towerCols, int towerChunk, int towerCluster, BuiltinGemm.Small gemmSmall, boolean pdl,
                           boolean attentionVectorTiles, int attentionRowGroups, boolean attentionQuerySums,
                           boolean attentionReduceGathers, boolean attentionSplitK) {

    public static final String FUSED = "augur.attention.fused";
    public static final String ROWS_FORWARD = "augur.attention.rowsForward";
    public static final String ROWS_BACKWARD = "augur.attention.rowsBackward";
    public static final String THREADS = "augur.attention.threads";
    public static final String BLOCKS_PER_SM = "augur.attention.blocksPerSm";
    public static final String PARTIALS_ON_CHIP = "augur.attention.partialsOnChip";
    public static final String DM3_ON_CHIP = "augur.attention.dm3OnChip";
    public static final String TOWER_FUSED = "augur.tower.fused";
    public static final String TOWER_COLS = "augur.tower.cols";
    public static final String TOWER_CHUNK = "augur.tower.chunk";
    public static final String TOWER_CLUSTER = "augur.tower.cluster";
    public static final String GEMM_SMALL = BuiltinGemm.SMALL_PROPERTY;
    public static final String PDL = "augur.cuda.pdl";
    public static final String VECTOR_TILES = "augur.attention.vectorTiles";
    public static final String ROW_GROUPS = "augur.attention.rowGroups";
    public static final String QUERY_SUMS = "augur.attention.querySums";
    public static final String REDUCE_GATHERS = "augur.attention.reduceGathers";
    public static final String SPLIT_K = "augur.attention.splitK";
    /** Every setting's property, in the order {@link #changes} lists them. */
    public static final List<String> PROPERTIES = List.of(FUSED, ROWS_FORWARD, ROWS_BACKWARD, THREADS, BLOCKS_PER_SM, PARTIALS_ON_CHIP, DM3_ON_CHIP,
            TOWER_FUSED, TOWER_COLS, TOWER_CHUNK, TOWER_CLUSTER, GEMM_SMALL, PDL, VECTOR_TILES, ROW_GROUPS,
            QUERY_SUMS, REDUCE_GATHERS, SPLIT_K);

    /** {@link #towerChunk}'s "all": a tower backward stages the whole gradient from the layer above at once. */
    public static final int TOWER_CHUNK_ALL = Integer.MAX_VALUE;
    /** The most columns {@link #towerChunk} takes as a number. */
    public static final int MAX_TOWER_CHUNK = 4096;

    /** The most threads of an activation-unit block (the kernels' MAX_THREADS). */
    public static final int MAX_ATTENTION_THREADS = 256;

    /** The most {@link #attentionRowGroups} (as many as a block of 256 threads has for a 1-wide layer). */
    public static final int MAX_ROW_GROUPS = MAX_ATTENTION_THREADS;

    public KernelTuning {
        check(ROWS_FORWARD, attentionRowsForward, 0, 1024);
        check(ROWS_BACKWARD, attentionRowsBackward, 0, 1024);
        check(THREADS, attentionThreads, 32, MAX_ATTENTION_THREADS);
        if (attentionThreads % 32 != 0) throw new IllegalArgumentException(THREADS + "=" + attentionThreads + ": expected a multiple of 32");
        check(BLOCKS_PER_SM, attentionBlocksPerSm, 0, 64);
        if (towerCols != 0 && (towerCols < 1 || towerCols > 32 || Integer.bitCount(towerCols) != 1))
            throw new IllegalArgumentException(TOWER_COLS + "=" + towerCols + ": expected auto, 1, 2, 4, 8, 16 or 32 (default auto)");
        if (towerChunk != TOWER_CHUNK_ALL) check(TOWER_CHUNK, towerChunk, 0, MAX_TOWER_CHUNK);
        if (towerCluster != 0 && !Kernels.TOWER_CLUSTERS.contains(towerCluster))
            throw new IllegalArgumentException(TOWER_CLUSTER + "=" + towerCluster + ": expected auto, 1, 2, 4, 8 or 16 (blocks per cluster; default auto)");
        java.util.Objects.requireNonNull(gemmSmall, GEMM_SMALL);
        check(ROW_GROUPS, attentionRowGroups, 0, MAX_ROW_GROUPS);
    }

    private static void check(String name, int v, int min, int max) {
        if (v < min || v > max) throw new IllegalArgumentException(name + "=" + v + ": expected an integer from " + min + " to " + max);
    }

    /** The built-in settings (no property set): every automatic choice automatic, everything fused, PDL where it runs. */
    public static KernelTuning builtIn() {
        return new KernelTuning(true, 0, 0, MAX_ATTENTION_THREADS, 0, true, true, true, 0, 0, 0, BuiltinGemm.Small.AUTO, true, true, 0, false, true, true);
    }

    /** The built-in settings with every property that is set (-Daugur....) applied; a bad value is an error naming it. */
    public static KernelTuning fromProperties() {
        return withProperties(builtIn());
    }

    /**
     * {@code base} with every property that is set applied on top: a setting given on the command line wins over one
     * from a tuning table ({@link TuningTable}). A bad value is an error naming it.
     */
    public static KernelTuning withProperties(KernelTuning base) {
        KernelTuning t = base;
        for (String p : setProperties()) t = t.with(p, System.getProperty(p));
        return t;
    }

    /** The settings' properties that are set (not blank), in {@link #PROPERTIES} order. */
    public static List<String> setProperties() {
        List<String> out = new ArrayList<>();
        for (String p : PROPERTIES) {
            String v = System.getProperty(p);
            if (v != null && !v.isBlank()) out.add(p);
        }
        return out;
    }

    /**
     * This tuning with a change as {@link #changes} writes it, {@code -Dproperty=value} (the {@code -D} optional);
     * anything else, an unknown setting or a bad value is an error that says what is expected.
     */
    public KernelTuning withChange(String change) {
        String c = change == null ? "" : change.trim();
        if (c.startsWith("-D")) c = c.substring(2);
        int eq = c.indexOf('=');
        if (eq <= 0) throw new IllegalArgumentException("'" + change + "': expected -Dproperty=value, e.g. -D" + TOWER_COLS + "=8");
        return with(c.substring(0, eq).trim(), c.substring(eq + 1));
    }

    /**
     * This tuning with one setting changed, named by its property and given as its property's value
     * ({@code with("augur.tower.fused", "off")}); an unknown name or a bad value is an error that says
     * what is expected.
     */
    public KernelTuning with(String property, String value) {
        String v = value == null ? "" : value.trim();
        Settings b = new Settings(this);
        switch (property) {
            case FUSED -> b.attentionFused = autoOrOff(property, v, "fused kernels for sigmoid and PReLU units");
            case ROWS_FORWARD -> b.attentionRowsForward = integer(property, v, 0, 1024, "0, automatic");
            case ROWS_BACKWARD -> b.attentionRowsBackward = integer(property, v, 0, 1024, "0, automatic");
            case THREADS -> b.attentionThreads = integer(property, v, 32, MAX_ATTENTION_THREADS, "256") / 32 * 32;
            case BLOCKS_PER_SM -> b.attentionBlocksPerSm = integer(property, v, 0, 64, "0, as many as fit up to 3");
            case PARTIALS_ON_CHIP -> b.attentionPartialsOnChip = bool(property, v);
            case DM3_ON_CHIP -> b.attentionDm3OnChip = bool(property, v);
            case TOWER_FUSED -> b.towerFused = autoOrOff(property, v, "fused where it fits");
            case TOWER_COLS -> b.towerCols = towerColsSetting(v);
            case TOWER_CHUNK -> b.towerChunk = towerChunkSetting(v);
            case TOWER_CLUSTER -> b.towerCluster = towerClusterSetting(v);
            case GEMM_SMALL -> b.gemmSmall = BuiltinGemm.Small.parse(v);
            case PDL -> b.pdl = autoOrOff(property, v, "programmatic dependent launch where the device and driver take it");
            case VECTOR_TILES -> b.attentionVectorTiles = autoOrOff(property, v, "vector tiles where the widths and weights allow");
            case ROW_GROUPS -> b.attentionRowGroups = integer(property, v, 0, MAX_ROW_GROUPS, "0, as many as the block holds");
            case QUERY_SUMS -> b.attentionQuerySums = autoOrOff(property, v, "per-sample sums where a tile has room");
            case REDUCE_GATHERS -> b.attentionReduceGathers = autoOrOff(property, v, "the lookups' backward in the unit's reduce launch where it can take them");
            case SPLIT_K -> b.attentionSplitK = autoOrOff(property, v, "split K in the unit forward's products at few rows a tile");
            default -> throw new IllegalArgumentException("unknown kernel setting '" + property + "' (expected one of " + PROPERTIES + ")");
        }
        return b.build();
    }

    /** A tuning's fields, to change one and build the record again ({@link #with}). */
    private static final class Settings {
        boolean attentionFused, attentionPartialsOnChip, attentionDm3OnChip, towerFused, pdl, attentionVectorTiles,
                attentionQuerySums, attentionReduceGathers, attentionSplitK;
        int attentionRowsForward, attentionRowsBackward, attentionThreads, attentionBlocksPerSm, towerCols, towerChunk, towerCluster,
                attentionRowGroups;
        BuiltinGemm.Small gemmSmall;

        Settings(KernelTuning t) {
            attentionFused = t.attentionFused;
            attentionRowsForward = t.attentionRowsForward;
            attentionRowsBackward = t.attentionRowsBackward;
            attentionThreads = t.attentionThreads;
            attentionBlocksPerSm = t.attentionBlocksPerSm;
            attentionPartialsOnChip = t.attentionPartialsOnChip;
            attentionDm3OnChip = t.attentionDm3OnChip;
            towerFused = t.towerFused;
            towerCols = t.towerCols;
            towerChunk = t.towerChunk;
            towerCluster = t.towerCluster;
            gemmSmall = t.gemmSmall;
            pdl = t.pdl;
            attentionVectorTiles = t.attentionVectorTiles;
            attentionRowGroups = t.attentionRowGroups;
            attentionQuerySums = t.attentionQuerySums;
            attentionReduceGathers = t.attentionReduceGathers;
            attentionSplitK = t.attentionSplitK;
        }

        KernelTuning build() {
            return new KernelTuning(attentionFused, attentionRowsForward, attentionRowsBackward, attentionThreads, attentionBlocksPerSm,
                    attentionPartialsOnChip, attentionDm3OnChip, towerFused, towerCols, towerChunk, towerCluster, gemmSmall, pdl, attentionVectorTiles,
                    attentionRowGroups, attentionQuerySums, attentionReduceGathers, attentionSplitK);
        }
    }

    /** A setting's value as its property writes it ({@code value("augur.tower.fused")} is "auto" or "off"). */
    public String value(String property) {
        return switch (property) {
            case FUSED -> attentionFused ? "auto" : "off";
            case ROWS_FORWARD -> attentionRowsForward == 0 ? "auto" : Integer.toString(attentionRowsForward);
            case ROWS_BACKWARD -> attentionRowsBackward == 0 ? "auto" : Integer.toString(attentionRowsBackward);
            case THREADS -> Integer.toString(attentionThreads);
            case BLOCKS_PER_SM -> attentionBlocksPerSm == 0 ? "auto" : Integer.toString(attentionBlocksPerSm);
            case PARTIALS_ON_CHIP -> Boolean.toString(attentionPartialsOnChip);
            case DM3_ON_CHIP -> Boolean.toString(attentionDm3OnChip);
            case TOWER_FUSED -> towerFused ? "auto" : "off";
            case TOWER_COLS -> towerCols == 0 ? "auto" : Integer.toString(towerCols);
            case TOWER_CHUNK -> towerChunk == 0 ? "auto" : towerChunk == TOWER_CHUNK_ALL ? "all" : Integer.toString(towerChunk);
            case TOWER_CLUSTER -> towerCluster == 0 ? "auto" : Integer.toString(towerCluster);
            case GEMM_SMALL -> gemmSmall.name().toLowerCase(Locale.ROOT);
            case PDL -> pdl ? "auto" : "off";
            case VECTOR_TILES -> attentionVectorTiles ? "auto" : "off";
            case ROW_GROUPS -> attentionRowGroups == 0 ? "auto" : Integer.toString(attentionRowGroups);
            case QUERY_SUMS -> attentionQuerySums ? "auto" : "off";
            case REDUCE_GATHERS -> attentionReduceGathers ? "auto" : "off";
            case SPLIT_K -> attentionSplitK ? "auto" : "off";
            default -> throw new IllegalArgumentException("unknown kernel setting '" + property + "' (expected one of " + PROPERTIES + ")");
        };
    }

    /** The settings in which this differs from {@code base}, as -Dproperty=value, in {@link #PROPERTIES} order. */
    public List<String> changes(KernelTuning base) {
        List<String> out = new ArrayList<>();
        for (String p : PROPERTIES) if (!value(p).equals(base.value(p))) out.add("-D" + p + "=" + value(p));
        return out;
    }

    /** The settings that differ from the built-in ones, or "built-in settings". */
    @Override
    public String toString() {
        List<String> c = changes(builtIn());
        return c.isEmpty() ? "built-in settings" : String.join(" ", c);
    }

    private static int integer(String property, String v, int min, int max, String def) {
        if (v.equals("auto") && min == 0) return 0;
        try {
            int x = Integer.parseInt(v);
            if (x >= min && x <= max) return x;
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new IllegalArgumentException("-D" + property + "=" + v + ": expected an integer from " + min + " to " + max + " (default " + def + ")");
    }

    private static boolean bool(String property, String v) {
        return switch (v.toLowerCase(Locale.ROOT)) {
            case "true" -> true;
            case "false" -> false;
            default -> throw new IllegalArgumentException("-D" + property + "=" + v + ": expected true or false (default true)");
        };
    }

    private static boolean autoOrOff(String property, String v, String auto) {
        return switch (v.toLowerCase(Locale.ROOT)) {
            case "", "auto" -> true;
            case "off" -> false;
            default -> throw new IllegalArgumentException("-D" + property + "=" + v + ": expected auto or off (auto: " + auto + ")");
        };
    }

    static int towerClusterSetting(String v) {
        if (v == null || v.isBlank() || v.trim().equals("auto")) return 0;
        try {
            int c = Integer.parseInt(v.trim());
            if (Kernels.TOWER_CLUSTERS.contains(c)) return c;
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new IllegalArgumentException("-D" + TOWER_CLUSTER + "=" + v + ": expected auto, 1, 2, 4, 8 or 16 (blocks per cluster; default auto)");
    }

    static int towerChunkSetting(String v) {
        if (v == null || v.isBlank() || v.trim().equals("auto")) return 0;
        if (v.trim().equals("all")) return TOWER_CHUNK_ALL;
        try {
            int c = Integer.parseInt(v.trim());
            if (c >= 1 && c <= MAX_TOWER_CHUNK) return c;
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new IllegalArgumentException("-D" + TOWER_CHUNK + "=" + v + ": expected auto, all or a number of columns from 1 to " + MAX_TOWER_CHUNK
                + " (the gradient from the layer above that a tower backward block stages at a time; default auto)");
    }

    static int towerColsSetting(String v) {
        if (v == null || v.isBlank() || v.trim().equals("auto")) return 0;
        try {
            int c = Integer.parseInt(v.trim());
            if (c >= 1 && c <= 32 && Integer.bitCount(c) == 1) return c;
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new IllegalArgumentException("-D" + TOWER_COLS + "=" + v + ": expected auto, 1, 2, 4, 8, 16 or 32 (channels a tower block; default auto)");
    }
}
