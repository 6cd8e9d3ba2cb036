package io.augur.prepare;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.augur.data.DatasetWriter;
import io.augur.data.SampleSchema;
import io.augur.train.Progress;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * {@code --format amazon}: the Amazon 2014 review data (McAuley et al.) as the DIN paper uses it.
 * Two files, in the folder given or beside the reviews file given:
 * <ul>
 *   <li>{@code reviews_<Category>_5.json}: one JSON object per line; {@code reviewerID} (the
 *       user), {@code asin} (the item) and {@code unixReviewTime} (the time) are read, the rest
 *       skipped;</li>
 *   <li>{@code meta_<Category>.json}: one Python dict literal per line (single quotes, not strict
 *       JSON); {@code asin} and {@code categories} (a list of category lists) are read. The
 *       category is the last entry of the first list (with {@code --last-category-list}: of the
 *       last list, as the DIN repository's script {@code x[-1][-1]} does).</li>
 * </ul>
 * Both may be gzipped ({@code .json.gz}). Items are the reviewed asins (in order of first
 * appearance); meta lines of unreviewed items are counted and ignored; reviewed items without a
 * meta line or without categories get category 0 (counted). Then each user's reviews, sorted by
 * time, follow the behaviour-log protocol ({@link SequenceSamples#clicks}).
 *
 * <p>Memory: every review until the reviews file is read (~20 bytes each) plus the vocabularies;
 * the meta file is streamed.
 */
final class AmazonConverter extends Converter {

    private static final byte[] REVIEWER = "reviewerID".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] ASIN = "asin".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] TIME = "unixReviewTime".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] CATEGORIES = "categories".getBytes(StandardCharsets.US_ASCII);

    private final Vocab users = new Vocab(SampleSchema.VOCAB_USER, 1 << 14);
    private final Vocab items = new Vocab(SampleSchema.VOCAB_ITEM, 1 << 14);
    private final Vocab cates = new Vocab(SampleSchema.VOCAB_CATE);
    private final LiteralScanner s = new LiteralScanner();
    private byte[] userBuf = new byte[64];
    private int userLen;
    private byte[] itemBuf = new byte[64];
    private int itemLen;
    private byte[] cateBuf = new byte[64];
    private int cateLen;

    AmazonConverter(PrepareOptions o) {
        super(PrepareFormat.AMAZON, o);
    }

    @Override
    PrepareReport run(Path input, Path out) throws IOException {
        Path reviews;
        Path meta;
        if (Files.isDirectory(input)) {
            reviews = fileOrOnlyMatch(input, "reviews file", "reviews_*.json", "reviews_*.json.gz");
            meta = fileOrOnlyMatch(input, "meta file", "meta_*.json", "meta_*.json.gz");
        } else if (Files.isRegularFile(input)) {
            reviews = input;
            meta = metaBeside(input);
        } else {
            throw new IllegalArgumentException("--input " + input + ": no such file or folder");
        }

        Behaviours bs = readReviews(reviews);
        int[] itemCate = readMeta(meta);
        report.memory("every review until the reviews file is read (~20 bytes per review) + vocabularies; meta streamed", bs.size(),
                bs.bytes() + users.bytes() + items.bytes() + cates.bytes() + 12L * (items.keys() + 1));

        int[] counts = new int[items.keys() + 1];
        bs.forEachUser(users.keys(), (u, its, labels, n) -> {
            for (int k = 0; k < n; k++) {
                counts[its[k]]++;
            }
        });
        SampleSchema schema = SampleSchema.of(o.historyLength(), users.size(), items.size(), cates.size(), o.negHistory());
        ObjectNode madeBy = madeBy();
        ((ObjectNode) madeBy.get("options")).put("category", o.lastCategoryList() ? "last entry of the last category list"
                : "last entry of the first category list");
        try (DatasetWriter w = create(out, schema, madeBy)) {
            ItemSampler sampler = new ItemSampler(o.negatives(), items.keys(), counts, o.seed());
            PrepareOptions.SplitProtocol split = o.split() != null ? o.split() : PrepareOptions.SplitProtocol.LEAVE_LAST;
            ((ObjectNode) madeBy.get("options")).put("split", split.label());
            SequenceSamples samples = new SequenceSamples(w, o, split, itemCate, sampler, items.keys(), report);
            Progress p = progress("writing samples");
            long[] done = {0};
            bs.forEachUser(users.keys(), (u, its, labels, n) -> {
                samples.clicks(u, its, n);
                done[0] += n;
                if ((u & 0xFFF) == 0) {
                    p.update(done[0]);
                }
            });
            p.update(done[0]);
            p.finish();
            samples.report("users with a single review (no sample: a sample needs one earlier review)");
            return finish(w, madeBy, users, items, cates);
        }
    }

    /** reviews_X_5.json[.gz] -> meta_X.json[.gz] in the same folder. */
    static Path metaBeside(Path reviews) {
        String n = reviews.getFileName().toString();
        if (!n.startsWith("reviews_")) {
            throw new IllegalArgumentException("--input " + reviews + ": give the folder, or a reviews_<Category>[_5].json file");
        }
        String cat = n.substring("reviews_".length()).replaceFirst("\\.json(\\.gz)?$", "").replaceFirst("_5$", "");
        for (String ext : new String[] {".json", ".json.gz"}) {
            Path m = reviews.resolveSibling("meta_" + cat + ext);
            if (Files.isRegularFile(m)) {
                return m;
            }
        }
        throw new IllegalArgumentException("--input " + reviews + ": the meta file meta_" + cat + ".json is not beside it");
    }

    private Behaviours readReviews(Path path) throws IOException {
        String file = path.toString();
        Behaviours bs = new Behaviours(false);
        long rows = 0;
        try (LineReader r = open(path)) {
            firstLine(r, "reviews, one JSON object per line");
            Progress p = progress("reading " + path.getFileName());
            do {
                if (r.blank()) {
                    continue;
                }
                rows++;
                try {
                    long time = review(r);
                    int u = users.getOrAdd(userBuf, 0, userLen);
                    int it = items.getOrAdd(itemBuf, 0, itemLen);
                    bs.add(u, it, time);
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
        if (bs.size() == 0) {
            throw noRows(file, "review line");
        }
        return bs;
    }

    /** Reads reviewerID and asin (into the buffers) and returns unixReviewTime; BadRow when one is missing or the line is malformed. */
    private long review(LineReader r) {
        s.reset(r.buf(), r.start(), r.end());
        s.beginDict();
        boolean user = false;
        boolean item = false;
        boolean hasTime = false;
        long time = 0;
        while (s.nextKey()) {
            if (s.keyIs(REVIEWER)) {
                s.readString();
                userBuf = copy(userBuf);
                userLen = s.strLength();
                user = true;
            } else if (s.keyIs(ASIN)) {
                s.readString();
                itemBuf = copy(itemBuf);
                itemLen = s.strLength();
                item = true;
            } else if (s.keyIs(TIME)) {
                try {
                    time = s.readLong();
                } catch (BadRow e) {
                    // a time that is no integer is a bad timestamp, as in the other formats, not a malformed line
                    throw new BadRow(BadRow.Reason.BAD_TIMESTAMP, e.field, "Unix time (an integer)", e.found);
                }
                hasTime = true;
            } else {
                s.skipValue();
            }
        }
        if (!user || userLen == 0) {
            throw missing("reviewerID", user);
        }
        if (!item || itemLen == 0) {
            throw missing("asin", item);
        }
        if (!hasTime) {
            throw missing("unixReviewTime", false);
        }
        return time;
    }

    private static BadRow missing(String key, boolean present) {
        return new BadRow(BadRow.Reason.MISSING_FIELD, key, "a non-empty value", present ? "an empty string" : "no such key");
    }

    private byte[] copy(byte[] into) {
        int n = s.strLength();
        byte[] dst = into.length >= n ? into : new byte[Math.max(n, into.length * 2)];
        System.arraycopy(s.str(), 0, dst, 0, n);
        return dst;
    }

    /** Streams the meta file; returns the category of each item (0 when it has none). */
    private int[] readMeta(Path path) throws IOException {
        String file = path.toString();
        int[] itemCate = new int[items.keys() + 1];
        boolean[] hasMeta = new boolean[items.keys() + 1];
        long rows = 0;
        long unreviewed = 0;
        long duplicates = 0;
        long noCategories = 0;
        try (LineReader r = open(path)) {
            firstLine(r, "item metadata, one dict per line");
            Progress p = progress("reading " + path.getFileName());
            do {
                if (r.blank()) {
                    continue;
                }
                rows++;
                try {
                    boolean hasCate = meta(r);
                    int it = items.get(itemBuf, 0, itemLen);
                    if (it == 0) {
                        unreviewed++;
                    } else if (hasMeta[it]) {
                        duplicates++;
                    } else {
                        hasMeta[it] = true;
                        if (hasCate) {
                            itemCate[it] = cates.getOrAdd(cateBuf, 0, cateLen);
                        } else {
                            noCategories++;
                        }
                    }
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
        long withoutMeta = 0;
        for (int it = 1; it <= items.keys(); it++) {
            if (!hasMeta[it]) {
                withoutMeta++;
            }
        }
        report.count("meta_unreviewed_items", "meta lines of items without reviews (ignored)", unreviewed);
        report.count("meta_duplicates", "meta lines repeating an asin (the first is kept)", duplicates);
        report.count("items_without_categories", "reviewed items whose meta line has no categories (category 0)", noCategories);
        report.count("items_without_meta", "reviewed items without a meta line (category 0)", withoutMeta);
        return itemCate;
    }

    /** Reads asin (into itemBuf) and the chosen category (into cateBuf); returns whether there was a category. */
    private boolean meta(LineReader r) {
        s.reset(r.buf(), r.start(), r.end());
        s.beginDict();
        boolean item = false;
        boolean cate = false;
        while (s.nextKey()) {
            if (s.keyIs(ASIN)) {
                s.readString();
                itemBuf = copy(itemBuf);
                itemLen = s.strLength();
                item = true;
            } else if (s.keyIs(CATEGORIES)) {
                cate = categories();
            } else {
                s.skipValue();
            }
        }
        if (!item || itemLen == 0) {
            throw missing("asin", item);
        }
        return cate;
    }

    /** categories: [[a, b, c], [d, e]] -> c (first list) or e (last list); false when there is none. */
    private boolean categories() {
        if (!s.beginList()) {
            s.skipValue(); // e.g. None
            return false;
        }
        boolean found = false;
        int list = 0;
        while (s.nextElement()) {
            boolean wanted = list == 0 || o.lastCategoryList();
            if (!s.beginList()) {
                s.skipValue();
            } else {
                boolean any = false;
                while (s.nextElement()) {
                    s.readString();
                    if (wanted) {
                        cateBuf = copy(cateBuf);
                        cateLen = s.strLength();
                        any = true;
                    }
                }
                if (wanted && any) {
                    found = true;
                } else if (wanted && o.lastCategoryList()) {
                    found = false; // an empty last list
                }
            }
            list++;
        }
        return found && cateLen > 0;
    }
}
