package io.augur.backend;

/**
 * A named parameter and everything the optimizer keeps for it. Dense parameters have a dense
 * gradient; embedding tables have a {@link SparseGrad} and the vocabulary counts MBAR needs.
 * Buffers (running statistics) have neither and are only checkpointed.
 */
public final class Param {
    public enum Kind { DENSE, EMBEDDING, BUFFER }

    private final String name;
    private final Kind kind;
    private final Tensor value;
    private final Tensor grad;          // DENSE only
    private final SparseGrad sparseGrad; // EMBEDDING only
    private Tensor state1;               // optimizer slots, created by the optimizer
    private Tensor state2;

    private Param(String name, Kind kind, Tensor value, Tensor grad, SparseGrad sparseGrad) {
        this.name = name;
        this.kind = kind;
        this.value = value;
        this.grad = grad;
        this.sparseGrad = sparseGrad;
    }

    public static Param dense(String name, Tensor value, Tensor grad) { return new Param(name, Kind.DENSE, value, grad, null); }
    public static Param embedding(String name, Tensor value, SparseGrad grad) { return new Param(name, Kind.EMBEDDING, value, null, grad); }
    public static Param buffer(String name, Tensor value) { return new Param(name, Kind.BUFFER, value, null, null); }

    public String name() { return name; }
    public Kind kind() { return kind; }
    public Tensor value() { return value; }
    public Tensor grad() { return grad; }
    public SparseGrad sparseGrad() { return sparseGrad; }
    public Tensor state1() { return state1; }
    public Tensor state2() { return state2; }
    public void setState(Tensor s1, Tensor s2) { this.state1 = s1; this.state2 = s2; }

    @Override
    public String toString() { return kind + " " + value; }
}
