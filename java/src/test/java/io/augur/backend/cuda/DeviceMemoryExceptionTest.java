package io.augur.backend.cuda;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The message of a plan the device cannot hold (no GPU: the arithmetic and the wording). */
class DeviceMemoryExceptionTest {

    private static final long MIB = 1L << 20, GIB = 1L << 30;

    @Test
    void namesTheDeviceTheNumbersAndTheLargestTensorsInPlanOrderOnTies() {
        Arena arena = new Arena();
        arena.reserve("small", 3 * MIB);
        arena.reserve("aux.fc1.y", 3 * GIB);
        arena.reserve("aux.act1.y", 3 * GIB);
        arena.reserve("hist", 2 * GIB);
        arena.reserve("tiny", 100);
        arena.reserve("aux.x", 2 * GIB + 512 * MIB);
        arena.reserve("x", GIB);
        String m = DeviceMemoryException.message("cuda:0 NVIDIA H200", arena.pendingBytes(), 14 * GIB + 900 * MIB, 16 * GIB, 120 * MIB,
                arena.pendingSlices());
        assertEquals("cuda:0 NVIDIA H200: out of device memory: the planned tensors need 11.50 GiB in one allocation, the device has 14.88 GiB"
                + " free of 16.00 GiB (Augur holds 120.0 MiB of it). The largest planned: aux.fc1.y 3.00 GiB, aux.act1.y 3.00 GiB, aux.x 2.50 GiB,"
                + " hist 2.00 GiB, x 1.00 GiB (5 of 7 tensors, 100% of the 11.50 GiB). Lower the batch size (train's --batch-size and"
                + " --eval-batch-size, bench's --batch-sizes): a step's activations and workspaces grow with it.", m);
    }

    @Test
    void withoutAugursOwnMemoryOrAPlanTheMessageSaysLess() {
        String m = DeviceMemoryException.message("cuda:1 X", 65 * MIB + 400 * 1024, 64 * MIB, 64 * MIB, 0, List.of());
        assertEquals("cuda:1 X: out of device memory: the planned tensors need 65.4 MiB in one allocation, the device has 64.0 MiB free of"
                + " 64.0 MiB. Lower the batch size (train's --batch-size and --eval-batch-size, bench's --batch-sizes): a step's activations"
                + " and workspaces grow with it.", m);
        Arena one = new Arena();
        one.reserve("only", 5 * MIB);
        String single = DeviceMemoryException.message("d", one.pendingBytes(), 0, GIB, 0, one.pendingSlices());
        assertTrue(single.contains("The largest planned: only 5.0 MiB (1 of 1 tensor, 100% of the 5.0 MiB)."), single);
    }
}
