package io.augur.data;

import java.util.Locale;

/** The three sample files of a dataset folder. */
public enum Split {
    TRAIN, VALID, TEST;

    /** "train", "valid", "test" (the key in dataset.json's {@code rows}). */
    public String key() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** "train.arrow" and so on. */
    public String fileName() {
        return key() + ".arrow";
    }
}
