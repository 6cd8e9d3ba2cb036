package io.augur.data;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * The contents of a dataset folder's {@code dataset.json}: what the sample files hold and how the
 * dataset was made. Layout (keys in this order):
 *
 * <pre>{@code
 * {
 *   "format": "augur-samples",
 *   "format_version": 1,
 *   "history_length": 50,                       // T: no row holds more behaviours
 *   "has_neg_hist": true,                       // neg_hist_* columns present
 *   "vocabularies": {"user": 4001, "item": 3001, "cate": 61},   // name -> size incl. id 0
 *   "fields": [ {"name": "label", "role": "label"},
 *               {"name": "user_id", "role": "user", "vocab": "user"},
 *               {"name": "item_id", "role": "item", "vocab": "item"}, ... ],
 *   "rows": {"train": 123, "valid": 8000, "test": 8000},
 *   "counts": {"user": "counts/user.arrow", "item": "counts/item.arrow", ...},
 *   "made_by": { free-form: the generator's config and seed, or the converter }
 * }
 * }</pre>
 *
 * @param format        always {@value #FORMAT}
 * @param formatVersion always {@value #FORMAT_VERSION} for now
 * @param historyLength T
 * @param hasNegHist    whether neg_hist_item_ids / neg_hist_cate_ids are present
 * @param vocabularies  vocabulary name → size (ids in [0, size)), in order user, item, cate, extras
 * @param fields        the columns with roles and vocabularies; profile fields in profile order
 * @param rows          rows per split, keyed "train", "valid", "test"
 * @param counts        vocabulary name → path of its training-split frequency counts, relative to the folder
 * @param madeBy        free-form description of the producer
 */
@JsonPropertyOrder({"format", "format_version", "history_length", "has_neg_hist", "vocabularies", "fields",
        "rows", "counts", "made_by"})
public record DatasetInfo(@JsonProperty("format") String format,
                          @JsonProperty("format_version") int formatVersion,
                          @JsonProperty("history_length") int historyLength,
                          @JsonProperty("has_neg_hist") boolean hasNegHist,
                          @JsonProperty("vocabularies") Map<String, Integer> vocabularies,
                          @JsonProperty("fields") List<FieldSpec> fields,
                          @JsonProperty("rows") Map<String, Long> rows,
                          @JsonProperty("counts") Map<String, String> counts,
                          @JsonProperty("made_by") JsonNode madeBy) {

    public static final String FORMAT = "augur-samples";
    public static final int FORMAT_VERSION = 1;
    public static final String FILE_NAME = "dataset.json";

    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** The info of a dataset with the given schema, row counts and producer description. */
    public static DatasetInfo of(SampleSchema schema, Map<Split, Long> rowsPerSplit, JsonNode madeBy) {
        Map<String, Long> rows = new LinkedHashMap<>();
        for (Split s : Split.values()) {
            rows.put(s.key(), rowsPerSplit.getOrDefault(s, 0L));
        }
        Map<String, String> counts = new LinkedHashMap<>();
        for (String vocab : schema.vocabularies().keySet()) {
            counts.put(vocab, FrequencyCounts.relativePath(vocab));
        }
        return new DatasetInfo(FORMAT, FORMAT_VERSION, schema.historyLength(), schema.hasNegHist(),
                new LinkedHashMap<>(schema.vocabularies()), schema.fields(), rows, counts,
                madeBy == null ? JsonNodeFactory.instance.objectNode() : madeBy);
    }

    /** The sample schema these fields and vocabularies describe. */
    public SampleSchema schema() {
        List<ExtraField> extras = new ArrayList<>();
        for (FieldSpec f : fields) {
            if (f.role() == FieldRole.PROFILE) {
                extras.add(new ExtraField(f.name(), vocabularies.get(f.vocab())));
            }
        }
        return new SampleSchema(historyLength, vocabularies.get(SampleSchema.VOCAB_USER),
                vocabularies.get(SampleSchema.VOCAB_ITEM), vocabularies.get(SampleSchema.VOCAB_CATE), extras, hasNegHist);
    }

    /** The profile fields: user_id first, then the extra fields in dataset.json order. */
    public List<FieldSpec> profileFields() {
        List<FieldSpec> out = new ArrayList<>();
        for (FieldSpec f : fields) {
            if (f.role() == FieldRole.USER) {
                out.add(0, f);
            } else if (f.role() == FieldRole.PROFILE) {
                out.add(f);
            }
        }
        return out;
    }

    /** The size of a vocabulary (ids in [0, size)); throws for an unknown name. */
    public int vocabSize(String vocab) {
        Integer size = vocabularies.get(vocab);
        if (size == null) {
            throw new IllegalArgumentException("unknown vocabulary '" + vocab + "'; known: " + vocabularies.keySet());
        }
        return size;
    }

    /** The number of rows of one split. */
    public long rows(Split split) {
        return rows.get(split.key());
    }

    /** Writes this info as JSON (UTF-8, indented, stable key order). */
    public void write(Path file) throws IOException {
        Files.writeString(file, toJson() + "\n", StandardCharsets.UTF_8);
    }

    /** This info as indented JSON. */
    public String toJson() {
        try {
            return JSON.writeValueAsString(this);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Reads and validates a dataset.json; any problem is a {@link DataFormatException} naming the key. */
    public static DatasetInfo read(Path file) {
        String name = file.toString();
        DatasetInfo info;
        try {
            info = JSON.readValue(Files.readString(file, StandardCharsets.UTF_8), DatasetInfo.class);
        } catch (JsonProcessingException e) {
            throw DataFormatException.atFile(name, "a dataset.json object", "unreadable JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw DataFormatException.atFile(name, "a readable file", e.toString(), e);
        }
        info.validate(name);
        return info;
    }

    /** Checks that every key is present and consistent. */
    void validate(String file) {
        if (!FORMAT.equals(format)) {
            throw DataFormatException.atKey(file, "format", "\"" + FORMAT + "\"", String.valueOf(format));
        }
        if (formatVersion != FORMAT_VERSION) {
            throw DataFormatException.atKey(file, "format_version", String.valueOf(FORMAT_VERSION), String.valueOf(formatVersion));
        }
        if (historyLength < 1) {
            throw DataFormatException.atKey(file, "history_length", "an integer >= 1", String.valueOf(historyLength));
        }
        if (vocabularies == null) {
            throw DataFormatException.atKey(file, "vocabularies", "an object name -> size", "nothing");
        }
        for (Map.Entry<String, Integer> v : vocabularies.entrySet()) {
            if (v.getValue() == null || v.getValue() < 1) {
                throw DataFormatException.atKey(file, "vocabularies." + v.getKey(), "a size >= 1", String.valueOf(v.getValue()));
            }
        }
        for (String std : List.of(SampleSchema.VOCAB_USER, SampleSchema.VOCAB_ITEM, SampleSchema.VOCAB_CATE)) {
            if (!vocabularies.containsKey(std)) {
                throw DataFormatException.atKey(file, "vocabularies." + std, "a size", "nothing");
            }
        }
        validateFields(file);
        if (rows == null) {
            throw DataFormatException.atKey(file, "rows", "an object split -> row count", "nothing");
        }
        for (Split s : Split.values()) {
            Long n = rows.get(s.key());
            if (n == null || n < 0) {
                throw DataFormatException.atKey(file, "rows." + s.key(), "a count >= 0", String.valueOf(n));
            }
        }
        if (counts == null) {
            throw DataFormatException.atKey(file, "counts", "an object vocabulary -> file", "nothing");
        }
        for (String vocab : vocabularies.keySet()) {
            if (counts.get(vocab) == null) {
                throw DataFormatException.atKey(file, "counts." + vocab, "a counts file path", "nothing");
            }
        }
        if (madeBy == null) {
            throw DataFormatException.atKey(file, "made_by", "an object", "nothing");
        }
    }

    private void validateFields(String file) {
        if (fields == null || fields.isEmpty()) {
            throw DataFormatException.atKey(file, "fields", "a list of fields", "nothing");
        }
        Map<FieldRole, FieldSpec> single = new EnumMap<>(FieldRole.class);
        Set<String> names = new HashSet<>();
        Set<String> usedVocabs = new HashSet<>();
        for (int i = 0; i < fields.size(); i++) {
            FieldSpec f = fields.get(i);
            String key = "fields[" + i + "]";
            if (f == null) {
                throw DataFormatException.atKey(file, key, "a field", "null");
            }
            if (!names.add(f.name())) {
                throw DataFormatException.atKey(file, key + ".name", "a unique column name", "'" + f.name() + "' again");
            }
            if (f.role() != FieldRole.PROFILE && single.put(f.role(), f) != null) {
                throw DataFormatException.atKey(file, key + ".role", "role '" + f.role().jsonName() + "' once", "it twice");
            }
            String expectedName = standardName(f.role());
            if (expectedName != null && !expectedName.equals(f.name())) {
                throw DataFormatException.atKey(file, key + ".name", "'" + expectedName + "' for role '"
                        + f.role().jsonName() + "'", "'" + f.name() + "'");
            }
            String expectedVocab = f.role() == FieldRole.PROFILE ? f.name() : standardVocab(f.role());
            if (!Objects.equals(expectedVocab, f.vocab())) {
                throw DataFormatException.atKey(file, key + ".vocab", String.valueOf(expectedVocab), String.valueOf(f.vocab()));
            }
            if (f.vocab() != null) {
                if (!vocabularies.containsKey(f.vocab())) {
                    throw DataFormatException.atKey(file, key + ".vocab", "a vocabulary listed in 'vocabularies'", "'" + f.vocab() + "'");
                }
                usedVocabs.add(f.vocab());
            }
        }
        for (FieldRole r : List.of(FieldRole.LABEL, FieldRole.USER, FieldRole.ITEM, FieldRole.CATE,
                FieldRole.HIST_ITEM, FieldRole.HIST_CATE)) {
            if (!single.containsKey(r)) {
                throw DataFormatException.atKey(file, "fields", "a field with role '" + r.jsonName() + "'", "none");
            }
        }
        boolean negItem = single.containsKey(FieldRole.NEG_HIST_ITEM);
        boolean negCate = single.containsKey(FieldRole.NEG_HIST_CATE);
        if (negItem != hasNegHist || negCate != hasNegHist) {
            throw DataFormatException.atKey(file, "has_neg_hist", "both neg_hist fields present exactly when has_neg_hist",
                    "has_neg_hist=" + hasNegHist + ", neg_hist_item_ids " + (negItem ? "present" : "absent")
                            + ", neg_hist_cate_ids " + (negCate ? "present" : "absent"));
        }
        for (String vocab : vocabularies.keySet()) {
            if (!usedVocabs.contains(vocab)) {
                throw DataFormatException.atKey(file, "vocabularies." + vocab, "a vocabulary used by a field", "it unused");
            }
        }
    }

    private static String standardName(FieldRole role) {
        return switch (role) {
            case LABEL -> SampleSchema.LABEL;
            case USER -> SampleSchema.USER_ID;
            case ITEM -> SampleSchema.ITEM_ID;
            case CATE -> SampleSchema.CATE_ID;
            case HIST_ITEM -> SampleSchema.HIST_ITEM_IDS;
            case HIST_CATE -> SampleSchema.HIST_CATE_IDS;
            case NEG_HIST_ITEM -> SampleSchema.NEG_HIST_ITEM_IDS;
            case NEG_HIST_CATE -> SampleSchema.NEG_HIST_CATE_IDS;
            case PROFILE -> null;
        };
    }

    private static String standardVocab(FieldRole role) {
        return switch (role) {
            case LABEL -> null;
            case USER -> SampleSchema.VOCAB_USER;
            case ITEM, HIST_ITEM, NEG_HIST_ITEM -> SampleSchema.VOCAB_ITEM;
            case CATE, HIST_CATE, NEG_HIST_CATE -> SampleSchema.VOCAB_CATE;
            case PROFILE -> null;
        };
    }
}
