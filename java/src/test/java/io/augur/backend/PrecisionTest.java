package io.augur.backend;

import io.augur.backend.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PrecisionTest {
    @Test
    void parsesTheThreeNamesInAnyCase() {
        assertEquals(Precision.FP32, Precision.parse("fp32"));
        assertEquals(Precision.TF32, Precision.parse(" TF32 "));
        assertEquals(Precision.TF32X3, Precision.parse("Tf32x3"));
        assertEquals("tf32", Precision.TF32.label());
        assertEquals("tf32x3", Precision.TF32X3.label());
        assertTrue(Precision.TF32.tensorCores() && Precision.TF32X3.tensorCores() && !Precision.FP32.tensorCores());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Precision.parse("bf16"));
        assertTrue(e.getMessage().contains("--precision bf16") && e.getMessage().contains("fp32, tf32 or tf32x3"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Precision.parse(null));
    }

    @Test
    void theCpuComputesInFp32WhateverIsAsked() {
        try (Backend be = new CpuBackend(false, 1)) {
            assertEquals(Precision.FP32, be.setPrecision(Precision.TF32));
            assertEquals(Precision.FP32, be.setPrecision(Precision.TF32X3));
            assertEquals(Precision.FP32, be.precision());
        }
        try (Backend be = CpuBackend.reference()) {
            assertEquals(Precision.FP32, be.setPrecision(Precision.TF32));
        }
    }
}
