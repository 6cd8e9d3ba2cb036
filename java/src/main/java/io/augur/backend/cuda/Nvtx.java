package io.augur.backend.cuda;

import java.util.Locale;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * NVTX ranges in the domain {@value #DOMAIN}: what the host is doing when, on each thread's row of
 * Nsight Systems' timeline (an epoch, a training step with its batch load, forward, backward and
 * update, a CUDA graph's capture or replay, the wait for a step's loss, a prefetch thread filling a
 * batch, evaluation, a checkpoint, a benchmark run, an autotuner trial). Nsight Systems projects
 * them onto the GPU's rows too, and Nsight Compute's {@code --nvtx} filters can pick kernels by
 * them; README, "Profiling".
 *
 * <p>NVTX 3 is header-only: libaugur_launch.so ({@link NativeLibrary}) is built with it where the
 * CUDA toolkit's nvtx3/ headers are, and a profiler attaches by naming its library in
 * NVTX_INJECTION64_PATH, which the first NVTX call loads. {@code -Daugur.nvtx=auto} (the default)
 * pushes ranges only when that variable is set, so a run nobody profiles makes no NVTX calls;
 * {@code on} always (a tool attached some other way), {@code off} never. {@link #describe} (in
 * {@code augur info}) says which and why.
 */
public final class Nvtx {
    private Nvtx() {}

    public static final String PROPERTY = "augur.nvtx";
    public static final String DOMAIN = "augur";
    /** The environment variable by which Nsight Systems, Nsight Compute (or any NVTX tool) attaches. */
    public static final String INJECTION = "NVTX_INJECTION64_PATH";

    /** Colours (ARGB) of the kinds of range. */
    public static final int STEP = 0xff76b900, DATA = 0xff3a7bd5, WAIT = 0xff9e9e9e, EVAL = 0xffef8a17, GRAPH = 0xffd64541,
            FILE = 0xff8e44ad, BENCH = 0xff16a085;

    private static final Logger LOG = LogManager.getLogger(Nvtx.class);
    private static final String OFF = start();   // null: ranges are pushed

    static {
        if (OFF == null) LOG.info("NVTX: {}", describe());
    }

    private static native int open();

    private static native long registerName(String name);

    private static native void pushRegistered(long name, int argb);

    private static native void pushNamed(String name, int argb);

    private static native void markNamed(String name, int argb);

    private static native void pop();

    /** What {@link Range#open} and {@link #push} return: close() pops the range (try-with-resources). */
    public interface Scope extends AutoCloseable {
        @Override
        void close();
    }

    private static final Scope NOTHING = () -> {};
    private static final Scope POP = Nvtx::pop;

    /** Whether ranges are pushed. */
    public static boolean on() { return OFF == null; }

    /** For {@code augur info} and the log: on, or off and why. */
    public static String describe() {
        return OFF == null ? "on (domain " + DOMAIN + ", ranges for " + System.getenv().getOrDefault(INJECTION, "the attached tool") + ")" : "off: " + OFF;
    }

    private static String start() {
        String mode = System.getProperty(PROPERTY, "auto").trim().toLowerCase(Locale.ROOT);
        if (!mode.equals("auto") && !mode.equals("on") && !mode.equals("off")) {
            // a profiling aid: a bad value turns it off with a warning rather than stopping the run
            String why = "-D" + PROPERTY + "=" + System.getProperty(PROPERTY) + " is not auto, on or off";
            LOG.warn("NVTX ranges off: {}", why);
            return why;
        }
        if (mode.equals("off")) return "-D" + PROPERTY + "=off";
        if (mode.equals("auto") && System.getenv(INJECTION) == null) return "no NVTX tool attached (" + INJECTION + " unset)";
        if (NativeLibrary.error() != null) return NativeLibrary.error();
        try {
            return open() == 1 ? null : "libaugur_launch.so was built without the CUDA toolkit's nvtx3 headers";
        } catch (UnsatisfiedLinkError e) {
            return "libaugur_launch.so has no NVTX functions: " + e.getMessage();
        }
    }

    /**
     * A range pushed often (every step): its name is registered with the tool once, so a push
     * passes a handle, not a string. Cheap to keep in a static field; does nothing when NVTX is off.
     */
    public static final class Range {
        private final String name;
        private final long handle;
        private final int argb;

        private Range(String name, int argb) {
            this.name = name;
            this.argb = argb;
            this.handle = OFF == null ? registerName(name) : 0;
        }

        public String name() { return name; }

        /** Pushes the range on this thread; close the scope to pop it. */
        public Scope open() {
            if (OFF != null) return NOTHING;
            if (handle != 0) pushRegistered(handle, argb);
            else pushNamed(name, argb);   // a tool that keeps no registered names
            return POP;
        }
    }

    /** A range to push often, by its name and colour. */
    public static Range range(String name, int argb) { return new Range(name, argb); }

    /** Pushes a range named once or rarely (an epoch's number, a run's label) on this thread. */
    public static Scope push(String name, int argb) {
        if (OFF != null) return NOTHING;
        pushNamed(name, argb);
        return POP;
    }

    /** An instant on this thread's row (a graph dropped, a checkpoint written). */
    public static void mark(String name, int argb) {
        if (OFF == null) markNamed(name, argb);
    }
}
