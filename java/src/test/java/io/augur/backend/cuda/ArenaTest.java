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
}
