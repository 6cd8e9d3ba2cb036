package io.augur.backend.cuda;

import java.util.List;

/**
 * The {@code SparseUpdateList} struct of {@code cuda/sparse_update.cu}, byte for byte: up to
 * {@link #MAX} tables updated by one launch, entry e covering {@code ceil(bound * D / CHUNK)}
 * blocks from its {@code first_block} ({@link EntryListArgs}). Pure bookkeeping, tested without a
 * GPU.
 */
final class SparseUpdateListArgs {
    /** Tables per launch (SPARSE_MAX). */
    static final int MAX = 8;
    /** Elements (bound * D) per block (SPARSE_CHUNK). */
    static final int CHUNK = 1024;
    static final EntryListArgs.Layout LAYOUT = new EntryListArgs.Layout(MAX, 9, 3);
    /** sizeof(SparseUpdateEntry): 9 pointers, then D, bound, capacity, first_block. */
    static final int ENTRY_BYTES = LAYOUT.entryBytes();
    /** sizeof(SparseUpdateList): the entries, count, blocks. */
    static final int BYTES = LAYOUT.bytes();

    /** One table: device addresses (0 for nullptr) and sizes, in the struct's order. */
    record Entry(long table, long s1, long s2, long acc, long touchedFlag, long touchedList, long touchedCount, long blocksDone, long counts,
                 int D, int bound, int capacity) {}

    private SparseUpdateListArgs() {}

    /** The launches that cover the entries in order, at most {@link #MAX} each; entries with bound 0 are left out. */
    static List<EntryListArgs.Launch> plan(List<Entry> entries) {
        for (Entry e : entries) {
            if (e.bound() < 0 || e.D() < 1) throw new IllegalArgumentException("sparse update of " + e.bound() + " rows of width " + e.D());
        }
        return EntryListArgs.plan(LAYOUT, entries,
                e -> new long[] {e.table(), e.s1(), e.s2(), e.acc(), e.touchedFlag(), e.touchedList(), e.touchedCount(), e.blocksDone(), e.counts()},
                e -> new int[] {e.D(), e.bound(), e.capacity()}, e -> ((long) e.bound() * e.D() + CHUNK - 1) / CHUNK);
    }
}
