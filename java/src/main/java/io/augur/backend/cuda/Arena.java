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
 *
 * <p>A separate arena ({@link #Arena(boolean)}, for memory checkers only) plans the same way but
 * allocates every slice of a segment on its own, exactly its size: a kernel that reads or writes
 * past the end of its tensor then leaves the allocation, which compute-sanitizer's memcheck
 * reports and the CPU emulator's guard page faults on, instead of landing silently in the next
 * tensor of the one allocation.
 */
public final class Arena {
    public static final int ALIGN = 256;
    /**
     * The alignment a separate slice's own allocation must have: a float's. (A GPU gives 256; the
     * CPU emulator ends each allocation at its guard page, so a float tensor's start is 4-aligned.)
     */
    public static final int SEPARATE_ALIGN = 4;

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
        /** Its own allocation's address, in a separate arena once allocated. */
        long base;
        /** Given up with the rest of a plan the device could not hold ({@link Arena#discardPending}): never allocated. */
        boolean discarded;

        Slice(Segment segment, long offset, long bytes, String name) {
            this.segment = segment;
            this.offset = offset;
            this.bytes = bytes;
            this.name = name;
        }

        /** The device address; only once the segment is allocated. */
        public long address() {
            requireKept();
            if (segment.base == 0) throw new IllegalStateException(name + ": its arena segment is not allocated yet");
            return base != 0 ? base : segment.base + offset;
        }

        public boolean allocated() { return segment.base != 0; }
        /** Whether it was given up ({@link Arena#discardPending}): it will never be allocated. */
        public boolean discarded() { return discarded; }

        /** An error naming it if it was given up: nothing may be written to or read from it. */
        public void requireKept() {
            if (discarded) throw new IllegalStateException(name + ": its plan was given up when the device could not hold it");
        }
        public long offset() { return offset; }
        public long bytes() { return bytes; }
        public int segment() { return segment.index; }
        public String name() { return name; }
    }

    static final class Segment {
        final int index;
        long size;
        long base;   // 0 until allocated (in a separate arena: its first slice's address)
        final List<Slice> members = new ArrayList<>();   // its slices, until allocated

        Segment(int index) { this.index = index; }
    }

    private final List<Segment> segments = new ArrayList<>();
    private final List<Long> separateBases = new ArrayList<>();
    private final List<Slice> scratch = new ArrayList<>();
    private Segment open;
    private final boolean separate;

    /** The production arena: one allocation per segment. */
    public Arena() { this(false); }

    /** @param separate every slice its own allocation of exactly its size (memory checking) */
    public Arena(boolean separate) { this.separate = separate; }

    public boolean separate() { return separate; }

    /** Plans {@code bytes} (rounded up to {@link #ALIGN}) in the open segment. */
    public Slice reserve(String name, long bytes) {
        if (bytes < 0) throw new IllegalArgumentException(name + ": negative size " + bytes);
        if (open == null) {
            open = new Segment(segments.size());
            segments.add(open);
        }
        long offset = open.size;
        open.size = Math.addExact(offset, align(Math.max(bytes, 1)));
        Slice slice = new Slice(open, offset, bytes, name);
        open.members.add(slice);
        return slice;
    }

    /**
     * Plans a workspace: a slice that no kernel reads before a kernel has written it in the same
     * step (the backend's partial sums, saved gates, transposed weights). It is allocated as any
     * slice; {@link #takeAllocatedScratch} lists it once allocated, so that a test run can fill it
     * with NaN instead of zero and see a read of what nobody wrote.
     */
    public Slice reserveScratch(String name, long bytes) {
        Slice s = reserve(name, bytes);
        scratch.add(s);
        return s;
    }

    /** The workspace slices allocated since the last call (each listed once). */
    public List<Slice> takeAllocatedScratch() {
        List<Slice> out = new ArrayList<>();
        scratch.removeIf(s -> {
            if (!s.allocated()) return false;
            out.add(s);
            return true;
        });
        return out;
    }

    /** Whether slices are planned that have no memory yet. */
    public boolean hasPending() { return open != null; }

    /** Bytes planned in the open segment (0 when none is open). */
    public long pendingBytes() { return open == null ? 0 : open.size; }

    /**
     * Gives up the open segment's slices after the first {@code keep} (in plan order) once an allocation of it
     * failed: they are never allocated (their addresses are an error that says so), and what is planned after
     * them (a smaller model) is allocated without them, beside the {@code keep} kept (a backend's own buffers,
     * planned before any model's). With none kept the segment goes, and the next {@link #reserve} opens another.
     */
    public void discardPending(int keep) {
        if (open == null) return;
        if (keep < 0 || keep > open.members.size())
            throw new IllegalArgumentException("keep " + keep + " of the open segment's " + open.members.size() + " slices");
        List<Slice> gone = open.members.subList(keep, open.members.size());
        for (Slice s : gone) s.discarded = true;
        scratch.removeIf(s -> s.discarded);
        if (keep == 0) {
            segments.remove(open);   // the last one: no other segment's index changes
            open = null;
            return;
        }
        open.size = gone.isEmpty() ? open.size : gone.get(0).offset;
        gone.clear();
    }

    /** {@link #discardPending(int)} keeping nothing: the whole open segment is given up. */
    public void discardPending() { discardPending(0); }

    /** The open segment's slices in the order they were planned (empty when none is open): what a failed allocation was for. */
    public List<Slice> pendingSlices() { return open == null ? List.of() : List.copyOf(open.members); }

    /**
     * Allocates the open segment in one piece and closes it; returns its size (0 when nothing was
     * pending). The next {@link #reserve} opens a new segment. A separate arena calls the
     * allocator once per slice instead, for its size rounded up to 4 bytes (at least 4), and
     * returns the sum of those sizes. If the allocator throws, the segment stays open and
     * unallocated (a separate arena's slices allocated before the failure are the allocator's
     * caller to free).
     */
    public long allocatePending(Allocator allocator) {
        if (open == null) return 0;
        if (separate) return allocateSeparately(allocator);
        long base = allocator.allocate(open.size, open.index);
        if (base == 0) throw new IllegalStateException("arena segment " + open.index + ": the allocator returned address 0");
        if (base % ALIGN != 0) throw new IllegalStateException("arena segment " + open.index + ": base " + base + " is not " + ALIGN + "-byte aligned");
        open.base = base;
        open.members.clear();
        long size = open.size;
        open = null;
        return size;
    }

    private long allocateSeparately(Allocator allocator) {
        long total = 0;
        int before = separateBases.size();
        try {
            for (Slice s : open.members) {
                long bytes = Math.max(4, (s.bytes + 3) / 4 * 4);
                long b = allocator.allocate(bytes, open.index);
                if (b == 0) throw new IllegalStateException("arena slice " + s.name + ": the allocator returned address 0");
                if (b % SEPARATE_ALIGN != 0) throw new IllegalStateException("arena slice " + s.name + ": base " + b + " is not " + SEPARATE_ALIGN + "-byte aligned");
                s.base = b;
                separateBases.add(b);
                total += bytes;
            }
        } catch (RuntimeException e) {
            // the segment stays open and unallocated; the slices allocated before the failure are the caller's to free
            for (Slice s : open.members) s.base = 0;
            separateBases.subList(before, separateBases.size()).clear();
            throw e;
        }
        open.base = open.members.get(0).base;   // a segment is opened by its first slice
        open.size = total;
        open.members.clear();
        open = null;
        return total;
    }

    /** Bytes allocated so far, all segments. */
    public long allocatedBytes() {
        long n = 0;
        for (Segment s : segments) if (s.base != 0) n += s.size;
        return n;
    }

    /** Allocated segments' bases (a separate arena's: every slice's), for freeing. */
    public List<Long> allocatedBases() {
        if (separate) return new ArrayList<>(separateBases);
        List<Long> out = new ArrayList<>();
        for (Segment s : segments) if (s.base != 0) out.add(s.base);
        return out;
    }

    public int segmentCount() { return segments.size(); }

    static long align(long bytes) {
        return (bytes + ALIGN - 1) / ALIGN * ALIGN;
    }
}
