package io.augur.backend.cuda;

import java.util.List;

/**
 * The {@code GatherList} struct of {@code cuda/embedding.cu}, byte for byte: up to {@link #MAX}
 * gathers (or gather backwards) of one launch, entry e covering {@code ceil(rows / blockRows(D))}
 * blocks from its {@code first_block} ({@link EntryListArgs}). Pure bookkeeping, tested without a
 * GPU.
 */
final class GatherListArgs {
    /** Entries per launch (GATHER_MAX). */
    static final int MAX = 8;
    /** Elements a lane of the lookups takes in a round (GATHER_BATCH). */
    static final int BATCH = 8;
    static final EntryListArgs.Layout LAYOUT = new EntryListArgs.Layout(MAX, 9, 8);
    /** sizeof(GatherEntry): 9 pointers, then 9 ints, padded to 8 bytes. */
    static final int ENTRY_BYTES = LAYOUT.entryBytes();
    /** sizeof(GatherList): the entries, count, blocks. */
    static final int BYTES = LAYOUT.bytes();

    /**
     * One entry: device addresses (0 for nullptr) and sizes, in the struct's order. zeroPadding (forward): 1, the padding
     * rows written as 0; 0, left as they were where a warp holds only padding ({@link io.augur.backend.Backend.Gather#paddingLeft}).
     */
    record Entry(long out, long dout, long acc, long touchedFlag, long touchedList, long touchedCount, long ids, long lengths, long table,
                 int rows, int T, int D, int V, int capacity, int outStride, int off, int zeroPadding) {
        long blocks() { return (rows + (long) blockRows(D) - 1) / blockRows(D); }
    }

    private GatherListArgs() {}

    /** The rows a warp of the lookups takes (embedding.cu's gather_warp_rows): 32 BATCH / D, from 1 to 32. */
    static int warpRows(int D) {
        return Math.min(32, Math.max(1, 32 * BATCH / D));
    }

    /** The rows a block of {@link Kernels#BLOCK} threads takes (gather_block_rows). */
    static int blockRows(int D) {
        return warpRows(D) * (Kernels.BLOCK / 32);
    }

    /** A list of no entry (count 0, no block). */
    static java.nio.ByteBuffer empty() {
        return java.nio.ByteBuffer.allocateDirect(BYTES).order(java.nio.ByteOrder.LITTLE_ENDIAN).asReadOnlyBuffer().order(java.nio.ByteOrder.LITTLE_ENDIAN);
    }

    /** The launches that cover the entries in order, at most {@link #MAX} each; entries with no element are left out. */
    static List<EntryListArgs.Launch> plan(List<Entry> entries) {
        for (Entry e : entries) {
            if (e.rows() < 0 || e.D() < 1) throw new IllegalArgumentException("gather of " + e.rows() + " rows of width " + e.D());
        }
        return EntryListArgs.plan(LAYOUT, entries,
                e -> new long[] {e.out(), e.dout(), e.acc(), e.touchedFlag(), e.touchedList(), e.touchedCount(), e.ids(), e.lengths(), e.table()},
                e -> new int[] {e.rows(), e.T(), e.D(), e.V(), e.capacity(), e.outStride(), e.off(), e.zeroPadding()}, Entry::blocks);
    }
}
