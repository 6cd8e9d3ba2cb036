package io.augur.model;

import io.augur.backend.Backend;
import io.augur.backend.Param;
import io.augur.backend.Tensor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Creates a model's parameters on its backend, initialises them from one seed, and keeps them in
 * creation order under unique names ("mlp.fc1.weight"). Also plans the activation buffers the
 * layers ask for, so the model's memory is known once it is built.
 */
public final class ParamStore {
    private final Backend backend;
    private final SplittableRandom rng;
    private final Map<String, Param> params = new LinkedHashMap<>();
    private long activationBytes;

    public ParamStore(Backend backend, long seed) {
        this.backend = backend;
        this.rng = new SplittableRandom(seed);
    }

    public Backend backend() { return backend; }

    /** A dense parameter with a dense gradient, initialised by {@code init}. */
    public Param dense(String name, Init init, int... shape) {
        Tensor value = backend.floats(name, shape);
        Tensor grad = backend.floats(name + ".grad", shape);
        float[] host = new float[value.size()];
        init.fill(host, rng);
        backend.upload(value, host, host.length);
        return add(Param.dense(name, value, grad));
    }

    /** An embedding table (rows, dim) with a sparse gradient; row 0 (padding) is zero. */
    public Param embedding(String name, int rows, int dim, int maxIdsPerStep, float initStd) {
        Tensor value = backend.floats(name, rows, dim);
        float[] host = new float[rows * dim];
        Init.normal(initStd).fill(host, rng);
        for (int c = 0; c < dim; c++) host[c] = 0f;
        backend.upload(value, host, host.length);
        return add(Param.embedding(name, value, backend.sparseGrad(name + ".grad", rows, dim, maxIdsPerStep)));
    }

    /** A non-trained buffer (running statistics), filled with {@code value}. */
    public Param buffer(String name, float value, int... shape) {
        Tensor t = backend.floats(name, shape);
        if (value != 0f) backend.fill(t, value, t.size());
        return add(Param.buffer(name, t));
    }

    /**
     * {@link Backend#POISON_ACTIVATIONS}: activation buffers start as NaN instead of zero in the
     * test runs, so an op that reads an element no op wrote in the step (a padded row, a position
     * past a sample's length) shows as a NaN in the results instead of reading the zero a fresh
     * buffer happens to hold; and again before every step, so no step reads what an earlier one
     * left there either.
     */
    private static final boolean POISON = Boolean.getBoolean(Backend.POISON_ACTIVATIONS);

    /**
     * An fp32 activation buffer (not a parameter); its contents are undefined until an op of the
     * step writes them (test runs fill it with NaN before every step: {@link Backend#scratchBetweenSteps}).
     */
    public Tensor activation(String name, int... shape) {
        Tensor t = input(name, shape);
        backend.scratchBetweenSteps(t);
        return t;
    }

    /** An fp32 buffer the host fills for the steps (a batch's labels, constant labels), NaN until it does in the test runs. */
    public Tensor input(String name, int... shape) {
        Tensor t = backend.floats(name, shape);
        if (POISON) backend.fill(t, Float.NaN, t.size());
        activationBytes += 4L * t.size();
        return t;
    }

    /** An int32 input buffer. */
    public Tensor intInput(String name, int... shape) {
        Tensor t = backend.ints(name, shape);
        activationBytes += 4L * t.size();
        return t;
    }

    public void countWorkspace(long bytes) { activationBytes += bytes; }

    private Param add(Param p) {
        if (params.putIfAbsent(p.name(), p) != null) throw new IllegalStateException("duplicate parameter name " + p.name());
        return p;
    }

    public List<Param> all() { return Collections.unmodifiableList(new ArrayList<>(params.values())); }

    /** How many parameters there are. */
    public int size() { return params.size(); }

    public Param get(String name) {
        Param p = params.get(name);
        if (p == null) throw new IllegalArgumentException("no parameter named " + name);
        return p;
    }

    public long activationBytes() { return activationBytes; }

    /** Parameter initialisers (PyTorch's conventions where it has one). */
    @FunctionalInterface
    public interface Init {
        void fill(float[] a, SplittableRandom rng);

        static Init constant(float v) { return (a, r) -> java.util.Arrays.fill(a, v); }

        static Init uniform(float bound) {
            return (a, r) -> {
                for (int k = 0; k < a.length; k++) a[k] = (float) ((r.nextDouble() * 2 - 1) * bound);
            };
        }

        /** nn.Linear's default: U(-1/sqrt(fanIn), 1/sqrt(fanIn)) for weight and bias. */
        static Init linear(int fanIn) { return uniform((float) (1.0 / Math.sqrt(fanIn))); }

        static Init normal(float std) {
            return (a, r) -> {
                for (int k = 0; k < a.length; k += 2) {
                    // Box-Muller: two independent normals per pair of uniforms
                    double u1 = 1.0 - r.nextDouble(), u2 = r.nextDouble();
                    double rad = Math.sqrt(-2 * Math.log(u1));
                    a[k] = (float) (std * rad * Math.cos(2 * Math.PI * u2));
                    if (k + 1 < a.length) a[k + 1] = (float) (std * rad * Math.sin(2 * Math.PI * u2));
                }
            };
        }
    }
}
