package io.augur.backend.cuda;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.augur.config.ModelConfig;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * Kernel settings chosen by measuring on a device, kept for the runs after it: what
 * {@code augur bench --autotune --save-tuning FILE} writes and {@code --tuning FILE} (train and bench) reads, as a
 * cuDNN or Triton autotuning cache keeps its winners. Without {@code --tuning}, the table shipped in Augur's jar
 * ({@link #RESOURCE}) is read: the choices a device session measured and committed, so that they are the defaults on
 * that device without a change of code.
 *
 * <p>An entry is keyed by what its measurement depended on: the device's name and compute capability, the GEMM
 * provider, the precision, the model and its shape ({@link #shapeOf}), and the batch size. It applies to a run whose
 * key is the same but for the batch size; of several, the one whose batch size is nearest (by ratio; a tie goes to
 * the smaller). Its settings are {@link KernelTuning#changes} from the built-in settings, so an entry stands alone;
 * a setting given as a system property ({@code -Daugur.tower.cols=8}) wins over the table's.
 *
 * <p>The file, UTF-8 JSON:
 * <pre>
 * { "schema": "augur-tuning/1",
 *   "entries": [ { "device": "NVIDIA H200", "compute_capability": "9.0", "gemm": "built-in gemm_kernel",
 *                  "precision": "fp32", "model": "din", "shape": "D18 att80-40 sigmoid softmax mlp200-80 dice",
 *                  "batch_size": 2048, "settings": ["-Daugur.attention.rowsBackward=16"],
 *                  "measured": { "train_samples_per_s": ..., "date": ..., ... } } ] }
 * </pre>
 * {@code measured} is what the entry's search saw (free-form, for people; never read back for a decision).
 */
public final class TuningTable {
    public static final String SCHEMA = "augur-tuning/1";
    /** The table shipped in the jar (the defaults a device session measured). */
    public static final String RESOURCE = "/io/augur/backend/cuda/tuning.json";
    /** How {@link #source} names the shipped table. */
    public static final String SHIPPED = "the tuning table shipped with Augur";

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** What an entry was measured on and for. */
    public record Key(String device, String computeCapability, String gemm, String precision, String model, String shape, int batchSize) {
        public Key {
            for (String s : new String[]{device, computeCapability, gemm, precision, model, shape})
                java.util.Objects.requireNonNull(s, "tuning key field");
            if (batchSize < 1) throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
        }

        /** Whether an entry measured for {@code o} may stand for this key: everything but the batch size equal. */
        public boolean sameButBatch(Key o) {
            return device.equals(o.device) && computeCapability.equals(o.computeCapability) && gemm.equals(o.gemm)
                    && precision.equals(o.precision) && model.equals(o.model) && shape.equals(o.shape);
        }

        /** "din batch 2048 (D18 ...; NVIDIA H200, compute capability 9.0, built-in gemm_kernel, fp32)". */
        @Override
        public String toString() {
            return model + " batch " + batchSize + " (" + shape + "; " + device + ", compute capability " + computeCapability + ", " + gemm + ", " + precision + ")";
        }
    }

    /** One measured choice: its key, its settings as -Dproperty=value changes from the built-in ones, and what was seen. */
    public record Entry(Key key, List<String> settings, Map<String, Object> measured) {
        public Entry {
            java.util.Objects.requireNonNull(key, "key");
            settings = List.copyOf(settings);
            measured = measured == null ? Map.of() : java.util.Collections.unmodifiableMap(new LinkedHashMap<>(measured));
        }

        /** The built-in settings with this entry's applied. */
        public KernelTuning tuning() {
            KernelTuning t = KernelTuning.builtIn();
            for (String c : settings) t = t.withChange(c);
            return t;
        }
    }

    /**
     * The settings a run gets: {@code tuning} (the table's entry, if any, then the system properties set), and a line
     * saying where they came from, for the log and the run's records.
     */
    public record Choice(KernelTuning tuning, Entry entry, String from) {}

    private final String source;
    private final List<Entry> entries;

    private TuningTable(String source, List<Entry> entries) {
        this.source = source;
        this.entries = List.copyOf(entries);
    }

    /** A table with no entries (every run gets the built-in settings and the properties set). */
    public static TuningTable empty(String source) {
        return new TuningTable(source, List.of());
    }

    /** The table in Augur's jar ({@link #RESOURCE}); a missing resource is an empty table. */
    public static TuningTable shipped() {
        try (InputStream in = TuningTable.class.getResourceAsStream(RESOURCE)) {
            if (in == null) return empty(SHIPPED);
            return parse(new String(in.readAllBytes(), StandardCharsets.UTF_8), SHIPPED);
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + SHIPPED + " (" + RESOURCE + ")", e);
        }
    }

    /** Reads a table; a file that is not one is an error that names the file, the entry and the field. */
    public static TuningTable read(Path file) throws IOException {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("tuning table " + file + ": no such file");
        }
        return parse(text, file.toString());
    }

    /** {@link #read}, or an empty table of that name when the file does not exist yet (for --save-tuning to add to). */
    public static TuningTable readOrEmpty(Path file) throws IOException {
        return Files.exists(file) ? read(file) : empty(file.toString());
    }

    static TuningTable parse(String text, String source) {
        JsonNode root;
        try {
            root = JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("tuning table " + source + ": not JSON (" + e.getOriginalMessage() + ", line "
                    + e.getLocation().getLineNr() + ")");
        }
        if (root == null || !root.isObject()) throw new IllegalArgumentException("tuning table " + source + ": expected a JSON object");
        String schema = root.path("schema").asText(null);
        if (!SCHEMA.equals(schema))
            throw new IllegalArgumentException("tuning table " + source + ": field 'schema' is " + (schema == null ? "missing" : "'" + schema + "'")
                    + ", expected '" + SCHEMA + "'");
        JsonNode list = root.path("entries");
        if (!list.isArray()) throw new IllegalArgumentException("tuning table " + source + ": field 'entries' must be an array");
        List<Entry> entries = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            String where = "tuning table " + source + ", entry " + (i + 1);
            JsonNode e = list.get(i);
            if (!e.isObject()) throw new IllegalArgumentException(where + ": expected an object");
            JsonNode bs = e.path("batch_size");
            if (!bs.canConvertToInt() || !bs.isIntegralNumber() || bs.asInt() < 1)
                throw new IllegalArgumentException(where + ": field 'batch_size' must be an integer >= 1, got " + (bs.isMissingNode() ? "nothing" : bs));
            Key key = new Key(text(e, "device", where), text(e, "compute_capability", where), text(e, "gemm", where), text(e, "precision", where),
                    text(e, "model", where), text(e, "shape", where), bs.asInt());
            JsonNode s = e.path("settings");
            if (!s.isArray()) throw new IllegalArgumentException(where + " (" + key + "): field 'settings' must be an array of \"-Dproperty=value\" strings");
            List<String> settings = new ArrayList<>();
            for (JsonNode c : s) {
                if (!c.isTextual()) throw new IllegalArgumentException(where + " (" + key + "): setting " + c + " is not a string");
                settings.add(c.asText());
            }
            Map<String, Object> measured = e.has("measured") ? JSON.convertValue(e.get("measured"), Map.class) : Map.of();
            Entry entry = new Entry(key, settings, measured);
            try {
                entry.tuning();
            } catch (IllegalArgumentException bad) {
                throw new IllegalArgumentException(where + " (" + key + "): " + bad.getMessage());
            }
            for (Entry other : entries)
                if (other.key().equals(key)) throw new IllegalArgumentException(where + ": a second entry for " + key);
            entries.add(entry);
        }
        return new TuningTable(source, entries);
    }

    private static String text(JsonNode e, String field, String where) {
        JsonNode v = e.path(field);
        if (!v.isTextual() || v.asText().isBlank())
            throw new IllegalArgumentException(where + ": field '" + field + "' must be a non-empty string, got " + (v.isMissingNode() ? "nothing" : v));
        return v.asText();
    }

    /** Where the table came from: a file's path, or {@link #SHIPPED}. */
    public String source() { return source; }

    public List<Entry> entries() { return entries; }

    /** This table with {@code e} in place of any entry with the same key (else added at the end). */
    public TuningTable with(Entry e) {
        List<Entry> out = new ArrayList<>();
        boolean replaced = false;
        for (Entry x : entries) {
            if (x.key().equals(e.key())) {
                out.add(e);
                replaced = true;
            } else {
                out.add(x);
            }
        }
        if (!replaced) out.add(e);
        return new TuningTable(source, out);
    }

    /** The entry for {@code k}: among those equal but for the batch size, the nearest batch size (a tie: the smaller). */
    public Optional<Entry> lookup(Key k) {
        return entries.stream().filter(e -> e.key().sameButBatch(k))
                .min(Comparator.<Entry>comparingDouble(e -> ratio(e.key().batchSize(), k.batchSize()))
                        .thenComparingInt(e -> e.key().batchSize()));
    }

    /** The larger of two batch sizes over the smaller (exact for the ties of powers of two). */
    private static double ratio(int a, int b) {
        return (double) Math.max(a, b) / Math.min(a, b);
    }

    /** The JSON text of this table, entries in order. */
    public String toJson() {
        ObjectNode root = JSON.createObjectNode();
        root.put("schema", SCHEMA);
        ArrayNode list = root.putArray("entries");
        for (Entry e : entries) {
            ObjectNode o = list.addObject();
            o.put("device", e.key().device());
            o.put("compute_capability", e.key().computeCapability());
            o.put("gemm", e.key().gemm());
            o.put("precision", e.key().precision());
            o.put("model", e.key().model());
            o.put("shape", e.key().shape());
            o.put("batch_size", e.key().batchSize());
            ArrayNode s = o.putArray("settings");
            e.settings().forEach(s::add);
            o.set("measured", JSON.valueToTree(e.measured()));
        }
        try {
            return JSON.writeValueAsString(root) + "\n";
        } catch (JsonProcessingException ex) {
            throw new IllegalStateException(ex);
        }
    }

    /** Writes the table to {@code file} through a temporary file beside it, so that a failed write leaves the old table whole. */
    public void write(Path file) throws IOException {
        Path abs = file.toAbsolutePath();
        if (abs.getParent() != null) Files.createDirectories(abs.getParent());
        Path tmp = Files.createTempFile(abs.getParent(), abs.getFileName().toString(), ".tmp");
        try {
            Files.writeString(tmp, toJson(), StandardCharsets.UTF_8);
            try {
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * The model's shape as a tuning key: what the kernels' work depends on (widths, layers, activations, the softmax,
     * the recurrent models' options), not its initialisation, epsilons or momentum.
     */
    public static String shapeOf(ModelConfig m) {
        StringBuilder s = new StringBuilder();
        s.append('D').append(m.embDim());
        if (m.kind() != ModelConfig.Kind.BASE) {
            s.append(" att").append(dashed(m.attHidden())).append(' ').append(m.attActivation().name().toLowerCase(java.util.Locale.ROOT))
                    .append(m.attSoftmax() ? " softmax" : " nosoftmax");
        }
        s.append(" mlp").append(dashed(m.mlpHidden())).append(' ').append(m.topActivation().name().toLowerCase(java.util.Locale.ROOT));
        if (m.kind().recurrent()) {
            ModelConfig.Sequence q = m.sequence();
            s.append(" H").append(q.gruHidden());
            if (m.kind() == ModelConfig.Kind.DIEN) {
                s.append(' ').append(q.evolution().label());
                s.append(q.auxWeight() > 0 ? " aux" + dashed(q.auxHidden()) : " noaux");
            }
        }
        return s.toString();
    }

    private static String dashed(List<Integer> xs) {
        return xs.stream().map(String::valueOf).collect(Collectors.joining("-"));
    }

    /** The key of a run of {@code m} at batch {@code B} on this backend's device, GEMM provider and precision. */
    public static Key keyOf(CudaBackend cb, ModelConfig m, int B) {
        return new Key(cb.runtime().name, cb.runtime().computeCapability(), cb.gemm().name(), cb.precision().label(), m.kind().label(), shapeOf(m), B);
    }

    /**
     * The settings for a run of {@code m} at batch {@code B} on {@code cb}: the table's entry for it, if any, with the
     * system properties set applied on top; else the built-in settings with them.
     */
    public Choice choose(CudaBackend cb, ModelConfig m, int B) {
        return choose(keyOf(cb, m, B));
    }

    /** {@link #choose(CudaBackend, ModelConfig, int)} for a run's key. */
    public Choice choose(Key k) {
        final int B = k.batchSize();
        Optional<Entry> e = lookup(k);
        List<String> set = KernelTuning.setProperties();
        String props = set.isEmpty() ? "" : "; -D" + String.join(", -D", set) + " given, which win over any table";
        if (e.isEmpty()) {
            return new Choice(KernelTuning.withProperties(KernelTuning.builtIn()), null,
                    "no entry in " + source + " for " + k.model() + " of this shape on " + k.device() + " with " + k.gemm() + " in "
                            + k.precision() + props);
        }
        Entry x = e.get();
        String at = x.key().batchSize() == B ? "batch " + B : "batch " + x.key().batchSize() + ", the nearest to " + B;
        return new Choice(KernelTuning.withProperties(x.tuning()), x, "from " + source + ", " + k.model() + " measured at " + at + props);
    }

    /** How many entries are for this backend's device (name and compute capability). */
    public long entriesFor(CudaBackend cb) {
        return entries.stream().filter(e -> e.key().device().equals(cb.runtime().name)
                && e.key().computeCapability().equals(cb.runtime().computeCapability())).count();
    }
}
