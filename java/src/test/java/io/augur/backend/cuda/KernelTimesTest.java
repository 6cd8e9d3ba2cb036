package io.augur.backend.cuda;

import io.augur.backend.Profiling;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The bookkeeping behind the CUDA backend's kernel timing (no GPU needed): calls and seconds add
 * up per kernel name, names keep their first-call order, and a reset starts from nothing.
 */
class KernelTimesTest {

    @Test
    void callsAndSecondsAddUpPerKernelInFirstCallOrder() {
        KernelTimes t = new KernelTimes();
        t.add("gemm_kernel", 0.002);
        t.add("adam_kernel", 0.001);
        t.add("gemm_kernel", 0.003);
        t.add("bce_with_logits_kernel", 0.0005);
        t.add("gemm_kernel", 0.001);
        Map<String, Profiling.OpStats> s = t.stats();
        assertEquals(List.of("gemm_kernel", "adam_kernel", "bce_with_logits_kernel"), List.copyOf(s.keySet()));
        assertEquals(3, s.get("gemm_kernel").calls());
        assertEquals(0.006, s.get("gemm_kernel").seconds(), 1e-12);
        assertEquals(1, s.get("adam_kernel").calls());
        assertEquals(0.0005, s.get("bce_with_logits_kernel").seconds(), 1e-12);
        t.reset();
        assertTrue(t.stats().isEmpty());
        t.add("adam_kernel", 0.25);
        assertEquals(Map.of("adam_kernel", new Profiling.OpStats(1, 0.25)), t.stats());
    }
}
