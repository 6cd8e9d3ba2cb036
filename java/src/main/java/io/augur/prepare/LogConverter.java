package io.augur.prepare;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.augur.data.DataFormatException;
import io.augur.data.DatasetWriter;
import io.augur.data.SampleSchema;
import io.augur.train.Progress;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * {@code --format log}: a behaviour log, CSV with a header naming the columns (by default
 * {@code user_id,item_id,cate_id,time}; other names with {@code --user-col} and so on, other
 * delimiters with {@code --delimiter}; further columns are ignored), one behaviour per line, in
 * any order. Each user's behaviours are sorted by time (ties keep the input order) and turned into
 * samples by the DIN protocol ({@link SequenceSamples#clicks}); the category of an item is the one
 * on its first line (lines that disagree are counted). Raw ids of any form map to dense ids in order
 * of first appearance. Time is Unix time (any integer unit) or {@code yyyy-MM-dd[ HH:mm[:ss]]}.
 *
 * <p>Memory: by default every behaviour is held until the file is read (the rows of a user may be
 * anywhere in it): about 20 bytes per behaviour plus the vocabularies, independent of the width of
 * the lines. With {@code --grouped} (each user's rows contiguous, as in logs sorted by user) the
 * file is read twice, first for the vocabularies and item counts, then converting one user at a
 * time: memory is the vocabularies plus the longest user's behaviours. A file that turns out not
 * to be grouped stops with an error naming the line.
 */
final class LogConverter extends Converter {

    private String file;
    private int userCol;
    private int itemCol;
    private int cateCol;
    private int timeCol;
    private int numCols;
    private Fields fields;
    private byte delim;
    private String delimName;

    private final Vocab users = new Vocab(SampleSchema.VOCAB_USER, 1 << 16);
    private final Vocab items = new Vocab(SampleSchema.VOCAB_ITEM, 1 << 16);
    private final Vocab cates = new Vocab(SampleSchema.VOCAB_CATE);
    private int[] itemCate = new int[1 << 16];
    private int[] itemCount = new int[1 << 16];
    private long cateConflicts;
    private long blankLines;

    // the row being parsed (set by parse())
    private int rowUser;
    private int rowItem;
    private long rowTime;

    LogConverter(PrepareOptions o) {
        super(PrepareFormat.LOG, o);
    }

    @Override
    PrepareReport run(Path input, Path out) throws IOException {
        Path path = fileOrOnlyMatch(input, "behaviour log", "*.csv", "*.csv.gz", "*.tsv", "*.tsv.gz", "*.txt", "*.txt.gz");
        file = path.toString();
        delim = (byte) o.delimiter();
        delimName = o.delimiter() == '\t' ? "tabs" : "'" + o.delimiter() + "'";
        return o.grouped() ? grouped(path, out) : holdAll(path, out);
    }

    // ------------------------------------------------------------------ whole-file mode

    private PrepareReport holdAll(Path path, Path out) throws IOException {
        Behaviours bs = new Behaviours(false);
        long rows = 0;
        try (LineReader r = open(path)) {
            header(r);
            Progress p = progress("reading " + path.getFileName());
            while (r.next()) {
                if (r.blank()) {
                    blankLines++;
                    continue;
                }
                rows++;
                if (batching && stage(r)) {
                    if (staged == STAGE) {
                        drain(bs);
                    }
                } else {
                    drain(bs); // keeps the order of first appearance: the staged rows come first
                    if (parse(r, true)) {
                        bs.add(rowUser, rowItem, rowTime);
                    }
                }
                if ((rows & (PROGRESS_EVERY - 1)) == 0) {
                    p.update(rows);
                }
            }
            drain(bs);
            p.update(rows);
            p.finish();
            report.rowsRead(file, rows);
            if (bs.size() == 0) {
                throw noRows(file, "behaviour line after the header");
            }
        }
        long held = bs.bytes() + vocabBytes() + 8L * itemCate.length + 8L * (items.keys() + 1);
        report.memory("every behaviour until the file is read (the rows of a user may be anywhere; --grouped avoids this): "
                + "~20 bytes per behaviour + vocabularies", bs.size(), held);

        ObjectNode madeBy = madeBy();
        try (DatasetWriter w = create(out, schema(), madeBy)) {
            SequenceSamples s = samples(w);
            Progress p = progress("writing samples");
            long[] done = {0};
            bs.forEachUser(users.keys(), (u, its, labels, n) -> {
                s.clicks(u, its, n);
                done[0] += n;
                if ((u & 0xFFF) == 0) {
                    p.update(done[0]);
                }
            });
            p.update(done[0]);
            p.finish();
            return end(w, s, madeBy);
        }
    }

    // Rows whose three ids are canonical decimals are staged as values and looked up STAGE at a
    // time: the vocabulary slots of the whole batch are loaded first (independent loads whose cache
    // misses overlap), then the rows are mapped in order, so ids are still given in order of first
    // appearance. A line with any other id, or a bad line, goes through parse() after the staged
    // rows; the first id that is not a canonical decimal turns staging off for the rest of the file.
    // (On a 10-million-row log with a million users this took the read phase from 5.4 to 3.4 s.)
    private static final int STAGE = 64;
    private boolean batching = true;
    private int staged;
    private final long[] stUser = new long[STAGE];
    private final long[] stItem = new long[STAGE];
    private final long[] stCate = new long[STAGE];
    private final long[] stTime = new long[STAGE];
    private long touched; // the loads' results go here so that the JIT keeps the loads

    /** Parses the current line into the stage; false (nothing staged) when parse() must handle it. */
    private boolean stage(LineReader r) {
        Fields f = fields;
        try {
            f.split(r.buf(), r.start(), r.end(), delim);
            f.expectCount(numCols, delimName);
            f.requireNonEmpty(userCol);
            f.requireNonEmpty(itemCol);
            f.requireNonEmpty(cateCol);
            long t = f.parseTime(timeCol);
            byte[] b = f.buf();
            long u = Vocab.decimal(b, f.start(userCol), f.length(userCol));
            long it = Vocab.decimal(b, f.start(itemCol), f.length(itemCol));
            long c = Vocab.decimal(b, f.start(cateCol), f.length(cateCol));
            if ((u | it | c) < 0) {
                batching = false;
                return false;
            }
            int k = staged++;
            stUser[k] = u;
            stItem[k] = it;
            stCate[k] = c;
            stTime[k] = t;
            return true;
        } catch (BadRow e) {
            return false; // parse() finds the same fault and reports it with the line number
        }
    }

    /** Maps the staged rows to ids, in order, and adds them. */
    private void drain(Behaviours bs) {
        int n = staged;
        if (n == 0) {
            return;
        }
        long sink = 0;
        for (int k = 0; k < n; k++) {
            sink += users.touch(stUser[k]) + items.touch(stItem[k]);
        }
        touched += sink;
        for (int k = 0; k < n; k++) {
            int u = users.getOrAddNumber(stUser[k]);
            int before = items.keys();
            int it = items.getOrAddNumber(stItem[k]);
            int c = cates.getOrAddNumber(stCate[k]);
            itemSeen(it, before, c);
            bs.add(u, it, stTime[k]);
        }
        staged = 0;
    }

    private void itemSeen(int it, int before, int c) {
        if (it > before) {
            itemCate = ensure(itemCate, it);
            itemCount = ensure(itemCount, it);
            itemCate[it] = c;
        } else if (itemCate[it] != c) {
            cateConflicts++;
        }
        itemCount[it]++;
    }

    // ------------------------------------------------------------------ grouped mode

    private PrepareReport grouped(Path path, Path out) throws IOException {
        long rows = 0;
        long good = 0;
        int maxUserRows = 0;
        // pass 1: vocabularies, item counts and categories; checks that each user's rows are together
        try (LineReader r = open(path)) {
            header(r);
            Progress p = progress("pass 1/2 (vocabularies), " + path.getFileName());
            int prev = 0;
            int run = 0;
            long[] firstLine = new long[1 << 16];
            while (r.next()) {
                if (r.blank()) {
                    blankLines++;
                    continue;
                }
                rows++;
                int before = users.keys();
                if (!parse(r, true)) {
                    continue;
                }
                good++;
                if (rowUser != prev) {
                    if (rowUser <= before) {
                        throw DataFormatException.atLine(file, r.line(), fields.name(userCol),
                                "the rows of each user together (--grouped)", "user '" + users.key(rowUser)
                                        + "' again after other users' rows (its rows began on line " + firstLine[rowUser]
                                        + "); drop --grouped to convert an ungrouped log");
                    }
                    if (rowUser >= firstLine.length) {
                        firstLine = Arrays.copyOf(firstLine, firstLine.length * 2);
                    }
                    firstLine[rowUser] = r.line();
                    prev = rowUser;
                    run = 0;
                }
                run++;
                maxUserRows = Math.max(maxUserRows, run);
                if ((rows & (PROGRESS_EVERY - 1)) == 0) {
                    p.update(rows);
                }
            }
            p.update(rows);
            p.finish();
            report.rowsRead(file, rows);
            if (good == 0) {
                throw noRows(file, "behaviour line after the header");
            }
        }
        long held = vocabBytes() + 8L * itemCate.length + 8L * (items.keys() + 1) + 12L * maxUserRows;
        report.memory("the vocabularies and one user's behaviours at a time (--grouped: two passes)", maxUserRows, held);

        // pass 2: one user at a time; bad lines were counted in pass 1 and are skipped the same way here
        ObjectNode madeBy = madeBy();
        try (DatasetWriter w = create(out, schema(), madeBy); LineReader r = LineReader.open(path)) {
            SequenceSamples s = samples(w);
            r.next(); // the header
            Progress p = progress("pass 2/2 (samples), " + path.getFileName());
            int[] uItems = new int[Math.max(1, maxUserRows)];
            long[] uTimes = new long[Math.max(1, maxUserRows)];
            int[] perm = new int[Math.max(1, maxUserRows)];
            Behaviours.TimeSort sorter = new Behaviours.TimeSort(maxUserRows);
            int cur = 0;
            int n = 0;
            long seen = 0;
            while (r.next()) {
                if (r.blank()) {
                    continue;
                }
                seen++;
                if (!parse(r, false)) {
                    continue;
                }
                if (rowUser != cur) {
                    flushUser(s, cur, uItems, uTimes, perm, sorter, n);
                    cur = rowUser;
                    n = 0;
                }
                uItems[n] = rowItem;
                uTimes[n] = rowTime;
                n++;
                if ((seen & (PROGRESS_EVERY - 1)) == 0) {
                    p.update(seen);
                }
            }
            flushUser(s, cur, uItems, uTimes, perm, sorter, n);
            p.update(seen);
            p.finish();
            return end(w, s, madeBy);
        }
    }

    private static void flushUser(SequenceSamples s, int user, int[] items, long[] times, int[] perm, Behaviours.TimeSort sorter, int n) {
        if (n == 0) {
            return;
        }
        boolean sorted = true;
        for (int k = 1; k < n; k++) {
            if (times[k] < times[k - 1]) {
                sorted = false;
                break;
            }
        }
        if (!sorted) {
            for (int k = 0; k < n; k++) {
                perm[k] = items[k];
            }
            sorter.sort(perm, times, n);
            System.arraycopy(perm, 0, items, 0, n);
        }
        s.clicks(user, items, n);
    }

    // ------------------------------------------------------------------ shared

    /** Reads the header and finds the four columns. */
    private void header(LineReader r) throws IOException {
        String cols = o.userColumn() + o.delimiter() + o.itemColumn() + o.delimiter() + o.cateColumn() + o.delimiter() + o.timeColumn();
        firstLine(r, "a header line naming the columns (" + cols + ")");
        Fields h = new Fields(new String[0], true);
        int s = skipBom(r);
        try {
            h.split(r.buf(), s, r.end(), delim);
        } catch (BadRow e) {
            throw DataFormatException.atLine(file, 1, e.field, e.expected, e.found);
        }
        String[] names = new String[h.count()];
        for (int i = 0; i < names.length; i++) {
            names[i] = h.text(i);
        }
        userCol = column(names, o.userColumn(), "--user-col", r);
        itemCol = column(names, o.itemColumn(), "--item-col", r);
        cateCol = column(names, o.cateColumn(), "--cate-col", r);
        timeCol = column(names, o.timeColumn(), "--time-col", r);
        numCols = names.length;
        fields = new Fields(names, true);
    }

    private int column(String[] names, String want, String flag, LineReader r) {
        for (int i = 0; i < names.length; i++) {
            if (names[i].equals(want)) {
                return i;
            }
        }
        String hint = names.length == 1 ? " (one column: is the delimiter " + delimName + " right? see --delimiter)" : "";
        throw DataFormatException.atLine(file, 1, want, "a header column named '" + want + "' (set another name with " + flag + ")",
                "the columns " + Arrays.toString(names) + hint);
    }

    /**
     * Parses the current line into rowUser/rowItem/rowTime, adding new ids to the vocabularies.
     * Returns false for a bad line, which is counted (first pass) or just skipped (second pass).
     */
    private boolean parse(LineReader r, boolean firstPass) {
        Fields f = fields;
        try {
            f.split(r.buf(), r.start(), r.end(), delim);
            f.expectCount(numCols, delimName);
            f.requireNonEmpty(userCol);
            f.requireNonEmpty(itemCol);
            f.requireNonEmpty(cateCol);
            long t = f.parseTime(timeCol);
            byte[] b = f.buf();
            if (!firstPass) {
                rowUser = users.get(b, f.start(userCol), f.length(userCol));
                rowItem = items.get(b, f.start(itemCol), f.length(itemCol));
                rowTime = t;
                return true;
            }
            int u = users.getOrAdd(b, f.start(userCol), f.length(userCol));
            int before = items.keys();
            int it = items.getOrAdd(b, f.start(itemCol), f.length(itemCol));
            int c = cates.getOrAdd(b, f.start(cateCol), f.length(cateCol));
            itemSeen(it, before, c);
            rowUser = u;
            rowItem = it;
            rowTime = t;
            return true;
        } catch (BadRow e) {
            if (firstPass) {
                bad.handle(e, file, r.line());
            }
            return false;
        }
    }

    private SampleSchema schema() {
        return SampleSchema.of(o.historyLength(), users.size(), items.size(), cates.size(), o.negHistory());
    }

    private SequenceSamples samples(DatasetWriter w) {
        ItemSampler sampler = new ItemSampler(o.negatives(), items.keys(), itemCount, o.seed());
        PrepareOptions.SplitProtocol split = o.split() != null ? o.split() : PrepareOptions.SplitProtocol.LEAVE_LAST;
        return new SequenceSamples(w, o, split, itemCate, sampler, items.keys(), report);
    }

    private PrepareReport end(DatasetWriter w, SequenceSamples s, ObjectNode madeBy) throws IOException {
        s.report("users with a single behaviour (no sample: a sample needs one earlier behaviour)");
        report.count("category_conflicts", "lines whose category differs from the item's first (the first is kept)", cateConflicts);
        report.count("blank_lines", "blank lines (no data; ignored)", blankLines);
        ObjectNode cols = (ObjectNode) madeBy.get("options");
        cols.put("user_col", o.userColumn());
        cols.put("item_col", o.itemColumn());
        cols.put("cate_col", o.cateColumn());
        cols.put("time_col", o.timeColumn());
        cols.put("delimiter", String.valueOf(o.delimiter()));
        cols.put("grouped", o.grouped());
        cols.put("split", (o.split() != null ? o.split() : PrepareOptions.SplitProtocol.LEAVE_LAST).label());
        return finish(w, madeBy, users, items, cates);
    }

    private long vocabBytes() {
        return users.bytes() + items.bytes() + cates.bytes();
    }
}
