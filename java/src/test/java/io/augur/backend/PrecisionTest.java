package io.augur.backend;

import io.augur.backend.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PrecisionTest {
    @Test
    void parsesTheTwoNamesInAnyCase() {
        assertEquals(Precision.FP32, Precision.parse("fp32"));
        assertEquals(Precision.TF32, Precision.parse(" TF32 "));
        assertEquals("tf32", Precision.TF32.label());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Precision.parse("bf16"));
        assertTrue(e.getMessage().contains("--precision bf16") && e.getMessage().contains("fp32 or tf32"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Precision.parse(null));
    }

    @Test
    void theCpuComputesInFp32WhateverIsAsked() {
        try (Backend be = new CpuBackend(false, 1)) {
            assertEquals(Precision.FP32, be.setPrecision(Precision.TF32));
            assertEquals(Precision.FP32, be.precision());
        }
        try (Backend be = CpuBackend.reference()) {
            assertEquals(Precision.FP32, be.setPrecision(Precision.TF32));
        }
    }
}
