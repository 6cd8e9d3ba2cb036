// The single translation unit nvcc compiles into augur.fatbin: one #include per op family.
// Add a family here when its file lands in cuda/, and its kernel names to
// io.augur.backend.cuda.Kernels (KernelNamesTest checks that the two agree).
#include "embedding.cu"
#include "sparse_update.cu"
#include "interest_concat.cu"
#include "elementwise.cu"
#include "aux_pairs.cu"
#include "gemm.cu"
#include "batch_norm.cu"
#include "dice.cu"
#include "prelu.cu"
#include "tower.cu"
#include "bce.cu"
#include "adam.cu"
#include "optimizer.cu"
#include "activation_unit.cu"
#include "activation_unit_unfused.cu"
#include "recurrence.cu"
