package io.augur.backend.cuda;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.augur.backend.Backend;
import io.augur.backend.Backends;
import io.augur.backend.Tensor;
import io.augur.backend.cpu.CpuBackend;
import io.augur.cli.CliTest;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code --device cuda:N}: a backend on any device the driver shows, the same results there, two devices'
 * backends used in turn on one thread (each call binds its own context there), and a device number past the
 * visible ones refused with how many there are. The emulated test run shows two devices (AUGUR_EMU_DEVICES=2 in
 * pom.xml); on a machine with one GPU the two-device cases skip. They carry the tag {@code two-gpus}, which
 * scripts/gpu-check.sh leaves out where fewer than two devices are visible (and {@code emulator}, which it always
 * leaves out: the emulator's own checks), so that a skip there still means a GPU the tests could not use.
 */
@Tag("gpu")
class CudaDevicesTest {

    private static int visible() {
        GpuTesting.assumeGpu();
        return CudaRuntime.visibleDevices().size();
    }

    private static void assumeTwo() {
        Assumptions.assumeTrue(visible() >= 2, "one CUDA device is visible: nothing to choose between");
    }

    @Test
    void aDeviceNumberPastTheVisibleOnesIsRefusedSayingHowManyThereAre() {
        int n = visible();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Backends.create("cuda:" + n, 1).close());
        assertTrue(e.getMessage().contains("--device cuda:" + n + " cannot run") && e.getMessage().contains("device cuda:" + n + " does not exist: "
                + n + " CUDA device"), e.getMessage());
    }

    /** The list augur info prints: each device once, numbered from 0, cuda:0 the shared backend's. */
    @Test
    void theVisibleDevicesAreListedInOrder() {
        GpuTesting.assumeGpu();
        List<CudaRuntime.DeviceInfo> all = CudaRuntime.visibleDevices();
        for (int i = 0; i < all.size(); i++) assertEquals(i, all.get(i).ordinal());
        assertEquals(GpuTesting.backend().runtime().name, all.get(0).name());
        assertEquals(GpuTesting.backend().runtime().computeCapability(), all.get(0).computeCapability());
    }

    /** augur info lists the devices and details the one asked for; past the last, it says so and still lists them. */
    @Test
    @Tag("two-gpus")
    void infoShowsTheDeviceAskedFor() {
        assumeTwo();
        CliTest.Result r = CliTest.run("info", "--device", "cuda:1");
        assertEquals(0, r.code(), r.toString());
        assertTrue(r.out().contains("device     cuda:0 ") && r.out().contains("device     cuda:1 "), r.toString());
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("gpu        cuda:1 ")), r.toString());
        int n = visible();
        CliTest.Result far = CliTest.run("info", "--device", "cuda:" + n);
        assertTrue(far.out().contains("cuda: not available: device cuda:" + n + " does not exist") && far.out().contains("device     cuda:1 "),
                far.toString());
    }

    /**
     * Device 1's backend and the shared one (device 0) take turns on this thread: each op binds its own context
     * first, so both give the CPU's product (the emulator refuses a launch whose function, stream or memory belongs
     * to another context than the thread's: a runtime that took "bound on this thread once" for "bound now" failed
     * here, launching device 0's kernels in device 1's context).
     */
    @Test
    @Tag("two-gpus")
    void twoDevicesTakeTurnsOnOneThread() {
        assumeTwo();
        CudaBackend zero = GpuTesting.backend();
        int B = 37, in = 45, out = 29;
        SplittableRandom rnd = new SplittableRandom(11);
        float[] x = GpuTesting.uniform(rnd, B * in, -1f, 1f), w = GpuTesting.uniform(rnd, in * out, -1f, 1f), bias = GpuTesting.uniform(rnd, out, -1f, 1f);
        float[] want = linear(new CpuBackend(false, 1), x, w, bias, B, in, out);
        try (Backend one = Backends.create("cuda:1", 1)) {
            CudaBackend cb = (CudaBackend) one;
            assertEquals(1, cb.runtime().ordinal());
            assertTrue(cb.deviceLabel().startsWith("cuda:1 "), cb.deviceLabel());
            assertTrue(cb.describe().startsWith("CUDA on cuda:1 "), cb.describe());
            for (int round = 0; round < 2; round++) {
                assertArrayEquals(want, linear(one, x, w, bias, B, in, out), 1e-4f, "device 1, round " + round);
                assertArrayEquals(want, linear(zero, x, w, bias, B, in, out), 1e-4f, "device 0, round " + round);
            }
        }
        assertArrayEquals(want, linear(zero, x, w, bias, B, in, out), 1e-4f, "device 0 after device 1's backend closed");
    }

    private static float[] linear(Backend be, float[] x, float[] w, float[] bias, int B, int in, int out) {
        Tensor tx = be.floats("devices.x", B, in), tw = be.floats("devices.w", in, out), tb = be.floats("devices.b", out), ty = be.floats("devices.y", B, out);
        be.upload(tx, x, x.length);
        be.upload(tw, w, w.length);
        be.upload(tb, bias, bias.length);
        be.linear(ty, tx, tw, tb, B, in, out);
        float[] y = new float[B * out];
        be.download(ty, y, y.length);
        return y;
    }

    /**
     * The same training on cuda:1 as on cuda:0: the summary names the device it ran on, and with the same kind of
     * device (same name) the metrics are the same bits (Augur's kernels sum in a fixed order, no atomics).
     */
    @Test
    @Tag("two-gpus")
    void trainingOnTheSecondDeviceMatchesTheFirst(@TempDir Path tmp) throws IOException {
        assumeTwo();
        Path data = tmp.resolve("world");
        assertEquals(0, CliTest.run(CliTest.args(new String[] {"generate", "--out", data.toString()}, CliTest.TINY_WORLD)).code());
        JsonNode[] s = new JsonNode[2];
        for (int d = 0; d < 2; d++) {
            Path run = tmp.resolve("run" + d);
            CliTest.Result r = CliTest.run(CliTest.args(new String[] {"train", "--device", "cuda:" + d, "--data", data.toString(), "--out",
                    run.toString(), "--model", "din", "--epochs", "1", "--batch-size", "128", "--seed", "5"}, CliTest.TINY_MODEL));
            assertEquals(0, r.code(), r.toString());
            s[d] = new ObjectMapper().readTree(run.resolve("summary.json").toFile());
            assertTrue(s[d].path("device").asText().startsWith("cuda:" + d + " "), s[d].path("device").asText());
        }
        List<CudaRuntime.DeviceInfo> all = CudaRuntime.visibleDevices();
        Assumptions.assumeTrue(all.get(0).name().replaceAll(", device \\d+$", "").equals(all.get(1).name().replaceAll(", device \\d+$", "")),
                "two kinds of GPU: their sums may differ in the last bits");
        for (String k : new String[] {"test_auc", "test_gauc", "test_logloss", "best_valid_auc"})
            assertEquals(s[0].path(k).asDouble(), s[1].path(k).asDouble(), 0.0, k);
    }

    /**
     * The emulator's own checks, which the cases above rely on: a thread with no current context gets
     * CUDA_ERROR_INVALID_CONTEXT, as from NVIDIA's driver; a launch of device 0's kernel in device 1's context is
     * refused with it; a kernel on device 1 given device 0's memory is refused (a fault on a GPU without peer access).
     */
    @Test
    @Tag("two-gpus")
    @Tag("emulator")
    void theEmulatorRefusesWhatAnotherContextOwns() throws InterruptedException {
        assumeTwo();
        Assumptions.assumeTrue(GpuTesting.emulated(), "a check of the CPU emulator's");
        int[] code = new int[1];
        Thread bare = new Thread(() -> code[0] = JCudaDriver.cuMemAlloc(new CUdeviceptr(), 64));
        bare.start();
        bare.join();
        assertEquals(CUresult.CUDA_ERROR_INVALID_CONTEXT, code[0], CUresult.stringFor(code[0]));

        CudaBackend zero = GpuTesting.backend();
        Tensor y = zero.floats("devices.guard.y", 32), x = zero.floats("devices.guard.x", 32);
        zero.fill(x, 1f, 32);
        zero.synchronize();
        try (CudaBackend one = (CudaBackend) Backends.create("cuda:1", 1)) {
            CudaRuntime rt1 = one.runtime();
            Tensor warm = one.floats("devices.guard.warm", 1);
            one.fill(warm, 0f, 1);   // device 1's arena allocated, its context bound here
            one.synchronize();
            int foreignFunction = JCudaDriver.cuLaunchKernel(zero.runtime().function(Kernels.SIGMOID_FORWARD), 1, 1, 1, 32, 1, 1, 0, null,
                    Pointer.to(new Pointer[0]), null);
            assertEquals(CUresult.CUDA_ERROR_INVALID_CONTEXT, foreignFunction, CUresult.stringFor(foreignFunction));
            int foreignMemory = rt1.tryLaunch(Kernels.SIGMOID_FORWARD, 1, 32, 0,
                    new CudaRuntime.Args().ptr(((CudaTensor) y).address()).ptr(((CudaTensor) x).address()).i(32));
            assertEquals(CUresult.CUDA_ERROR_INVALID_VALUE, foreignMemory, CUresult.stringFor(foreignMemory));
        }
        float[] back = new float[32];
        zero.download(x, back, 32);
        assertEquals(1f, back[31], "device 0 still works");
    }
}
