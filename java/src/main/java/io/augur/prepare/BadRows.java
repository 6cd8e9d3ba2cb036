package io.augur.prepare;

import io.augur.data.DataFormatException;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What happens to a bad input line: without {@code --skip-bad-rows} the first one stops the
 * conversion with a {@link DataFormatException} naming the file, the 1-based line and the field;
 * with it, the line is left out and counted by {@link BadRow.Reason}, and the first occurrence of
 * each reason is kept as an example for the report. Nothing is ever dropped without a count.
 */
final class BadRows {

    private final boolean skip;
    private final Map<BadRow.Reason, Long> counts = new EnumMap<>(BadRow.Reason.class);
    private final Map<BadRow.Reason, String> firstExample = new EnumMap<>(BadRow.Reason.class);

    BadRows(boolean skip) {
        this.skip = skip;
    }

    boolean skipping() {
        return skip;
    }

    /** Throws (strict) or counts (skipping) a bad line {@code line} of {@code file}. */
    void handle(BadRow e, String file, long line) {
        DataFormatException dfe = DataFormatException.atLine(file, line, e.field, e.expected, e.found);
        if (!skip) {
            throw dfe;
        }
        counts.merge(e.reason, 1L, Long::sum);
        firstExample.putIfAbsent(e.reason, dfe.getMessage());
    }

    /** Lines skipped in all. */
    long total() {
        long n = 0;
        for (long c : counts.values()) {
            n += c;
        }
        return n;
    }

    /** Skipped lines by reason key. */
    Map<String, Long> byReason() {
        Map<String, Long> m = new LinkedHashMap<>();
        counts.forEach((r, n) -> m.put(r.key(), n));
        return m;
    }

    /** The first skipped line of each reason, as its error message. */
    Map<String, String> examples() {
        Map<String, String> m = new LinkedHashMap<>();
        firstExample.forEach((r, s) -> m.put(r.key(), s));
        return m;
    }
}
