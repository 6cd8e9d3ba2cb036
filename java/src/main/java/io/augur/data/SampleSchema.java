package io.augur.data;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * The columns of one dataset's sample files (DESIGN.md §2) and the vocabularies their ids index.
 *
 * <p>Columns, in file order: {@code label} int8, {@code user_id}, the extra profile fields, then
 * {@code item_id}, {@code cate_id} int32, {@code hist_item_ids}, {@code hist_cate_ids}
 * list&lt;int32&gt;, and, when {@code hasNegHist}, {@code neg_hist_item_ids},
 * {@code neg_hist_cate_ids} list&lt;int32&gt;. Readers find columns by name, not position.
 *
 * <p>Vocabularies: {@code user} (user_id), {@code item} (item_id, hist_item_ids,
 * neg_hist_item_ids), {@code cate} (cate_id, hist_cate_ids, neg_hist_cate_ids) and one per extra
 * field, named like the field. A vocabulary's size counts the padding id 0, so ids lie in
 * [0, size) and an embedding table has {@code size} rows.
 *
 * @param historyLength T, the most behaviours a row may hold
 * @param userVocab     size of the user vocabulary
 * @param itemVocab     size of the item vocabulary
 * @param cateVocab     size of the category vocabulary
 * @param extraFields   extra sparse int32 columns, in order (profile fields 1..F-1)
 * @param hasNegHist    whether the neg_hist columns are present
 */
public record SampleSchema(int historyLength, int userVocab, int itemVocab, int cateVocab,
                           List<ExtraField> extraFields, boolean hasNegHist) {

    public static final String LABEL = "label";
    public static final String USER_ID = "user_id";
    public static final String ITEM_ID = "item_id";
    public static final String CATE_ID = "cate_id";
    public static final String HIST_ITEM_IDS = "hist_item_ids";
    public static final String HIST_CATE_IDS = "hist_cate_ids";
    public static final String NEG_HIST_ITEM_IDS = "neg_hist_item_ids";
    public static final String NEG_HIST_CATE_IDS = "neg_hist_cate_ids";

    public static final String VOCAB_USER = "user";
    public static final String VOCAB_ITEM = "item";
    public static final String VOCAB_CATE = "cate";

    /** The element field name of the list columns (pyarrow's convention). */
    static final String LIST_ELEMENT = "item";

    private static final Set<String> RESERVED = Set.of(LABEL, USER_ID, ITEM_ID, CATE_ID, HIST_ITEM_IDS,
            HIST_CATE_IDS, NEG_HIST_ITEM_IDS, NEG_HIST_CATE_IDS, VOCAB_USER, VOCAB_ITEM, VOCAB_CATE);

    public SampleSchema {
        if (historyLength < 1) {
            throw new IllegalArgumentException("history length T = " + historyLength + " < 1");
        }
        checkVocab(VOCAB_USER, userVocab);
        checkVocab(VOCAB_ITEM, itemVocab);
        checkVocab(VOCAB_CATE, cateVocab);
        extraFields = List.copyOf(Objects.requireNonNull(extraFields, "extraFields"));
        Set<String> seen = new HashSet<>();
        for (ExtraField f : extraFields) {
            if (RESERVED.contains(f.name())) {
                throw new IllegalArgumentException("extra field name '" + f.name() + "' is reserved");
            }
            if (!seen.add(f.name())) {
                throw new IllegalArgumentException("extra field '" + f.name() + "' given twice");
            }
        }
    }

    /** A schema without extra fields. */
    public static SampleSchema of(int historyLength, int userVocab, int itemVocab, int cateVocab, boolean hasNegHist) {
        return new SampleSchema(historyLength, userVocab, itemVocab, cateVocab, List.of(), hasNegHist);
    }

    private static void checkVocab(String name, int size) {
        if (size < 1) {
            throw new IllegalArgumentException("vocabulary '" + name + "': size " + size + " < 1");
        }
    }

    /** F, the number of profile fields: user_id plus the extra fields. */
    public int numProfileFields() {
        return 1 + extraFields.size();
    }

    /** The profile column names: user_id first, then the extra fields in order. */
    public List<String> profileFieldNames() {
        List<String> names = new ArrayList<>(numProfileFields());
        names.add(USER_ID);
        for (ExtraField f : extraFields) {
            names.add(f.name());
        }
        return names;
    }

    /** Vocabulary name → size, in the order user, item, cate, extra fields. */
    public Map<String, Integer> vocabularies() {
        Map<String, Integer> v = new LinkedHashMap<>();
        v.put(VOCAB_USER, userVocab);
        v.put(VOCAB_ITEM, itemVocab);
        v.put(VOCAB_CATE, cateVocab);
        for (ExtraField f : extraFields) {
            v.put(f.name(), f.vocabSize());
        }
        return Collections.unmodifiableMap(v);
    }

    /** The size of a vocabulary; throws for an unknown name. */
    public int vocabSize(String vocab) {
        Integer size = vocabularies().get(vocab);
        if (size == null) {
            throw new IllegalArgumentException("unknown vocabulary '" + vocab + "'; known: " + vocabularies().keySet());
        }
        return size;
    }

    /** Every column with its role and vocabulary, in file order. */
    public List<FieldSpec> fields() {
        List<FieldSpec> fs = new ArrayList<>();
        fs.add(new FieldSpec(LABEL, FieldRole.LABEL, null));
        fs.add(new FieldSpec(USER_ID, FieldRole.USER, VOCAB_USER));
        for (ExtraField f : extraFields) {
            fs.add(new FieldSpec(f.name(), FieldRole.PROFILE, f.name()));
        }
        fs.add(new FieldSpec(ITEM_ID, FieldRole.ITEM, VOCAB_ITEM));
        fs.add(new FieldSpec(CATE_ID, FieldRole.CATE, VOCAB_CATE));
        fs.add(new FieldSpec(HIST_ITEM_IDS, FieldRole.HIST_ITEM, VOCAB_ITEM));
        fs.add(new FieldSpec(HIST_CATE_IDS, FieldRole.HIST_CATE, VOCAB_CATE));
        if (hasNegHist) {
            fs.add(new FieldSpec(NEG_HIST_ITEM_IDS, FieldRole.NEG_HIST_ITEM, VOCAB_ITEM));
            fs.add(new FieldSpec(NEG_HIST_CATE_IDS, FieldRole.NEG_HIST_CATE, VOCAB_CATE));
        }
        return fs;
    }

    /** The Arrow schema the writer uses (no nulls declared anywhere). */
    public Schema arrowSchema() {
        List<Field> cols = new ArrayList<>();
        for (FieldSpec f : fields()) {
            if (f.role() == FieldRole.LABEL) {
                cols.add(new Field(f.name(), FieldType.notNullable(new ArrowType.Int(8, true)), null));
            } else if (f.role().isList()) {
                Field element = new Field(LIST_ELEMENT, FieldType.notNullable(new ArrowType.Int(32, true)), null);
                cols.add(new Field(f.name(), FieldType.notNullable(ArrowType.List.INSTANCE), List.of(element)));
            } else {
                cols.add(new Field(f.name(), FieldType.notNullable(new ArrowType.Int(32, true)), null));
            }
        }
        return new Schema(cols);
    }
}
