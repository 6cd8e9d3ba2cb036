package io.augur.prepare;

import io.augur.data.DataFormatException;
import io.augur.data.Split;
import io.augur.prepare.PrepareTesting.Row;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static io.augur.prepare.PrepareTesting.fixture;
import static io.augur.prepare.PrepareTesting.rows;
import static io.augur.prepare.PrepareTesting.rowsOf;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code --format movielens}: the DIN paper's protocol on MovieLens-1M-style ({@code ratings.dat}
 * + {@code movies.dat}) and MovieLens-100k ({@code u.data} + {@code u.item}) fixtures: ratings 4-5
 * positive, the first genre as category, the history = earlier ratings in time order; the user
 * split; a bad rating; the round trip into training.
 */
class MovieLensConverterTest {

    private static PrepareOptions.Builder leaveLast() {
        return PrepareOptions.builder().historyLength(3).split(PrepareOptions.SplitProtocol.LEAVE_LAST);
    }

    @Test
    void ml1mRatingsBecomeLabelledRowsWithEarlierRatingsAsHistory(@TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("d");
        PrepareReport r = Prepare.run(PrepareFormat.MOVIELENS, fixture("movielens/ml-1m"), out, leaveLast().build());
        assertEquals(9 + 6, r.rowsRead(), "9 ratings and 6 movies");
        assertEquals(9, r.rowsWritten(), "one row per rating");
        assertEquals(6, r.event("positive_ratings"));
        assertEquals(3, r.event("negative_ratings"));
        // user 1 in time order: movie 3 (2 stars), 2 (4), 1 (5), 4 (3)
        assertEquals(List.of(new Row(0, "1", "3", "Action", List.of(), List.of()),
                new Row(1, "1", "2", "Adventure", List.of("3"), List.of("Action"))), rowsOf(rows(out, Split.TRAIN), "1"));
        assertEquals(List.of(new Row(1, "1", "1", "Animation", List.of("3", "2"), List.of("Action", "Adventure"))),
                rowsOf(rows(out, Split.VALID), "1"));
        assertEquals(List.of(new Row(0, "1", "4", "Comedy", List.of("3", "2", "1"), List.of("Action", "Adventure", "Animation"))),
                rowsOf(rows(out, Split.TEST), "1"));
    }

    @Test
    void positiveHistoryKeepsOnlyEarlierPositives(@TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("d");
        Prepare.run(PrepareFormat.MOVIELENS, fixture("movielens/ml-1m/ratings.dat"), out, leaveLast().positiveHistory(true).build());
        assertEquals(List.of("2", "1"), rowsOf(rows(out, Split.TEST), "1").get(0).histItems());
    }

    @Test
    void ml100kReadsTabsAndGenreFlags(@TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("d");
        PrepareReport r = Prepare.run(PrepareFormat.MOVIELENS, fixture("movielens/ml-100k"), out, leaveLast().build());
        assertEquals(7, r.rowsWritten());
        // user 1: item 1 (5 stars, Animation), item 2 (3, Action), item 3 (4, Thriller)
        assertEquals(List.of(new Row(1, "1", "3", "Thriller", List.of("1", "2"), List.of("Animation", "Action"))),
                rowsOf(rows(out, Split.TEST), "1"));
        assertEquals(List.of(new Row(0, "1", "2", "Action", List.of("1"), List.of("Animation"))), rowsOf(rows(out, Split.VALID), "1"));
    }

    @Test
    void defaultSplitSendsWholeUsersToOneSplit(@TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("d");
        PrepareOptions o = PrepareOptions.builder().historyLength(3).validFraction(0.3).testFraction(0.3).build();
        PrepareReport r = Prepare.run(PrepareFormat.MOVIELENS, fixture("movielens/ml-1m"), out, o);
        assertEquals(9, r.rowsWritten());
        Map<String, Split> splitOf = new HashMap<>();
        for (Split s : Split.values()) {
            for (Row row : rows(out, s)) {
                Split before = splitOf.put(row.user(), s);
                assertTrue(before == null || before == s, "user " + row.user() + " in " + before + " and " + s);
            }
        }
        assertEquals(3, splitOf.size());
    }

    @Test
    void badRatingNamesFileLineAndFieldOrIsCounted(@TempDir Path tmp) throws IOException {
        DataFormatException e = assertThrows(DataFormatException.class,
                () -> Prepare.run(PrepareFormat.MOVIELENS, fixture("movielens/bad-rating"), tmp.resolve("d"), leaveLast().build()));
        assertTrue(e.getMessage().contains("ratings.dat: line 2, field 'Rating'") && e.getMessage().contains("'two'"), e.getMessage());
        PrepareReport r = Prepare.run(PrepareFormat.MOVIELENS, fixture("movielens/bad-rating"), tmp.resolve("s"),
                leaveLast().skipBadRows(true).build());
        assertEquals(Map.of("bad_number", 1L), r.skippedByReason());
        assertEquals(2, r.rowsWritten());
    }

    @Test
    void missingMoviesFileIsNamed(@TempDir Path tmp) throws IOException {
        Path lone = tmp.resolve("ratings.dat");
        java.nio.file.Files.copy(fixture("movielens/ml-1m/ratings.dat"), lone);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Prepare.run(PrepareFormat.MOVIELENS, lone, tmp.resolve("d"), leaveLast().build()));
        assertTrue(e.getMessage().contains("movies.dat"), e.getMessage());
    }

    @Test
    void roundTripIntoTraining(@TempDir Path tmp) {
        PrepareTesting.prepareAndTrain(tmp, "din", "--format", "movielens", "--input", fixture("movielens/ml-1m").toString(), "-T", "3",
                "--split", "leave-last");
    }
}
