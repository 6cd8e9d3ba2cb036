// Optimizer.step in one launch (CudaBackend.optimizerStep). The bodies are sparse_update.cu's and
// adam.cu's (augur.cu includes both before this file). CPU reference: the two ops one after the
// other (Backend.optimizerStep's default).
#include "common.cuh"
#include "multi_tensor.cuh"

// Adam on the dense parameters (blocks [0, dense blocks), as adam_multi_kernel's) and the embedding
// tables' sparse updates (the blocks after them, as sparse_update_multi_kernel's), which touch
// different tensors; the step counter read once by every block and advanced once (advance = 1).
// The same arithmetic element for element as the two launches. The dense blocks come first, and
// the tables smallest first (CudaBackend.sparsePlan), because a table's blocks are planned for as
// many rows as its lookups could touch and only the first of them find rows (at batch 2048 some
// 300 of the item table's 1,108): in the order blocks start, the ones with work come before the
// ones that only count themselves done, rather than the parameters' and the small tables' blocks
// waiting behind the big table's empty ones.
AUGUR_KERNEL void optimizer_step_kernel(augur::SparseUpdateList tables, augur::MultiTensor dense, int* step, unsigned* done, int advance,
                                        int kind, float lr_s, float lambda, float b1_s, float b2_s, float eps_s, float lr, float b1,
                                        float b2, float eps, float wd) {
  augur::grid_dependency_wait_and_launch();
  const int t = augur::step_of(step, advance);
  const int dense_blocks = dense.first_block[dense.count];
  if ((int)blockIdx.x < dense_blocks) augur::adam_list_block(dense, blockIdx.x, t, lr, b1, b2, eps, wd);
  else augur::sparse_update_list_block(tables, (int)blockIdx.x - dense_blocks, t, kind, lr_s, lambda, b1_s, b2_s, eps_s);
  augur::step_advance_when_done(step, done, advance);
}
