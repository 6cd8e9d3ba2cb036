package io.augur.backend.cuda;

import jcuda.driver.CUresult;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Device selection: each check that can fail stops the probe with its own reason, cheapest first. */
class CudaProbeTest {

    /** Every check passes unless told otherwise; records which ran. */
    static class Fake implements CudaProbe.Checks {
        final List<String> ran = new ArrayList<>();
        Path lib = Path.of("/usr/lib/x86_64-linux-gnu/libcuda.so.1");
        byte[] fatbin = {1, 2, 3};
        RuntimeException binding;
        LinkageError bindingLink;
        int init = CUresult.CUDA_SUCCESS;
        int devices = 1;
        RuntimeException open;

        @Override public Path findLibcuda() { ran.add("lib"); return lib; }
        @Override public byte[] fatbin() { ran.add("fatbin"); return fatbin; }
        @Override public void loadBinding() {
            ran.add("binding");
            if (binding != null) throw binding;
            if (bindingLink != null) throw bindingLink;
        }
        @Override public int initDriver() { ran.add("init"); return init; }
        @Override public int deviceCount() { ran.add("count"); return devices; }
        int opened = -1;

        @Override public CudaBackend open(byte[] f, int ordinal) {
            ran.add("open");
            opened = ordinal;
            if (open != null) throw open;
            throw new IllegalStateException("a fake cannot open a backend");
        }
    }

    @Test
    void noDriverStopsBeforeAnyNativeLibraryLoads() {
        Fake f = new Fake();
        f.lib = null;
        CudaProbe.Outcome o = CudaProbe.open(f);
        assertFalse(o.available());
        assertTrue(o.reason().contains("libcuda.so.1"), o.reason());
        assertEquals(List.of("lib"), f.ran);
    }

    @Test
    void noKernelsInTheBuild() {
        Fake f = new Fake();
        f.fatbin = null;
        CudaProbe.Outcome o = CudaProbe.open(f);
        assertTrue(o.reason().contains("no CUDA kernels") && o.reason().contains("nvcc"), o.reason());
        assertEquals(List.of("lib", "fatbin"), f.ran);
    }

    @Test
    void bindingThatDoesNotLoad() {
        Fake f = new Fake();
        f.bindingLink = new UnsatisfiedLinkError("libcuda.so.1: cannot open shared object file");
        CudaProbe.Outcome o = CudaProbe.open(f);
        assertTrue(o.reason().startsWith("JCuda's driver binding did not load (UnsatisfiedLinkError: libcuda.so.1"), o.reason());
        assertFalse(f.ran.contains("init"));
    }

    @Test
    void noDeviceFromInitOrFromTheCount() {
        Fake f = new Fake();
        f.init = CUresult.CUDA_ERROR_NO_DEVICE;
        String r = CudaProbe.open(f).reason();
        assertTrue(r.startsWith("no CUDA device is visible") && r.contains("CUDA_ERROR_NO_DEVICE (100)"), r);
        Fake g = new Fake();
        g.devices = 0;
        assertTrue(CudaProbe.open(g).reason().contains("cuDeviceGetCount = 0"));
        assertFalse(g.ran.contains("open"));
    }

    @Test
    void kernelsThatDoNotLoadNameTheCall() {
        Fake f = new Fake();
        f.open = new CudaException(CUresult.CUDA_ERROR_NO_BINARY_FOR_GPU, "cuModuleLoadData(cuda/augur.fatbin)", null);
        CudaProbe.Outcome o = CudaProbe.open(f);
        assertNull(o.backend());
        assertTrue(o.reason().startsWith("the CUDA backend could not start: cuModuleLoadData(cuda/augur.fatbin): CUDA_ERROR_NO_BINARY_FOR_GPU"), o.reason());
        assertEquals(List.of("lib", "fatbin", "binding", "init", "count", "open"), f.ran);
    }

    /** cuda:N opens device N; one past the visible devices stops before opening, saying how many there are. */
    @Test
    void theDeviceNumberIsCheckedAgainstTheVisibleDevices() {
        Fake two = new Fake();
        two.devices = 2;
        two.open = new CudaException(CUresult.CUDA_ERROR_OUT_OF_MEMORY, "cuMemAlloc(arena)", null);
        CudaProbe.open(two, 1);
        assertEquals(1, two.opened, "the device asked for is the one opened");
        CudaProbe.open(two);
        assertEquals(0, two.opened, "cuda and auto open device 0");

        Fake f = new Fake();
        f.devices = 2;
        CudaProbe.Outcome past = CudaProbe.open(f, 2);
        String r = past.reason();
        assertTrue(r.startsWith("device cuda:2 does not exist: 2 CUDA devices are visible (cuda:0 to cuda:1"), r);
        assertEquals(2, past.visible(), "augur info lists them from it");
        assertFalse(f.ran.contains("open"), f.ran.toString());
        Fake one = new Fake();
        String r1 = CudaProbe.open(one, 1).reason();
        assertTrue(r1.startsWith("device cuda:1 does not exist: 1 CUDA device is visible (cuda:0"), r1);
    }

    @Test
    void libcudaIsFoundInAnLdCache(@TempDir Path tmp) throws IOException {
        Path lib = Files.createFile(tmp.resolve("libcuda.so.1"));
        Path cache = tmp.resolve("ld.so.cache");
        Files.write(cache, ("glibc-ld.so.cache1.1\0libcuda.so.1\0" + lib + "\0libm.so.6\0/lib/libm.so.6\0").getBytes(StandardCharsets.ISO_8859_1));
        assertEquals(lib, CudaProbe.fromLdCache(cache));
        assertNull(CudaProbe.fromLdCache(tmp.resolve("missing")));
    }
}
