package io.augur.model;

import java.util.List;

/**
 * What the model's inputs look like: the profile fields (user_id first, then any extra sparse
 * field), the item and category vocabularies shared by the target and the history, and T.
 *
 * @param profile    one entry per profile field, in the batch's order
 * @param itemVocab  rows of the item table (ids 0..itemVocab-1, 0 = padding)
 * @param cateVocab  rows of the category table
 * @param T          history length
 */
public record Features(List<Field> profile, int itemVocab, int cateVocab, int T) {

    /** A sparse profile field and the vocabulary it indexes. */
    public record Field(String name, String vocab, int vocabSize) {}

    public Features {
        if (profile.isEmpty()) throw new IllegalArgumentException("at least one profile field (user_id) is required");
        if (T <= 0) throw new IllegalArgumentException("history length T must be positive, got " + T);
        profile = List.copyOf(profile);
    }
}
