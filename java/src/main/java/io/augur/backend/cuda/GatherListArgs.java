package io.augur.backend.cuda;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * The {@code GatherList} struct of {@code cuda/embedding.cu}, byte for byte: up to {@link #MAX}
 * gathers (or gather backwards) of one launch, entry e covering {@code ceil(rows * D / CHUNK)}
 * blocks from its {@code first_block}. A longer list is split over several launches
 * ({@link #plan}). Pure bookkeeping, tested without a GPU.
 */
final class GatherListArgs {
    /** Entries per launch (GATHER_MAX). */
    static final int MAX = 8;
    /** Elements (rows * D) per block (GATHER_CHUNK). */
    static final int CHUNK = 2048;
    /** sizeof(GatherEntry): 9 pointers, then 8 ints. */
    static final int ENTRY_BYTES = 9 * 8 + 8 * 4;
    /** sizeof(GatherList): the entries, count, blocks. */
    static final int BYTES = MAX * ENTRY_BYTES + 8;

    /** One entry: device addresses (0 for nullptr) and sizes, in the struct's order. */
    record Entry(long out, long dout, long acc, long touchedFlag, long touchedList, long touchedCount, long ids, long lengths, long table,
                 int rows, int T, int D, int V, int capacity, int outStride, int off) {
        long elements() { return (long) rows * D; }
    }

    /** One launch: its struct and grid size. */
    record Launch(ByteBuffer args, int blocks) {}

    private GatherListArgs() {}

    /** The launches that cover the entries in order, at most {@link #MAX} each; entries with no element are left out. */
    static List<Launch> plan(List<Entry> entries) {
        for (Entry e : entries) {
            if (e.rows() < 0 || e.D() < 1) throw new IllegalArgumentException("gather of " + e.rows() + " rows of width " + e.D());
        }
        return LaunchGroups.split(entries, MAX, e -> e.elements() == 0).stream().map(GatherListArgs::launch).toList();
    }

    private static Launch launch(List<Entry> group) {
        ByteBuffer buf = ByteBuffer.allocateDirect(BYTES).order(ByteOrder.LITTLE_ENDIAN);
        long blocks = 0;
        for (int k = 0; k < group.size(); k++) {
            Entry e = group.get(k);
            int o = k * ENTRY_BYTES;
            long[] ptrs = {e.out(), e.dout(), e.acc(), e.touchedFlag(), e.touchedList(), e.touchedCount(), e.ids(), e.lengths(), e.table()};
            for (int p = 0; p < ptrs.length; p++) buf.putLong(o + 8 * p, ptrs[p]);
            int[] ints = {e.rows(), e.T(), e.D(), e.V(), e.capacity(), e.outStride(), e.off(), (int) blocks};
            for (int i = 0; i < ints.length; i++) buf.putInt(o + 72 + 4 * i, ints[i]);
            blocks += (e.elements() + CHUNK - 1) / CHUNK;
            if (blocks > Integer.MAX_VALUE) throw new IllegalArgumentException("a gather launch of more than 2^31 blocks");
        }
        buf.putInt(MAX * ENTRY_BYTES, group.size());
        buf.putInt(MAX * ENTRY_BYTES + 4, (int) blocks);
        return new Launch(buf.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN), (int) blocks);
    }
}
