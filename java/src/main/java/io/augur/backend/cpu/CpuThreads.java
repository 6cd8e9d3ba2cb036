package io.augur.backend.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed team of worker threads for the fast CPU path. {@link #parallelFor} splits a range into
 * contiguous chunks; the calling thread works too, and the call returns when every chunk is done.
 * Chunks are a pure function of (n, grain, threads), so results do not depend on scheduling: ops
 * that reduce across chunks combine per-chunk partials in chunk order.
 *
 * <p>The team is built once per backend. A call allocates one small job record (plus the body's
 * lambda); no arrays.
 */
public final class CpuThreads implements AutoCloseable {

    /** Body of a parallel loop over [lo, hi); {@code chunk} is the chunk's index. */
    @FunctionalInterface
    public interface RangeBody {
        void run(int chunk, int lo, int hi);
    }

    /** One parallelFor call; workers that see a finished job find no chunk left and go back. */
    private static final class Job {
        final RangeBody body;
        final int n;
        final int chunks;
        final Thread caller;
        final AtomicInteger next = new AtomicInteger();
        final AtomicInteger pending;
        volatile Throwable failure;

        Job(RangeBody body, int n, int chunks, Thread caller) {
            this.body = body;
            this.n = n;
            this.chunks = chunks;
            this.caller = caller;
            this.pending = new AtomicInteger(chunks);
        }

        void drain() {
            int k;
            while ((k = next.getAndIncrement()) < chunks) {
                try {
                    body.run(k, chunkStart(n, chunks, k), chunkStart(n, chunks, k + 1));
                } catch (Throwable t) {
                    failure = t;
                } finally {
                    if (pending.decrementAndGet() == 0) LockSupport.unpark(caller);
                }
            }
        }
    }

    private final int threads;
    private final Thread[] workers;
    private volatile Job job;
    private volatile boolean closed;

    public CpuThreads(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        this.threads = threads;
        this.workers = new Thread[threads - 1];
        for (int k = 0; k < workers.length; k++) {
            Thread t = new Thread(this::workerLoop, "augur-cpu-" + (k + 1));
            t.setDaemon(true);
            workers[k] = t;
            t.start();
        }
    }

    public int threads() { return threads; }

    /** Number of chunks {@link #parallelFor} uses for a range of n with at least {@code grain} items per chunk. */
    public int chunksFor(int n, int grain) {
        if (n <= 0) return 0;
        int byGrain = Math.max(1, n / Math.max(1, grain));
        return Math.min(threads, byGrain);
    }

    /** Start of chunk k of {@code chunks} over [0, n); chunk k is [chunkStart(k), chunkStart(k + 1)). */
    public static int chunkStart(int n, int chunks, int k) {
        return (int) ((long) n * k / chunks);
    }

    /**
     * Runs body over [0, n) in {@link #chunksFor}(n, grain) chunks and waits for all of them.
     * Not reentrant: a body must not call parallelFor.
     */
    public void parallelFor(int n, int grain, RangeBody body) {
        int c = chunksFor(n, grain);
        if (c == 0) return;
        if (c == 1 || workers.length == 0) {
            for (int k = 0; k < c; k++) body.run(k, chunkStart(n, c, k), chunkStart(n, c, k + 1));
            return;
        }
        Job j = new Job(body, n, c, Thread.currentThread());
        job = j;
        for (Thread w : workers) LockSupport.unpark(w);
        j.drain();
        while (j.pending.get() > 0) LockSupport.parkNanos(this, 50_000);
        Throwable f = j.failure;
        if (f != null) {
            if (f instanceof RuntimeException r) throw r;
            if (f instanceof Error e) throw e;
            throw new IllegalStateException(f);
        }
    }

    private void workerLoop() {
        Job seen = null;
        int idle = 0;
        while (!closed) {
            Job j = job;
            if (j != null && j != seen) {
                seen = j;
                idle = 0;
                j.drain();
            } else if (++idle < 20_000) {
                Thread.onSpinWait();
            } else {
                LockSupport.parkNanos(this, 500_000);
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread w : workers) LockSupport.unpark(w);
    }
}
