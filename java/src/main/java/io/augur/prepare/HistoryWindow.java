package io.augur.prepare;

/**
 * The part of a history a sample keeps, shared by every converter: the last T positions, and no
 * sample at all when fewer than {@code --min-history} remain. Counts the histories it cut and the
 * rows it dropped, for the report.
 */
final class HistoryWindow {
    static final String BELOW_MIN = "rows_below_min_history";

    private final int T;
    private final int minHistory;
    private long truncated;
    private long rowsBelowMin;

    HistoryWindow(PrepareOptions o) {
        this.T = o.historyLength();
        this.minHistory = o.minHistory();
    }

    /**
     * The first kept position of a history of length {@code n} (kept: {@code from .. n)}), or -1
     * when the kept part is shorter than --min-history; then {@code rows} rows are counted as
     * dropped (2 for a positive and its negative).
     */
    int from(int n, int rows) {
        int from = Math.max(0, n - T);
        if (n > T) {
            truncated++;
        }
        if (n - from < minHistory) {
            rowsBelowMin += rows;
            return -1;
        }
        return from;
    }

    /** Histories longer than T so far (their last T positions were kept). */
    long truncated() {
        return truncated;
    }

    /** Reports the rows dropped by --min-history (nothing when it is 0). */
    void reportBelowMin(PrepareReport report) {
        if (minHistory > 0) {
            report.count(BELOW_MIN, "rows not written: history shorter than --min-history " + minHistory, rowsBelowMin);
        }
    }
}
