package io.augur.prepare;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.augur.data.DataFormatException;
import io.augur.data.DatasetWriter;
import io.augur.data.ExtraField;
import io.augur.data.SampleSchema;
import io.augur.data.SampleWriter;
import io.augur.data.Split;
import io.augur.train.Progress;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * {@code --format taobao}: the Taobao display-ad click data (Ali_Display_Ad) in the CSV layout of
 * FuxiCTR's {@code TaobaoAd_x1}: a header, then one impression per line with the label
 * {@code clk}, {@code userid}, {@code adgroup_id} (the item), {@code cate_id}, the user profile
 * columns and {@code click_sequence} (the ad groups the user clicked before, joined by {@code ^},
 * taken as oldest first; the last T kept). The profile columns become extra sparse fields (by
 * default {@value #DEFAULT_EXTRAS}; {@code --extra-fields} picks others, any column but the label,
 * ids and sequence); an empty profile value is id 0 (counted). Columns are found by name, so their
 * order may differ between files.
 *
 * <p>Files: {@code train*.csv}, {@code test*.csv} and, optionally, {@code valid*.csv} in the folder
 * (or the training file given, the others named like it with valid/test for train). Vocabularies
 * come from the training file; ids of valid and test unseen in training map to 0 and are counted.
 * Without a valid file, the rows of a seeded share of the training users ({@code --valid-fraction})
 * go to valid. History categories are the categories the ad groups have as targets in the training
 * file; a history ad group never seen as a training target gets category 0 (counted).
 *
 * <p>Memory: the vocabularies and one category per ad group; rows are converted one at a time
 * (the training file is read twice).
 */
final class TaobaoConverter extends Converter {

    static final String DEFAULT_EXTRAS = "cms_segid,cms_group_id,final_gender_code,age_level,pvalue_level,shopping_level,"
            + "occupation,new_user_class_level";
    private static final String LABEL = "clk";
    private static final String USER = "userid";
    private static final String ITEM = "adgroup_id";
    private static final String CATE = "cate_id";
    private static final String SEQ = "click_sequence";
    private static final byte SEQ_SEP = '^';

    private final Vocab users = new Vocab(SampleSchema.VOCAB_USER, 1 << 14);
    private final Vocab items = new Vocab(SampleSchema.VOCAB_ITEM, 1 << 14);
    private final Vocab cates = new Vocab(SampleSchema.VOCAB_CATE);
    private final List<String> extraNames;
    private final Vocab[] extras;
    private int[] itemCate = new int[1 << 14];
    private int[] itemCount = new int[1 << 14];

    // column positions in the current file
    private int cLabel;
    private int cUser;
    private int cItem;
    private int cCate;
    private int cSeq;
    private int[] cExtra;
    private int numCols;
    private Fields f;

    // the row being converted
    private int label;
    private final int[] extraIds;
    private int[] histItems = new int[64];
    private int[] histCates = new int[64];
    private int histLen;
    private int[] negItems;
    private int[] negCates;
    private long unknownUsers;
    private long unknownItems;
    private long unknownCates;
    private long unknownHistItems;
    private long histWithoutCate;
    private final long[] unknownExtras;
    private final long[] emptyExtras;

    TaobaoConverter(PrepareOptions o) {
        super(PrepareFormat.TAOBAO, o);
        extraNames = o.extraFields() != null ? o.extraFields() : List.of(DEFAULT_EXTRAS.split(","));
        for (String n : extraNames) {
            if (List.of(LABEL, USER, ITEM, CATE, SEQ).contains(n)) {
                throw new IllegalArgumentException("--extra-fields: '" + n + "' is already the label, user, item, category or sequence");
            }
        }
        extras = new Vocab[extraNames.size()];
        for (int i = 0; i < extras.length; i++) {
            extras[i] = new Vocab(extraNames.get(i));
        }
        extraIds = new int[extras.length];
        unknownExtras = new long[extras.length];
        emptyExtras = new long[extras.length];
        if (o.negHistory()) {
            negItems = new int[64];
            negCates = new int[64];
        }
    }

    @Override
    PrepareReport run(Path input, Path out) throws IOException {
        Path train;
        Path valid;
        Path test;
        if (Files.isDirectory(input)) {
            train = fileOrOnlyMatch(input, "training file", "train*.csv", "train*.csv.gz");
            valid = optionalMatch(input, "valid file", "valid*.csv", "valid*.csv.gz");
            test = fileOrOnlyMatch(input, "test file", "test*.csv", "test*.csv.gz");
        } else if (Files.isRegularFile(input)) {
            train = input;
            String n = input.getFileName().toString();
            if (!n.contains("train")) {
                throw new IllegalArgumentException("--input " + input + ": give the folder, or the training file (a name with 'train')");
            }
            Path v = input.resolveSibling(n.replace("train", "valid"));
            valid = Files.isRegularFile(v) ? v : null;
            test = input.resolveSibling(n.replace("train", "test"));
            if (!Files.isRegularFile(test)) {
                throw new IllegalArgumentException("--input " + input + ": the test file " + test + " is missing");
            }
        } else {
            throw new IllegalArgumentException("--input " + input + ": no such file or folder");
        }

        vocabularies(train);
        long held = users.bytes() + items.bytes() + cates.bytes() + 8L * itemCate.length;
        for (Vocab v : extras) {
            held += v.bytes();
        }
        report.memory("the vocabularies and one category per ad group (rows converted one at a time; the training file is read twice)",
                0, held);
        List<ExtraField> ef = new ArrayList<>();
        for (Vocab v : extras) {
            ef.add(new ExtraField(v.name(), v.size()));
        }
        SampleSchema schema = new SampleSchema(o.historyLength(), users.size(), items.size(), cates.size(), ef, o.negHistory());
        ObjectNode madeBy = madeBy();
        ObjectNode opts = (ObjectNode) madeBy.get("options");
        ArrayNode en = opts.putArray("extra_fields");
        extraNames.forEach(en::add);
        opts.put("valid", valid != null ? "the valid file" : "rows of a seeded " + o.validFraction() + " of the training users");
        try (DatasetWriter w = create(out, schema, madeBy)) {
            ItemSampler sampler = o.negHistory() ? new ItemSampler(o.negatives(), items.keys(), itemCount, o.seed()) : null;
            ItemSampler.Clicks clicks = sampler == null ? null : new ItemSampler.Clicks(items.keys());
            convert(train, w, null, valid == null, sampler, clicks);
            if (valid != null) {
                convert(valid, w, Split.VALID, false, sampler, clicks);
            }
            convert(test, w, Split.TEST, false, sampler, clicks);
            report.count("unknown_users", "valid/test rows whose user is not in the training file (user_id 0)", unknownUsers);
            report.count("unknown_items", "valid/test rows whose ad group is not in the training file (item_id 0)", unknownItems);
            report.count("unknown_cates", "valid/test rows whose category is not in the training file (cate_id 0)", unknownCates);
            report.count("unknown_hist_items", "valid/test history entries not in the training file (0)", unknownHistItems);
            report.count("hist_items_without_category", "history entries whose ad group is no training target (category 0)",
                    histWithoutCate);
            for (int i = 0; i < extras.length; i++) {
                report.count("empty_" + extraNames.get(i), "rows with an empty " + extraNames.get(i) + " (id 0)", emptyExtras[i]);
                report.count("unknown_" + extraNames.get(i), "valid/test rows whose " + extraNames.get(i)
                        + " is not in the training file (id 0)", unknownExtras[i]);
            }
            if (sampler != null) {
                report.count("negative_fallbacks", "neg_hist items found by a scan after " + ItemSampler.ATTEMPTS + " rejected draws",
                        sampler.fallbacks());
            }
            Vocab[] all = new Vocab[3 + extras.length];
            all[0] = users;
            all[1] = items;
            all[2] = cates;
            System.arraycopy(extras, 0, all, 3, extras.length);
            return finish(w, madeBy, all);
        }
    }

    /** Reads the header of a file and finds the columns by name. */
    private void header(LineReader r) throws IOException {
        firstLine(r, "a header naming the columns (" + LABEL + ", " + USER + ", " + ITEM + ", " + CATE + ", " + SEQ + ", ...)");
        Fields h = new Fields(new String[0], true);
        try {
            h.split(r.buf(), skipBom(r), r.end(), (byte) ',');
        } catch (BadRow e) {
            throw DataFormatException.atLine(r.name(), 1, e.field, e.expected, e.found);
        }
        String[] names = new String[h.count()];
        for (int i = 0; i < names.length; i++) {
            names[i] = h.text(i);
        }
        cLabel = column(r, names, LABEL);
        cUser = column(r, names, USER);
        cItem = column(r, names, ITEM);
        cCate = column(r, names, CATE);
        cSeq = column(r, names, SEQ);
        cExtra = new int[extras.length];
        for (int i = 0; i < extras.length; i++) {
            cExtra[i] = column(r, names, extraNames.get(i));
        }
        numCols = names.length;
        f = new Fields(names, true);
    }

    private static int column(LineReader r, String[] names, String want) {
        for (int i = 0; i < names.length; i++) {
            if (names[i].equals(want)) {
                return i;
            }
        }
        String hint = names.length == 1 ? " (one column: the Taobao files are comma-separated)" : "";
        throw DataFormatException.atLine(r.name(), 1, want, "a header column named '" + want + "'", "the columns "
                + Arrays.toString(names) + hint);
    }

    /** Pass 1 over the training file: checks every line; builds the vocabularies, item categories and counts. */
    private void vocabularies(Path path) throws IOException {
        String file = path.toString();
        long rows = 0;
        long good = 0;
        try (LineReader r = open(path)) {
            header(r);
            Progress p = progress("pass 1/2 (vocabularies), " + path.getFileName());
            while (r.next()) {
                if (r.blank()) {
                    continue;
                }
                rows++;
                try {
                    parse(r);
                    byte[] b = f.buf();
                    users.getOrAdd(b, f.start(cUser), f.length(cUser));
                    int item = items.getOrAdd(b, f.start(cItem), f.length(cItem));
                    int cate = cates.getOrAdd(b, f.start(cCate), f.length(cCate));
                    grow(item);
                    if (itemCate[item] == 0) {
                        itemCate[item] = cate;
                    }
                    itemCount[item]++;
                    int s = f.start(cSeq);
                    int e = f.end(cSeq);
                    if (s < e) {
                        for (int k = s; k <= e; k++) {
                            if (k == e || b[k] == SEQ_SEP) {
                                int h = items.getOrAdd(b, s, k - s);
                                grow(h);
                                itemCount[h]++;
                                s = k + 1;
                            }
                        }
                    }
                    for (int i = 0; i < extras.length; i++) {
                        if (!f.isEmpty(cExtra[i])) {
                            extras[i].getOrAdd(b, f.start(cExtra[i]), f.length(cExtra[i]));
                        }
                    }
                    good++;
                } catch (BadRow e) {
                    bad.handle(e, file, r.line());
                }
                if ((rows & (PROGRESS_EVERY - 1)) == 0) {
                    p.update(rows);
                }
            }
            p.update(rows);
            p.finish();
        }
        report.rowsRead(file, rows);
        if (good == 0) {
            throw noRows(file, "impression line after the header");
        }
    }

    private void grow(int item) {
        if (item >= itemCate.length) {
            itemCate = ensure(itemCate, item);
            itemCount = ensure(itemCount, item);
        }
    }

    /**
     * Writes the rows of one file. {@code split} null: the training file (train, or train and
     * valid by user when {@code carveValid}); bad lines were counted in pass 1 and are skipped the
     * same way. Otherwise valid or test, with unknown ids mapped to 0.
     */
    private void convert(Path path, DatasetWriter w, Split split, boolean carveValid, ItemSampler sampler, ItemSampler.Clicks clicks)
            throws IOException {
        String file = path.toString();
        boolean isTrain = split == null;
        SampleWriter train = w.split(Split.TRAIN);
        SampleWriter valid = w.split(Split.VALID);
        SampleWriter target = isTrain ? train : w.split(split);
        int T = o.historyLength();
        long rows = 0;
        long good = 0;
        HistoryWindow window = new HistoryWindow(o);
        try (LineReader r = isTrain ? LineReader.open(path) : open(path)) {
            header(r);
            Progress p = progress((isTrain ? "pass 2/2 (samples), " : split.key() + " file, ") + path.getFileName());
            while (r.next()) {
                if (r.blank()) {
                    continue;
                }
                rows++;
                try {
                    parse(r);
                } catch (BadRow e) {
                    if (!isTrain) {
                        bad.handle(e, file, r.line());
                    }
                    continue;
                }
                good++;
                byte[] b = f.buf();
                int u = users.get(b, f.start(cUser), f.length(cUser));
                int item = items.get(b, f.start(cItem), f.length(cItem));
                int cate = cates.get(b, f.start(cCate), f.length(cCate));
                if (!isTrain) {
                    unknownUsers += u == 0 ? 1 : 0;
                    unknownItems += item == 0 ? 1 : 0;
                    unknownCates += cate == 0 ? 1 : 0;
                }
                for (int i = 0; i < extras.length; i++) {
                    if (f.isEmpty(cExtra[i])) {
                        extraIds[i] = 0;
                        emptyExtras[i]++;
                    } else {
                        extraIds[i] = extras[i].get(b, f.start(cExtra[i]), f.length(cExtra[i]));
                        if (extraIds[i] == 0) {
                            unknownExtras[i]++;
                        }
                    }
                }
                histLen = 0;
                int s = f.start(cSeq);
                int e = f.end(cSeq);
                if (s < e) {
                    for (int k = s; k <= e; k++) {
                        if (k == e || b[k] == SEQ_SEP) {
                            int h = items.get(b, s, k - s);
                            if (h == 0) {
                                unknownHistItems++;
                            }
                            int hc = itemCate[h];
                            if (h != 0 && hc == 0) {
                                histWithoutCate++;
                            }
                            histItems[histLen] = h;
                            histCates[histLen] = hc;
                            histLen++;
                            s = k + 1;
                        }
                    }
                }
                int from = window.from(histLen, 1);
                if (from < 0) {
                    continue;
                }
                int len = histLen - from;
                if (sampler != null) {
                    sampler.fillNegatives(clicks, item, histItems, histLen, itemCate, negItems, negCates, from, len);
                }
                SampleWriter sw = !isTrain ? target : carveValid && SequenceSamples.unit(o.seed(), u) < o.validFraction() ? valid : train;
                sw.append(label, u, extraIds, item, cate, histItems, histCates, negItems, negCates, from, len);
                report.history(len);
                if ((rows & (PROGRESS_EVERY - 1)) == 0) {
                    p.update(rows);
                }
            }
            p.update(rows);
            p.finish();
        }
        if (!isTrain) {
            report.rowsRead(file, rows);
            if (good == 0) {
                throw noRows(file, "impression line after the header");
            }
        }
        report.count("truncated_histories", "rows whose click sequence was longer than T = " + T + " (the last T kept)", window.truncated());
        window.reportBelowMin(report);
    }

    /** Splits and checks the current line: field count, label, non-empty ids, a well-formed sequence. */
    private void parse(LineReader r) {
        f.split(r.buf(), r.start(), r.end(), (byte) ',');
        f.expectCount(numCols, "','");
        label = f.parseLabel(cLabel);
        f.requireNonEmpty(cUser);
        f.requireNonEmpty(cItem);
        f.requireNonEmpty(cCate);
        int n = 0;
        if (!f.isEmpty(cSeq)) {
            byte[] b = f.buf();
            int s = f.start(cSeq);
            int e = f.end(cSeq);
            n = 1;
            int entry = s;
            for (int k = s; k < e; k++) {
                if (b[k] == SEQ_SEP) {
                    if (k == entry) {
                        throw new BadRow(BadRow.Reason.MISSING_FIELD, SEQ, "ad group ids joined by '^'", "an empty id at position " + n);
                    }
                    n++;
                    entry = k + 1;
                }
            }
            if (entry == e) {
                throw new BadRow(BadRow.Reason.MISSING_FIELD, SEQ, "ad group ids joined by '^'", "an empty id at position " + n);
            }
        }
        if (n > histItems.length) {
            int cap = Math.max(n, histItems.length * 2);
            histItems = Arrays.copyOf(histItems, cap);
            histCates = Arrays.copyOf(histCates, cap);
            if (negItems != null) {
                negItems = Arrays.copyOf(negItems, cap);
                negCates = Arrays.copyOf(negCates, cap);
            }
        }
    }
}
