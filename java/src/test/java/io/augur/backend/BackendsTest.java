package io.augur.backend;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code --device} values: the kinds, cuda:N, and the errors for anything else (no device is opened here). */
class BackendsTest {

    @Test
    void theKindsAndCudaN() {
        assertEquals(new Backends.Device("auto", 0), Backends.parse("auto"));
        assertEquals(new Backends.Device("cpu", 0), Backends.parse("CPU"));
        assertEquals(new Backends.Device("cpu-reference", 0), Backends.parse("cpu-reference"));
        assertEquals(new Backends.Device("cuda", 0), Backends.parse("cuda"));
        assertEquals(new Backends.Device("cuda", 0), Backends.parse("cuda:0"));
        assertEquals(new Backends.Device("cuda", 7), Backends.parse(" cuda:7 "));
    }

    @Test
    void anythingElseIsAnErrorNamingTheValue() {
        for (String bad : new String[] {"gpu", "cuda:", "cuda:x", "cuda:-1", "cuda:1.5", "cuda:99999", "cpu:1", ""}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Backends.parse(bad), bad);
            assertTrue(e.getMessage().startsWith("unknown device '" + bad + "'"), e.getMessage());
            assertTrue(e.getMessage().contains("cuda:"), "the message says what is expected: " + e.getMessage());
        }
    }
}
