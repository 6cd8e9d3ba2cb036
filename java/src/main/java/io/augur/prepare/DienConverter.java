package io.augur.prepare;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.augur.data.DatasetWriter;
import io.augur.data.SampleSchema;
import io.augur.data.SampleWriter;
import io.augur.data.Split;
import io.augur.train.Progress;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * {@code --format dien}: the text samples of the DIEN code base ({@code local_train_splitByUser},
 * {@code local_test_splitByUser}): one impression per line, six tab-separated fields
 * {@code label user item category hist_items hist_categories}, the two lists joined by the byte
 * {@code \x02} (oldest first; an empty field is an empty history). Ids are strings.
 *
 * <p>The vocabularies are built from the training file (users, target items and categories, and
 * every history entry), in order of first appearance. Training rows go to train, except the rows
 * of a seeded share of the training users ({@code --valid-fraction}, 0.1), which go to valid
 * (the DIEN files have no valid split; the test file is split by user too, so valid users are
 * unseen in train as test users are). The test file goes to test; its ids missing from the
 * vocabularies map to 0 and are counted per field in the report. Histories keep the last T.
 * With {@code --neg-history} each history position gets a sampled item that is neither in the
 * row's history nor its target.
 *
 * <p>Memory: the vocabularies only; the training file is read twice (vocabularies, then rows) and
 * each row is written as it is read.
 */
final class DienConverter extends Converter {

    private static final String[] NAMES = {"label", "user_id", "item_id", "cate_id", "hist_item_ids", "hist_cate_ids"};
    private static final byte LIST_SEP = 0x02;

    private final Vocab users = new Vocab(SampleSchema.VOCAB_USER, 1 << 14);
    private final Vocab items = new Vocab(SampleSchema.VOCAB_ITEM, 1 << 14);
    private final Vocab cates = new Vocab(SampleSchema.VOCAB_CATE);
    private int[] itemCount = new int[1 << 14];
    private int[] itemCate = new int[1 << 14];   // the category an item has where it is first seen in the training file
    private final Fields f = new Fields(NAMES, false);

    // the row being parsed
    private int label;
    private int[] histItems = new int[64];
    private int[] histCates = new int[64];
    private int histLen;
    private int[] negItems;
    private int[] negCates;
    private final long[] unknown = new long[5]; // user, item, cate, hist item, hist cate (test rows)

    DienConverter(PrepareOptions o) {
        super(PrepareFormat.DIEN, o);
        if (o.negHistory()) {
            negItems = new int[64];
            negCates = new int[64];
        }
    }

    @Override
    PrepareReport run(Path input, Path out) throws IOException {
        Path train;
        Path test;
        if (Files.isDirectory(input)) {
            train = Files.isRegularFile(input.resolve("local_train_splitByUser")) ? input.resolve("local_train_splitByUser")
                    : fileOrOnlyMatch(input, "DIEN training file", "*train*");
            test = Files.isRegularFile(input.resolve("local_test_splitByUser")) ? input.resolve("local_test_splitByUser")
                    : fileOrOnlyMatch(input, "DIEN test file", "*test*");
        } else if (Files.isRegularFile(input)) {
            train = input;
            String n = input.getFileName().toString();
            if (!n.contains("train")) {
                throw new IllegalArgumentException("--input " + input + ": give the folder, or the training file (a name with 'train';"
                        + " its test file is the same name with 'test')");
            }
            test = input.resolveSibling(n.replace("train", "test"));
            if (!Files.isRegularFile(test)) {
                throw new IllegalArgumentException("--input " + input + ": the test file " + test + " is missing");
            }
        } else {
            throw new IllegalArgumentException("--input " + input + ": no such file or folder");
        }

        vocabularies(train);
        report.memory("the vocabularies only (rows are converted one at a time; the training file is read twice)", 0,
                users.bytes() + items.bytes() + cates.bytes() + 4L * itemCount.length);
        SampleSchema schema = SampleSchema.of(o.historyLength(), users.size(), items.size(), cates.size(), o.negHistory());
        ObjectNode madeBy = madeBy();
        try (DatasetWriter w = create(out, schema, madeBy)) {
            ItemSampler sampler = o.negHistory() ? new ItemSampler(o.negatives(), items.keys(), itemCount, o.seed()) : null;
            ItemSampler.Clicks clicks = sampler == null ? null : new ItemSampler.Clicks(items.keys());
            convert(train, w, false, sampler, clicks);
            convert(test, w, true, sampler, clicks);
            report.count("unknown_test_users", "test rows whose user is not in the training file (user_id 0)", unknown[0]);
            report.count("unknown_test_items", "test rows whose target item is not in the training file (item_id 0)", unknown[1]);
            report.count("unknown_test_cates", "test rows whose target category is not in the training file (cate_id 0)", unknown[2]);
            report.count("unknown_test_hist_items", "test history entries whose item is not in the training file (0)", unknown[3]);
            report.count("unknown_test_hist_cates", "test history entries whose category is not in the training file (0)", unknown[4]);
            if (sampler != null) {
                report.count("negative_fallbacks", "neg_hist items found by a scan after " + ItemSampler.ATTEMPTS + " rejected draws",
                        sampler.fallbacks());
            }
            ((ObjectNode) madeBy.get("options")).put("valid", "rows of a seeded " + o.validFraction() + " of the training users");
            return finish(w, madeBy, users, items, cates);
        }
    }

    /** Pass 1 over the training file: checks every line and builds the vocabularies and item categories. */
    private void vocabularies(Path path) throws IOException {
        String file = path.toString();
        long rows = 0;
        long good = 0;
        try (LineReader r = open(path)) {
            firstLine(r, "DIEN samples: label, user, item, category, history items, history categories (tab-separated)");
            Progress p = progress("pass 1/2 (vocabularies), " + path.getFileName());
            do {
                if (r.blank()) {
                    continue;
                }
                rows++;
                try {
                    parse(r);
                    byte[] b = f.buf();
                    users.getOrAdd(b, f.start(1), f.length(1));
                    int item = items.getOrAdd(b, f.start(2), f.length(2));
                    int cate = cates.getOrAdd(b, f.start(3), f.length(3));
                    seen(item, cate);
                    collect(true);
                    for (int t = 0; t < histLen; t++) {
                        seen(histItems[t], histCates[t]);
                    }
                    good++;
                } catch (BadRow e) {
                    bad.handle(e, file, r.line());
                }
                if ((rows & (PROGRESS_EVERY - 1)) == 0) {
                    p.update(rows);
                }
            } while (r.next());
            p.update(rows);
            p.finish();
        }
        report.rowsRead(file, rows);
        if (good == 0) {
            throw noRows(file, "sample line");
        }
    }

    /** Counts an item (popularity negatives) and records its category where it is first seen. */
    private void seen(int item, int cate) {
        if (item >= itemCount.length) {
            itemCount = ensure(itemCount, item);
            itemCate = ensure(itemCate, item);
        }
        if (itemCount[item]++ == 0) {
            itemCate[item] = cate;
        }
    }

    /**
     * Fills histItems/histCates[0..histLen) with the ids of the two lists of the current line:
     * adding new ids (pass 1) or looking them up, unknown ones as 0 and counted (test file).
     */
    private void collect(boolean add) {
        byte[] b = f.buf();
        histLen = 0;
        int s = f.start(4);
        int e = f.end(4);
        if (s < e) {
            for (int k = s; k <= e; k++) {
                if (k == e || b[k] == LIST_SEP) {
                    int id = add ? items.getOrAdd(b, s, k - s) : items.get(b, s, k - s);
                    if (id == 0) {
                        unknown[3]++;
                    }
                    histItems[histLen++] = id;
                    s = k + 1;
                }
            }
        }
        int n = 0;
        s = f.start(5);
        e = f.end(5);
        if (s < e) {
            for (int k = s; k <= e; k++) {
                if (k == e || b[k] == LIST_SEP) {
                    int id = add ? cates.getOrAdd(b, s, k - s) : cates.get(b, s, k - s);
                    if (id == 0) {
                        unknown[4]++;
                    }
                    histCates[n++] = id;
                    s = k + 1;
                }
            }
        }
    }

    /**
     * Writes the rows of one file: the training file to train and valid (bad lines were counted in
     * pass 1 and are skipped the same way), or the test file to test, mapping unknown ids to 0.
     */
    private void convert(Path path, DatasetWriter w, boolean isTest, ItemSampler sampler, ItemSampler.Clicks clicks)
            throws IOException {
        String file = path.toString();
        SampleWriter train = w.split(Split.TRAIN);
        SampleWriter valid = w.split(Split.VALID);
        SampleWriter test = w.split(Split.TEST);
        int T = o.historyLength();
        long rows = 0;
        long good = 0;
        HistoryWindow window = new HistoryWindow(o);
        LineReader r = isTest ? open(path) : LineReader.open(path);
        try (r) {
            if (isTest) {
                firstLine(r, "DIEN samples: label, user, item, category, history items, history categories (tab-separated)");
            } else if (!r.next()) {
                return;
            }
            Progress p = progress((isTest ? "test file, " : "pass 2/2 (samples), ") + path.getFileName());
            do {
                if (r.blank()) {
                    continue;
                }
                rows++;
                try {
                    parse(r);
                } catch (BadRow e) {
                    if (isTest) {
                        bad.handle(e, file, r.line());
                    }
                    continue;
                }
                good++;
                byte[] b = f.buf();
                int u = lookup(users, b, 1, isTest, 0);
                int item = lookup(items, b, 2, isTest, 1);
                int cate = lookup(cates, b, 3, isTest, 2);
                collect(false);
                int from = window.from(histLen, 1);
                if (from < 0) {
                    continue;
                }
                int len = histLen - from;
                if (sampler != null) {
                    sampler.fillNegatives(clicks, item, histItems, histLen, itemCate, negItems, negCates, from, len);
                }
                SampleWriter sw = isTest ? test : SequenceSamples.unit(o.seed(), u) < o.validFraction() ? valid : train;
                sw.append(label, u, null, item, cate, histItems, histCates, negItems, negCates, from, len);
                report.history(len);
                if ((rows & (PROGRESS_EVERY - 1)) == 0) {
                    p.update(rows);
                }
            } while (r.next());
            p.update(rows);
            p.finish();
        }
        if (isTest) {
            report.rowsRead(file, rows);
            if (good == 0) {
                throw noRows(file, "sample line");
            }
        }
        report.count(isTest ? "truncated_test_histories" : "truncated_train_histories",
                "rows of " + path.getFileName() + " whose history was longer than T = " + T + " (the last T kept)", window.truncated());
        window.reportBelowMin(report);
    }

    private int lookup(Vocab v, byte[] b, int field, boolean isTest, int unknownSlot) {
        int id = v.get(b, f.start(field), f.length(field));
        if (id == 0 && isTest) {
            unknown[unknownSlot]++;
        }
        return id;
    }

    /** Splits the current line and checks label, ids and the two lists (equal lengths, no empty entry). */
    private void parse(LineReader r) {
        f.split(r.buf(), r.start(), r.end(), (byte) '\t');
        f.expectCount(6, "tabs");
        label = f.parseLabel(0);
        f.requireNonEmpty(1);
        f.requireNonEmpty(2);
        f.requireNonEmpty(3);
        int ni = entries(4);
        int nc = entries(5);
        if (ni != nc) {
            throw new BadRow(BadRow.Reason.LIST_LENGTH_MISMATCH, NAMES[5], ni + " entries (as hist_item_ids)", nc + " entries");
        }
        if (ni > histItems.length) {
            int cap = Math.max(ni, histItems.length * 2);
            histItems = Arrays.copyOf(histItems, cap);
            histCates = Arrays.copyOf(histCates, cap);
            if (negItems != null) {
                negItems = Arrays.copyOf(negItems, cap);
                negCates = Arrays.copyOf(negCates, cap);
            }
        }
    }

    /** The number of \x02-separated entries of list field i (0 for an empty field); an empty entry is a bad row. */
    private int entries(int i) {
        if (f.isEmpty(i)) {
            return 0;
        }
        byte[] b = f.buf();
        int n = 1;
        int s = f.start(i);
        int e = f.end(i);
        int entryStart = s;
        for (int k = s; k < e; k++) {
            if (b[k] == LIST_SEP) {
                if (k == entryStart) {
                    throw new BadRow(BadRow.Reason.MISSING_FIELD, NAMES[i], "ids joined by \\x02", "an empty id at position " + n);
                }
                n++;
                entryStart = k + 1;
            }
        }
        if (entryStart == e) {
            throw new BadRow(BadRow.Reason.MISSING_FIELD, NAMES[i], "ids joined by \\x02", "an empty id at position " + n);
        }
        return n;
    }
}
