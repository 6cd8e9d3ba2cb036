package io.augur.cli;

import io.augur.backend.Backend;
import io.augur.backend.Precision;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import picocli.CommandLine.Option;

/** The GPU path's options that train and bench share: the matrix products' precision and resident histories. */
public final class GpuOptions {
    private static final Logger LOG = LogManager.getLogger(GpuOptions.class);

    @Option(names = "--precision", defaultValue = "fp32",
            description = "fp32, or tf32: on GPUs of compute capability 8.0 and newer, the linear layers' and the activation unit's "
                    + "products on the TF32 tensor cores (the CPU computes in fp32) (default: ${DEFAULT-VALUE})")
    String precision;

    @Option(names = "--resident-data", description = "on the GPU, keep the training histories in device memory and send each batch's "
            + "row numbers instead of its histories (default: off)")
    boolean residentData;

    /** The precision asked for; an unknown name is an error that names the option. */
    Precision askedPrecision() {
        return Precision.parse(precision);
    }

    /** Asks {@code be} for the precision; returns what it will use, with a warning when that is not what was asked. */
    Precision applyPrecision(Backend be) {
        Precision asked = askedPrecision(), used = be.setPrecision(asked);
        if (used != asked) LOG.warn("--precision {}: the {} backend computes in {}", asked.label(), be.name(), used.label());
        return used;
    }
}
