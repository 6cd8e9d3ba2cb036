package io.augur.backend.cuda;

import java.lang.reflect.Method;
import java.nio.ByteBuffer;

import jcuda.NativePointerObject;

/**
 * cuLaunchKernelEx, which JCuda 12.6 does not bind, through the small JNI library the build makes
 * from java/src/main/native/augur_launch.c ({@link NativeLibrary}). Augur uses
 * it for programmatic dependent launch (CudaRuntime). Where the library or the driver's function is
 * missing, {@link #unavailable()} says why and the runtime launches the plain way.
 */
final class NativeLaunch {
    private NativeLaunch() {}

    private static final Method NATIVE_POINTER = nativePointerMethod();
    private static final String UNAVAILABLE = load();

    private static native int bind();

    private static native int launch(long function, long stream, int gx, int gy, int bx, int by, int shared, ByteBuffer values,
                                     int[] offsets, int count, boolean programmatic);

    private static native int activeClusters(long function, int gx, int bx, int shared);

    /** Null when launches can go through cuLaunchKernelEx, else why not. */
    static String unavailable() { return UNAVAILABLE; }

    private static String load() {
        if (NativeLibrary.error() != null) return NativeLibrary.error();
        if (NATIVE_POINTER == null) return "JCuda's handles do not expose their native pointers";
        return switch (bind()) {
            case 0 -> null;
            case 1 -> "libcuda.so.1 did not load";
            default -> "the driver has no cuLaunchKernelEx (CUDA 12.0 and newer)";
        };
    }

    private static Method nativePointerMethod() {
        try {
            Method m = NativePointerObject.class.getDeclaredMethod("getNativePointer");
            m.setAccessible(true);
            return m;
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null;
        }
    }

    /** The driver's handle inside a JCuda object (CUfunction, CUstream). */
    static long handle(NativePointerObject o) {
        try {
            return (long) NATIVE_POINTER.invoke(o);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("JCuda handle " + o, e);
        }
    }

    /**
     * cuOccupancyMaxActiveClusters for {@code function} (a kernel compiled with its cluster size) with grid (gx, 1, 1), block
     * (bx, 1, 1) and {@code shared} bytes of dynamic shared memory a block: the clusters the device holds at once, or -1 where
     * this cannot be asked (no library, a driver without the function) or the driver refused (its dynamic shared limit
     * below {@code shared}, say).
     */
    static int maxActiveClusters(long function, int gx, int bx, int shared) {
        if (NativeLibrary.error() != null) return -1;
        int n;
        try {
            n = activeClusters(function, gx, bx, shared);
        } catch (UnsatisfiedLinkError e) {   // a libaugur_launch.so built before the function was added
            return -1;
        }
        return Math.max(n, -1);
    }

    /**
     * cuLaunchKernelEx of {@code function} on {@code stream} with grid (gx, gy, 1), block (bx, by, 1),
     * {@code shared} bytes of dynamic shared memory and the parameters in {@code args}; with the
     * programmatic-stream-serialization attribute when {@code programmatic}. Returns the CUresult.
     */
    static int launch(long function, long stream, int gx, int gy, int bx, int by, int shared, CudaRuntime.Args args, boolean programmatic) {
        if (UNAVAILABLE != null) throw new IllegalStateException("cuLaunchKernelEx is unavailable: " + UNAVAILABLE);
        CudaRuntime.Args.Packed p = args.pack();
        return launch(function, stream, gx, gy, bx, by, shared, p.values(), p.offsets(), p.offsets().length, programmatic);
    }
}
