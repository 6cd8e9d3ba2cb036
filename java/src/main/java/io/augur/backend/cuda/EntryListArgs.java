package io.augur.backend.cuda;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.function.Function;
import java.util.function.ToLongFunction;

/**
 * The launch structs of cuda/'s entry lists (embedding.cu's GatherList, sparse_update.cu's
 * SparseUpdateList): {@code max} entries, each its pointers (8 bytes) then its ints and its
 * {@code first_block}, then {@code count} and {@code blocks}. Entry e covers as many blocks as its
 * list says (the gathers a block per so many rows, the sparse updates a block per so many elements)
 * from its first_block; entries with no block are left out, and a longer list is split over several
 * launches ({@link LaunchGroups}).
 */
final class EntryListArgs {
    /** One launch: its struct and grid size. */
    record Launch(ByteBuffer args, int blocks) {}

    /**
     * A list's layout: entries per launch, pointers and ints (first_block not counted) per entry. An entry's size is
     * rounded up to 8 bytes, as the C struct's is for its pointers (GatherEntry: 9 pointers and 9 ints, 112 bytes).
     */
    record Layout(int max, int pointers, int ints) {
        int entryBytes() { return (8 * pointers + 4 * (ints + 1) + 7) & ~7; }

        int bytes() { return max * entryBytes() + 8; }
    }

    private EntryListArgs() {}

    static <E> List<Launch> plan(Layout layout, List<E> entries, Function<E, long[]> pointers, Function<E, int[]> ints, ToLongFunction<E> blocks) {
        return LaunchGroups.split(entries, layout.max(), e -> blocks.applyAsLong(e) == 0).stream()
                .map(g -> launch(layout, g, pointers, ints, blocks)).toList();
    }

    private static <E> Launch launch(Layout layout, List<E> group, Function<E, long[]> pointers, Function<E, int[]> ints, ToLongFunction<E> entryBlocks) {
        ByteBuffer buf = ByteBuffer.allocateDirect(layout.bytes()).order(ByteOrder.LITTLE_ENDIAN);
        long blocks = 0;
        for (int k = 0; k < group.size(); k++) {
            E e = group.get(k);
            int o = k * layout.entryBytes();
            long[] p = pointers.apply(e);
            int[] v = ints.apply(e);
            if (p.length != layout.pointers() || v.length != layout.ints()) throw new IllegalStateException("entry does not match its layout");
            for (int i = 0; i < p.length; i++) buf.putLong(o + 8 * i, p[i]);
            for (int i = 0; i < v.length; i++) buf.putInt(o + 8 * p.length + 4 * i, v[i]);
            buf.putInt(o + 8 * p.length + 4 * v.length, (int) blocks);
            blocks += entryBlocks.applyAsLong(e);
            if (blocks > Integer.MAX_VALUE) throw new IllegalArgumentException("a list launch of more than 2^31 blocks");
        }
        buf.putInt(layout.max() * layout.entryBytes(), group.size());
        buf.putInt(layout.max() * layout.entryBytes() + 4, (int) blocks);
        return new Launch(buf.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN), (int) blocks);
    }
}
