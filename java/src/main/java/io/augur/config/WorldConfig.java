package io.augur.config;

/**
 * The synthetic interest world ({@code io.augur.data.SyntheticWorld}, {@code augur generate}).
 * The defaults make a CI-sized world that DIN trains on in seconds; {@link #amazonElectronics()}
 * and {@link #benchmark()} are the two larger shapes. Same config (seed included) → byte-identical
 * dataset.
 *
 * @param seed                      seed of the one random stream everything is drawn from (default 42)
 * @param users                     users, ids 1..users (default 4,000)
 * @param items                     catalog items, ids 1..items (default 3,000)
 * @param categories                categories, ids 1..categories (default 60)
 * @param stylesPerCategory         latent styles S per category; every item has one (default 4)
 * @param categorySizeSigma         spread of category sizes: sizes ∝ exp(σ·N(0,1)) above a floor of S items (default 0.8)
 * @param popularityExponent        Zipf exponent of item popularity within a category (default 1.0)
 * @param interestsMin              fewest latent interests (category, preferred style) per user (default 2)
 * @param interestsMax              most latent interests per user (default 6)
 * @param drift                     per behaviour, probability that the active interest moves on (default 0.2)
 * @param driftJump                 when it moves, probability of a jump to a random other interest
 *                                  instead of the next one in the user's cyclic order (default 0.1)
 * @param meanHistory               mean behaviours per user (shifted geometric, default 20)
 * @param minBehaviours             fewest behaviours per user, at least 4: one test, one valid and
 *                                  one training impression need 4 behaviours (default 4)
 * @param maxBehaviours             cap on behaviours per user (default 200)
 * @param historyLength             T, behaviours kept per sample (the most recent T; default 50)
 * @param styleFidelity             probability a behaviour picks the interest's preferred style (default 0.8)
 * @param noise                     probability a behaviour is a random catalog item (default 0.05)
 * @param hardNegativeSameCategory  share of negatives from the positive's category but another style (default 0.3)
 * @param hardNegativeOtherInterest share of negatives drawn like a behaviour of one of the user's
 *                                  inactive interests (default 0.3); the rest are uniform over the catalog
 * @param negHistory                whether to write neg_hist_item_ids / neg_hist_cate_ids (default true)
 */
public record WorldConfig(
        long seed,
        int users,
        int items,
        int categories,
        int stylesPerCategory,
        double categorySizeSigma,
        double popularityExponent,
        int interestsMin,
        int interestsMax,
        double drift,
        double driftJump,
        double meanHistory,
        int minBehaviours,
        int maxBehaviours,
        int historyLength,
        double styleFidelity,
        double noise,
        double hardNegativeSameCategory,
        double hardNegativeOtherInterest,
        boolean negHistory) {

    public WorldConfig {
        positive("users", users);
        positive("categories", categories);
        positive("stylesPerCategory", stylesPerCategory);
        positive("historyLength", historyLength);
        if ((long) categories * stylesPerCategory > items) {
            throw new IllegalArgumentException("items = " + items + " < categories * stylesPerCategory = "
                    + (long) categories * stylesPerCategory + " (every style of every category needs an item)");
        }
        if (interestsMin < 1 || interestsMax < interestsMin) {
            throw new IllegalArgumentException("interests must satisfy 1 <= interestsMin <= interestsMax, got "
                    + interestsMin + ".." + interestsMax);
        }
        if (interestsMax > categories) {
            throw new IllegalArgumentException("interestsMax = " + interestsMax + " > categories = " + categories
                    + " (a user's interests are distinct categories)");
        }
        if (minBehaviours < 4) {
            throw new IllegalArgumentException("minBehaviours = " + minBehaviours + " < 4");
        }
        if (maxBehaviours < minBehaviours) {
            throw new IllegalArgumentException("maxBehaviours = " + maxBehaviours + " < minBehaviours = " + minBehaviours);
        }
        if (maxBehaviours >= items) {
            throw new IllegalArgumentException("maxBehaviours = " + maxBehaviours + " must be < items = " + items
                    + " so that every user has items left to be negatives");
        }
        if (!(meanHistory >= minBehaviours && meanHistory <= maxBehaviours)) {
            throw new IllegalArgumentException("meanHistory = " + meanHistory + " outside [minBehaviours, maxBehaviours] = ["
                    + minBehaviours + ", " + maxBehaviours + "]");
        }
        nonNegative("categorySizeSigma", categorySizeSigma);
        nonNegative("popularityExponent", popularityExponent);
        probability("drift", drift);
        probability("driftJump", driftJump);
        probability("styleFidelity", styleFidelity);
        probability("noise", noise);
        probability("hardNegativeSameCategory", hardNegativeSameCategory);
        probability("hardNegativeOtherInterest", hardNegativeOtherInterest);
        if (hardNegativeSameCategory + hardNegativeOtherInterest > 1 + 1e-12) {
            throw new IllegalArgumentException("hardNegativeSameCategory + hardNegativeOtherInterest = "
                    + (hardNegativeSameCategory + hardNegativeOtherInterest) + " > 1");
        }
    }

    private static void positive(String name, int v) {
        if (v < 1) {
            throw new IllegalArgumentException(name + " = " + v + " < 1");
        }
    }

    private static void nonNegative(String name, double v) {
        if (!(v >= 0) || Double.isInfinite(v)) {
            throw new IllegalArgumentException(name + " = " + v + " must be a finite number >= 0");
        }
    }

    private static void probability(String name, double p) {
        if (!(p >= 0 && p <= 1)) {
            throw new IllegalArgumentException(name + " = " + p + " is not a probability");
        }
    }

    /** The CI-sized default world: 4,000 users, 3,000 items, 60 categories, ~20 behaviours, T = 50. */
    public static WorldConfig defaults() {
        return builder().build();
    }

    /**
     * Amazon-Electronics-sized: 192,403 users, 63,001 items, 801 categories, T = 100 and a mean of
     * 8.8 behaviours per user (≈1.69M behaviours, as the 5-core review set). The DIN protocol then
     * makes ≈2·(8.8−1)·192,403 ≈ 3.0M impressions in all.
     */
    public static WorldConfig amazonElectronics() {
        return builder().users(192_403).items(63_001).categories(801).meanHistory(8.8).minBehaviours(4)
                .maxBehaviours(400).historyLength(100).build();
    }

    /**
     * The benchmark shape: 20,000 users with ~21 behaviours each on average, T = 100, on the
     * Amazon-sized catalog (63,001 items, 801 categories) so embedding tables match the Amazon config.
     */
    public static WorldConfig benchmark() {
        return builder().users(20_000).items(63_001).categories(801).meanHistory(21).historyLength(100).build();
    }

    /** A builder starting from the defaults. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder starting from this config. */
    public Builder toBuilder() {
        return new Builder(this);
    }

    /** Fluent construction; every field starts at its default. */
    public static final class Builder {
        private long seed = 42;
        private int users = 4_000;
        private int items = 3_000;
        private int categories = 60;
        private int stylesPerCategory = 4;
        private double categorySizeSigma = 0.8;
        private double popularityExponent = 1.0;
        private int interestsMin = 2;
        private int interestsMax = 6;
        private double drift = 0.2;
        private double driftJump = 0.1;
        private double meanHistory = 20;
        private int minBehaviours = 4;
        private int maxBehaviours = 200;
        private int historyLength = 50;
        private double styleFidelity = 0.8;
        private double noise = 0.05;
        private double hardNegativeSameCategory = 0.3;
        private double hardNegativeOtherInterest = 0.3;
        private boolean negHistory = true;

        private Builder() {
        }

        private Builder(WorldConfig c) {
            seed = c.seed;
            users = c.users;
            items = c.items;
            categories = c.categories;
            stylesPerCategory = c.stylesPerCategory;
            categorySizeSigma = c.categorySizeSigma;
            popularityExponent = c.popularityExponent;
            interestsMin = c.interestsMin;
            interestsMax = c.interestsMax;
            drift = c.drift;
            driftJump = c.driftJump;
            meanHistory = c.meanHistory;
            minBehaviours = c.minBehaviours;
            maxBehaviours = c.maxBehaviours;
            historyLength = c.historyLength;
            styleFidelity = c.styleFidelity;
            noise = c.noise;
            hardNegativeSameCategory = c.hardNegativeSameCategory;
            hardNegativeOtherInterest = c.hardNegativeOtherInterest;
            negHistory = c.negHistory;
        }

        public Builder seed(long v) { seed = v; return this; }
        public Builder users(int v) { users = v; return this; }
        public Builder items(int v) { items = v; return this; }
        public Builder categories(int v) { categories = v; return this; }
        public Builder stylesPerCategory(int v) { stylesPerCategory = v; return this; }
        public Builder categorySizeSigma(double v) { categorySizeSigma = v; return this; }
        public Builder popularityExponent(double v) { popularityExponent = v; return this; }
        public Builder interestsMin(int v) { interestsMin = v; return this; }
        public Builder interestsMax(int v) { interestsMax = v; return this; }
        public Builder drift(double v) { drift = v; return this; }
        public Builder driftJump(double v) { driftJump = v; return this; }
        public Builder meanHistory(double v) { meanHistory = v; return this; }
        public Builder minBehaviours(int v) { minBehaviours = v; return this; }
        public Builder maxBehaviours(int v) { maxBehaviours = v; return this; }
        public Builder historyLength(int v) { historyLength = v; return this; }
        public Builder styleFidelity(double v) { styleFidelity = v; return this; }
        public Builder noise(double v) { noise = v; return this; }
        public Builder hardNegativeSameCategory(double v) { hardNegativeSameCategory = v; return this; }
        public Builder hardNegativeOtherInterest(double v) { hardNegativeOtherInterest = v; return this; }
        public Builder negHistory(boolean v) { negHistory = v; return this; }

        /** The config; throws IllegalArgumentException when fields do not fit together. */
        public WorldConfig build() {
            return new WorldConfig(seed, users, items, categories, stylesPerCategory, categorySizeSigma,
                    popularityExponent, interestsMin, interestsMax, drift, driftJump, meanHistory, minBehaviours,
                    maxBehaviours, historyLength, styleFidelity, noise, hardNegativeSameCategory,
                    hardNegativeOtherInterest, negHistory);
        }
    }
}
