package io.augur.backend.cuda;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The arena's plan: aligned slices, one allocation per segment, addresses only after allocation. */
class ArenaTest {

    @Test
    void slicesAreAlignedAndPacked() {
        Arena arena = new Arena();
        Arena.Slice a = arena.reserve("a", 4), b = arena.reserve("b", 1000), c = arena.reserve("c", 256), d = arena.reserve("empty", 0);
        assertEquals(0, a.offset());
        assertEquals(256, b.offset());
        assertEquals(256 + 1024, c.offset());
        assertEquals(256 + 1024 + 256, d.offset());
        assertEquals(256 + 1024 + 256 + 256, arena.pendingBytes(), "a zero-size slice still gets its own aligned offset");
        for (Arena.Slice s : List.of(a, b, c, d)) assertEquals(0, s.offset() % Arena.ALIGN);
    }

    @Test
    void oneAllocationPerSegmentAndAddressesAfterIt() {
        Arena arena = new Arena();
        Arena.Slice a = arena.reserve("a", 100), b = arena.reserve("b", 300);
        assertThrows(IllegalStateException.class, a::address, "no address before the segment is allocated");
        List<Long> sizes = new ArrayList<>();
        long size = arena.allocatePending((bytes, seg) -> {
            sizes.add(bytes);
            return 1L << 20;
        });
        assertEquals(List.of(256L + 512L), sizes);
        assertEquals(768, size);
        assertEquals((1L << 20), a.address());
        assertEquals((1L << 20) + 256, b.address());
        assertFalse(arena.hasPending());
        assertEquals(0, arena.allocatePending((bytes, seg) -> { throw new AssertionError("nothing pending"); }));

        // a tensor planned after the first allocation opens a second segment
        Arena.Slice c = arena.reserve("c", 10);
        assertTrue(arena.hasPending());
        assertEquals(0, c.offset());
        assertEquals(1, c.segment());
        arena.allocatePending((bytes, seg) -> 1L << 30);
        assertEquals(1L << 30, c.address());
        assertEquals(768 + 256, arena.allocatedBytes());
        assertEquals(List.of(1L << 20, 1L << 30), arena.allocatedBases());
    }

    @Test
    void misalignedOrNullBasesAreRefused() {
        Arena arena = new Arena();
        arena.reserve("a", 4);
        assertThrows(IllegalStateException.class, () -> arena.allocatePending((bytes, seg) -> 4096 + 8));
        Arena other = new Arena();
        other.reserve("a", 4);
        assertThrows(IllegalStateException.class, () -> other.allocatePending((bytes, seg) -> 0));
        assertThrows(IllegalArgumentException.class, () -> new Arena().reserve("neg", -1));
    }

    @Test
    void aSeparateArenaGivesEverySliceItsOwnAllocationOfItsSize() {
        Arena arena = new Arena(true);
        Arena.Slice a = arena.reserve("a", 100), b = arena.reserve("b", 6), c = arena.reserve("empty", 0);
        assertEquals(256, b.offset(), "planned as the production arena plans");
        List<Long> sizes = new ArrayList<>();
        long[] next = {1L << 20};
        long total = arena.allocatePending((bytes, seg) -> {
            sizes.add(bytes);
            long base = next[0];
            next[0] += 1L << 16;
            return base;
        });
        assertEquals(List.of(100L, 8L, 4L), sizes, "exact sizes, rounded up to 4 bytes (at least 4)");
        assertEquals(112, total);
        assertEquals(1L << 20, a.address());
        assertEquals((1L << 20) + (1L << 16), b.address());
        assertEquals((1L << 20) + (2L << 16), c.address());
        assertEquals(List.of(1L << 20, (1L << 20) + (1L << 16), (1L << 20) + (2L << 16)), arena.allocatedBases());
        assertEquals(112, arena.allocatedBytes());
        assertFalse(arena.hasPending());

        // a later segment: its slices are allocated on their own too
        Arena.Slice d = arena.reserve("d", 12);
        assertThrows(IllegalStateException.class, d::address);
        arena.allocatePending((bytes, seg) -> {
            assertEquals(1, seg);
            return 1L << 30;
        });
        assertEquals(1L << 30, d.address());
        assertEquals(4, arena.allocatedBases().size());
    }

    @Test
    void aSeparateArenaRefusesAddressesAFloatCannotUse() {
        Arena arena = new Arena(true);
        arena.reserve("a", 4);
        assertThrows(IllegalStateException.class, () -> arena.allocatePending((bytes, seg) -> 4096 + 2));
        Arena other = new Arena(true);
        other.reserve("a", 4);
        assertThrows(IllegalStateException.class, () -> other.allocatePending((bytes, seg) -> 0));
        Arena fine = new Arena(true);
        Arena.Slice s = fine.reserve("a", 4);
        fine.allocatePending((bytes, seg) -> 4096 + 4);
        assertEquals(4096 + 4, s.address(), "4-byte alignment is enough for a separate slice");
    }

    @Test
    void workspacesAreListedOnceWhenAllocated() {
        Arena arena = new Arena();
        Arena.Slice w = arena.reserveScratch("ws", 40);
        arena.reserve("t", 40);
        assertTrue(arena.takeAllocatedScratch().isEmpty(), "nothing is allocated yet");
        arena.allocatePending((bytes, seg) -> 1L << 20);
        assertEquals(List.of(w), arena.takeAllocatedScratch(), "the workspace, not the plain slice");
        assertTrue(arena.takeAllocatedScratch().isEmpty(), "listed once");
        Arena.Slice w2 = arena.reserveScratch("ws2", 8);
        arena.allocatePending((bytes, seg) -> 1L << 30);
        assertEquals(List.of(w2), arena.takeAllocatedScratch());
    }

    /** What a failed allocation was for: the open segment's slices in plan order, and none once it is allocated. */
    @Test
    void thePendingSlicesAreTheOpenSegmentsUntilItIsAllocated() {
        for (boolean separate : new boolean[] {false, true}) {
            Arena arena = new Arena(separate);
            assertTrue(arena.pendingSlices().isEmpty());
            Arena.Slice a = arena.reserve("a", 100), b = arena.reserveScratch("b", 300);
            assertEquals(List.of(a, b), arena.pendingSlices(), "separate " + separate);
            long[] next = {4096};
            arena.allocatePending((bytes, seg) -> (next[0] += 4096));
            assertTrue(arena.pendingSlices().isEmpty(), "separate " + separate);
            Arena.Slice c = arena.reserve("c", 8);
            assertEquals(List.of(c), arena.pendingSlices(), "a new segment's, separate " + separate);
        }
    }

    /**
     * A separate arena whose allocator fails on the third slice: the segment stays open with no slice addressed, the
     * two allocations made are not among its bases (the caller frees them), and a second try allocates it whole.
     */
    @Test
    void aFailedSeparateAllocationLeavesTheSegmentOpenAndUnaddressed() {
        Arena arena = new Arena(true);
        Arena.Slice a = arena.reserve("a", 4), b = arena.reserve("b", 8), c = arena.reserve("c", 12);
        List<Long> made = new ArrayList<>();
        RuntimeException boom = new RuntimeException("out of memory");
        RuntimeException e = assertThrows(RuntimeException.class, () -> arena.allocatePending((bytes, seg) -> {
            if (made.size() == 2) throw boom;
            long at = 4096L * (made.size() + 1);
            made.add(at);
            return at;
        }));
        assertEquals(boom, e);
        assertEquals(2, made.size());
        assertTrue(arena.hasPending());
        assertEquals(List.of(a, b, c), arena.pendingSlices());
        for (Arena.Slice s : List.of(a, b, c)) assertThrows(IllegalStateException.class, s::address, s.name());
        assertTrue(arena.allocatedBases().isEmpty(), "the caller frees what was made before the failure");
        arena.allocatePending((bytes, seg) -> 1L << 20);
        assertEquals(List.of(1L << 20, 1L << 20, 1L << 20), arena.allocatedBases());
        assertEquals(1L << 20, c.address());
    }

    /** A plan given up after its allocation failed: never allocated, its slices say so, and what is planned next allocates alone. */
    @Test
    void aDiscardedSegmentStaysUnallocatedAndTheNextOneStandsAlone() {
        Arena arena = new Arena();
        Arena.Slice a = arena.reserve("a", 100), w = arena.reserveScratch("w", 40);
        assertThrows(RuntimeException.class, () -> arena.allocatePending((bytes, seg) -> {
            throw new RuntimeException("out of memory");
        }));
        arena.discardPending();
        assertFalse(arena.hasPending());
        assertTrue(arena.pendingSlices().isEmpty());
        assertTrue(a.discarded() && w.discarded() && !a.allocated());
        IllegalStateException e = assertThrows(IllegalStateException.class, a::address);
        assertTrue(e.getMessage().contains("given up"), e.getMessage());
        Arena.Slice b = arena.reserve("b", 8);
        List<Long> sizes = new ArrayList<>();
        arena.allocatePending((bytes, seg) -> {
            sizes.add(bytes);
            return 1L << 20;
        });
        assertEquals(List.of(256L), sizes, "the new segment holds b alone");
        assertEquals(1L << 20, b.address());
        assertFalse(b.discarded());
        assertTrue(arena.takeAllocatedScratch().isEmpty(), "the given-up workspace is never listed");
        arena.discardPending();   // nothing open: nothing to give up
        assertEquals(1, arena.segmentCount(), "the given-up segment went; b's is segment 0");
        assertEquals(0, b.segment());
    }

    /** Keeping the first slices (a backend's own buffers): the segment shrinks to them, and what comes next is planned after them. */
    @Test
    void discardingAfterTheFirstSlicesKeepsThemPlanned() {
        for (boolean separate : new boolean[] {false, true}) {
            Arena arena = new Arena(separate);
            Arena.Slice own = arena.reserve("status", 4), ws = arena.reserveScratch("own.ws", 1000);
            Arena.Slice big = arena.reserve("model.big", 1 << 20), bigWs = arena.reserveScratch("model.ws", 512);
            assertThrows(IllegalArgumentException.class, () -> arena.discardPending(5));
            arena.discardPending(2);
            assertEquals(List.of(own, ws), arena.pendingSlices());
            assertEquals(256 + 1024, arena.pendingBytes(), "the segment ends where the first given-up slice began");
            assertTrue(big.discarded() && bigWs.discarded() && !own.discarded() && !ws.discarded());
            Arena.Slice small = arena.reserve("model.small", 8);
            assertEquals(256 + 1024, small.offset(), "planned where the given-up ones were");
            long[] next = {1L << 20};
            arena.allocatePending((bytes, seg) -> (next[0] += 4096));
            for (Arena.Slice s : List.of(own, ws, small)) assertTrue(s.allocated() && s.address() > 0, s.name());
            assertEquals(List.of(ws), arena.takeAllocatedScratch(), "the given-up workspace is not listed, separate " + separate);
            assertThrows(IllegalStateException.class, big::address);
        }
    }
}
