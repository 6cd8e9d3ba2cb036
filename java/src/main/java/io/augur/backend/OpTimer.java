package io.augur.backend;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Host-side op timing for backends without {@link Profiling}: {@link #wrap} returns a
 * {@link Backend} that forwards every call to the real one and, for each op (every method but
 * allocation, naming and closing), adds the wall time of the call, followed by
 * {@link Backend#synchronize()}, to that op's total. On a synchronous backend (the CPU) that is
 * the op's time; on an asynchronous one the synchronize makes it so, at the price of the overlap.
 * A model built on the wrapper runs unchanged; the timer costs well under a microsecond per call.
 * Not thread-safe: one training loop drives it, as it drives the backend.
 */
public final class OpTimer implements InvocationHandler {
    /**
     * Methods that are not ops: allocation (build time), names, closing, synchronize itself, and
     * runStep, whose ops are timed one by one as the model calls them through this wrapper.
     */
    private static final Set<String> UNTIMED = Set.of("name", "describe", "floats", "ints", "sparseGrad", "attentionWorkspace",
            "recurrenceWorkspace", "synchronize", "close", "toString", "hashCode", "equals", "runStep");

    private final Backend target;
    private final Map<String, long[]> stats = new LinkedHashMap<>();   // op -> {calls, nanos}
    private boolean on = true;

    private OpTimer(Backend target) {
        this.target = target;
    }

    /** A timing view of {@code target}. */
    public static Backend wrap(Backend target) {
        return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class}, new OpTimer(target));
    }

    /** The timer behind a backend made by {@link #wrap}, or null for any other backend. */
    public static OpTimer of(Backend be) {
        if (Proxy.isProxyClass(be.getClass()) && Proxy.getInvocationHandler(be) instanceof OpTimer t) return t;
        return null;
    }

    /** Starts or stops accumulating (calls are forwarded either way). */
    public void setOn(boolean on) { this.on = on; }

    /** Calls and seconds per op since the last reset, in first-call order. */
    public Map<String, Profiling.OpStats> stats() {
        Map<String, Profiling.OpStats> out = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : stats.entrySet()) out.put(e.getKey(), new Profiling.OpStats(e.getValue()[0], e.getValue()[1] / 1e9));
        return out;
    }

    public void reset() { stats.clear(); }

    @Override
    public Object invoke(Object proxy, Method m, Object[] args) throws Throwable {
        if (!on || UNTIMED.contains(m.getName())) return call(m, args);
        long t0 = System.nanoTime();
        Object r = call(m, args);
        target.synchronize();
        long dt = System.nanoTime() - t0;
        long[] s = stats.computeIfAbsent(m.getName(), k -> new long[2]);
        s[0]++;
        s[1] += dt;
        return r;
    }

    private Object call(Method m, Object[] args) throws Throwable {
        try {
            return m.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }
}
