package io.augur.prepare;

import io.augur.data.DataFormatException;
import io.augur.data.Split;
import io.augur.prepare.PrepareTesting.Row;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static io.augur.prepare.PrepareTesting.fixture;
import static io.augur.prepare.PrepareTesting.rows;
import static io.augur.prepare.PrepareTesting.rowsOf;
import static io.augur.prepare.PrepareTesting.sharedData;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code --format log}: the DIN protocol on a hand-checked fixture (renamed and reordered columns,
 * rows out of time order), on the real Amazon Electronics sample and on generated logs (negatives
 * never clicked, seeded reproducibility, truncation to T), bad lines (error naming file, line and
 * field; or counted by reason with --skip-bad-rows), and the round trip into training.
 */
class LogConverterTest {

    private static PrepareOptions.Builder clicksOptions() {
        return PrepareOptions.builder().historyLength(3).userColumn("who").itemColumn("what").cateColumn("kind").timeColumn("when");
    }

    private static PrepareReport prepare(Path input, Path out, PrepareOptions o) throws IOException {
        return Prepare.run(PrepareFormat.LOG, input, out, o);
    }

    @Test
    void leaveLastProtocolOnTheFixture(@TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("d");
        PrepareReport r = prepare(fixture("log/clicks.csv"), out, clicksOptions().build());
        assertEquals(12, r.rowsRead());
        assertEquals(1, r.event("users_without_samples"), "u3 has one behaviour");

        // u1 clicked i1..i6 at times 100..600 (lines out of order): test = last, valid = second last, T = 3
        List<Row> test = rowsOf(rows(out, Split.TEST), "u1");
        List<Row> valid = rowsOf(rows(out, Split.VALID), "u1");
        List<Row> train = rowsOf(rows(out, Split.TRAIN), "u1");
        assertEquals(2, test.size(), test.toString());
        assertEquals(new Row(1, "u1", "i6", "c3", List.of("i3", "i4", "i5"), List.of("c2", "c2", "c3")), test.get(0));
        assertEquals(new Row(1, "u1", "i5", "c3", List.of("i2", "i3", "i4"), List.of("c1", "c2", "c2")), valid.get(0));
        assertEquals(List.of("i2", "i3", "i4"), train.stream().filter(x -> x.label() == 1).map(Row::item).toList());
        assertEquals(List.of("i1", "i2"), train.get(2).histItems(), "the history of the second positive");
        // each positive is followed by its negative with the same history, an item u1 had not clicked by then
        List<String> order = List.of("i1", "i2", "i3", "i4", "i5", "i6");
        for (List<Row> split : List.of(train, valid, test)) {
            for (int k = 0; k < split.size(); k += 2) {
                Row pos = split.get(k);
                Row neg = split.get(k + 1);
                assertEquals(0, neg.label(), neg.toString());
                assertEquals(pos.histItems(), neg.histItems());
                Set<String> clickedByThen = new HashSet<>(order.subList(0, order.indexOf(pos.item()) + 1));
                assertFalse(clickedByThen.contains(neg.item()), "negative " + neg + " was clicked by then");
            }
        }
        // u4 has two behaviours: only a test pair; u2 three: a valid and a test pair, no train
        assertEquals(2, rowsOf(rows(out, Split.TEST), "u4").size());
        assertEquals(0, rowsOf(rows(out, Split.VALID), "u4").size());
        assertEquals(2, rowsOf(rows(out, Split.VALID), "u2").size());
        assertEquals(0, rowsOf(rows(out, Split.TRAIN), "u2").size());
        assertEquals(0, rowsOf(rows(out, Split.TRAIN), "u3").size() + rowsOf(rows(out, Split.TEST), "u3").size());
    }

    /** The real sample: every user's last behaviour (by time, ties in file order) is its test positive. */
    @Test
    void realAmazonElectronicsSample(@TempDir Path tmp) throws IOException {
        Path csv = sharedData("amazon-electronics-sample/amazon_electronics_sample.csv");
        Path out = tmp.resolve("d");
        PrepareReport r = prepare(csv, out, PrepareOptions.builder().historyLength(5).build());

        // an independent reading of the file: user -> items in time order (stable on ties)
        List<String> lines = Files.readAllLines(csv, StandardCharsets.UTF_8);
        assertEquals("user_id,item_id,time,cate_id", lines.get(0));
        Map<String, List<String[]>> byUser = new LinkedHashMap<>();
        for (String line : lines.subList(1, lines.size())) {
            String[] f = line.split(",");
            byUser.computeIfAbsent(f[0], k -> new ArrayList<>()).add(f);
        }
        assertEquals(lines.size() - 1, r.rowsRead());
        long positives = 0;
        int testUsers = 0;
        int validUsers = 0;
        List<Row> test = rows(out, Split.TEST);
        List<Row> valid = rows(out, Split.VALID);
        for (Map.Entry<String, List<String[]>> e : byUser.entrySet()) {
            List<String[]> seq = new ArrayList<>(e.getValue());
            seq.sort(Comparator.comparingLong(f -> Long.parseLong(f[2])));
            int n = seq.size();
            positives += n - 1;
            if (n >= 2) {
                testUsers++;
                List<Row> t = rowsOf(test, e.getKey());
                assertEquals(seq.get(n - 1)[1], t.get(0).item(), "test positive of user " + e.getKey());
                assertEquals(seq.get(n - 1)[3], t.get(0).cate());
                List<String> hist = new ArrayList<>();
                for (int k = Math.max(0, n - 1 - 5); k < n - 1; k++) {
                    hist.add(seq.get(k)[1]);
                }
                assertEquals(hist, t.get(0).histItems(), "test history of user " + e.getKey() + " (last T = 5)");
            }
            if (n >= 3) {
                validUsers++;
                assertEquals(seq.get(n - 2)[1], rowsOf(valid, e.getKey()).get(0).item(), "valid positive of user " + e.getKey());
            }
        }
        assertEquals(2 * positives, r.rowsWritten());
        assertEquals(2L * testUsers, r.info().rows(Split.TEST));
        assertEquals(2L * validUsers, r.info().rows(Split.VALID));
        assertTrue(r.historyQuantile(1.0) <= 5);
    }

    /**
     * A generated log with few items per user's reach (30 items, ~40 behaviours each): negatives,
     * uniform and by popularity, are never items the user had clicked at that point.
     */
    @Test
    void negativesAreNeverClickedAndSeedsReproduce(@TempDir Path tmp) throws IOException {
        Path log = tmp.resolve("log.csv");
        BehaviourLogGenerator.write(log, 4_000, 100, 30, 5, 7);
        for (String negatives : List.of("uniform", "popularity")) {
            Path a = tmp.resolve(negatives + "-a");
            PrepareOptions o = PrepareOptions.builder().historyLength(8).negatives(negatives).seed(11).build();
            PrepareReport r = prepare(log, a, o);
            assertEquals(4_000, r.rowsRead());
            int checked = 0;
            for (Split s : Split.values()) {
                List<Row> rows = rows(a, s);
                Map<String, Set<String>> clicked = new HashMap<>(); // per user, clicked so far (positives come in order)
                for (int k = 0; k < rows.size(); k++) {
                    Row row = rows.get(k);
                    if (row.label() == 1) {
                        Set<String> c = clicked.computeIfAbsent(row.user(), u -> new HashSet<>());
                        c.addAll(row.histItems());
                        c.add(row.item());
                    } else {
                        Row pos = rows.get(k - 1);
                        assertEquals(1, pos.label());
                        Set<String> byThen = new HashSet<>(pos.histItems());
                        byThen.add(pos.item());
                        assertFalse(byThen.contains(row.item()), negatives + ": negative " + row + " in history or target");
                        assertFalse(row.item().equals(PrepareTesting.PAD), "negative is padding: " + row);
                        checked++;
                    }
                    assertTrue(row.histItems().size() <= 8, "history longer than T: " + row);
                }
            }
            assertTrue(checked > 1_000, "too few negatives checked: " + checked);
            // the same seed gives the same bytes; another seed other negatives
            Path b = tmp.resolve(negatives + "-b");
            prepare(log, b, o);
            Path c = tmp.resolve(negatives + "-c");
            prepare(log, c, o.toBuilder().seed(12).build());
            for (String f : List.of("train.arrow", "valid.arrow", "test.arrow")) {
                assertArrayEquals(Files.readAllBytes(a.resolve(f)), Files.readAllBytes(b.resolve(f)), negatives + " " + f);
            }
            assertFalse(java.util.Arrays.equals(Files.readAllBytes(a.resolve("train.arrow")), Files.readAllBytes(c.resolve("train.arrow"))),
                    negatives + ": seeds 11 and 12 gave the same train.arrow");
        }
    }

    @Test
    void historiesAreTruncatedToTheLastT(@TempDir Path tmp) throws IOException {
        Path log = tmp.resolve("log.csv");
        BehaviourLogGenerator.write(log, 3_000, 20, 500, 10, 3); // ~150 behaviours per user
        Path out = tmp.resolve("d");
        PrepareReport r = prepare(log, out, PrepareOptions.builder().historyLength(10).build());
        assertEquals(10, r.historyQuantile(1.0));
        List<Row> train = rows(out, Split.TRAIN);
        assertTrue(train.stream().allMatch(x -> x.histItems().size() <= 10));
        assertTrue(train.stream().filter(x -> x.histItems().size() == 10).count() > train.size() / 2, "most histories should be full");
        // the test history is the last 10 items before the test positive, which itself is the last valid positive's successor
        List<Row> valid = rows(out, Split.VALID);
        List<Row> test = rows(out, Split.TEST);
        Row v = valid.get(0);
        Row t = rowsOf(test, v.user()).get(0);
        List<String> expected = new ArrayList<>(v.histItems().subList(1, 10));
        expected.add(v.item());
        assertEquals(expected, t.histItems(), "the test history slides one step past the valid one");
    }

    @Test
    void groupedModeGivesTheSameDataset(@TempDir Path tmp) throws IOException {
        // the fixture sorted by user (grouped), with the converter's default column names
        List<String> lines = Files.readAllLines(fixture("log/clicks.csv"));
        List<String> body = new ArrayList<>(lines.subList(1, lines.size()));
        body.sort(Comparator.comparing(l -> l.split(",")[0]));
        body.add(0, lines.get(0));
        Path grouped = tmp.resolve("grouped.csv");
        Files.write(grouped, body);
        Path a = tmp.resolve("a");
        Path b = tmp.resolve("b");
        prepare(grouped, a, clicksOptions().build());
        prepare(grouped, b, clicksOptions().grouped(true).build());
        for (Split s : Split.values()) {
            assertEquals(rows(a, s), rows(b, s), s.toString());
        }
        // an ungrouped file with --grouped names the line where a user comes back
        DataFormatException e = assertThrows(DataFormatException.class,
                () -> prepare(fixture("log/clicks.csv"), tmp.resolve("c"), clicksOptions().grouped(true).build()));
        assertTrue(e.getMessage().contains("clicks.csv: line 4, field 'who'"), e.getMessage());
    }

    /**
     * Ids follow the order of first appearance across the converter's two read paths: decimal ids
     * staged and looked up in batches, and the per-line path that bad lines, non-canonical decimals
     * ("007") and other ids take (the first such id turns staging off).
     */
    @Test
    void idsFollowFirstAppearanceAcrossBothReadPaths(@TempDir Path tmp) throws IOException {
        List<String> lines = new ArrayList<>();
        lines.add("user_id,item_id,cate_id,time");
        List<String> userOrder = new ArrayList<>();
        List<String> itemOrder = new ArrayList<>();
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(11);
        for (int i = 0; i < 1000; i++) {
            String u = Integer.toString(rnd.nextInt(150));
            String it = i == 700 ? "007" : i > 800 && i % 3 == 0 ? "B" + rnd.nextInt(40) : Integer.toString(rnd.nextInt(400));
            if (i == 300 || i == 301) {
                lines.add(u + "," + it + ",5,not-a-time"); // skipped: inside the staged stretch
                continue;
            }
            lines.add(u + "," + it + "," + (i % 7) + "," + (1000 + i));
            if (!userOrder.contains(u)) {
                userOrder.add(u);
            }
            if (!itemOrder.contains(it)) {
                itemOrder.add(it);
            }
        }
        Path log = tmp.resolve("mixed.csv");
        Files.write(log, lines);
        Path out = tmp.resolve("d");
        PrepareReport r = prepare(log, out, PrepareOptions.builder().skipBadRows(true).build());
        assertEquals(Map.of("bad_timestamp", 2L), r.skippedByReason());
        Map<Integer, String> users = PrepareTesting.vocab(out, "user");
        Map<Integer, String> items = PrepareTesting.vocab(out, "item");
        for (int k = 0; k < userOrder.size(); k++) {
            assertEquals(userOrder.get(k), users.get(k + 1), "user id " + (k + 1));
        }
        for (int k = 0; k < itemOrder.size(); k++) {
            assertEquals(itemOrder.get(k), items.get(k + 1), "item id " + (k + 1));
        }
        assertEquals(userOrder.size() + 1, users.size(), "and the padding id 0");
        assertEquals(itemOrder.size() + 1, items.size(), "and the padding id 0");
    }

    /** --min-history drops the positive and its negative together and counts both; no kept row is shorter. */
    @Test
    void minHistoryDropsPairsAndCountsThem(@TempDir Path tmp) throws IOException {
        PrepareReport all = prepare(fixture("log/clicks.csv"), tmp.resolve("a"), clicksOptions().build());
        PrepareReport some = prepare(fixture("log/clicks.csv"), tmp.resolve("m"), clicksOptions().minHistory(2).build());
        // first samples (a history of one) of u1, u2 and u4: 3 pairs
        assertEquals(6, some.event(HistoryWindow.BELOW_MIN));
        assertEquals(all.rowsWritten() - 6, some.rowsWritten());
        for (Split s : Split.values()) {
            for (Row row : rows(tmp.resolve("m"), s)) {
                assertTrue(row.histItems().size() >= 2, row.toString());
            }
        }
        assertFalse(String.join("\n", all.lines()).contains(HistoryWindow.BELOW_MIN), "not reported without --min-history");
    }

    // ------------------------------------------------------------------ bad input

    @Test
    void missingFieldNamesFileLineAndField(@TempDir Path tmp) {
        DataFormatException e = assertThrows(DataFormatException.class,
                () -> prepare(fixture("log/missing-field.csv"), tmp.resolve("d"), PrepareOptions.builder().build()));
        assertTrue(e.getMessage().contains("missing-field.csv: line 3, field 'time'"), e.getMessage());
        assertEquals(3, e.row());
        assertEquals("time", e.field());
        assertFalse(Files.exists(tmp.resolve("d").resolve("dataset.json")), "a failed conversion must not leave a dataset.json");
    }

    @Test
    void badTimestampsStopOrAreCountedByReason(@TempDir Path tmp) throws IOException {
        DataFormatException e = assertThrows(DataFormatException.class,
                () -> prepare(fixture("log/bad-time.csv"), tmp.resolve("d"), PrepareOptions.builder().build()));
        assertTrue(e.getMessage().contains("bad-time.csv: line 3, field 'time'") && e.getMessage().contains("2020-13-45"), e.getMessage());

        PrepareReport r = prepare(fixture("log/bad-time.csv"), tmp.resolve("s"), PrepareOptions.builder().skipBadRows(true).build());
        assertEquals(Map.of("bad_timestamp", 2L), r.skippedByReason());
        assertEquals(5, r.rowsRead());
        assertTrue(String.join("\n", r.lines()).contains("bad_timestamp: 2"), String.join("\n", r.lines()));
        assertEquals(2, r.rowsWritten(), "u1 keeps i1 and i3: one test pair; u2 keeps one behaviour: none");

        PrepareReport m = prepare(fixture("log/missing-field.csv"), tmp.resolve("m"), PrepareOptions.builder().skipBadRows(true).build());
        assertEquals(Map.of("wrong_field_count", 1L), m.skippedByReason());
    }

    @Test
    void wrongSeparatorEmptyFileAndHeaderOnly(@TempDir Path tmp) {
        DataFormatException sep = assertThrows(DataFormatException.class,
                () -> prepare(fixture("log/semicolon.csv"), tmp.resolve("a"), PrepareOptions.builder().build()));
        assertTrue(sep.getMessage().contains("semicolon.csv: line 1, field 'user_id'") && sep.getMessage().contains("--delimiter"),
                sep.getMessage());
        DataFormatException empty = assertThrows(DataFormatException.class,
                () -> prepare(fixture("log/empty.csv"), tmp.resolve("b"), PrepareOptions.builder().skipBadRows(true).build()));
        assertTrue(empty.getMessage().contains("empty.csv") && empty.getMessage().contains("empty file"), empty.getMessage());
        DataFormatException header = assertThrows(DataFormatException.class,
                () -> prepare(fixture("log/header-only.csv"), tmp.resolve("c"), PrepareOptions.builder().build()));
        assertTrue(header.getMessage().contains("header-only.csv") && header.getMessage().contains("found none"), header.getMessage());
    }

    @Test
    void semicolonsWithTheirDelimiterConvert(@TempDir Path tmp) throws IOException {
        PrepareReport r = prepare(fixture("log/semicolon.csv"), tmp.resolve("d"), PrepareOptions.builder().delimiter(';').build());
        assertEquals(2, r.rowsRead());
        // u1 clicked both items: the test positive is written, its negative cannot be (counted, not dropped silently)
        assertEquals(1, r.info().rows(Split.TEST));
        assertEquals(1, r.event("negatives_impossible"));
    }

    // ------------------------------------------------------------------ round trip

    @Test
    void roundTripIntoTraining(@TempDir Path tmp) {
        io.augur.cli.CliTest.Result r = PrepareTesting.prepareAndTrain(tmp, "din", "--format", "log", "--input",
                sharedData("amazon-electronics-sample").toString(), "-T", "10", "--neg-history");
        assertTrue(r.out().contains("100 rows read"), r.toString());
    }

    @Test
    void cliRejectsAnOptionOfAnotherFormat(@TempDir Path tmp) {
        io.augur.cli.CliTest.Result r = PrepareTesting.cli("prepare", "--format", "dien", "--input", fixture("dien").toString(), "--out",
                tmp.resolve("d").toString(), "--user-col", "who");
        assertEquals(2, r.code(), r.toString());
        assertTrue(r.err().contains("--user-col applies to --format log only"), r.toString());
    }
}
