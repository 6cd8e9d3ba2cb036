package io.augur.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Batches: sizes, zero padding, shuffling, completeness, prefetch errors. */
class BatchReaderTest {

    private static final SampleSchema SCHEMA =
            new SampleSchema(6, 30, 100, 9, List.of(new ExtraField("city", 8)), true);
    private static final int ROWS = 103;

    @TempDir
    Path tmp;

    private SampleFile file;

    @BeforeEach
    void writeFile() throws IOException {
        Path p = tmp.resolve("rows.arrow");
        try (SampleWriter w = SampleWriter.open(p, SCHEMA, 17)) {
            SampleFileRoundTripTest.write(w, SampleFileRoundTripTest.randomRows(SCHEMA, ROWS, 5));
        }
        file = SampleFile.read(p, SCHEMA);
    }

    /** Reads one epoch, checking every batch against the file; returns the row order seen. */
    private List<Integer> epoch(BatchReader r, int batchSize) {
        List<Integer> order = new ArrayList<>();
        IdentityHashMap<Batch, Boolean> distinct = new IdentityHashMap<>();
        for (Batch b; (b = r.next()) != null; ) {
            distinct.put(b, true);
            assertTrue(b.size >= 1 && b.size <= batchSize);
            for (int i = 0; i < b.size; i++) {
                int row = b.rowIndex[i];
                order.add(row);
                assertRowMatches(b, i, row);
            }
            assertRowsPastSizeAreZero(b);
        }
        int buffers = BatchReader.buffersFor(r.threads());
        assertTrue(distinct.size() <= buffers, buffers + " batch objects are reused, saw " + distinct.size());
        return order;
    }

    private void assertRowMatches(Batch b, int i, int row) {
        int T = b.T;
        assertEquals(file.label(row), b.labels[i]);
        assertEquals(file.userId(row), b.profile[0][i]);
        assertEquals(file.profile(1, row), b.profile[1][i]);
        assertEquals(file.itemId(row), b.items[i]);
        assertEquals(file.cateId(row), b.cates[i]);
        int len = file.historyLength(row);
        assertEquals(len, b.lengths[i]);
        for (int t = 0; t < T; t++) {
            int k = i * T + t;
            if (t < len) {
                assertEquals(file.histItem(row, t), b.histItems[k]);
                assertEquals(file.histCate(row, t), b.histCates[k]);
                assertEquals(file.negItem(row, t), b.negItems[k]);
                assertEquals(file.negCate(row, t), b.negCates[k]);
            } else {
                assertEquals(0, b.histItems[k], "padding of row " + row + " at " + t);
                assertEquals(0, b.histCates[k]);
                assertEquals(0, b.negItems[k]);
                assertEquals(0, b.negCates[k]);
            }
        }
    }

    private static void assertRowsPastSizeAreZero(Batch b) {
        for (int i = b.size; i < b.maxB; i++) {
            assertEquals(0, b.lengths[i]);
            assertEquals(0, b.items[i]);
            assertEquals(0, b.profile[0][i]);
            assertEquals(-1, b.rowIndex[i]);
            for (int t = 0; t < b.T; t++) {
                assertEquals(0, b.histItems[i * b.T + t]);
            }
        }
    }

    @Test
    void fileOrderWithTheLastPartialBatch() {
        try (BatchReader r = file.batches(10, false, 0, 0)) {
            assertEquals(11, r.numBatches());
            List<Integer> order = new ArrayList<>();
            List<Integer> sizes = new ArrayList<>();
            List<Batch> seen = new ArrayList<>();
            for (Batch b; (b = r.next()) != null; ) {
                sizes.add(b.size);
                seen.add(b);
                for (int i = 0; i < b.size; i++) {
                    order.add(b.rowIndex[i]);
                    assertRowMatches(b, i, b.rowIndex[i]);
                }
                assertRowsPastSizeAreZero(b);
            }
            assertEquals(List.of(10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 3), sizes);
            for (int i = 0; i < ROWS; i++) {
                assertEquals(i, order.get(i));
            }
            int buffers = BatchReader.buffersFor(r.threads());
            java.util.Set<Batch> distinct = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
            distinct.addAll(seen);
            assertTrue(distinct.size() <= buffers, "the reader reuses its " + buffers + " batches, saw " + distinct.size());
            assertFalse(seen.get(0) == seen.get(1), "the batch handed out is not the one being filled");
            assertNull(r.next(), "stays at the end");
        }
    }

    @Test
    void dropLastLeavesOutThePartialBatch() {
        try (BatchReader r = file.batches(10, true, 3, 0, true)) {
            assertEquals(10, r.numBatches());
            assertEquals(100, r.rowsPerEpoch());
            List<Integer> order = epoch(r, 10);
            assertEquals(100, order.size());
            assertEquals(100, order.stream().distinct().count());
        }
    }

    @Test
    void shuffleIsAPermutationPerEpochReproducibleAndDifferentAcrossEpochs() {
        List<Integer> e0;
        List<Integer> e0again;
        List<Integer> e1;
        try (BatchReader r = file.batches(8, true, 42, 0)) {
            e0 = epoch(r, 8);
        }
        try (BatchReader r = file.batches(8, true, 42, 0)) {
            e0again = epoch(r, 8);
        }
        try (BatchReader r = file.batches(8, true, 42, 1)) {
            e1 = epoch(r, 8);
        }
        assertEquals(e0, e0again, "same (seed, epoch), same order");
        assertFalse(e0.equals(e1), "another epoch, another order");
        for (List<Integer> e : List.of(e0, e1)) {
            assertEquals(ROWS, e.size());
            boolean[] seen = new boolean[ROWS];
            for (int row : e) {
                assertFalse(seen[row], "row " + row + " twice");
                seen[row] = true;
            }
        }
        List<Integer> fileOrder = new ArrayList<>();
        for (int i = 0; i < ROWS; i++) {
            fileOrder.add(i);
        }
        assertFalse(e0.equals(fileOrder), "shuffled");
        // rows from different record batches (17 rows each) are mixed within a batch
        assertTrue(e0.subList(0, 8).stream().map(x -> x / 17).distinct().count() > 1);
    }

    @Test
    void batchLargerThanTheFile() {
        try (BatchReader r = file.batches(500, false, 0, 0)) {
            Batch b = r.next();
            assertNotNull(b);
            assertEquals(ROWS, b.size);
            assertRowsPastSizeAreZero(b);
            assertNull(r.next());
        }
        try (BatchReader r = file.batches(500, false, 0, 0, true)) {
            assertNull(r.next(), "dropLast with a single partial batch yields nothing");
        }
    }

    @Test
    void prefetchErrorsSurfaceInNext() {
        Batch a = new Batch(4, 6, 2, true);
        Batch b = new Batch(4, 6, 2, true);
        Thread caller = Thread.currentThread();
        java.util.concurrent.atomic.AtomicBoolean filledHere = new java.util.concurrent.atomic.AtomicBoolean();
        BatchReader.Filler failing = (dst, order, from, count) -> {
            if (Thread.currentThread() == caller) {
                filledHere.set(true);
            }
            if (from >= 8) {
                throw new IllegalStateException("boom at " + from);
            }
            file.fill(dst, order, from, count);
        };
        try (BatchReader r = new BatchReader(failing, "test", 20, null, 4, false, a, b)) {
            assertNotNull(r.next());
            assertNotNull(r.next());
            RuntimeException e = assertThrows(RuntimeException.class, r::next);
            assertTrue(e.getMessage().contains("boom at 8"), e.getMessage());
            assertNull(r.next());
        }
        assertFalse(filledHere.get(), "batches are filled by the prefetch thread, not the caller");
    }

    /**
     * Several prefetch threads that finish out of order (each sleeps a random while) still hand
     * out batch 0, 1, 2, ... with the rows one thread gives, and reuse their buffers.
     */
    @Test
    void severalThreadsGiveTheSameBatchesInTheSameOrder() {
        int[] order = BatchReader.shuffledOrder(ROWS, 11, 3);
        List<Integer> one = new ArrayList<>(), four = new ArrayList<>();
        try (BatchReader r = new BatchReader(file::fill, "one", ROWS, order, 6, false, List.of(batch(6), batch(6)), 1)) {
            for (Batch b; (b = r.next()) != null; ) for (int i = 0; i < b.size; i++) one.add(b.rowIndex[i]);
        }
        java.util.SplittableRandom jitter = new java.util.SplittableRandom(1);
        BatchReader.Filler slow = (dst, o, from, count) -> {
            long sleep;
            synchronized (jitter) { sleep = jitter.nextInt(3); }
            try { Thread.sleep(sleep); } catch (InterruptedException e) { Thread.currentThread().interrupt(); }
            file.fill(dst, o, from, count);
        };
        List<Batch> buffers = new ArrayList<>();
        for (int k = 0; k < BatchReader.buffersFor(4); k++) buffers.add(batch(6));
        IdentityHashMap<Batch, Boolean> seen = new IdentityHashMap<>();
        try (BatchReader r = new BatchReader(slow, "four", ROWS, order, 6, false, buffers, 4)) {
            assertEquals(4, r.threads());
            for (Batch b; (b = r.next()) != null; ) {
                seen.put(b, true);
                for (int i = 0; i < b.size; i++) {
                    four.add(b.rowIndex[i]);
                    assertRowMatches(b, i, b.rowIndex[i]);
                }
                assertRowsPastSizeAreZero(b);
            }
        }
        assertEquals(one, four);
        assertEquals(ROWS, four.size());
        assertTrue(seen.size() <= buffers.size(), "buffers reused: " + seen.size());
    }

    @Test
    void withSeveralThreadsAnErrorSurfacesAtItsBatch() {
        List<Batch> buffers = new ArrayList<>();
        for (int k = 0; k < BatchReader.buffersFor(3); k++) buffers.add(batch(4));
        BatchReader.Filler failing = (dst, order, from, count) -> {
            if (from == 8) throw new IllegalStateException("boom at " + from);
            file.fill(dst, order, from, count);
        };
        try (BatchReader r = new BatchReader(failing, "test", 20, null, 4, false, buffers, 3)) {
            assertEquals(0, r.next().rowIndex[0]);
            assertEquals(4, r.next().rowIndex[0]);
            RuntimeException e = assertThrows(RuntimeException.class, r::next);
            assertTrue(e.getMessage().contains("boom at 8"), e.getMessage());
            assertNull(r.next());
        }
    }

    @Test
    void threadsComeFromTheSystemPropertyWhenSet() {
        String old = System.getProperty(BatchReader.THREADS_PROPERTY);
        try {
            System.setProperty(BatchReader.THREADS_PROPERTY, "3");
            assertEquals(3, BatchReader.defaultThreads());
            try (BatchReader r = file.batches(10, true, 1, 0)) {
                assertEquals(3, r.threads());
                assertEquals(ROWS, epoch(r, 10).size());
            }
            System.setProperty(BatchReader.THREADS_PROPERTY, "zero");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, BatchReader::defaultThreads);
            assertTrue(e.getMessage().contains(BatchReader.THREADS_PROPERTY), e.getMessage());
        } finally {
            if (old == null) System.clearProperty(BatchReader.THREADS_PROPERTY);
            else System.setProperty(BatchReader.THREADS_PROPERTY, old);
        }
    }

    /** negatives = false leaves the neg_hist columns out (DIN does not read them); the rest is as with them. */
    @Test
    void batchesWithoutTheNegativeColumns() {
        List<Integer> with = new ArrayList<>(), without = new ArrayList<>();
        try (BatchReader r = file.batches(8, true, 5, 1, false, true)) {
            for (Batch b; (b = r.next()) != null; ) {
                assertTrue(b.hasNegHistory());
                for (int i = 0; i < b.size; i++) with.add(b.rowIndex[i]);
            }
        }
        try (BatchReader r = file.batches(8, true, 5, 1, false, false)) {
            for (Batch b; (b = r.next()) != null; ) {
                assertFalse(b.hasNegHistory());
                for (int i = 0; i < b.size; i++) {
                    without.add(b.rowIndex[i]);
                    int row = b.rowIndex[i], len = file.historyLength(row);
                    assertEquals(len, b.lengths[i]);
                    for (int t = 0; t < b.T; t++) {
                        assertEquals(t < len ? file.histItem(row, t) : 0, b.histItems[i * b.T + t], "row " + row + " at " + t);
                        assertEquals(t < len ? file.histCate(row, t) : 0, b.histCates[i * b.T + t], "row " + row + " at " + t);
                    }
                }
            }
        }
        assertEquals(with, without);
    }

    @Test
    void askingForNegativeColumnsAFileLacksFailsNamingIt() throws IOException {
        SampleSchema plain = new SampleSchema(6, 30, 100, 9, List.of(new ExtraField("city", 8)), false);
        Path p = tmp.resolve("plain.arrow");
        try (SampleWriter w = SampleWriter.open(p, plain, 17)) {
            SampleFileRoundTripTest.write(w, SampleFileRoundTripTest.randomRows(plain, 20, 5));
        }
        SampleFile f = SampleFile.read(p, plain);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> f.batches(4, false, 0, 0, false, true));
        assertTrue(e.getMessage().contains("plain.arrow") && e.getMessage().contains("neg_hist"), e.getMessage());
        try (BatchReader r = f.batches(4, false, 0, 0)) {
            assertFalse(r.next().hasNegHistory());
        }
    }

    private static Batch batch(int maxB) {
        return new Batch(maxB, SCHEMA.historyLength(), SCHEMA.numProfileFields(), SCHEMA.hasNegHist());
    }

    @Test
    void closeMidEpochStopsThePrefetchThread() {
        BatchReader r = file.batches(4, true, 1, 0);
        assertNotNull(r.next());
        r.close();
        r.close();
        assertThrows(IllegalStateException.class, r::next);
    }

    @Test
    void shuffledOrderIsAFunctionOfSeedAndEpoch() {
        assertArrayEquals(BatchReader.shuffledOrder(50, 9, 2), BatchReader.shuffledOrder(50, 9, 2));
        assertFalse(java.util.Arrays.equals(BatchReader.shuffledOrder(50, 9, 2), BatchReader.shuffledOrder(50, 10, 2)));
    }
}
