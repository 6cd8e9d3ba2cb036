package io.augur.prepare;

import java.util.Locale;

/** How sampled negatives are drawn ({@code --negatives}); see {@link ItemSampler}. */
public enum Negatives {
    /** Every item 1..N equally likely. */
    UNIFORM,
    /** Each item in proportion to its count in the input. */
    POPULARITY;

    public static Negatives parse(String s) {
        for (Negatives k : values()) {
            if (k.name().equalsIgnoreCase(s)) {
                return k;
            }
        }
        throw new IllegalArgumentException("unknown --negatives '" + s + "' (expected uniform or popularity)");
    }

    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
