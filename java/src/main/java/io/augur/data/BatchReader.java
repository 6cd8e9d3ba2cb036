package io.augur.data;

import java.util.SplittableRandom;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * Fixed-size batches over one {@link SampleFile}, filled by a background thread while the caller
 * works on the previous batch (double buffering: two {@link Batch} objects, reused; nothing is
 * allocated per batch).
 *
 * <pre>{@code
 * try (BatchReader r = train.batches(128, true, seed, epoch)) {
 *     for (Batch b; (b = r.next()) != null; ) { step(b); }
 * }
 * }</pre>
 *
 * <p>{@link #next()} returns the next batch, or null at the end of the epoch; the batch stays
 * valid until the following {@code next()} (or {@code close()}), after which the prefetch thread
 * refills it. The last batch is smaller ({@link Batch#size} &lt; maxB) unless {@code dropLast}.
 * With shuffling, the rows follow one permutation of all the file's rows (across record batches),
 * a function of (seed, epoch) only. An exception in the prefetch thread is rethrown by
 * {@code next()}.
 */
public final class BatchReader implements AutoCloseable {

    /** Fills a batch with {@code count} rows taken from {@code order[from..]} (file order when null). */
    @FunctionalInterface
    interface Filler {
        void fill(Batch dst, int[] order, int from, int count);
    }

    private static final Object END = new Object();

    private record Failure(Throwable error) {
    }

    private final int rows;
    private final int batchSize;
    private final int numBatches;
    private final BlockingQueue<Batch> free = new ArrayBlockingQueue<>(2);
    private final BlockingQueue<Object> full = new ArrayBlockingQueue<>(3);
    private final Thread prefetcher;
    private Batch current;
    private boolean finished;
    private boolean closed;

    BatchReader(Filler filler, String source, int rows, int[] order, int batchSize, boolean dropLast, Batch a, Batch b) {
        if (order != null && order.length != rows) {
            throw new IllegalArgumentException("order has " + order.length + " rows, the file " + rows);
        }
        this.rows = rows;
        this.batchSize = batchSize;
        this.numBatches = dropLast ? rows / batchSize : (rows + batchSize - 1) / batchSize;
        free.add(a);
        free.add(b);
        prefetcher = new Thread(() -> produce(filler, order), "augur-prefetch-" + source);
        prefetcher.setDaemon(true);
        prefetcher.start();
    }

    private void produce(Filler filler, int[] order) {
        try {
            for (int k = 0; k < numBatches; k++) {
                Batch b = free.take();
                int from = k * batchSize;
                filler.fill(b, order, from, Math.min(batchSize, rows - from));
                full.put(b);
            }
            full.put(END);
        } catch (InterruptedException e) {
            // close(): stop quietly.
        } catch (Throwable t) {
            full.offer(new Failure(t)); // never blocks: at most one batch is queued besides it
        }
    }

    /**
     * The next batch, or null when the epoch is done. The batch returned before this call is handed
     * back to the prefetch thread and must not be used any more.
     */
    public Batch next() {
        if (closed) {
            throw new IllegalStateException("batch reader is closed");
        }
        if (finished) {
            return null;
        }
        if (current != null) {
            free.add(current);
            current = null;
        }
        Object o;
        try {
            o = full.take();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the next batch", e);
        }
        if (o == END) {
            finished = true;
            return null;
        }
        if (o instanceof Failure f) {
            finished = true;
            Throwable t = f.error();
            if (t instanceof RuntimeException re) {
                throw re;
            }
            if (t instanceof Error err) {
                throw err;
            }
            throw new IllegalStateException("batch prefetch failed", t);
        }
        current = (Batch) o;
        return current;
    }

    /** Batches in this epoch (the last one counted even when partial, unless dropLast). */
    public int numBatches() {
        return numBatches;
    }

    /** Rows per full batch. */
    public int batchSize() {
        return batchSize;
    }

    /** Rows this reader yields over the epoch. */
    public long rowsPerEpoch() {
        return Math.min((long) numBatches * batchSize, rows);
    }

    /** Stops the prefetch thread and waits for it. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        prefetcher.interrupt();
        boolean interrupted = false;
        while (prefetcher.isAlive()) {
            try {
                prefetcher.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * A permutation of [0, n) that depends only on (seed, epoch): Fisher–Yates driven by a
     * SplittableRandom seeded from both.
     */
    static int[] shuffledOrder(int n, long seed, int epoch) {
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        SplittableRandom rng = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + 0xD1B54A32D192ED03L * (epoch + 1L));
        for (int i = n - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        return order;
    }
}
