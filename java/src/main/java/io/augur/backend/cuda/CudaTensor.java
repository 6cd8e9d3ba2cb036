package io.augur.backend.cuda;

import io.augur.backend.DType;
import io.augur.backend.Tensor;

/** A tensor of the CUDA backend: a planned slice of the {@link Arena}, addressable once allocated. */
final class CudaTensor extends Tensor {
    final Arena.Slice slice;

    CudaTensor(String name, DType dtype, int[] shape, Arena.Slice slice) {
        super(name, dtype, shape);
        this.slice = slice;
    }

    long address() { return slice.address(); }
}
