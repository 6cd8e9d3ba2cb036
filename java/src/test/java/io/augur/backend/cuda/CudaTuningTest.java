package io.augur.backend.cuda;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The activation unit's tuning properties: the default when unset, the value when in range, a clear error otherwise. */
class CudaTuningTest {
    private static final String NAME = "augur.test.tuning";

    @Test
    void unsetOrBlankGivesTheDefault() {
        System.clearProperty(NAME);
        assertEquals(16, CudaBackend.tuning(NAME, 16, 1, 1024));
        System.setProperty(NAME, " ");
        try {
            assertEquals(16, CudaBackend.tuning(NAME, 16, 1, 1024));
        } finally {
            System.clearProperty(NAME);
        }
    }

    @Test
    void aValueInRangeIsTaken() {
        System.setProperty(NAME, " 24 ");
        try {
            assertEquals(24, CudaBackend.tuning(NAME, 16, 1, 1024));
        } finally {
            System.clearProperty(NAME);
        }
    }

    @Test
    void outOfRangeOrNotANumberNamesTheProperty() {
        for (String bad : new String[] {"0", "1025", "sixteen", "1.5"}) {
            System.setProperty(NAME, bad);
            try {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CudaBackend.tuning(NAME, 16, 1, 1024));
                assertTrue(e.getMessage().contains("-D" + NAME + "=" + bad) && e.getMessage().contains("from 1 to 1024"), e.getMessage());
            } finally {
                System.clearProperty(NAME);
            }
        }
    }

    @Test
    void theDefaultsAreThePlannedShape() {
        // no augur.attention.* property is set in the test JVM
        assertEquals(16, CudaBackend.ATT_ROWS_FORWARD);
        assertEquals(16, CudaBackend.ATT_ROWS_BACKWARD);
        assertEquals(0, CudaBackend.ATT_BLOCKS_PER_SM);   // automatic
    }

    @Test
    void theBackwardGridFollowsTheBatch() {
        // H200, Amazon config: 3 blocks per SM planned (396); batch 128 has 128 x 7 = 896 slots, batch 2048 14,336
        assertEquals(264, CudaBackend.attentionBackwardBlocks(896, 396, 132));
        assertEquals(396, CudaBackend.attentionBackwardBlocks(14_336, 396, 132));
        assertEquals(5, CudaBackend.attentionBackwardBlocks(5, 396, 132));
        assertEquals(1, CudaBackend.attentionBackwardBlocks(0, 396, 132));
        // shared memory for 1 block only, and a device that does not say
        assertEquals(1, CudaBackend.attentionBlocksPerSm(0, 150 * 1024, 228 * 1024));
        assertEquals(2, CudaBackend.attentionBlocksPerSm(0, 10 * 1024, 0));
    }
}
