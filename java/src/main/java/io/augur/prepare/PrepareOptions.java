package io.augur.prepare;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Locale;

/**
 * How {@code augur prepare} converts: the options shared by every format and those of one format.
 * Built with {@link #builder()}; every option has a default (the CLI shows them).
 *
 * @param historyLength      T: histories keep the last T behaviours (default 100, the Amazon configuration)
 * @param seed               seed of the negative sampler and of the user split (default 42)
 * @param negatives          how sampled negatives are drawn: uniform or by popularity (default uniform)
 * @param negHistory         also write neg_hist_item_ids / neg_hist_cate_ids: one sampled item per
 *                           history position that the user never clicked (DIEN's auxiliary loss;
 *                           without them the trainer samples on the fly)
 * @param split              valid/test protocol of the sequence formats; null = the format's default
 * @param validFraction      with split USERS (and for dien's valid split): the share of users in valid
 * @param testFraction       with split USERS: the share of users in test
 * @param minHistory         samples with a shorter history are not written (counted in the report)
 * @param skipBadRows        skip and count bad lines instead of stopping at the first
 * @param userColumn         log: the user column's name in the header
 * @param itemColumn         log: the item column's name
 * @param cateColumn         log: the category column's name
 * @param timeColumn         log: the time column's name (Unix time or yyyy-MM-dd[ HH:mm[:ss]])
 * @param delimiter          log: the field delimiter (default ',')
 * @param grouped            log: the rows of each user are contiguous; convert in two passes holding
 *                           one user's behaviours instead of all of them
 * @param positiveThreshold  movielens: ratings at or above are positive (default 4)
 * @param positiveHistory    movielens: histories hold only earlier positive ratings (default: all earlier ratings)
 * @param extraFields        taobao: columns written as extra sparse fields; null = the user profile columns
 * @param lastCategoryList   amazon: take the category from the last category list instead of the first
 *                           (the DIN repository's script does {@code x[-1][-1]}; the protocol is the first list)
 */
public record PrepareOptions(int historyLength, long seed, Negatives negatives, boolean negHistory,
                             SplitProtocol split, double validFraction, double testFraction, int minHistory,
                             boolean skipBadRows, String userColumn, String itemColumn, String cateColumn,
                             String timeColumn, char delimiter, boolean grouped, double positiveThreshold,
                             boolean positiveHistory, List<String> extraFields, boolean lastCategoryList) {

    /** How the samples of the sequence formats (log, amazon, movielens) are split into train, valid and test. */
    public enum SplitProtocol {
        /** Per user: the samples of the last behaviour to test, of the second last to valid, the rest to train. */
        LEAVE_LAST,
        /** Whole users: a seeded share of the users to valid and to test, the rest to train (the DIN paper's MovieLens split). */
        USERS;

        public static SplitProtocol parse(String s) {
            return switch (s.toLowerCase(Locale.ROOT)) {
                case "leave-last", "leave_last" -> LEAVE_LAST;
                case "users", "by-user" -> USERS;
                default -> throw new IllegalArgumentException("unknown --split '" + s + "' (expected leave-last or users)");
            };
        }

        public String label() {
            return this == LEAVE_LAST ? "leave-last" : "users";
        }
    }

    public PrepareOptions {
        if (historyLength < 1) {
            throw new IllegalArgumentException("--history-length must be >= 1, got " + historyLength);
        }
        if (!(validFraction >= 0 && validFraction < 1) || !(testFraction >= 0 && testFraction < 1)
                || validFraction + testFraction >= 1) {
            throw new IllegalArgumentException("--valid-fraction and --test-fraction must lie in [0, 1) and sum below 1, got "
                    + validFraction + " and " + testFraction);
        }
        if (minHistory < 0 || minHistory > historyLength) {
            throw new IllegalArgumentException("--min-history must lie in [0, T = " + historyLength + "], got " + minHistory);
        }
        if (delimiter > 0x7F || delimiter == '\n' || delimiter == '\r' || delimiter == '"') {
            throw new IllegalArgumentException("--delimiter must be one ASCII character other than a quote or a line break, got '"
                    + delimiter + "'");
        }
        if (extraFields != null) {
            extraFields = List.copyOf(extraFields);
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        Builder b = new Builder();
        b.historyLength = historyLength;
        b.seed = seed;
        b.negatives = negatives;
        b.negHistory = negHistory;
        b.split = split;
        b.validFraction = validFraction;
        b.testFraction = testFraction;
        b.minHistory = minHistory;
        b.skipBadRows = skipBadRows;
        b.userColumn = userColumn;
        b.itemColumn = itemColumn;
        b.cateColumn = cateColumn;
        b.timeColumn = timeColumn;
        b.delimiter = delimiter;
        b.grouped = grouped;
        b.positiveThreshold = positiveThreshold;
        b.positiveHistory = positiveHistory;
        b.extraFields = extraFields;
        b.lastCategoryList = lastCategoryList;
        return b;
    }

    /** The options as JSON for dataset.json's made_by. */
    ObjectNode toJson(ObjectNode o) {
        o.put("history_length", historyLength);
        o.put("seed", seed);
        o.put("negatives", negatives.label());
        o.put("neg_history", negHistory);
        o.put("split", split == null ? null : split.label());
        o.put("valid_fraction", validFraction);
        o.put("test_fraction", testFraction);
        o.put("min_history", minHistory);
        o.put("skip_bad_rows", skipBadRows);
        return o;
    }

    public static final class Builder {
        private int historyLength = 100;
        private long seed = 42;
        private Negatives negatives = Negatives.UNIFORM;
        private boolean negHistory;
        private SplitProtocol split;
        private double validFraction = 0.1;
        private double testFraction = 0.1;
        private int minHistory;
        private boolean skipBadRows;
        private String userColumn = "user_id";
        private String itemColumn = "item_id";
        private String cateColumn = "cate_id";
        private String timeColumn = "time";
        private char delimiter = ',';
        private boolean grouped;
        private double positiveThreshold = 4;
        private boolean positiveHistory;
        private List<String> extraFields;
        private boolean lastCategoryList;

        public Builder historyLength(int v) { historyLength = v; return this; }
        public Builder seed(long v) { seed = v; return this; }
        public Builder negatives(String v) { negatives = Negatives.parse(v); return this; }
        public Builder negHistory(boolean v) { negHistory = v; return this; }
        public Builder split(SplitProtocol v) { split = v; return this; }
        public Builder validFraction(double v) { validFraction = v; return this; }
        public Builder testFraction(double v) { testFraction = v; return this; }
        public Builder minHistory(int v) { minHistory = v; return this; }
        public Builder skipBadRows(boolean v) { skipBadRows = v; return this; }
        public Builder userColumn(String v) { userColumn = v; return this; }
        public Builder itemColumn(String v) { itemColumn = v; return this; }
        public Builder cateColumn(String v) { cateColumn = v; return this; }
        public Builder timeColumn(String v) { timeColumn = v; return this; }
        public Builder delimiter(char v) { delimiter = v; return this; }
        public Builder grouped(boolean v) { grouped = v; return this; }
        public Builder positiveThreshold(double v) { positiveThreshold = v; return this; }
        public Builder positiveHistory(boolean v) { positiveHistory = v; return this; }
        public Builder extraFields(List<String> v) { extraFields = v; return this; }
        public Builder lastCategoryList(boolean v) { lastCategoryList = v; return this; }

        public PrepareOptions build() {
            return new PrepareOptions(historyLength, seed, negatives, negHistory, split, validFraction, testFraction, minHistory,
                    skipBadRows, userColumn, itemColumn, cateColumn, timeColumn, delimiter, grouped, positiveThreshold,
                    positiveHistory, extraFields, lastCategoryList);
        }
    }
}
