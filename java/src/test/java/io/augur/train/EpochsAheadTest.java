package io.augur.train;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EpochsAheadTest {
    /** A reader that remembers its epoch, the thread that opened it and whether it was closed. */
    static final class Reader implements AutoCloseable {
        final int epoch;
        final Thread openedOn = Thread.currentThread();
        volatile boolean closed;

        Reader(int epoch) { this.epoch = epoch; }

        @Override
        public void close() { closed = true; }
    }

    @Test
    void eachEpochAfterTheFirstIsOpenedAheadOnAnotherThread() throws InterruptedException {
        List<Integer> opened = Collections.synchronizedList(new ArrayList<>());
        CountDownLatch second = new CountDownLatch(1);
        try (EpochsAhead<Reader> epochs = new EpochsAhead<>(e -> {
            opened.add(e);
            if (e == 2) second.countDown();
            return new Reader(e);
        }, 3)) {
            Reader r1 = epochs.open(1);
            assertEquals(1, r1.epoch);
            assertSame(Thread.currentThread(), r1.openedOn, "the first epoch asked for is opened where it is asked for");
            // epoch 2's reader is opened before anyone asks for it
            assertTrue(second.await(10, TimeUnit.SECONDS), "epoch 2 opened ahead: " + opened);
            r1.close();
            Reader r2 = epochs.open(2);
            assertEquals(2, r2.epoch);
            assertNotEquals(Thread.currentThread(), r2.openedOn, "epoch 2 was opened on the background thread");
            r2.close();
            Reader r3 = epochs.open(3);
            assertEquals(3, r3.epoch);
            r3.close();
        }
        assertEquals(List.of(1, 2, 3), opened, "each epoch opened once, none past the last");
    }

    @Test
    void aReaderOpenedAheadAndNotAskedForIsClosed() {
        List<Reader> made = Collections.synchronizedList(new ArrayList<>());
        try (EpochsAhead<Reader> epochs = new EpochsAhead<>(e -> {
            Reader r = new Reader(e);
            made.add(r);
            return r;
        }, Integer.MAX_VALUE)) {
            epochs.open(1).close();
            // epoch 2 was opened ahead; asking for epoch 5 instead closes it and opens 5 here
            Reader r5 = epochs.open(5);
            assertEquals(5, r5.epoch);
            assertSame(Thread.currentThread(), r5.openedOn);
            r5.close();
        }
        // 1, 2 (ahead, unused), 5, 6 (ahead, left when closed): every one closed
        assertEquals(List.of(1, 2, 5, 6), made.stream().map(r -> r.epoch).toList());
        for (Reader r : made) assertTrue(r.closed, "epoch " + r.epoch + "'s reader closed");
    }

    @Test
    void anErrorOpeningAheadIsThrownByTheOpenThatAsksForIt() {
        try (EpochsAhead<Reader> epochs = new EpochsAhead<>(e -> {
            if (e == 2) throw new IllegalArgumentException("train.arrow: row 7: bad length");
            return new Reader(e);
        }, 2)) {
            epochs.open(1).close();
            IllegalArgumentException x = assertThrows(IllegalArgumentException.class, () -> epochs.open(2));
            assertEquals("train.arrow: row 7: bad length", x.getMessage());
        }
    }
}
