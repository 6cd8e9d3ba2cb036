package io.augur.data;

import io.augur.backend.cuda.Nvtx;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Fixed-size batches over one {@link SampleFile}, filled by background threads while the caller
 * works on the previous batch (the batch objects are reused: nothing is allocated per batch).
 *
 * <pre>{@code
 * try (BatchReader r = train.batches(128, true, seed, epoch)) {
 *     for (Batch b; (b = r.next()) != null; ) { step(b); }
 * }
 * }</pre>
 *
 * <p>{@link #next()} returns the next batch, or null at the end of the epoch; the batch stays
 * valid until the following {@code next()} (or {@code close()}), after which a prefetch thread
 * refills it. The last batch is smaller ({@link Batch#size} &lt; maxB) unless {@code dropLast}.
 * With shuffling, the rows follow one permutation of all the file's rows (across record batches),
 * a function of (seed, epoch) only. An exception in a prefetch thread is rethrown by the
 * {@code next()} that would have returned its batch.
 *
 * <p>Filling a batch gathers rows from all over the file, so it is bound by memory latency (about
 * 0.7 µs a row on one core with T = 100); one thread then caps training near 1.4 million rows a
 * second. With several prefetch threads ({@link #defaultThreads}) each fills whole batches, batch
 * k by whichever thread claimed index k, and {@code next()} hands them out in index order, so the
 * batches are the same whatever the number of threads.
 */
public final class BatchReader implements AutoCloseable {

    /** Fills a batch with {@code count} rows taken from {@code order[from..]} (file order when null). */
    @FunctionalInterface
    interface Filler {
        void fill(Batch dst, int[] order, int from, int count);
    }

    /** System property overriding {@link #defaultThreads}. */
    public static final String THREADS_PROPERTY = "augur.loader.threads";

    private record Failure(Throwable error) {
    }

    private final int rows;
    private final int batchSize;
    private final int numBatches;
    private final BlockingQueue<Batch> free;
    /** NVTX ranges (Nvtx): a prefetch thread filling a batch; the caller of next() waiting for one. */
    private static final Nvtx.Range FILL_BATCH = Nvtx.range("fill batch", Nvtx.DATA), WAIT_FOR_BATCH = Nvtx.range("wait for batch", Nvtx.WAIT);
    private final AtomicInteger claimed = new AtomicInteger();
    private final Object lock = new Object();
    private final Map<Integer, Object> ready = new HashMap<>();   // batch index -> Batch or Failure; guarded by lock
    private final List<Thread> prefetchers = new ArrayList<>();
    private int consumed;
    private Batch current;
    private boolean finished;
    private boolean closed;

    /** One prefetch thread over two batch buffers (tests). */
    BatchReader(Filler filler, String source, int rows, int[] order, int batchSize, boolean dropLast, Batch a, Batch b) {
        this(filler, source, rows, order, batchSize, dropLast, List.of(a, b), 1);
    }

    /**
     * @param buffers the batches to fill and reuse, at least {@code threads + 1}
     * @param threads prefetch threads
     */
    BatchReader(Filler filler, String source, int rows, int[] order, int batchSize, boolean dropLast, List<Batch> buffers, int threads) {
        if (order != null && order.length != rows) {
            throw new IllegalArgumentException("order has " + order.length + " rows, the file " + rows);
        }
        if (threads < 1 || buffers.size() < threads + 1) {
            throw new IllegalArgumentException(threads + " prefetch threads need at least " + (threads + 1) + " batch buffers, got " + buffers.size());
        }
        this.rows = rows;
        this.batchSize = batchSize;
        this.numBatches = batchCount(rows, batchSize, dropLast);
        this.free = new ArrayBlockingQueue<>(buffers.size(), false, buffers);
        int n = Math.max(1, Math.min(threads, numBatches));
        for (int t = 0; t < n; t++) {
            Thread th = new Thread(() -> produce(filler, order), "augur-prefetch-" + source + (n > 1 ? "-" + t : ""));
            th.setDaemon(true);
            prefetchers.add(th);
        }
        prefetchers.forEach(Thread::start);
    }

    /** Prefetch threads for a machine: a third of the cores, from 1 to 6, unless {@value #THREADS_PROPERTY} says otherwise. */
    public static int defaultThreads() {
        String p = System.getProperty(THREADS_PROPERTY);
        if (p != null && !p.isBlank()) {
            try {
                int v = Integer.parseInt(p.trim());
                if (v >= 1) return v;
            } catch (NumberFormatException e) {
                // fall through to the error below
            }
            throw new IllegalArgumentException("-D" + THREADS_PROPERTY + "=" + p + ": expected a whole number >= 1");
        }
        return Math.max(1, Math.min(6, Runtime.getRuntime().availableProcessors() / 3));
    }

    /** Batches in an epoch of {@code rows} rows (the last one partial unless dropLast). */
    static int batchCount(int rows, int batchSize, boolean dropLast) {
        return dropLast ? rows / batchSize : (rows + batchSize - 1) / batchSize;
    }

    /** Batch buffers for {@code threads} prefetch threads: one for each, one for the caller and one ready. */
    static int buffersFor(int threads) {
        return threads + 2;
    }

    private void produce(Filler filler, int[] order) {
        try {
            while (true) {
                Batch b = free.take();
                int k = claimed.getAndIncrement();
                if (k >= numBatches) {
                    free.add(b);
                    return;
                }
                Object result;
                try {
                    int from = k * batchSize;
                    try (Nvtx.Scope r = FILL_BATCH.open()) {
                        filler.fill(b, order, from, Math.min(batchSize, rows - from));
                    }
                    result = b;
                } catch (RuntimeException | Error e) {
                    free.add(b);
                    result = new Failure(e);
                }
                synchronized (lock) {
                    ready.put(k, result);
                    lock.notifyAll();
                }
                if (result instanceof Failure) return;
            }
        } catch (InterruptedException e) {
            // close(): stop quietly.
        }
    }

    /**
     * The next batch, or null when the epoch is done. The batch returned before this call is handed
     * back to the prefetch threads and must not be used any more.
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
        if (consumed == numBatches) {
            finished = true;
            return null;
        }
        Object o;
        synchronized (lock) {
            o = ready.remove(consumed);
            if (o == null) {
                try (Nvtx.Scope r = WAIT_FOR_BATCH.open()) {   // only a real wait shows on the timeline
                    while ((o = ready.remove(consumed)) == null) {
                        try {
                            lock.wait();
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                            throw new IllegalStateException("interrupted while waiting for the next batch", e);
                        }
                    }
                }
            }
        }
        consumed++;
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

    /** Prefetch threads this reader started. */
    public int threads() {
        return prefetchers.size();
    }

    /** Stops the prefetch threads and waits for them. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        prefetchers.forEach(Thread::interrupt);
        boolean interrupted = false;
        for (Thread th : prefetchers) {
            while (th.isAlive()) {
                try {
                    th.join();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
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
