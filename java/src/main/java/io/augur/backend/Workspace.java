package io.augur.backend;

/**
 * Saved buffers of a fused op whose layout differs by backend (the CPU keeps the hidden
 * activations, the GPU recomputes them). Allocated once by the backend when the model is built,
 * written by the op's forward and read by its backward; no op keeps hidden state of its own.
 */
public interface Workspace {
    /** Bytes this workspace holds, for the memory plan and the logs. */
    long bytes();
}
