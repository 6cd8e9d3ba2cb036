package io.augur.backend.cuda;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * The {@code SparseUpdateList} struct of {@code cuda/sparse_update.cu}, byte for byte: up to
 * {@link #MAX} tables updated by one launch, entry e covering {@code ceil(bound * D / CHUNK)}
 * blocks from its {@code first_block}. A longer list is split over several launches
 * ({@link #plan}). Pure bookkeeping, tested without a GPU.
 */
final class SparseUpdateListArgs {
    /** Tables per launch (SPARSE_MAX). */
    static final int MAX = 8;
    /** Elements (bound * D) per block (SPARSE_CHUNK). */
    static final int CHUNK = 1024;
    /** sizeof(SparseUpdateEntry): 9 pointers, then D, bound, capacity, first_block. */
    static final int ENTRY_BYTES = 9 * 8 + 4 * 4;
    /** sizeof(SparseUpdateList): the entries, count, blocks. */
    static final int BYTES = MAX * ENTRY_BYTES + 8;

    /** One table: device addresses (0 for nullptr) and sizes, in the struct's order. */
    record Entry(long table, long s1, long s2, long acc, long touchedFlag, long touchedList, long touchedCount, long blocksDone, long counts,
                 int D, int bound, int capacity) {}

    /** One launch: its struct and grid size. */
    record Launch(ByteBuffer args, int blocks) {}

    private SparseUpdateListArgs() {}

    /** The launches that cover the entries in order, at most {@link #MAX} each; entries with bound 0 are left out. */
    static List<Launch> plan(List<Entry> entries) {
        for (Entry e : entries) {
            if (e.bound() < 0 || e.D() < 1) throw new IllegalArgumentException("sparse update of " + e.bound() + " rows of width " + e.D());
        }
        return LaunchGroups.split(entries, MAX, e -> e.bound() == 0).stream().map(SparseUpdateListArgs::launch).toList();
    }

    private static Launch launch(List<Entry> group) {
        ByteBuffer buf = ByteBuffer.allocateDirect(BYTES).order(ByteOrder.LITTLE_ENDIAN);
        long blocks = 0;
        for (int k = 0; k < group.size(); k++) {
            Entry e = group.get(k);
            int o = k * ENTRY_BYTES;
            long[] ptrs = {e.table(), e.s1(), e.s2(), e.acc(), e.touchedFlag(), e.touchedList(), e.touchedCount(), e.blocksDone(), e.counts()};
            for (int p = 0; p < ptrs.length; p++) buf.putLong(o + 8 * p, ptrs[p]);
            int[] ints = {e.D(), e.bound(), e.capacity(), (int) blocks};
            for (int i = 0; i < ints.length; i++) buf.putInt(o + 72 + 4 * i, ints[i]);
            blocks += ((long) e.bound() * e.D() + CHUNK - 1) / CHUNK;
            if (blocks > Integer.MAX_VALUE) throw new IllegalArgumentException("a sparse-update launch of more than 2^31 blocks");
        }
        buf.putInt(MAX * ENTRY_BYTES, group.size());
        buf.putInt(MAX * ENTRY_BYTES + 4, (int) blocks);
        return new Launch(buf.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN), (int) blocks);
    }
}
