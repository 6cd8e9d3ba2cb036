package io.augur.data;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/** What a column of the sample format means to a model (the {@code role} of a field in dataset.json). */
public enum FieldRole {
    /** int8, 1 clicked, 0 not. */
    LABEL,
    /** int32 user id; profile field 0. */
    USER,
    /** int32 candidate item id. */
    ITEM,
    /** int32 candidate category id. */
    CATE,
    /** list&lt;int32&gt;, the behaviour items, oldest first. */
    HIST_ITEM,
    /** list&lt;int32&gt;, the behaviour categories, same length as HIST_ITEM. */
    HIST_CATE,
    /** list&lt;int32&gt;, one non-clicked item per history position (DIEN's auxiliary loss). */
    NEG_HIST_ITEM,
    /** list&lt;int32&gt;, the categories of NEG_HIST_ITEM. */
    NEG_HIST_CATE,
    /** int32 extra sparse field (user profile or context) with its own vocabulary. */
    PROFILE;

    /** The lower-case name written to dataset.json. */
    @JsonValue
    public String jsonName() {
        return name().toLowerCase(Locale.ROOT);
    }

    @JsonCreator
    public static FieldRole fromJson(String s) {
        for (FieldRole r : values()) {
            if (r.jsonName().equals(s)) {
                return r;
            }
        }
        throw new IllegalArgumentException("unknown field role '" + s + "'");
    }

    /** True for the list&lt;int32&gt; columns. */
    public boolean isList() {
        return this == HIST_ITEM || this == HIST_CATE || this == NEG_HIST_ITEM || this == NEG_HIST_CATE;
    }
}
