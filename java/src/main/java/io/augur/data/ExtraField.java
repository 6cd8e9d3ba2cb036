package io.augur.data;

import java.util.Objects;

/**
 * An extra sparse int32 column (user profile or context field) with its own vocabulary.
 * Its ids lie in [0, vocabSize); 0 means unknown.
 *
 * @param name      the column name, also the vocabulary name
 * @param vocabSize the number of ids including the padding id 0
 */
public record ExtraField(String name, int vocabSize) {

    public ExtraField {
        Objects.requireNonNull(name, "name");
        if (name.isBlank()) {
            throw new IllegalArgumentException("extra field name is blank");
        }
        if (vocabSize < 1) {
            throw new IllegalArgumentException("extra field '" + name + "': vocabulary size " + vocabSize + " < 1");
        }
    }
}
