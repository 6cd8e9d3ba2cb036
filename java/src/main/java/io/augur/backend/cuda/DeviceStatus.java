package io.augur.backend.cuda;

import java.util.ArrayList;
import java.util.List;

/**
 * The device status word: kernels that find their input breaking the contract set a bit with
 * atomicOr (cuda/common.cuh, AUGUR_STATUS_*) instead of faulting; the host reads the word when it
 * waits for the device and throws an exception that says what was wrong.
 */
final class DeviceStatus {
    private DeviceStatus() {}

    static final int BAD_ID = 1;
    static final int BAD_LENGTH = 2;
    static final int SPARSE_OVERFLOW = 4;
    static final int NONFINITE_GRAD = 8;
    static final int BAD_ROW = 16;

    /** A sentence naming every set bit; empty for 0. */
    static String describe(int bits) {
        List<String> parts = new ArrayList<>();
        if ((bits & BAD_ID) != 0) parts.add("an embedding id outside its table (embedding_gather_forward_kernel; the row was read as 0)");
        if ((bits & BAD_LENGTH) != 0) parts.add("a history length outside [0, T] (it was clamped)");
        if ((bits & SPARSE_OVERFLOW) != 0) parts.add("more distinct embedding rows in one step than the sparse gradient was planned for (raise maxIdsPerStep)");
        if ((bits & NONFINITE_GRAD) != 0) parts.add("a NaN or infinite embedding gradient (embedding_gather_backward_kernel; lower the learning rate)");
        if ((bits & BAD_ROW) != 0) parts.add("a batch's row number outside the resident training file (history_gather_kernel; that sample's histories were written as 0)");
        int known = BAD_ID | BAD_LENGTH | SPARSE_OVERFLOW | NONFINITE_GRAD | BAD_ROW;
        if ((bits & ~known) != 0) parts.add("unknown status bits 0x" + Integer.toHexString(bits & ~known));
        return String.join("; ", parts);
    }
}
