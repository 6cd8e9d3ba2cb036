package io.augur.cli;

import io.augur.backend.Backend;
import io.augur.backend.Precision;
import io.augur.backend.cuda.CudaBackend;
import io.augur.backend.cuda.TuningTable;
import io.augur.config.ModelConfig;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;

/** The GPU path's options that train and bench share: the matrix products' precision, resident histories and the tuning table. */
public final class GpuOptions {
    private static final Logger LOG = LogManager.getLogger(GpuOptions.class);

    @Option(names = "--precision", defaultValue = "fp32",
            description = "fp32, tf32 or tf32x3: on GPUs of compute capability 8.0 and newer, tf32 puts the linear layers' and the "
                    + "activation unit's products on the TF32 tensor cores; tf32x3 puts only the unit's there, each operand split into "
                    + "two TF32 parts (three products for one, fp32's accuracy) (the CPU computes in fp32) (default: ${DEFAULT-VALUE})")
    String precision;

    @Option(names = "--resident-data", description = "on the GPU, keep the training histories in device memory and send each batch's "
            + "row numbers instead of its histories (default: off)")
    boolean residentData;

    @Option(names = "--tuning", defaultValue = "${sys:augur.tuning:-auto}",
            description = "on the GPU, the kernel settings measured for this device, model and batch size: auto (the table shipped with Augur), "
                    + "off (the built-in settings), or a file written by bench --autotune --save-tuning; -Daugur.* settings win over "
                    + "the table's (default: ${DEFAULT-VALUE}; -Daugur.tuning sets the default)")
    String tuning;

    private TuningTable table;

    /** The tuning table --tuning names (read once): the shipped one, none, or a file; a bad file is an error naming it. */
    TuningTable tuningTable() throws IOException {
        if (table == null) {
            String t = tuning == null ? "auto" : tuning.trim();
            table = switch (t) {
                case "", "auto" -> TuningTable.shipped();
                case "off" -> TuningTable.empty("--tuning off");
                default -> TuningTable.read(Path.of(t));
            };
        }
        return table;
    }

    /**
     * Sets {@code cb}'s kernel settings for {@code m} at batch {@code B} from the tuning table (and the -Daugur.*
     * settings given), logs where they came from and returns that line.
     */
    String applyTuning(CudaBackend cb, ModelConfig m, int B) throws IOException {
        TuningTable.Choice c = tuningTable().choose(cb, m, B);
        cb.setTuning(c.tuning());
        LOG.info("{} batch {}: kernel settings: {} ({})", m.kind().label(), B, c.tuning(), c.from());
        return c.from();
    }

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
