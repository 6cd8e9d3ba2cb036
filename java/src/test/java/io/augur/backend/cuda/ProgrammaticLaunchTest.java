package io.augur.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The host's side of programmatic dependent launch, without a GPU: the setting, the parameter
 * buffer cuLaunchKernelEx gets, and the kernel lists. (That the launches change no result, and
 * that each kernel waits before it reads what the kernel before wrote, is checked on a GPU or the
 * emulator: CudaTrainingParityTest.programmaticLaunchesChangeNoBits, and the emulator's check.)
 */
class ProgrammaticLaunchTest {
    @Test
    void theSettingTakesAutoOrOff() {
        assertTrue(CudaRuntime.pdlSetting(null));
        assertTrue(CudaRuntime.pdlSetting("auto"));
        assertFalse(CudaRuntime.pdlSetting("off"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CudaRuntime.pdlSetting("yes"));
        assertTrue(e.getMessage().contains("-Daugur.cuda.pdl=yes") && e.getMessage().contains("auto or off"), e.getMessage());
    }

    @Test
    void parametersArePackedEachAtAnEightByteOffset() {
        ByteBuffer struct = ByteBuffer.allocate(12).order(java.nio.ByteOrder.nativeOrder());
        struct.putInt(7).putInt(8).putInt(9).flip();
        CudaRuntime.Args args = new CudaRuntime.Args().ptr(0x1234_5678_9abcL).i(-3).f(1.5f).struct(struct).i(42);
        CudaRuntime.Args.Packed p = args.pack();
        assertArrayEquals(new int[] {0, 8, 16, 24, 40}, p.offsets());
        ByteBuffer b = p.values();
        assertTrue(b.isDirect());
        assertEquals(0x1234_5678_9abcL, b.getLong(0));
        assertEquals(-3, b.getInt(8));
        assertEquals(1.5f, b.getFloat(16));
        assertEquals(7, b.getInt(24));
        assertEquals(8, b.getInt(28));
        assertEquals(9, b.getInt(32));
        assertEquals(42, b.getInt(40));
    }

    /** A struct after 16 or more parameters (the arrays' first size): both structs kept, each at its place. */
    @Test
    void aStructAfterSixteenParameters() {
        CudaRuntime.Args args = new CudaRuntime.Args();
        for (int k = 0; k < 16; k++) args.i(k);
        ByteBuffer a = ByteBuffer.allocate(4).order(java.nio.ByteOrder.nativeOrder()).putInt(77).flip();
        ByteBuffer b = ByteBuffer.allocate(4).order(java.nio.ByteOrder.nativeOrder()).putInt(88).flip();
        args.struct(a).i(16).struct(b);
        CudaRuntime.Args.Packed p = args.pack();
        assertEquals(19, p.offsets().length);
        assertEquals(77, p.values().getInt(p.offsets()[16]));
        assertEquals(16, p.values().getInt(p.offsets()[17]));
        assertEquals(88, p.values().getInt(p.offsets()[18]));
    }

    /**
     * Every kernel launched programmatically is one the fatbin has, and its source file calls
     * augur::grid_dependency_wait.
     */
    @Test
    void theProgrammaticKernelsWait() throws IOException {
        Path cuda = KernelSourcesTest.CUDA;
        StringBuilder all = new StringBuilder();
        for (Path f : Files.list(cuda).filter(p -> p.toString().endsWith(".cu")).sorted().toList()) all.append(Files.readString(f, StandardCharsets.UTF_8));
        for (String k : Kernels.PROGRAMMATIC) {
            assertTrue(Kernels.ALL.contains(k), k + " is not in Kernels.ALL");
            // a kernel's forms (clusters, TF32, held to 3 blocks an SM) share its body: the plain one's definition
            String base = k.replaceAll("_cluster\\d+_kernel$", "_kernel").replaceAll("_3blocks_kernel$", "_kernel").replaceAll("_tf32_kernel$", "_kernel");
            Matcher m = Pattern.compile("AUGUR_KERNEL void (__launch_bounds__\\([^)]*\\) )?(AUGUR_CLUSTER\\(\\d\\) )?" + Pattern.quote(base) + "\\(").matcher(all);
            assertTrue(m.find(), "no definition of " + base);
        }
        for (String file : new String[] {"activation_unit.cu", "embedding.cu", "optimizer.cu", "tower.cu"})
            assertTrue(Files.readString(cuda.resolve(file)).contains("grid_dependency_wait"), file + " never waits");
    }
}
