package io.augur.backend.cuda;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * The grouping shared by the by-value list launches ({@link MultiTensorArgs},
 * {@link GatherListArgs}, {@link SparseUpdateListArgs}): the entries in order, those with no work
 * left out, in groups of at most the struct's capacity, one launch each.
 */
final class LaunchGroups {
    private LaunchGroups() {}

    static <E> List<List<E>> split(List<E> entries, int max, Predicate<E> empty) {
        List<List<E>> out = new ArrayList<>();
        List<E> group = new ArrayList<>();
        for (E e : entries) {
            if (empty.test(e)) continue;
            group.add(e);
            if (group.size() == max) {
                out.add(group);
                group = new ArrayList<>();
            }
        }
        if (!group.isEmpty()) out.add(group);
        return out;
    }
}
