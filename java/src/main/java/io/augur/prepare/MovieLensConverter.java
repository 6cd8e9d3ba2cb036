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
 * {@code --format movielens}: MovieLens ratings with the DIN paper's protocol. Reads either
 * <ul>
 *   <li>MovieLens 1M style: {@code ratings.dat} ({@code UserID::MovieID::Rating::Timestamp}) and
 *       {@code movies.dat} ({@code MovieID::Title::Genres}, genres joined by {@code |}; the first
 *       genre is the category), or</li>
 *   <li>MovieLens 100k: {@code u.data} (tab-separated {@code user item rating timestamp}) and
 *       {@code u.item} ({@code |}-separated, 24 fields, the last 19 the genre flags; the first
 *       genre flagged is the category, genres named as in the 100k README).</li>
 * </ul>
 * {@code --input} is the folder holding them, or the ratings file (the movies file beside it).
 * Ratings at or above {@code --positive-threshold} (4) are label 1, the others 0; each rating is
 * one row whose history is the user's earlier ratings (all of them, or with
 * {@code --positive-history} only the positive ones), sorted by timestamp, the last T kept. The
 * item vocabulary is the movies file in its order. Default split: {@code users} (whole users to
 * valid and test, as the paper splits by user); {@code --split leave-last} is the alternative.
 *
 * <p>Memory: the movie table, and every rating until the ratings file is read (~21 bytes each).
 */
final class MovieLensConverter extends Converter {

    /** The genres of MovieLens 100k's u.item flags, in order (from its README / u.genre). */
    static final String[] GENRES_100K = {"unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
            "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
            "War", "Western"};
    /** When no genre is given or flagged. */
    static final String NO_GENRE = "(no genres listed)";

    private final Vocab users = new Vocab(SampleSchema.VOCAB_USER, 1 << 14);
    private final Vocab items = new Vocab(SampleSchema.VOCAB_ITEM, 1 << 14);
    private final Vocab cates = new Vocab(SampleSchema.VOCAB_CATE);
    private int[] itemCate = new int[1 << 12];

    MovieLensConverter(PrepareOptions o) {
        super(PrepareFormat.MOVIELENS, o);
    }

    @Override
    PrepareReport run(Path input, Path out) throws IOException {
        Path dir = Files.isDirectory(input) ? input : input.toAbsolutePath().getParent();
        String name = Files.isDirectory(input) ? null : input.getFileName().toString();
        boolean ml100k;
        Path ratings;
        Path movies;
        if (name == null) {
            if (Files.isRegularFile(dir.resolve("ratings.dat"))) {
                ml100k = false;
            } else if (Files.isRegularFile(dir.resolve("u.data"))) {
                ml100k = true;
            } else {
                throw new IllegalArgumentException("--input " + input + ": expected ratings.dat + movies.dat (MovieLens 1M) or u.data + u.item"
                        + " (MovieLens 100k) in the folder, found neither ratings file");
            }
            ratings = dir.resolve(ml100k ? "u.data" : "ratings.dat");
        } else {
            if (!Files.isRegularFile(input)) {
                throw new IllegalArgumentException("--input " + input + ": no such file or folder");
            }
            ml100k = name.equals("u.data");
            ratings = input;
        }
        movies = dir.resolve(ml100k ? "u.item" : "movies.dat");
        if (!Files.isRegularFile(movies)) {
            throw new IllegalArgumentException("--input " + input + ": " + movies.getFileName() + " (the movies of " + ratings.getFileName()
                    + ") not found beside it: expected " + movies);
        }

        if (ml100k) {
            readItems100k(movies);
        } else {
            readMovies(movies);
        }
        Behaviours bs = readRatings(ratings, ml100k);
        report.memory("the movie table and every rating until the ratings file is read (~21 bytes per rating)", bs.size(),
                bs.bytes() + users.bytes() + items.bytes() + cates.bytes() + 4L * itemCate.length);

        SampleSchema schema = SampleSchema.of(o.historyLength(), users.size(), items.size(), cates.size(), o.negHistory());
        ObjectNode madeBy = madeBy();
        ObjectNode opts = (ObjectNode) madeBy.get("options");
        opts.put("positive_threshold", o.positiveThreshold());
        opts.put("positive_history", o.positiveHistory());
        opts.put("variant", ml100k ? "100k (u.data, u.item)" : "1M (ratings.dat, movies.dat)");
        try (DatasetWriter w = create(out, schema, madeBy)) {
            ItemSampler sampler = null;
            if (o.negHistory()) {
                int[] counts = new int[items.keys() + 1];
                bs.forEachUser(users.keys(), (u, its, labels, n) -> {
                    for (int k = 0; k < n; k++) {
                        counts[its[k]]++;
                    }
                });
                sampler = new ItemSampler(o.negatives(), items.keys(), counts, o.seed());
            }
            PrepareOptions.SplitProtocol split = o.split() != null ? o.split() : PrepareOptions.SplitProtocol.USERS;
            opts.put("split", split.label());
            SequenceSamples s = new SequenceSamples(w, o, split, itemCate, sampler, items.keys(), report);
            Progress p = progress("writing samples");
            long[] done = {0};
            bs.forEachUser(users.keys(), (u, its, labels, n) -> {
                s.ratings(u, its, labels, n);
                done[0] += n;
                if ((u & 0xFFF) == 0) {
                    p.update(done[0]);
                }
            });
            p.update(done[0]);
            p.finish();
            s.report("users none of whose ratings has a history of --min-history or more (no sample)");
            return finish(w, madeBy, users, items, cates);
        }
    }

    /** movies.dat: MovieID::Title::Genres. */
    private void readMovies(Path path) throws IOException {
        String file = path.toString();
        Fields f = new Fields(new String[] {"MovieID", "Title", "Genres"}, false);
        byte[] sep = {':', ':'};
        long rows = 0;
        try (LineReader r = open(path)) {
            firstLine(r, "movies as MovieID::Title::Genres");
            do {
                if (r.blank()) {
                    continue;
                }
                rows++;
                try {
                    f.split(r.buf(), r.start(), r.end(), sep);
                    f.expectCount(3, "'::'");
                    f.requireNonEmpty(0);
                    f.parseLong(0);
                    f.requireNonEmpty(2);
                    byte[] b = f.buf();
                    int gEnd = f.start(2);
                    while (gEnd < f.end(2) && b[gEnd] != '|') {
                        gEnd++;
                    }
                    addMovie(f, b, f.start(2), gEnd - f.start(2));
                } catch (BadRow e) {
                    bad.handle(e, file, r.line());
                }
            } while (r.next());
        }
        report.rowsRead(file, rows);
        if (items.keys() == 0) {
            throw noRows(file, "movie line");
        }
    }

    /** u.item: id|title|release date|video release date|IMDb URL|19 genre flags. */
    private void readItems100k(Path path) throws IOException {
        String file = path.toString();
        String[] names = new String[5 + GENRES_100K.length];
        names[0] = "movie id";
        names[1] = "movie title";
        names[2] = "release date";
        names[3] = "video release date";
        names[4] = "IMDb URL";
        System.arraycopy(GENRES_100K, 0, names, 5, GENRES_100K.length);
        Fields f = new Fields(names, false);
        long rows = 0;
        try (LineReader r = open(path)) {
            firstLine(r, "movies as id|title|release date|video release date|IMDb URL|19 genre flags");
            do {
                if (r.blank()) {
                    continue;
                }
                rows++;
                try {
                    f.split(r.buf(), r.start(), r.end(), (byte) '|');
                    f.expectCount(names.length, "'|'");
                    f.parseLong(0);
                    int genre = -1;
                    for (int g = 0; g < GENRES_100K.length; g++) {
                        long flag = f.parseLong(5 + g);
                        if (flag != 0 && flag != 1) {
                            throw new BadRow(BadRow.Reason.BAD_NUMBER, f.name(5 + g), "a genre flag 0 or 1", String.valueOf(flag));
                        }
                        if (flag == 1 && genre < 0) {
                            genre = g;
                        }
                    }
                    byte[] g = (genre < 0 ? NO_GENRE : GENRES_100K[genre]).getBytes(StandardCharsets.UTF_8);
                    addMovie(f, g, 0, g.length);
                } catch (BadRow e) {
                    bad.handle(e, file, r.line());
                }
            } while (r.next());
        }
        report.rowsRead(file, rows);
        if (items.keys() == 0) {
            throw noRows(file, "movie line");
        }
    }

    private void addMovie(Fields f, byte[] genre, int gOff, int gLen) {
        int before = items.keys();
        int id = items.getOrAdd(f.buf(), f.start(0), f.length(0));
        if (id <= before) {
            throw new BadRow(BadRow.Reason.DUPLICATE_ID, f.name(0), "each movie once", "movie " + f.quote(f.start(0), f.end(0)) + " again");
        }
        itemCate = ensure(itemCate, id);
        itemCate[id] = gLen == 0 ? cates.getOrAdd(NO_GENRE) : cates.getOrAdd(genre, gOff, gLen);
    }

    private Behaviours readRatings(Path path, boolean ml100k) throws IOException {
        String file = path.toString();
        Fields f = ml100k ? new Fields(new String[] {"user id", "item id", "rating", "timestamp"}, false)
                : new Fields(new String[] {"UserID", "MovieID", "Rating", "Timestamp"}, false);
        byte[] sep = ml100k ? new byte[] {'\t'} : new byte[] {':', ':'};
        String sepName = ml100k ? "tabs" : "'::'";
        String movieFile = ml100k ? "u.item" : "movies.dat";
        Behaviours bs = new Behaviours(true);
        long rows = 0;
        long positives = 0;
        try (LineReader r = open(path)) {
            firstLine(r, "ratings as " + String.join(ml100k ? "<TAB>" : "::", f.name(0), f.name(1), f.name(2), f.name(3)));
            Progress p = progress("reading " + path.getFileName());
            do {
                if (r.blank()) {
                    continue;
                }
                rows++;
                try {
                    f.split(r.buf(), r.start(), r.end(), sep);
                    f.expectCount(4, sepName);
                    f.requireNonEmpty(0);
                    f.requireNonEmpty(1);
                    double rating = f.parseDecimal(2);
                    long t = f.parseTime(3);
                    int item = items.get(f.buf(), f.start(1), f.length(1));
                    if (item == 0) {
                        throw new BadRow(BadRow.Reason.UNKNOWN_REFERENCE, f.name(1), "a movie listed in " + movieFile,
                                f.quote(f.start(1), f.end(1)));
                    }
                    int u = users.getOrAdd(f.buf(), f.start(0), f.length(0));
                    int label = rating >= o.positiveThreshold() ? 1 : 0;
                    positives += label;
                    bs.add(u, item, t, label);
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
            throw noRows(file, "rating line");
        }
        report.count("positive_ratings", "ratings >= " + o.positiveThreshold() + " (label 1)", positives);
        report.count("negative_ratings", "ratings below " + o.positiveThreshold() + " (label 0)", bs.size() - positives);
        return bs;
    }
}
