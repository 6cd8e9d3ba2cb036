package io.augur.backend.cuda;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Every kernel in {@link Kernels#ALL} ran, to completion, in the emulated test run: the parity
 * tests compare what a kernel computes with the CPU reference only if some test reaches it, and a
 * kernel that only a rare shape or setting selects (a split-K GEMM, the bounded backward, a
 * cluster size) is the easiest to leave untested. The emulator writes each kernel's name once per
 * process to the launch log ({@code AUGUR_EMU_LAUNCH_LOG}, cuda/emu/README.md); the surefire
 * execution "kernel-coverage" runs this test alone after "gpu-emulated", which cleared the log
 * first ("clear-launch-log"). Launches that were skipped ({@code AUGUR_EMU_SKIP_KERNELS}) or
 * failed are not in the log. Skips where the emulator was not built (no g++).
 */
@Tag("coverage")
class KernelCoverageTest {

    @Test
    void everyKernelRanInTheEmulatedTests() throws IOException {
        String lib = System.getProperty("augur.emulatorLibrary", "");
        assumeTrue(!lib.isEmpty() && Files.isRegularFile(Path.of(lib)),
                "the CUDA emulator was not built (" + lib + "), so no emulated test ran");
        Path dir = Path.of(System.getProperty("augur.launchLog", "target/emu-launches"));
        Set<String> ran = launched(dir);
        assertFalse(ran.isEmpty(), "the launch log " + dir + " is empty: the emulated test run ran no kernel, or did not log them");
        Set<String> unknown = new TreeSet<>(ran);
        unknown.removeAll(Kernels.ALL);
        assertEquals(Set.of(), unknown, "kernels in the launch log that Kernels.ALL does not list");
        Set<String> missing = new TreeSet<>(Kernels.ALL);
        missing.removeAll(ran);
        assertEquals(Set.of(), missing, "kernels no emulated test ran (" + ran.size() + " of " + Kernels.ALL.size() + " ran; log " + dir + ")");
    }

    /** The kernel names in every launched-*.txt under dir. */
    static Set<String> launched(Path dir) throws IOException {
        Set<String> names = new TreeSet<>();
        if (!Files.isDirectory(dir)) return names;
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.filter(p -> p.getFileName().toString().matches("launched-\\d+\\.txt")).toList())
                for (String line : Files.readAllLines(f, StandardCharsets.UTF_8))
                    if (!line.isBlank()) names.add(line.strip());
        }
        return names;
    }
}
