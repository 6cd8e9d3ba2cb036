package io.augur.backend.cuda;

import io.augur.backend.Tensor;

/**
 * A kernel launched one element past its tensors' end, run in a JVM of its own by
 * {@link EmulatorGuardTest} (a fault leaves the CUDA context unusable, so it cannot share the
 * test JVM's backend). {@code args[0]}: "write" (the output is one float short) or "read" (the
 * input is). Prints what the synchronize after the launch threw and then that the JVM is still
 * running; exits 0 either way, so the test reads the verdict from the output.
 */
final class IllegalAccessProbe {
    private IllegalAccessProbe() {}

    public static void main(String[] args) {
        boolean write = args.length > 0 && args[0].equals("write");
        CudaBackend be = GpuTesting.backend();
        if (be == null) {
            System.out.println("no device: " + GpuTesting.reason());
            return;
        }
        int n = 1000;
        Tensor y = be.floats("probe.y", write ? n : n + 1), x = be.floats("probe.x", write ? n + 1 : n);
        be.fill(y, 0f, y.size());
        be.fill(x, 0.5f, x.size());
        be.synchronize();
        System.out.println("separate allocations: " + Boolean.getBoolean(CudaBackend.SEPARATE_ALLOCATIONS));
        // y[i] = sigmoid(x[i]) for i < n + 1: one float past the shorter tensor's end
        be.runtime().launch("sigmoid_forward_kernel", 4, 1, 256, 1, 0,
                new CudaRuntime.Args().ptr(((CudaTensor) y).address()).ptr(((CudaTensor) x).address()).i(n + 1));
        try {
            be.runtime().synchronizeCompute();
            System.out.println("no error");
        } catch (CudaException e) {
            System.out.println("threw: " + e.getMessage());
        }
        System.out.println("the JVM goes on");
    }
}
