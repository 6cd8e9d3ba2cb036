package io.augur.backend.cuda;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * The {@code MultiTensor} struct of {@code cuda/multi_tensor.cuh}, byte for byte: up to
 * {@link #MAX} tensors with up to four arrays each (a, b, c, d: 8-byte addresses, 0 for unused),
 * their element counts, and each one's first block, for one launch that covers all of them in
 * blocks of {@link #CHUNK} elements. A longer list is split into several such launches
 * ({@link #plan}). Pure bookkeeping, tested without a GPU.
 */
final class MultiTensorArgs {
    /** Tensors per launch (MULTI_MAX). */
    static final int MAX = 64;
    /** Elements per block (MULTI_CHUNK). */
    static final int CHUNK = 1024;
    /** sizeof(MultiTensor): 4 pointer arrays, n[MAX], first_block[MAX + 1], count; padded to 8. */
    static final int BYTES = align8(4 * 8 * MAX + 4 * MAX + 4 * (MAX + 1) + 4);

    /** One tensor of the list: its arrays (0 where unused) and element count. */
    record Entry(long a, long b, long c, long d, int n) {}

    /** One launch: its struct and grid size. */
    record Launch(ByteBuffer args, int blocks) {}

    private MultiTensorArgs() {}

    /**
     * The launches that cover {@code entries} in order, at most {@link #MAX} tensors each; tensors
     * with no elements are left out, and an empty list gives no launch.
     */
    static List<Launch> plan(List<Entry> entries) {
        for (Entry e : entries) if (e.n() < 0) throw new IllegalArgumentException("negative element count " + e.n());
        return LaunchGroups.split(entries, MAX, e -> e.n() == 0).stream().map(MultiTensorArgs::launch).toList();
    }

    private static Launch launch(List<Entry> group) {
        ByteBuffer buf = ByteBuffer.allocateDirect(BYTES).order(ByteOrder.LITTLE_ENDIAN);
        int nOff = 4 * 8 * MAX, firstOff = nOff + 4 * MAX, countOff = firstOff + 4 * (MAX + 1);
        long blocks = 0;
        for (int k = 0; k < group.size(); k++) {
            Entry e = group.get(k);
            buf.putLong(8 * k, e.a());
            buf.putLong(8 * (MAX + k), e.b());
            buf.putLong(8 * (2 * MAX + k), e.c());
            buf.putLong(8 * (3 * MAX + k), e.d());
            buf.putInt(nOff + 4 * k, e.n());
            buf.putInt(firstOff + 4 * k, (int) blocks);
            blocks += (e.n() + CHUNK - 1) / CHUNK;
            if (blocks > Integer.MAX_VALUE) throw new IllegalArgumentException("a multi-tensor launch of more than 2^31 blocks");
        }
        for (int k = group.size(); k <= MAX; k++) buf.putInt(firstOff + 4 * k, (int) blocks);
        buf.putInt(countOff, group.size());
        return new Launch(buf.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN), (int) blocks);
    }

    private static int align8(int n) { return (n + 7) & ~7; }
}
