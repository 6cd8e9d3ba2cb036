// The single translation unit nvcc compiles into augur.fatbin: one #include per op family.
// Add a family here when its file lands in cuda/.
#include "embedding.cu"
