package io.augur.backend.cuda;

import io.augur.backend.Tensor;

/**
 * A kernel launched one element past its tensors' end, run in a JVM of its own by
 * {@link EmulatorGuardTest} (a fault leaves the CUDA context unusable, so it cannot share the
 * test JVM's backend). {@code args[0]}: "write" (the output is one float short) or "read" (the
 * input is): one float past the end; "write-before" or "read-before": the output's or the input's
 * address moved one float back, so the kernel touches the float before its start. Prints what the
 * synchronize after the launch threw and then that the JVM is still running; exits 0 either way,
 * so the test reads the verdict from the output. "alias": the output passed as the input too, two
 * {@code __restrict__} parameters of the kernel naming one tensor. "shared": a kernel given one float
 * less dynamic shared memory than it uses. "static": a kernel with static shared memory given as much
 * dynamic shared memory as it asks for, but so much that the two together pass the 48 KiB a block has
 * without the opt-in.
 */
final class IllegalAccessProbe {
    private IllegalAccessProbe() {}

    public static void main(String[] args) {
        String mode = args.length > 0 ? args[0] : "write";
        boolean write = mode.startsWith("write"), before = mode.endsWith("-before");
        CudaBackend be = GpuTesting.backend();
        if (be == null) {
            System.out.println("no device: " + GpuTesting.reason());
            return;
        }
        int n = 1000;
        Tensor y = be.floats("probe.y", write || before ? n : n + 1), x = be.floats("probe.x", write && !before ? n + 1 : n);
        be.fill(y, 0f, y.size());
        be.fill(x, 0.5f, x.size());
        be.synchronize();
        System.out.println("separate allocations: " + Boolean.getBoolean(CudaBackend.SEPARATE_ALLOCATIONS));
        long yAt = ((CudaTensor) y).address(), xAt = ((CudaTensor) x).address();
        try {
            if (mode.equals("shared")) {
                // the pool kernel keeps T = 9 weights in dynamic shared memory; it is given 8 floats' worth
                int T = 9;
                Tensor lengths = be.ints("probe.len", 1), score = be.floats("probe.score", T), weights = be.floats("probe.weights", T);
                be.upload(lengths, new int[] {T}, 1);
                be.synchronize();   // allocates what was only planned
                be.runtime().launch("activation_unit_pool_forward_kernel", 1, 1, 32, 1, 4 * (T - 1), new CudaRuntime.Args().ptr(0)
                        .ptr(((CudaTensor) weights).address()).ptr(0).ptr(((CudaTensor) score).address()).ptr(((CudaTensor) score).address())
                        .ptr(((CudaTensor) lengths).address()).ptr(0).i(T).i(1).i(0).ptr(0).ptr(0).ptr(0).i(0).i(0));
            } else if (mode.equals("static")) {
                // the pool kernel keeps its T weights in dynamic shared memory (4 T bytes, 49,024 here) beside its
                // static scratch (at least 32 doubles): within 48 KiB alone, past it together
                int T = 12_256;
                Tensor lengths = be.ints("probe.len", 1), score = be.floats("probe.score", T), weights = be.floats("probe.weights", T);
                be.upload(lengths, new int[] {1}, 1);
                be.synchronize();
                be.runtime().launch("activation_unit_pool_forward_kernel", 1, 1, 32, 1, 4 * T, new CudaRuntime.Args().ptr(0)
                        .ptr(((CudaTensor) weights).address()).ptr(0).ptr(((CudaTensor) score).address()).ptr(((CudaTensor) score).address())
                        .ptr(((CudaTensor) lengths).address()).ptr(0).i(T).i(1).i(0).ptr(0).ptr(0).ptr(0).i(0).i(0));
            } else if (mode.equals("alias")) {
                // y = sigmoid(y): the output and the input are both __restrict__, and the same tensor
                be.runtime().launch("sigmoid_forward_kernel", 4, 1, 256, 1, 0, new CudaRuntime.Args().ptr(yAt).ptr(yAt).i(n));
            } else if (before) {
                // y[i] = sigmoid(x[i]) for i < n, one of them addressed one float early
                if (write) yAt -= 4;
                else xAt -= 4;
                be.runtime().launch("sigmoid_forward_kernel", 4, 1, 256, 1, 0, new CudaRuntime.Args().ptr(yAt).ptr(xAt).i(n));
            } else {
                // y[i] = sigmoid(x[i]) for i < n + 1: one float past the shorter tensor's end
                be.runtime().launch("sigmoid_forward_kernel", 4, 1, 256, 1, 0, new CudaRuntime.Args().ptr(yAt).ptr(xAt).i(n + 1));
            }
            be.runtime().synchronizeCompute();
            System.out.println("no error");
            float[] got = new float[1];
            be.download(y, got, 1);
            System.out.println("y[0] = " + got[0]);
        } catch (CudaException e) {
            System.out.println("threw: " + e.getMessage());
        }
        System.out.println("the JVM goes on");
    }
}
