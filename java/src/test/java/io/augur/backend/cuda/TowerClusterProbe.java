package io.augur.backend.cuda;

/**
 * Which cluster size the fused tower takes for the Amazon DIN tower at batches 128, 1024 and
 * 2048, run in a JVM of its own by {@link EmulatorGuardTest} (the emulator reads
 * AUGUR_EMU_MAX_CLUSTER once, when it loads). Prints "batch B: cluster S" for each. Then clusters
 * of 16, above the portable size: the CUresult of a launch of tower_forward_cluster16_kernel with no
 * rows before anything opted the kernel in ("cluster16 without opt-in: R"), and the cluster size the
 * backend takes at 2048 with -Daugur.tower.cluster=16 ("batch 2048 asked for 16: cluster S").
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
        // the forward's parameters (tower.cu's AUGUR_TOWER_FORWARD_PARAMS) as null pointers and zeros: B = 0 returns at once
        CudaRuntime.Args a = new CudaRuntime.Args();
        for (int i = 0; i < 17; i++) a.ptr(0L);
        for (int i = 0; i < 6; i++) a.i(0);
        for (int i = 0; i < 4; i++) a.f(0f);
        for (int i = 0; i < 8; i++) a.ptr(0L);
        a.f(0f);
        System.out.println("cluster16 without opt-in: " + be.runtime().tryLaunch(Kernels.towerForward(16), 16, CudaBackend.TOWER_THREADS, 0, a));
        be.setTuning(be.tuning().with(KernelTuning.TOWER_CLUSTER, "16"));
        System.out.println("batch 2048 asked for 16: cluster " + be.fusedTower(CudaTuningTest.amazonTower(), 2048));
        System.out.println("the JVM goes on");
    }
}
