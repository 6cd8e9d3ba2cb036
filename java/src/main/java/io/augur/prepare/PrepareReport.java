package io.augur.prepare;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.augur.data.DatasetInfo;
import io.augur.data.Split;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What one conversion did, printed by {@code augur prepare} and stored under
 * {@code made_by.report} in dataset.json: rows read per input file, rows written per split, lines
 * skipped by reason (with {@code --skip-bad-rows}), other counted events (users too short for a
 * sample, unknown ids mapped to 0, negatives that fell back, ...), vocabulary sizes, the
 * distribution of stored history lengths, and the memory bound of the converter with what it
 * actually held.
 */
public final class PrepareReport {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final String format;
    private final Map<String, Long> rowsRead = new LinkedHashMap<>();
    private final Map<String, Event> events = new LinkedHashMap<>();
    private final long[] histLengths;   // (T + 1) rows written by stored history length
    private BadRows bad = new BadRows(false);
    private String memoryBound = "";
    private long heldBehaviours;
    private long heldBytes;
    private DatasetInfo info;
    private Path dir;
    private double seconds;

    /** A counted event: its description and count. */
    record Event(String description, long count) {}

    PrepareReport(String format, int historyLength) {
        this.format = format;
        this.histLengths = new long[historyLength + 1];
    }

    void rowsRead(String file, long rows) {
        rowsRead.merge(file, rows, Long::sum);
    }

    void badRows(BadRows b) {
        this.bad = b;
    }

    /** Adds {@code n} to the event {@code key} (created with its description on first use). Zero counts are kept. */
    void count(String key, String description, long n) {
        Event e = events.get(key);
        events.put(key, new Event(description, (e == null ? 0 : e.count()) + n));
    }

    /** One written row with a stored history of {@code len} behaviours. */
    void history(int len) {
        histLengths[len]++;
    }

    /**
     * The converter's memory bound in words and what it held at its peak: the behaviours kept and
     * the bytes of its own arrays (vocabularies, behaviour columns, lookup tables; not the JVM).
     */
    void memory(String bound, long behaviours, long bytes) {
        this.memoryBound = bound;
        this.heldBehaviours = behaviours;
        this.heldBytes = bytes;
    }

    void finish(Path dir, DatasetInfo info, double seconds) {
        this.dir = dir;
        this.info = info;
        this.seconds = seconds;
    }

    public String format() {
        return format;
    }

    public DatasetInfo info() {
        return info;
    }

    public Path dir() {
        return dir;
    }

    /** Input rows (lines holding data, headers excluded) read over all files. */
    public long rowsRead() {
        long n = 0;
        for (long r : rowsRead.values()) {
            n += r;
        }
        return n;
    }

    /** Rows read per input file. */
    public Map<String, Long> rowsReadByFile() {
        return Map.copyOf(rowsRead);
    }

    /** Rows written in all splits. */
    public long rowsWritten() {
        return info.rows(Split.TRAIN) + info.rows(Split.VALID) + info.rows(Split.TEST);
    }

    /** Lines skipped as bad, in all. */
    public long skipped() {
        return bad.total();
    }

    /** Lines skipped by reason key (e.g. "bad_number"). */
    public Map<String, Long> skippedByReason() {
        return bad.byReason();
    }

    /** The count of an event key, 0 if it never happened. */
    public long event(String key) {
        Event e = events.get(key);
        return e == null ? 0 : e.count();
    }

    /** Event key to count. */
    public Map<String, Long> events() {
        Map<String, Long> m = new LinkedHashMap<>();
        events.forEach((k, e) -> m.put(k, e.count()));
        return m;
    }

    /** Written rows by stored history length (index = length, 0..T). */
    public long[] historyLengths() {
        return histLengths.clone();
    }

    public String memoryBound() {
        return memoryBound;
    }

    public long heldBytes() {
        return heldBytes;
    }

    public double seconds() {
        return seconds;
    }

    /** The q-quantile (0..1) of the stored history lengths of the written rows. */
    public int historyQuantile(double q) {
        long total = 0;
        for (long c : histLengths) {
            total += c;
        }
        if (total == 0) {
            return 0;
        }
        long rank = (long) Math.ceil(q * total);
        long seen = 0;
        for (int len = 0; len < histLengths.length; len++) {
            seen += histLengths[len];
            if (seen >= Math.max(1, rank)) {
                return len;
            }
        }
        return histLengths.length - 1;
    }

    /** Mean stored history length of the written rows. */
    public double historyMean() {
        long total = 0;
        double sum = 0;
        for (int len = 0; len < histLengths.length; len++) {
            total += histLengths[len];
            sum += (double) len * histLengths[len];
        }
        return total == 0 ? 0 : sum / total;
    }

    /** The report as lines of text (what {@code augur prepare} prints). */
    public List<String> lines() {
        List<String> out = new ArrayList<>();
        int T = histLengths.length - 1;
        out.add(String.format(Locale.ROOT, "prepare %s -> %s: %s rows read, %s written (train %s, valid %s, test %s) in %.1f s (%s rows/s)",
                format, dir, g(rowsRead()), g(rowsWritten()), g(info.rows(Split.TRAIN)), g(info.rows(Split.VALID)),
                g(info.rows(Split.TEST)), seconds, g(seconds > 0 ? Math.round(rowsRead() / seconds) : 0)));
        for (Map.Entry<String, Long> e : rowsRead.entrySet()) {
            out.add("  read     " + e.getKey() + ": " + g(e.getValue()) + " rows");
        }
        if (bad.total() == 0) {
            out.add("  skipped  0 bad lines");
        } else {
            out.add("  skipped  " + g(bad.total()) + " bad lines (--skip-bad-rows):");
            Map<String, String> ex = bad.examples();
            bad.byReason().forEach((k, n) -> out.add("           " + k + ": " + g(n) + " (first: " + ex.get(k) + ")"));
        }
        for (Map.Entry<String, Event> e : events.entrySet()) {
            out.add("  counted  " + e.getKey() + ": " + g(e.getValue().count()) + " (" + e.getValue().description() + ")");
        }
        StringBuilder v = new StringBuilder("  vocab    ");
        info.vocabularies().forEach((k, n) -> v.append(k).append(' ').append(g(n - 1)).append(", "));
        v.setLength(v.length() - 2);
        v.append(" ids (+ id 0 for padding/unknown)");
        out.add(v.toString());
        out.add(String.format(Locale.ROOT, "  history  T = %d: mean %.1f, p50 %d, p90 %d, p99 %d, max %d; empty %s rows, %s rows at T (truncated or exactly T)",
                T, historyMean(), historyQuantile(0.5), historyQuantile(0.9), historyQuantile(0.99), historyQuantile(1.0),
                g(histLengths[0]), g(histLengths[T])));
        out.add("  memory   " + memoryBound + "; held " + g(heldBehaviours) + " behaviours, " + mib(heldBytes) + " in the converter's arrays");
        return out;
    }

    /** One text block. */
    public String summary() {
        return String.join("\n", lines());
    }

    /** The report as JSON (stored in dataset.json under made_by.report). */
    ObjectNode toJson() {
        ObjectNode o = JSON.createObjectNode();
        ObjectNode read = o.putObject("rows_read");
        rowsRead.forEach(read::put);
        ObjectNode skipped = o.putObject("skipped");
        bad.byReason().forEach(skipped::put);
        ObjectNode examples = o.putObject("skipped_examples");
        bad.examples().forEach(examples::put);
        ObjectNode ev = o.putObject("events");
        events.forEach((k, e) -> {
            ObjectNode x = ev.putObject(k);
            x.put("count", e.count());
            x.put("description", e.description());
        });
        ObjectNode h = o.putObject("history_length");
        h.put("mean", historyMean());
        h.put("p50", historyQuantile(0.5));
        h.put("p90", historyQuantile(0.9));
        h.put("p99", historyQuantile(0.99));
        h.put("max", historyQuantile(1.0));
        ArrayNode hist = h.putArray("rows_by_length");
        for (long c : histLengths) {
            hist.add(c);
        }
        ObjectNode m = o.putObject("memory");
        m.put("bound", memoryBound);
        m.put("held_behaviours", heldBehaviours);
        m.put("held_bytes", heldBytes);
        return o;
    }

    static String g(long v) {
        return String.format(Locale.ROOT, "%,d", v);
    }

    static String mib(long bytes) {
        return String.format(Locale.ROOT, "%.1f MiB", bytes / (1024.0 * 1024.0));
    }
}
