package io.augur.backend;

import io.augur.backend.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A tensor's shape: more elements than an int counts is refused with the name, the shape and the count; a zero dimension is an empty tensor. */
class TensorShapeTest {

    @Test
    void tooManyElementsNamesTheTensorItsShapeAndTheLimit() {
        CpuBackend be = new CpuBackend(false, 1);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> be.floats("aux.x", 400_000, 99, 72));
        assertEquals("aux.x[400000, 99, 72]: 2,851,200,000 elements, more than one tensor holds (2,147,483,647); a smaller batch size (or table)"
                + " makes it fit", e.getMessage());
        // a product past a long's range still gets its exact count
        IllegalArgumentException huge = assertThrows(IllegalArgumentException.class,
                () -> be.floats("t", Integer.MAX_VALUE, Integer.MAX_VALUE, Integer.MAX_VALUE));
        assertTrue(huge.getMessage().startsWith("t[2147483647, 2147483647, 2147483647]: 9,903,520,300,447,984,150,353,281,023 elements"),
                huge.getMessage());
    }

    @Test
    void aZeroDimensionAfterLargeOnesIsAnEmptyTensor() {
        CpuBackend be = new CpuBackend(false, 1);
        assertEquals(0, be.floats("empty", 100_000, 100_000, 0).size());
    }
}
