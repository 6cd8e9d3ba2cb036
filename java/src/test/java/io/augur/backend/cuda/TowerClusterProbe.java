package io.augur.backend.cuda;

/**
 * Which cluster size the fused tower takes for the Amazon DIN tower at batches 128, 1024 and
 * 2048, run in a JVM of its own by {@link EmulatorGuardTest} (the emulator reads
 * AUGUR_EMU_MAX_CLUSTER once, when it loads). Prints "batch B: cluster S" for each.
 */
final class TowerClusterProbe {
    private TowerClusterProbe() {}

    public static void main(String[] args) {
        CudaBackend be = GpuTesting.backend();
        if (be == null) {
            System.out.println("no device: " + GpuTesting.reason());
            return;
        }
        for (int B : new int[] {128, 1024, 2048}) System.out.println("batch " + B + ": cluster " + be.fusedTower(CudaTuningTest.amazonTower(), B));
        System.out.println("the JVM goes on");
    }
}
