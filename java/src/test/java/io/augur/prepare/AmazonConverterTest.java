package io.augur.prepare;

import io.augur.data.DataFormatException;
import io.augur.data.Split;
import io.augur.prepare.PrepareTesting.Row;
import java.io.IOException;
import java.nio.file.Path;
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
 * {@code --format amazon}: reviews (strict JSON, other fields skipped, escapes inside strings)
 * with meta lines written as Python dict literals; category = last entry of the first category
 * list; then the behaviour-log protocol. Bad lines; the round trip into training.
 */
class AmazonConverterTest {

    @Test
    void reviewsAndMetaFollowTheDinPipeline(@TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("d");
        PrepareReport r = Prepare.run(PrepareFormat.AMAZON, fixture("amazon"), out, PrepareOptions.builder().historyLength(3).build());
        assertEquals(10 + 6, r.rowsRead(), "10 reviews and 6 meta lines");
        assertEquals(1, r.event("meta_unreviewed_items"), "P9 has no review");
        // A1 in time order: P1 (Radios: last of the first list, not Toys), P3, P2, P4, P5
        List<Row> test = rowsOf(rows(out, Split.TEST), "A1");
        assertEquals(new Row(1, "A1", "P5", "Books", List.of("P3", "P2", "P4"), List.of("Radios", "Computers", "Computers")),
                test.get(0));
        assertEquals(new Row(1, "A1", "P4", "Computers", List.of("P1", "P3", "P2"), List.of("Radios", "Radios", "Computers")),
                rowsOf(rows(out, Split.VALID), "A1").get(0));
        List<Row> train = rowsOf(rows(out, Split.TRAIN), "A1");
        assertEquals(List.of("P3", "P2"), train.stream().filter(x -> x.label() == 1).map(Row::item).toList());
        // A2's reviews lie in the file out of time order: P1, P2, P4
        assertEquals("P4", rowsOf(rows(out, Split.TEST), "A2").get(0).item());
        assertEquals(List.of("P1", "P2"), rowsOf(rows(out, Split.TEST), "A2").get(0).histItems());
    }

    @Test
    void lastCategoryListOption(@TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("d");
        Prepare.run(PrepareFormat.AMAZON, fixture("amazon/reviews_Tiny_5.json"), out,
                PrepareOptions.builder().historyLength(3).lastCategoryList(true).build());
        assertEquals("Toys", rowsOf(rows(out, Split.VALID), "A1").get(0).histCates().get(0), "P1's last list is ['Toys']");
    }

    @Test
    void badReviewsNameFileLineAndFieldOrAreCounted(@TempDir Path tmp) throws IOException {
        DataFormatException e = assertThrows(DataFormatException.class,
                () -> Prepare.run(PrepareFormat.AMAZON, fixture("amazon-bad"), tmp.resolve("d"), PrepareOptions.builder().build()));
        assertTrue(e.getMessage().contains("reviews_Tiny_5.json: line 2, field 'unixReviewTime'"), e.getMessage());
        PrepareReport r = Prepare.run(PrepareFormat.AMAZON, fixture("amazon-bad"), tmp.resolve("s"),
                PrepareOptions.builder().skipBadRows(true).build());
        assertEquals(Map.of("bad_timestamp", 1L, "missing_field", 1L), r.skippedByReason());
        assertTrue(String.join("\n", r.lines()).contains("line 4, field 'asin'"), "the report names the first line of each reason");
    }

    @Test
    void metaLineThatIsNoDictLiteralIsNamed(@TempDir Path tmp) throws IOException {
        Path dir = tmp.resolve("in");
        java.nio.file.Files.createDirectories(dir);
        java.nio.file.Files.copy(fixture("amazon/reviews_Tiny_5.json"), dir.resolve("reviews_Tiny_5.json"));
        java.nio.file.Files.writeString(dir.resolve("meta_Tiny.json"), "{'asin': 'P1', 'categories': [['A']]}\n{'asin': 'P2', 'categories': [['B'}\n");
        DataFormatException e = assertThrows(DataFormatException.class,
                () -> Prepare.run(PrepareFormat.AMAZON, dir, tmp.resolve("d"), PrepareOptions.builder().build()));
        assertTrue(e.getMessage().contains("meta_Tiny.json: line 2"), e.getMessage());
    }

    @Test
    void roundTripIntoTraining(@TempDir Path tmp) {
        PrepareTesting.prepareAndTrain(tmp, "din", "--format", "amazon", "--input", fixture("amazon").toString(), "-T", "3");
    }
}
