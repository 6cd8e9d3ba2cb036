// Optimizer.step in one launch (CudaBackend.optimizerStep). The bodies are sparse_update.cu's and
// adam.cu's (augur.cu includes both before this file). CPU reference: the two ops one after the
// other (Backend.optimizerStep's default).
#include "common.cuh"
#include "multi_tensor.cuh"

// The embedding tables' sparse updates (blocks [0, tables.blocks), as sparse_update_multi_kernel's)
// and Adam on the dense parameters (the blocks after them, as adam_multi_kernel's), which touch
// different tensors; the step counter read once by every block and advanced once (advance = 1).
// The same arithmetic element for element as the two launches.
AUGUR_KERNEL void optimizer_step_kernel(augur::SparseUpdateList tables, augur::MultiTensor dense, int* step, unsigned* done, int advance,
                                        int kind, float lr_s, float lambda, float b1_s, float b2_s, float eps_s, float lr, float b1,
                                        float b2, float eps, float wd) {
  augur::grid_dependency_wait_and_launch();
  const int t = augur::step_of(step, advance);
  if ((int)blockIdx.x < tables.blocks) augur::sparse_update_list_block(tables, blockIdx.x, t, kind, lr_s, lambda, b1_s, b2_s, eps_s);
  else augur::adam_list_block(dense, (int)blockIdx.x - tables.blocks, t, lr, b1, b2, eps, wd);
  augur::step_advance_when_done(step, done, advance);
}
