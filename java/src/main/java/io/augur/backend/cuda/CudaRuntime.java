package io.augur.backend.cuda;

import jcuda.NativePointerObject;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;
import jcuda.driver.CUfunction;
import jcuda.driver.CUfunction_attribute;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUmodule;
import jcuda.driver.CUpointer_attribute;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.CUstreamCaptureMode;
import jcuda.driver.CUstream_flags;
import jcuda.driver.JCudaDriver;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static jcuda.driver.JCudaDriver.*;

/**
 * The thin layer over JCuda's driver API (needs only libcuda.so.1): the device's primary context,
 * a compute stream and a copy stream, the fatbin module and its kernels, device memory, pinned
 * host memory and events. Every call's status is checked and turned into a {@link CudaException}
 * that names the call and the kernel. Launches go to the compute stream.
 */
public final class CudaRuntime implements AutoCloseable {
    private static final org.apache.logging.log4j.Logger LOG = org.apache.logging.log4j.LogManager.getLogger(CudaRuntime.class);

    private final int ordinal;
    private final CUdevice device = new CUdevice();
    private final CUcontext context = new CUcontext();
    final CUstream compute = new CUstream();
    final CUstream copy = new CUstream();
    private final CUmodule module = new CUmodule();
    private final Map<String, CUfunction> functions = new HashMap<>();
    /** The dynamic shared memory each kernel has been opted in to (setMaxDynamicShared). */
    private final Map<String, Integer> maxDynamicShared = new HashMap<>();
    /** Device allocations by base address, so any address inside one can be made a CUdeviceptr. */
    private final TreeMap<Long, Allocation> allocations = new TreeMap<>();
    private final List<Pointer> pinned = new ArrayList<>();
    private final List<CUevent> events = new ArrayList<>();
    /**
     * The context this class last made current on each thread. A thread's current context is the driver's
     * per-thread state: with two runtimes in one process (two devices, or a test's second backend) one thread may
     * use both, so each call checks that its own context is the one bound there, not merely that the thread bound
     * it once.
     */
    private static final ThreadLocal<CUcontext> BOUND = new ThreadLocal<>();
    private String lastKernel;
    private boolean closed;

    // Kernel timing (augur bench --profile): while on, each launch (and each region a GEMM provider
    // marks) is bracketed by a pair of timing events on the compute stream; the pairs wait in
    // `timedNames` until collectTimes() reads them after the stream has passed them. Pairs are reused.
    private boolean timing;
    private boolean regionOpen;
    private final List<CUevent[]> timingPairs = new ArrayList<>();
    private final List<String> timedNames = new ArrayList<>();
    private final KernelTimes times = new KernelTimes();
    /** Pending pairs before collectTimes() is forced (one stream synchronize): bounds the events held. */
    static final int MAX_PENDING_TIMED = 1 << 15;

    public final String name;
    public final int ccMajor, ccMinor, multiprocessors, driverVersion;
    public final long totalMemory;
    /** Largest dynamic shared memory a block may opt in to, bytes. */
    public final int maxSharedPerBlockOptin;
    /** Shared memory of one multiprocessor, bytes (what the blocks resident on it share). */
    public final int maxSharedPerMultiprocessor;

    private record Allocation(long base, long bytes, CUdeviceptr ptr) {}

    /**
     * Programmatic dependent launch (-Daugur.cuda.pdl=auto|off, default auto: on where the device
     * has compute capability 9.0 or newer and cuLaunchKernelEx is reachable, NativeLaunch). A kernel
     * of {@link Kernels#PROGRAMMATIC} is then launched with CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION,
     * unless the kernel launched before it writes weights ({@link Kernels#WRITE_WEIGHTS}) or was not
     * launched here (a graph, a library's kernel): its blocks may start while that kernel still runs,
     * read weights and fill shared memory, and wait in griddepcontrol.wait for the rest (common.cuh).
     * In a captured step the launches become the graph's programmatic edges. It saves most of each
     * launch's fixed cost between the kernels of a step.
     */
    static boolean pdlSetting(String v) {
        return KernelTuning.builtIn().with(KernelTuning.PDL, v).pdl();
    }

    /** Whether kernels of Kernels.PROGRAMMATIC go out as programmatic launches now, and could here; why not when they do not. */
    private boolean programmatic, programmaticAvailable;
    private String programmaticWhyNot;
    private long programmaticLaunches, programmaticEligible;
    private final java.util.Set<String> programmaticKernels = new java.util.TreeSet<>();
    /** The kernel launched last through {@link Launch}, or null after anything else that runs kernels. */
    private String previousLaunch;
    /** A programmatic launch went into the capture now open. */
    private boolean programmaticCaptured;
    /**
     * Why the driver refused a programmatic launch into the capture now open (null: it did not). The refusal has
     * invalidated the capture, so the rest of the step is only recorded, and StepGraphs issues it again without
     * programmatic launches.
     */
    private String captureRefused;
    private long computeHandle;
    /** The driver's CUfunction handles of the kernels launched programmatically, read once each. */
    private final Map<String, Long> functionHandles = new HashMap<>();

    private CudaRuntime(int ordinal, byte[] fatbin) {
        this.ordinal = ordinal;
        JCudaDriver.setExceptionsEnabled(false);
        CudaException.check(cuInit(0), "cuInit");
        CudaException.check(cuDeviceGet(device, ordinal), "cuDeviceGet");
        name = deviceName(device);
        ccMajor = attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
        ccMinor = attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
        multiprocessors = attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
        maxSharedPerBlockOptin = attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
        maxSharedPerMultiprocessor = attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR);
        totalMemory = totalMemory(device);
        int[] v = new int[1];
        CudaException.check(cuDriverGetVersion(v), "cuDriverGetVersion");
        driverVersion = v[0];

        CudaException.check(cuDevicePrimaryCtxRetain(context, device), "cuDevicePrimaryCtxRetain");
        makeCurrent();
        CudaException.check(cuStreamCreate(compute, CUstream_flags.CU_STREAM_NON_BLOCKING), "cuStreamCreate(compute)");
        CudaException.check(cuStreamCreate(copy, CUstream_flags.CU_STREAM_NON_BLOCKING), "cuStreamCreate(copy)");
        CudaException.check(cuModuleLoadData(module, fatbin), "cuModuleLoadData(cuda/augur.fatbin)");
        for (String k : Kernels.ALL) {
            CUfunction f = new CUfunction();
            CudaException.check(cuModuleGetFunction(f, module, k), "cuModuleGetFunction", k);
            functions.put(k, f);
        }
        String why = !pdlSetting(System.getProperty(KernelTuning.PDL)) ? "off (-D" + KernelTuning.PDL + "=off)"
                : ccMajor < 9 ? "needs compute capability 9.0, this is " + computeCapability()
                : NativeLaunch.unavailable();
        programmatic = why == null;
        programmaticAvailable = programmatic;
        programmaticWhyNot = why;
        if (programmatic) computeHandle = NativeLaunch.handle(compute);
    }

    /** "on" or why programmatic dependent launch is off, for the log and `augur info`. */
    public String programmaticLaunch() {
        return programmatic ? "on (the step's kernels start while the one before finishes)" : "off: " + programmaticWhyNot;
    }

    /** Whether kernels go out as programmatic launches now. */
    public boolean programmatic() { return programmatic; }

    /** Turns programmatic launches off for good (a device or driver that refused them). */
    void programmaticOff(String why) {
        if (!programmatic) return;
        programmatic = false;
        programmaticAvailable = false;
        programmaticWhyNot = why;
        LOG.warn("programmatic dependent launch turned off: {}", why);
    }

    /** Whether programmatic launches could go out here (the setting, the device and cuLaunchKernelEx allow them). */
    public boolean programmaticAvailable() { return programmaticAvailable; }

    /** Turns programmatic launches on (where available) or off: a backend's kernel settings, tests comparing the two. */
    public void setProgrammatic(boolean on) {
        programmatic = on && programmaticAvailable;
        if (!on && programmaticAvailable) programmaticWhyNot = "off (the backend's kernel settings: -D" + KernelTuning.PDL + "=off)";
    }

    /** Launches that went out programmatically so far, and the kernels they were of. */
    public long programmaticLaunches() { return programmaticLaunches; }

    /** Launches so far that go out programmatically where PDL is on and could be here, whether it was on or not. */
    public long programmaticEligibleLaunches() { return programmaticEligible; }

    public java.util.Set<String> programmaticKernels() { return java.util.Collections.unmodifiableSet(programmaticKernels); }

    /** Whether the capture just ended held programmatic launches, or a refused one. */
    boolean capturedProgrammatic() { return programmaticCaptured || captureRefused != null; }

    /** Why a programmatic launch into the last capture was refused, or null. */
    String captureRefused() { return captureRefused; }

    /** Opens device {@code ordinal} and loads the fatbin; throws {@link CudaException} naming the failing call. */
    public static CudaRuntime open(int ordinal, byte[] fatbin) {
        return new CudaRuntime(ordinal, fatbin);
    }

    private static int attribute(CUdevice device, int attr) {
        int[] v = new int[1];
        CudaException.check(cuDeviceGetAttribute(v, attr, device), "cuDeviceGetAttribute(" + attr + ")");
        return v[0];
    }

    private static String deviceName(CUdevice device) {
        byte[] nameBytes = new byte[256];
        CudaException.check(cuDeviceGetName(nameBytes, nameBytes.length, device), "cuDeviceGetName");
        int end = 0;
        while (end < nameBytes.length && nameBytes[end] != 0) end++;
        return new String(nameBytes, 0, end, StandardCharsets.UTF_8);
    }

    private static long totalMemory(CUdevice device) {
        long[] mem = new long[1];
        CudaException.check(cuDeviceTotalMem(mem, device), "cuDeviceTotalMem");
        return mem[0];
    }

    /** A device the driver shows, as {@code augur info} lists it (no context is made for it). */
    public record DeviceInfo(int ordinal, String name, String computeCapability, int multiprocessors, long totalMemory) {}

    /**
     * The devices the driver shows (those CUDA_VISIBLE_DEVICES leaves, numbered from 0 as cuda:N), read without
     * making a context on any of them; needs the driver, as {@link CudaProbe} found it.
     */
    public static List<DeviceInfo> visibleDevices() {
        JCudaDriver.setExceptionsEnabled(false);
        CudaException.check(cuInit(0), "cuInit");
        int[] n = new int[1];
        CudaException.check(cuDeviceGetCount(n), "cuDeviceGetCount");
        List<DeviceInfo> out = new ArrayList<>();
        for (int i = 0; i < n[0]; i++) {
            CUdevice d = new CUdevice();
            CudaException.check(cuDeviceGet(d, i), "cuDeviceGet");
            out.add(new DeviceInfo(i, deviceName(d), attribute(d, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR) + "."
                    + attribute(d, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR),
                    attribute(d, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT), totalMemory(d)));
        }
        return out;
    }

    /** Binds the context to the calling thread (a no-op when this runtime is the last to have bound one there). */
    public void makeCurrent() {
        if (BOUND.get() != context) {
            CudaException.check(cuCtxSetCurrent(context), "cuCtxSetCurrent");
            BOUND.set(context);
        }
    }

    public int ordinal() { return ordinal; }

    /** "9.0". */
    public String computeCapability() { return ccMajor + "." + ccMinor; }

    /** "13.0" from the driver's version number. */
    public String driverVersionString() { return (driverVersion / 1000) + "." + (driverVersion % 1000) / 10; }

    /** Free and total device memory, bytes. */
    public long[] memoryInfo() {
        long[] free = new long[1], total = new long[1];
        CudaException.check(cuMemGetInfo(free, total), "cuMemGetInfo");
        return new long[] {free[0], total[0]};
    }

    // ---------------------------------------------------------------- memory

    /** Allocates device memory and returns its address. */
    public long allocate(long bytes) {
        CUdeviceptr p = new CUdeviceptr();
        CudaException.check(cuMemAlloc(p, bytes), "cuMemAlloc(" + bytes + " bytes)");
        long[] addr = new long[1];
        CudaException.check(cuPointerGetAttribute(Pointer.to(addr), CUpointer_attribute.CU_POINTER_ATTRIBUTE_DEVICE_POINTER, p),
                "cuPointerGetAttribute");
        allocations.put(addr[0], new Allocation(addr[0], bytes, p));
        return addr[0];
    }

    /** Bytes of device memory this runtime has allocated and not freed. */
    public long allocatedBytes() {
        long n = 0;
        for (Allocation a : allocations.values()) n += a.bytes();
        return n;
    }

    /** Frees an allocation made by {@link #allocate} (after the work using it; this waits for both streams). */
    public void free(long address) {
        Allocation a = allocations.remove(address);
        if (a == null) throw new IllegalArgumentException("address 0x" + Long.toHexString(address) + " is not the start of a device allocation");
        synchronizeAll();
        CudaException.check(cuMemFree(a.ptr()), "cuMemFree(" + a.bytes() + " bytes)");
    }

    /** A CUdeviceptr for an address inside one of this runtime's allocations. */
    public CUdeviceptr pointer(long address) {
        Map.Entry<Long, Allocation> e = allocations.floorEntry(address);
        if (e == null || address >= e.getKey() + Math.max(1, e.getValue().bytes())) {
            throw new IllegalArgumentException("address 0x" + Long.toHexString(address) + " is not in a device allocation");
        }
        return e.getValue().ptr().withByteOffset(address - e.getKey());
    }

    /** Pinned (page-locked) host memory, as a native-order buffer; freed by close(). */
    public PinnedBuffer allocatePinned(long bytes) {
        Pointer p = new Pointer();
        CudaException.check(cuMemHostAlloc(p, bytes, 0), "cuMemHostAlloc(" + bytes + " bytes)");
        pinned.add(p);
        return new PinnedBuffer(p, p.getByteBuffer(0, bytes).order(ByteOrder.nativeOrder()));
    }

    /** Pinned host memory: the pointer the driver copies from and the buffer Java writes into. */
    public record PinnedBuffer(Pointer pointer, ByteBuffer buffer) {}

    /** Frees pinned memory of {@link #allocatePinned} before close(); no copy may still read it (the caller has waited). */
    public void freePinned(PinnedBuffer b) {
        boolean known = pinned.removeIf(p -> p == b.pointer());
        if (!known) throw new IllegalArgumentException("not pinned memory of this runtime, or freed already");
        CudaException.check(cuMemFreeHost(b.pointer()), "cuMemFreeHost(" + b.buffer().capacity() + " bytes)");
    }

    public CUevent event() {
        CUevent e = new CUevent();
        CudaException.check(cuEventCreate(e, CUevent_flags.CU_EVENT_DISABLE_TIMING), "cuEventCreate");
        events.add(e);
        return e;
    }

    /** An event that records time (for kernel timing and the ceilings); destroyed by close(). */
    public CUevent timingEvent() {
        CUevent e = new CUevent();
        CudaException.check(cuEventCreate(e, CUevent_flags.CU_EVENT_DEFAULT), "cuEventCreate(timing)");
        events.add(e);
        return e;
    }

    /** Milliseconds between two recorded timing events (both must have completed). */
    public static float elapsedMs(CUevent start, CUevent end) {
        float[] ms = new float[1];
        CudaException.check(cuEventElapsedTime(ms, start, end), "cuEventElapsedTime");
        return ms[0];
    }

    // ---------------------------------------------------------------- kernel timing

    /** Starts or stops timing each launch; times accumulate until {@link #resetTimes()}. */
    public void setTiming(boolean on) {
        timing = on;
    }

    public boolean timing() { return timing; }

    /**
     * Opens a timed region named {@code name} on the compute stream (a launch opens its own; a
     * GEMM provider that calls a library opens one around the call). Returns whether it did: not
     * while timing is off or inside another region, whose time then includes this work.
     */
    public boolean beginTimed(String name) {
        if (!timing || regionOpen) return false;
        int k = timedNames.size();
        if (k == MAX_PENDING_TIMED) {
            collectTimes();
            k = 0;
        }
        if (k == timingPairs.size()) timingPairs.add(new CUevent[] {timingEvent(), timingEvent()});
        CudaException.check(cuEventRecord(timingPairs.get(k)[0], compute), "cuEventRecord(timing start)", name);
        timedNames.add(name);
        regionOpen = true;
        return true;
    }

    /** Closes the region {@link #beginTimed} opened (when it returned true). */
    public void endTimed(boolean began) {
        if (!began) return;
        int k = timedNames.size() - 1;
        CudaException.check(cuEventRecord(timingPairs.get(k)[1], compute), "cuEventRecord(timing end)", timedNames.get(k));
        regionOpen = false;
    }

    /** Waits for the compute stream, adds the pending regions' times, and returns calls and seconds per name. */
    public Map<String, io.augur.backend.Profiling.OpStats> collectTimes() {
        if (!timedNames.isEmpty()) {
            synchronizeCompute();
            for (int k = 0; k < timedNames.size(); k++) {
                CUevent[] p = timingPairs.get(k);
                times.add(timedNames.get(k), elapsedMs(p[0], p[1]) / 1e3);
            }
            timedNames.clear();
        }
        return times.stats();
    }

    /** Drops the accumulated times (pending regions included). */
    public void resetTimes() {
        if (!timedNames.isEmpty()) synchronizeCompute();
        timedNames.clear();
        times.reset();
    }

    // ---------------------------------------------------------------- kernels

    /** Opts a kernel in to more than 48 KiB of dynamic shared memory. */
    public void setMaxDynamicShared(String kernel, int bytes) {
        // only ever raised: a smaller workspace planned later must not shrink the limit an earlier one launches with
        if (bytes <= maxDynamicShared.getOrDefault(kernel, 0)) return;
        CudaException.check(cuFuncSetAttribute(function(kernel), CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes),
                "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES=" + bytes + ")", kernel);
        maxDynamicShared.put(kernel, bytes);
    }

    /** The kernels opted in to clusters above the portable size (allowNonPortableClusters). */
    private final java.util.Set<String> nonPortableClusters = new java.util.HashSet<>();

    /**
     * Opts a kernel compiled with a cluster size above CUDA's portable 8 blocks (tower.cu's _cluster16_ kernels) in to
     * launching so (CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED = 1), once; before its occupancy queries and its
     * launches. Without it the driver refuses the launch (CUDA_ERROR_INVALID_CLUSTER_SIZE). Throws, naming the kernel,
     * where the driver refuses the attribute.
     */
    public void allowNonPortableClusters(String kernel) {
        if (nonPortableClusters.contains(kernel)) return;
        makeCurrent();
        CudaException.check(cuFuncSetAttribute(function(kernel), CUfunction_attribute.CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED, 1),
                "cuFuncSetAttribute(NON_PORTABLE_CLUSTER_SIZE_ALLOWED=1)", kernel);
        nonPortableClusters.add(kernel);
    }

    /**
     * Blocks of {@code threads} threads and {@code dynamicShared} bytes of dynamic shared memory that one
     * multiprocessor holds at once, by the driver's occupancy calculator (registers, shared memory and threads
     * together; set the kernel's dynamic shared limit first), or 0 where the driver does not say.
     */
    public int maxActiveBlocks(String kernel, int threads, long dynamicShared) {
        int[] n = new int[1];
        int r = JCudaDriver.cuOccupancyMaxActiveBlocksPerMultiprocessor(n, function(kernel), threads, dynamicShared);
        return r == jcuda.driver.CUresult.CUDA_SUCCESS ? n[0] : 0;
    }

    /**
     * Clusters of a kernel compiled with its cluster size (tower.cu's _clusterS_ kernels) that the device holds at once,
     * {@code gridX} blocks of {@code threads} threads and {@code dynamicShared} bytes of dynamic shared memory each (set the
     * kernel's dynamic shared limit first), by cuOccupancyMaxActiveClusters; a cluster's blocks share one GPC, so this can be
     * fewer than the multiprocessors' blocks divided by the cluster size. -1 where the driver (or the native library) cannot
     * say; 0 for a kernel without a compiled cluster size (what an H200's driver 580 answers).
     */
    public int maxActiveClusters(String kernel, int gridX, int threads, long dynamicShared) {
        if (dynamicShared > Integer.MAX_VALUE) return -1;
        makeCurrent();
        return NativeLaunch.maxActiveClusters(NativeLaunch.handle(function(kernel)), gridX, threads, (int) dynamicShared);
    }

    CUfunction function(String kernel) {
        CUfunction f = functions.get(kernel);
        if (f == null) throw new IllegalArgumentException("no kernel named " + kernel + " in cuda/augur.fatbin");
        return f;
    }

    /**
     * Launches a kernel now on the compute stream and waits for it, outside any graph step, and
     * returns the launch's CUresult (or the wait's) instead of throwing: a probe of whether this
     * device runs a launch configuration, e.g. clusters of blocks that each take most of an SM's
     * shared memory (which must be co-scheduled; the occupancy query for clusters is not in JCuda).
     * A configuration the device refuses fails at the launch without harming the context.
     */
    public int tryLaunch(String kernel, int gridX, int blockX, int sharedBytes, Args args) {
        if (inGraphStep()) throw new IllegalStateException("a probe launch of " + kernel + " inside a graph step");
        makeCurrent();
        // the work queued before the probe first, so that a fault of its own throws naming its kernel, not the probe
        synchronizeCompute();
        previousLaunch = null;
        int r = cuLaunchKernel(function(kernel), gridX, 1, 1, blockX, 1, 1, sharedBytes, compute, args.pointer(), null);
        if (r == CUresult.CUDA_SUCCESS) r = cuStreamSynchronize(compute);
        if (CudaException.isSticky(r)) CudaException.check(r, "probe launch", kernel);   // a fault is no refusal
        return r;
    }

    /** Launches a kernel on the compute stream (or into the capture, or checks it against the replayed graph). */
    public void launch(String kernel, int gridX, int gridY, int blockX, int blockY, int sharedBytes, Args args) {
        issue(new Launch(kernel, gridX, gridY, blockX, blockY, sharedBytes, args));
    }

    /** Sets {@code count} 32-bit words at {@code address} to {@code bits}, on the compute stream. */
    public void memsetAsync(long address, int bits, long count, String what) {
        issue(new Memset(address, bits, count, what));
    }

    /**
     * A library call that enqueues on the compute stream (cuBLAS): {@code key} holds every value the
     * call depends on, so a replayed step can tell whether it is still the captured one.
     */
    public void external(String name, long[] key, Runnable call) {
        issue(new External(name, key, call));
    }

    // ---------------------------------------------------------------- step capture (CUDA graphs)
    //
    // A training step issues the same operations with the same arguments every time (the device
    // addresses are fixed by the arena; the optimizer's step count lives in device memory). So the
    // step can be captured once into a CUDA graph and then replayed with one cuGraphLaunch. The
    // host still runs the step's Java code on a replay, as a dry run: every operation is compared
    // with the captured one instead of being issued, so the host's own bookkeeping (optimizer step
    // count, sparse-row counts) stays current, and a step that would issue anything else (another
    // batch size, a changed hyper-parameter, a restored step count) is caught: the operations
    // matched so far are issued from the log, the rest run eagerly, and the graph is dropped.

    /** A stream operation of a step. */
    interface Op {
        void issue();
        boolean sameAs(Op other);
        String describe();
    }

    private enum Mode { EAGER, CAPTURE, REPLAY }

    private Mode mode = Mode.EAGER;
    private List<Op> opLog;
    private int replayed;
    private String divergence;

    /** Whether a capture or a replay is under way (nothing synchronous may happen then). */
    public boolean inGraphStep() { return mode != Mode.EAGER; }

    private void issue(Op op) {
        switch (mode) {
            case EAGER -> op.issue();
            case CAPTURE -> {
                opLog.add(op);
                if (captureRefused == null) op.issue();   // after a refusal the capture is spoilt: record only
            }
            case REPLAY -> {
                if (replayed < opLog.size() && opLog.get(replayed).sameAs(op)) {
                    replayed++;
                    return;
                }
                divergence = "operation " + (replayed + 1) + " is " + op.describe() + ", the graph's "
                        + (replayed < opLog.size() ? opLog.get(replayed).describe() : "ends after " + opLog.size());
                leaveReplay();
                op.issue();
            }
        }
    }

    /** Issues the operations the dry run matched so far, then goes on eagerly. */
    private void leaveReplay() {
        mode = Mode.EAGER;
        for (int k = 0; k < replayed; k++) opLog.get(k).issue();
        opLog = null;
    }

    /** A captured step: the instantiated graph and the operations it holds (exec null when the capture failed). */
    record Captured(CUgraphExec exec, List<Op> ops, int error) {}

    /** Starts recording the compute stream's operations into a graph instead of running them. */
    void beginCapture() {
        if (mode != Mode.EAGER) throw new IllegalStateException("a capture inside a " + mode.name().toLowerCase(java.util.Locale.ROOT));
        CudaException.check(cuStreamBeginCapture(compute, CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL), "cuStreamBeginCapture");
        mode = Mode.CAPTURE;
        opLog = new ArrayList<>();
        programmaticCaptured = false;
        captureRefused = null;
    }

    /** Ends the capture and instantiates the graph; on failure exec is null and nothing has run yet. */
    Captured endCapture() {
        List<Op> ops = opLog;
        mode = Mode.EAGER;
        opLog = null;
        CUgraph graph = new CUgraph();
        int r = cuStreamEndCapture(compute, graph);
        if (r == CUresult.CUDA_SUCCESS && captureRefused != null) {
            // a driver that refused a launch without spoiling the capture: its graph lacks that launch and the rest
            cuGraphDestroy(graph);
            r = CUresult.CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
        }
        if (r != CUresult.CUDA_SUCCESS) return new Captured(null, ops, r);
        CUgraphExec exec = new CUgraphExec();
        r = cuGraphInstantiate(exec, graph, 0);
        cuGraphDestroy(graph);
        return r == CUresult.CUDA_SUCCESS ? new Captured(exec, ops, r) : new Captured(null, ops, r);
    }

    /** Runs operations eagerly (a capture that failed: its operations never ran). */
    void issueAll(List<Op> ops) {
        for (Op op : ops) op.issue();
    }

    /** Starts a dry run of a step against a captured graph's operations. */
    void beginReplay(List<Op> ops) {
        if (mode != Mode.EAGER) throw new IllegalStateException("a replay inside a " + mode.name().toLowerCase(java.util.Locale.ROOT));
        mode = Mode.REPLAY;
        opLog = ops;
        replayed = 0;
        divergence = null;
    }

    /**
     * Ends the dry run: true when the step issued exactly the graph's operations (launch the graph
     * now); false when it diverged, in which case everything has been issued eagerly and
     * {@link #divergence()} says where.
     */
    boolean endReplay() {
        if (mode != Mode.REPLAY) return false;
        if (replayed == opLog.size()) {
            mode = Mode.EAGER;
            opLog = null;
            return true;
        }
        divergence = "the step issued " + replayed + " operations, the graph holds " + opLog.size();
        leaveReplay();
        return false;
    }

    /** Leaves a capture or replay after an exception in the step (nothing more is issued). */
    void abandonStep() {
        if (mode == Mode.CAPTURE) {
            CUgraph g = new CUgraph();
            if (cuStreamEndCapture(compute, g) == CUresult.CUDA_SUCCESS) cuGraphDestroy(g);
        }
        mode = Mode.EAGER;
        opLog = null;
    }

    String divergence() { return divergence; }

    void launchGraph(CUgraphExec exec, String what) {
        lastKernel = what;
        previousLaunch = null;
        CudaException.check(cuGraphLaunch(exec, compute), "cuGraphLaunch", what);
    }

    void destroyGraph(CUgraphExec exec) {
        synchronizeCompute();
        cuGraphExecDestroy(exec);
    }

    private final class Launch implements Op {
        final String kernel;
        final int gridX, gridY, blockX, blockY, shared;
        final Args args;

        Launch(String kernel, int gridX, int gridY, int blockX, int blockY, int shared, Args args) {
            this.kernel = kernel;
            this.gridX = gridX;
            this.gridY = gridY;
            this.blockX = blockX;
            this.blockY = blockY;
            this.shared = shared;
            this.args = args;
        }

        @Override
        public void issue() {
            lastKernel = kernel;
            boolean timed = beginTimed(kernel);
            boolean eligible = Kernels.PROGRAMMATIC.contains(kernel) && previousLaunch != null && !Kernels.WRITE_WEIGHTS.contains(previousLaunch);
            if (eligible && programmaticAvailable) programmaticEligible++;
            boolean pdl = programmatic && eligible;
            previousLaunch = kernel;
            int r = pdl ? NativeLaunch.launch(functionHandles.computeIfAbsent(kernel, k -> NativeLaunch.handle(function(k))), computeHandle, gridX, gridY, blockX, blockY, shared, args, true)
                    : CUresult.CUDA_SUCCESS;
            if (pdl && r == CUresult.CUDA_SUCCESS) {
                programmaticLaunches++;
                programmaticKernels.add(kernel);
                if (mode == Mode.CAPTURE) programmaticCaptured = true;
            }
            if (pdl && r != CUresult.CUDA_SUCCESS && !CudaException.isSticky(r)) {
                String why = "cuLaunchKernelEx(" + kernel + ") returned " + CudaException.name(r);
                if (mode == Mode.CAPTURE) {
                    // the refusal has invalidated the capture: the plain launch would be refused too (StepGraphs takes over)
                    captureRefused = why;
                    endTimed(timed);
                    return;
                }
                // refused before it ran (a driver that takes no programmatic launch): the plain way from now on
                programmaticOff(why);
                pdl = false;
            }
            if (!pdl) r = cuLaunchKernel(function(kernel), gridX, gridY, 1, blockX, blockY, 1, shared, compute, args.pointer(), null);
            CudaException.check(r, pdl ? "cuLaunchKernelEx" : "cuLaunchKernel", kernel);
            endTimed(timed);
        }

        @Override
        public boolean sameAs(Op other) {
            return other instanceof Launch l && l.kernel.equals(kernel) && l.gridX == gridX && l.gridY == gridY && l.blockX == blockX
                    && l.blockY == blockY && l.shared == shared && l.args.sameAs(args);
        }

        @Override
        public String describe() { return kernel + "<<<(" + gridX + "," + gridY + "), (" + blockX + "," + blockY + "), " + shared + ">>>" + args; }
    }

    private final class Memset implements Op {
        final long address, count;
        final int bits;
        final String what;

        Memset(long address, int bits, long count, String what) {
            this.address = address;
            this.bits = bits;
            this.count = count;
            this.what = what;
        }

        @Override
        public void issue() {
            previousLaunch = null;   // a graph's programmatic edges join kernel nodes only
            CudaException.check(cuMemsetD32Async(pointer(address), bits, count, compute), "cuMemsetD32Async(" + what + ")", lastKernel);
        }

        @Override
        public boolean sameAs(Op other) {
            return other instanceof Memset m && m.address == address && m.bits == bits && m.count == count;
        }

        @Override
        public String describe() { return "memset(" + what + ", " + count + " words of 0x" + Integer.toHexString(bits) + ")"; }
    }

    private final class External implements Op {
        final String name;
        final long[] key;
        final Runnable call;

        External(String name, long[] key, Runnable call) {
            this.name = name;
            this.key = key;
            this.call = call;
        }

        @Override
        public void issue() {
            previousLaunch = null;  // a library's kernels, which this class does not see
            call.run();
        }

        @Override
        public boolean sameAs(Op other) {
            return other instanceof External e && e.name.equals(name) && java.util.Arrays.equals(e.key, key);
        }

        @Override
        public String describe() { return name + java.util.Arrays.toString(key); }
    }

    /** The most recently launched kernel, for error messages of later calls. */
    public String lastKernel() { return lastKernel; }

    /** Waits for the compute stream; an asynchronous kernel fault surfaces here, named by the last kernel. */
    public void synchronizeCompute() {
        CudaException.check(cuStreamSynchronize(compute), "cuStreamSynchronize(compute)", lastKernel);
    }

    public void synchronizeAll() {
        CudaException.check(cuStreamSynchronize(copy), "cuStreamSynchronize(copy)");
        synchronizeCompute();
    }

    /**
     * Waits for the legacy default stream, where the synchronous cuMemcpyHtoD and cuMemsetD32 run.
     * The compute and copy streams are CU_STREAM_NON_BLOCKING, so they do not wait for it, and a
     * synchronous copy from pageable memory may return before its DMA has finished (CUDA's "API
     * synchronization behavior"): after such calls, and before kernels read what they wrote, wait here.
     */
    public void synchronizeLegacy() {
        CudaException.check(cuStreamSynchronize(new CUstream()), "cuStreamSynchronize(legacy default stream)", lastKernel);
    }

    /**
     * Kernel parameters: one value per argument, in order. Kept as raw values, so two launches can
     * be compared (a replayed step against its graph) and a logged launch issued again.
     */
    public static final class Args {
        private static final byte PTR = 0, INT = 1, FLOAT = 2, STRUCT = 3;
        private long[] raw = new long[16];
        private byte[] kinds = new byte[16];
        private byte[][] structs;
        private int n;

        private Args add(byte kind, long v) {
            if (n == raw.length) {
                raw = java.util.Arrays.copyOf(raw, 2 * n);
                kinds = java.util.Arrays.copyOf(kinds, 2 * n);
            }
            kinds[n] = kind;
            raw[n++] = v;
            return this;
        }

        public Args ptr(long address) { return add(PTR, address); }
        public Args i(int v) { return add(INT, v); }
        public Args f(float v) { return add(FLOAT, Float.floatToRawIntBits(v)); }

        /** A struct passed by value: its bytes from position to limit, copied now. */
        public Args struct(ByteBuffer bytes) {
            byte[] copy = new byte[bytes.remaining()];
            bytes.duplicate().get(copy);
            if (structs == null) structs = new byte[raw.length][];
            if (structs.length <= n) structs = java.util.Arrays.copyOf(structs, Math.max(raw.length, 2 * (n + 1)));
            structs[n] = copy;
            return add(STRUCT, copy.length);
        }

        /** The parameters' values in one direct buffer, parameter k at offsets[k] (8-byte aligned), for cuLaunchKernelEx. */
        record Packed(ByteBuffer values, int[] offsets) {}

        Packed pack() {
            int[] at = new int[n];
            int bytes = 0;
            for (int k = 0; k < n; k++) {
                at[k] = bytes;
                bytes += (kinds[k] == STRUCT ? (int) raw[k] + 7 : 8) & ~7;
            }
            ByteBuffer b = ByteBuffer.allocateDirect(Math.max(bytes, 8)).order(ByteOrder.nativeOrder());
            for (int k = 0; k < n; k++) {
                switch (kinds[k]) {
                    case PTR -> b.putLong(at[k], raw[k]);
                    case INT, FLOAT -> b.putInt(at[k], (int) raw[k]);
                    default -> b.put(at[k], structs[k]);
                }
            }
            return new Packed(b, at);
        }

        /** The cuLaunchKernel parameter array. */
        public Pointer pointer() {
            NativePointerObject[] p = new NativePointerObject[n];
            for (int k = 0; k < n; k++) {
                p[k] = switch (kinds[k]) {
                    case PTR -> Pointer.to(new long[] {raw[k]});
                    case INT -> Pointer.to(new int[] {(int) raw[k]});
                    case FLOAT -> Pointer.to(new float[] {Float.intBitsToFloat((int) raw[k])});
                    default -> {
                        ByteBuffer b = ByteBuffer.allocateDirect(structs[k].length).order(ByteOrder.nativeOrder());
                        b.put(structs[k]).flip();
                        yield Pointer.to(b);
                    }
                };
            }
            return Pointer.to(p);
        }

        boolean sameAs(Args o) {
            if (o.n != n || !java.util.Arrays.equals(kinds, 0, n, o.kinds, 0, n) || !java.util.Arrays.equals(raw, 0, n, o.raw, 0, n)) return false;
            for (int k = 0; k < n; k++) {
                if (kinds[k] == STRUCT && !java.util.Arrays.equals(structs[k], o.structs[k])) return false;
            }
            return true;
        }

        @Override
        public String toString() {
            StringBuilder sb = new StringBuilder("(");
            for (int k = 0; k < n; k++) {
                if (k > 0) sb.append(", ");
                switch (kinds[k]) {
                    case PTR -> sb.append("0x").append(Long.toHexString(raw[k]));
                    case INT -> sb.append((int) raw[k]);
                    case FLOAT -> sb.append(Float.intBitsToFloat((int) raw[k]));
                    default -> sb.append("struct of ").append(raw[k]).append(" bytes");
                }
            }
            return sb.append(')').toString();
        }
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        makeCurrent();
        cuStreamSynchronize(copy);
        cuStreamSynchronize(compute);
        for (Allocation a : allocations.values()) cuMemFree(a.ptr());
        allocations.clear();
        for (Pointer p : pinned) cuMemFreeHost(p);
        pinned.clear();
        for (CUevent e : events) cuEventDestroy(e);
        cuModuleUnload(module);
        cuStreamDestroy(copy);
        cuStreamDestroy(compute);
        cuDevicePrimaryCtxRelease(device);
    }
}
