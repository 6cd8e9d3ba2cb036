package io.augur.cli;

import io.augur.prepare.Prepare;
import io.augur.prepare.PrepareFormat;
import io.augur.prepare.PrepareOptions;
import io.augur.prepare.PrepareReport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code augur prepare}: converts a public dataset format into a dataset folder. */
@Command(name = "prepare", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Convert a public dataset into a dataset folder (train/valid/test Arrow files, dataset.json, id counts, vocab/*.tsv).",
                "Formats: log (CSV user,item,category,time; the DIN protocol with sampled negatives), movielens (ratings.dat + movies.dat,"
                        + " or u.data + u.item), dien (local_train_splitByUser + local_test_splitByUser), amazon (reviews_<Category>_5.json"
                        + " + meta_<Category>.json), taobao (train/valid/test CSV with clk, userid, adgroup_id, cate_id, click_sequence).",
                "Bad lines stop the conversion with file, line and field, unless --skip-bad-rows counts them in the report."})
public final class PrepareCommand implements Callable<Integer> {

    @Option(names = "--format", required = true, description = "log, movielens, dien, amazon or taobao")
    String format;

    @Option(names = "--input", required = true, description = "the input file, or the folder holding the format's files")
    Path input;

    @Option(names = "--out", required = true, description = "dataset folder to write")
    Path out;

    @Option(names = {"-T", "--history-length"}, defaultValue = "100", description = "keep the last T behaviours of each history (default: ${DEFAULT-VALUE})")
    int historyLength;

    @Option(names = "--seed", defaultValue = "42", description = "seed of the negative sampler and of user splits (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--negatives", defaultValue = "uniform", description = "sampled negatives: uniform or popularity (default: ${DEFAULT-VALUE})")
    String negatives;

    @Option(names = "--neg-history", description = "also write neg_hist_item_ids/neg_hist_cate_ids for DIEN's auxiliary loss"
            + " (otherwise the trainer samples them on the fly)")
    boolean negHistory;

    @Option(names = "--split", description = "log, amazon, movielens: leave-last (per user: last behaviour to test, second last to valid;"
            + " default for log and amazon) or users (whole users to valid/test; default for movielens)")
    String split;

    @Option(names = "--valid-fraction", defaultValue = "0.1", description = "share of users in valid with --split users, and for dien"
            + " (and taobao without a valid file) (default: ${DEFAULT-VALUE})")
    double validFraction;

    @Option(names = "--test-fraction", defaultValue = "0.1", description = "share of users in test with --split users (default: ${DEFAULT-VALUE})")
    double testFraction;

    @Option(names = "--min-history", defaultValue = "0", description = "do not write rows with a shorter history (counted) (default: ${DEFAULT-VALUE})")
    int minHistory;

    @Option(names = "--skip-bad-rows", description = "skip bad lines and count them by reason in the report, instead of stopping at the first")
    boolean skipBadRows;

    @Option(names = "--user-col", description = "log: the user column (default: user_id)") String userCol;
    @Option(names = "--item-col", description = "log: the item column (default: item_id)") String itemCol;
    @Option(names = "--cate-col", description = "log: the category column (default: cate_id)") String cateCol;
    @Option(names = "--time-col", description = "log: the time column, Unix time or yyyy-MM-dd[ HH:mm[:ss]] (default: time)") String timeCol;
    @Option(names = "--delimiter", description = "log: the field delimiter, one character or 'tab' (default: ,)") String delimiter;
    @Option(names = "--grouped", description = "log: each user's rows are contiguous; convert one user at a time (two passes) instead of"
            + " holding every behaviour") boolean grouped;
    @Option(names = "--positive-threshold", description = "movielens: ratings at or above are positive (default: 4)") Double positiveThreshold;
    @Option(names = "--positive-history", description = "movielens: histories hold only earlier positive ratings (default: all earlier ratings)")
    boolean positiveHistory;
    @Option(names = "--extra-fields", split = ",", description = "taobao: columns written as extra sparse fields (default: the user profile"
            + " columns cms_segid,cms_group_id,final_gender_code,age_level,pvalue_level,shopping_level,occupation,new_user_class_level)")
    List<String> extraFields;
    @Option(names = "--last-category-list", description = "amazon: the category is the last entry of the last category list (the DIN"
            + " repository's script) instead of the first list") boolean lastCategoryList;

    @Override
    public Integer call() throws Exception {
        PrepareFormat fmt = PrepareFormat.parse(format);
        onlyFor(fmt, List.of(PrepareFormat.LOG), "--user-col", userCol, "--item-col", itemCol, "--cate-col", cateCol, "--time-col", timeCol,
                "--delimiter", delimiter, "--grouped", grouped ? true : null);
        onlyFor(fmt, List.of(PrepareFormat.MOVIELENS), "--positive-threshold", positiveThreshold, "--positive-history",
                positiveHistory ? true : null);
        onlyFor(fmt, List.of(PrepareFormat.TAOBAO), "--extra-fields", extraFields);
        onlyFor(fmt, List.of(PrepareFormat.AMAZON), "--last-category-list", lastCategoryList ? true : null);
        onlyFor(fmt, List.of(PrepareFormat.LOG, PrepareFormat.AMAZON, PrepareFormat.MOVIELENS), "--split", split);

        PrepareOptions.Builder b = PrepareOptions.builder().historyLength(historyLength).seed(seed).negatives(negatives)
                .negHistory(negHistory).validFraction(validFraction).testFraction(testFraction).minHistory(minHistory)
                .skipBadRows(skipBadRows).grouped(grouped).positiveHistory(positiveHistory).lastCategoryList(lastCategoryList);
        if (split != null) b.split(PrepareOptions.SplitProtocol.parse(split));
        if (userCol != null) b.userColumn(userCol);
        if (itemCol != null) b.itemColumn(itemCol);
        if (cateCol != null) b.cateColumn(cateCol);
        if (timeCol != null) b.timeColumn(timeCol);
        if (delimiter != null) b.delimiter(delimiter(delimiter));
        if (positiveThreshold != null) b.positiveThreshold(positiveThreshold);
        if (extraFields != null) b.extraFields(extraFields);
        PrepareReport r = Prepare.run(fmt, input, out, b.build());
        for (String line : r.lines()) {
            System.out.println(line);
        }
        return 0;
    }

    static char delimiter(String s) {
        if (s.equals("tab") || s.equals("\\t") || s.equals("\t")) return '\t';
        if (s.length() != 1) throw new IllegalArgumentException("--delimiter must be one character or 'tab', got '" + s + "'");
        return s.charAt(0);
    }

    /** Rejects options (name, value pairs; null = not given) that have no effect on this format. */
    private static void onlyFor(PrepareFormat fmt, List<PrepareFormat> formats, Object... nameValue) {
        if (formats.contains(fmt)) return;
        List<String> given = new ArrayList<>();
        for (int i = 0; i < nameValue.length; i += 2) {
            if (nameValue[i + 1] != null) given.add((String) nameValue[i]);
        }
        if (!given.isEmpty()) {
            List<String> labels = new ArrayList<>();
            for (PrepareFormat f : formats) labels.add(f.label());
            throw new IllegalArgumentException(String.join(", ", given) + (given.size() == 1 ? " applies" : " apply") + " to --format "
                    + String.join("/", labels) + " only, not " + fmt.label());
        }
    }
}
