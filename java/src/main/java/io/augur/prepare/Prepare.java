package io.augur.prepare;

import java.io.IOException;
import java.nio.file.Path;

/**
 * {@code augur prepare}: converts a public dataset format into a dataset folder (DESIGN.md §2:
 * train/valid/test Arrow files, dataset.json, the training split's id counts) plus
 * {@code vocab/<name>.tsv} (the raw id of every dense id), and returns what it did.
 *
 * <p>Every converter streams its input with a byte-level tokenizer; what it must hold is stated
 * in its class comment and in the report's memory line:
 * <ul>
 *   <li>{@code log}, {@code amazon}, {@code movielens}: every behaviour (about 20 bytes each) until
 *       the input is read, since a user's rows may be anywhere ({@code log --grouped}: one user's);</li>
 *   <li>{@code dien}, {@code taobao}: only the vocabularies; rows are converted one at a time.</li>
 * </ul>
 */
public final class Prepare {

    private Prepare() {
    }

    /**
     * Converts {@code input} (a file, or the folder holding the format's files) into the dataset
     * folder {@code out}.
     *
     * @throws io.augur.data.DataFormatException for bad input (naming file, line and field), unless
     *         {@code skipBadRows} counts bad lines instead
     * @throws IllegalArgumentException for missing inputs or inconsistent options
     */
    public static PrepareReport run(PrepareFormat format, Path input, Path out, PrepareOptions o) throws IOException {
        Converter c = switch (format) {
            case LOG -> new LogConverter(o);
            case MOVIELENS -> new MovieLensConverter(o);
            case DIEN -> new DienConverter(o);
            case AMAZON -> new AmazonConverter(o);
            case TAOBAO -> new TaobaoConverter(o);
        };
        return c.run(input, out);
    }
}
