package io.augur.cli;

import io.augur.config.WorldConfig;
import io.augur.data.SyntheticWorld;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code augur generate}: writes a synthetic interest world as a dataset folder. */
@Command(name = "generate", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Write a synthetic interest world (users with several drifting interests) as a dataset folder.",
                "Presets: default (CI-sized), amazon (Amazon-Electronics-sized), bench (the benchmark shape)."})
public final class GenerateCommand implements Callable<Integer> {

    @Option(names = "--out", required = true, description = "dataset folder to write")
    Path out;

    @Option(names = "--preset", defaultValue = "default", description = "default, amazon or bench (default: ${DEFAULT-VALUE}); flags below override it")
    String preset;

    @Option(names = "--seed", description = "random seed (default 42)") Long seed;
    @Option(names = "--users", description = "number of users") Integer users;
    @Option(names = "--items", description = "number of items") Integer items;
    @Option(names = "--categories", description = "number of categories") Integer categories;
    @Option(names = "--styles", description = "styles per category") Integer styles;
    @Option(names = "--interests-min", description = "fewest interests per user") Integer interestsMin;
    @Option(names = "--interests-max", description = "most interests per user") Integer interestsMax;
    @Option(names = "--drift", description = "probability that the active interest moves at each behaviour") Double drift;
    @Option(names = "--mean-history", description = "mean behaviours per user") Double meanHistory;
    @Option(names = "--min-behaviours", description = "fewest behaviours per user (>= 4)") Integer minBehaviours;
    @Option(names = "--max-behaviours", description = "most behaviours per user") Integer maxBehaviours;
    @Option(names = {"--T", "--history-length"}, description = "history length T") Integer historyLength;
    @Option(names = "--style-fidelity", description = "probability a behaviour has the interest's preferred style") Double styleFidelity;
    @Option(names = "--noise", description = "probability a behaviour is a random catalog item") Double noise;
    @Option(names = "--hard-negatives-same-category", description = "fraction of negatives from the positive's category") Double hardSame;
    @Option(names = "--hard-negatives-other-interest", description = "fraction of negatives from the user's other interests") Double hardOther;
    @Option(names = "--no-neg-history", description = "do not write the neg_hist columns") boolean noNegHistory;

    @Override
    public Integer call() throws Exception {
        WorldConfig.Builder b = switch (preset) {
            case "default" -> WorldConfig.defaults().toBuilder();
            case "amazon" -> WorldConfig.amazonElectronics().toBuilder();
            case "bench" -> WorldConfig.benchmark().toBuilder();
            default -> throw new IllegalArgumentException("unknown preset '" + preset + "' (expected default, amazon or bench)");
        };
        if (seed != null) b.seed(seed);
        if (users != null) b.users(users);
        if (items != null) b.items(items);
        if (categories != null) b.categories(categories);
        if (styles != null) b.stylesPerCategory(styles);
        if (interestsMin != null) b.interestsMin(interestsMin);
        if (interestsMax != null) b.interestsMax(interestsMax);
        if (drift != null) b.drift(drift);
        if (meanHistory != null) b.meanHistory(meanHistory);
        if (minBehaviours != null) b.minBehaviours(minBehaviours);
        if (maxBehaviours != null) b.maxBehaviours(maxBehaviours);
        if (historyLength != null) b.historyLength(historyLength);
        if (styleFidelity != null) b.styleFidelity(styleFidelity);
        if (noise != null) b.noise(noise);
        if (hardSame != null) b.hardNegativeSameCategory(hardSame);
        if (hardOther != null) b.hardNegativeOtherInterest(hardOther);
        if (noNegHistory) b.negHistory(false);
        SyntheticWorld.Report r = SyntheticWorld.generate(b.build(), out);
        System.out.println(r.summary());
        return 0;
    }
}
