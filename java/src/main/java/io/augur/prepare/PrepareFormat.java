package io.augur.prepare;

import java.util.Locale;

/** The input formats of {@code augur prepare --format}. */
public enum PrepareFormat {
    /** Behaviour logs: CSV with a header, columns user, item, category, time. */
    LOG,
    /** MovieLens 1M-style ratings.dat + movies.dat, or MovieLens-100k u.data + u.item. */
    MOVIELENS,
    /** DIEN's text samples: local_train_splitByUser / local_test_splitByUser. */
    DIEN,
    /** Amazon 2014 reviews: reviews_&lt;Category&gt;_5.json + meta_&lt;Category&gt;.json. */
    AMAZON,
    /** Taobao display-ad CSV (Ali_Display_Ad as prepared by FuxiCTR): train/valid/test files. */
    TAOBAO;

    public static PrepareFormat parse(String s) {
        for (PrepareFormat f : values()) {
            if (f.label().equals(s.toLowerCase(Locale.ROOT))) {
                return f;
            }
        }
        throw new IllegalArgumentException("unknown --format '" + s + "' (expected log, movielens, dien, amazon or taobao)");
    }

    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
