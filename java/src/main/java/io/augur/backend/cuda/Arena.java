package io.augur.backend.cuda;

import java.util.ArrayList;
import java.util.List;

/**
 * The device memory plan: every tensor, gradient, optimizer slot and workspace is a slice of one
 * allocation. While a model is built its slices are only planned (offsets in the open segment);
 * the first time the device must hold them (the first launch, transfer or synchronize) the open
 * segment is allocated in one piece, and nothing is allocated after that inside a training step.
 * A tensor created after that opens a new segment (a second model on the same backend, or the
 * optimizer's state when it is built after a first download), which is allocated the same way.
 *
 * <p>Offsets are aligned to {@link #ALIGN} bytes, so every slice suits 16-byte vector access and
 * the alignment cuBLAS prefers. Pure bookkeeping: the allocation itself is the caller's
 * {@link Allocator}, so the plan is tested without a GPU.
 */
public final class Arena {
    public static final int ALIGN = 256;

    /** Allocates {@code bytes} of device memory and returns its address. */
    @FunctionalInterface
    public interface Allocator {
        long allocate(long bytes, int segment);
    }

    /** A planned range of one segment. */
    public static final class Slice {
        final Segment segment;
        final long offset;
        final long bytes;
        final String name;

        Slice(Segment segment, long offset, long bytes, String name) {
            this.segment = segment;
            this.offset = offset;
            this.bytes = bytes;
            this.name = name;
        }

        /** The device address; only once the segment is allocated. */
        public long address() {
            if (segment.base == 0) throw new IllegalStateException(name + ": its arena segment is not allocated yet");
            return segment.base + offset;
        }

        public boolean allocated() { return segment.base != 0; }
        public long offset() { return offset; }
        public long bytes() { return bytes; }
        public int segment() { return segment.index; }
        public String name() { return name; }
    }

    static final class Segment {
        final int index;
        long size;
        long base;   // 0 until allocated
        int slices;

        Segment(int index) { this.index = index; }
    }

    private final List<Segment> segments = new ArrayList<>();
    private Segment open;

    /** Plans {@code bytes} (rounded up to {@link #ALIGN}) in the open segment. */
    public Slice reserve(String name, long bytes) {
        if (bytes < 0) throw new IllegalArgumentException(name + ": negative size " + bytes);
        if (open == null) {
            open = new Segment(segments.size());
            segments.add(open);
        }
        long offset = open.size;
        open.size = Math.addExact(offset, align(Math.max(bytes, 1)));
        open.slices++;
        return new Slice(open, offset, bytes, name);
    }

    /** Whether slices are planned that have no memory yet. */
    public boolean hasPending() { return open != null; }

    /** Bytes planned in the open segment (0 when none is open). */
    public long pendingBytes() { return open == null ? 0 : open.size; }

    /**
     * Allocates the open segment in one piece and closes it; returns its size (0 when nothing was
     * pending). The next {@link #reserve} opens a new segment.
     */
    public long allocatePending(Allocator allocator) {
        if (open == null) return 0;
        long base = allocator.allocate(open.size, open.index);
        if (base == 0) throw new IllegalStateException("arena segment " + open.index + ": the allocator returned address 0");
        if (base % ALIGN != 0) throw new IllegalStateException("arena segment " + open.index + ": base " + base + " is not " + ALIGN + "-byte aligned");
        open.base = base;
        long size = open.size;
        open = null;
        return size;
    }

    /** Bytes allocated so far, all segments. */
    public long allocatedBytes() {
        long n = 0;
        for (Segment s : segments) if (s.base != 0) n += s.size;
        return n;
    }

    /** Allocated segments' bases, for freeing. */
    public List<Long> allocatedBases() {
        List<Long> out = new ArrayList<>();
        for (Segment s : segments) if (s.base != 0) out.add(s.base);
        return out;
    }

    public int segmentCount() { return segments.size(); }

    static long align(long bytes) {
        return (bytes + ALIGN - 1) / ALIGN * ALIGN;
    }
}
