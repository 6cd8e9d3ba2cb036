package io.augur.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.augur.backend.cuda.GpuTesting;
import java.io.IOException;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A driver that will not take programmatic launches, told so by the emulator (AUGUR_EMU_PDL): the
 * backend turns them off with a warning that says why, and DIN's 49 graph steps give the same losses,
 * bit for bit, as a run that never had them, still replayed as graphs. "refuse": cuLaunchKernelEx
 * refuses the first one, outside any capture. "refuse-in-capture": it refuses one into the step's
 * capture, which that invalidates, so the captured step must run again without them. "no-graph": the
 * capture takes them but its graph does not instantiate.
 */
@Tag("emulator")   // not "gpu": a GPU's driver takes programmatic launches, and AUGUR_EMU_PDL is the emulator's
class ProgrammaticFallbackTest {

    @ParameterizedTest
    @CsvSource({"refuse, cuLaunchKernelEx(", "refuse-in-capture, capturing step", "no-graph, capturing step"})
    void aDriverThatRefusesProgrammaticLaunchesGetsPlainOnesAndTheSameLosses(String mode, String warning) throws IOException, InterruptedException {
        String refused = run(mode);
        Assumptions.assumeTrue(refused.contains("available at start: true"), "no programmatic launches to refuse here: " + line(refused, "available"));
        String plain = run(null, "off");
        assertTrue(plain.contains("programmatic launches: 0"), plain);
        assertTrue(refused.contains("programmatic dependent launch turned off: " + warning), "no warning that says why:\n" + refused);
        assertTrue(refused.contains("pdl: off: " + warning), refused);
        assertEquals(line(plain, "losses:"), line(refused, "losses:"), "the losses differ from a run without programmatic launches");
        // 49 steps over 3 batch sizes, a graph for each size and staging slot: all but the first step (its inputs went up
        // before the staging existed), each graph's first two (eager, captured) and a capture the driver refused
        assertTrue(Long.parseLong(line(refused, "graph replays: ").substring("graph replays: ".length())) >= 49 - 1 - 2 * 6 - 1,
                "the steps did not go on as replayed graphs:\n" + refused);
    }

    private static String line(String out, String prefix) {
        return out.lines().filter(l -> l.startsWith(prefix)).findFirst().orElseThrow(() -> new AssertionError("no \"" + prefix + "\" line:\n" + out));
    }

    /** {@link ProgrammaticFallbackProbe} in a JVM of its own, with AUGUR_EMU_PDL set to {@code mode} (null: unset). */
    private static String run(String mode, String... args) throws IOException, InterruptedException {
        return GpuTesting.emulatedJvm(ProgrammaticFallbackProbe.class, mode == null ? Map.of() : Map.of("AUGUR_EMU_PDL", mode), 300, args);
    }
}
