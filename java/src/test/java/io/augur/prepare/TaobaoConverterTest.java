package io.augur.prepare;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.augur.data.DataFormatException;
import io.augur.data.Split;
import io.augur.prepare.PrepareTesting.Row;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static io.augur.prepare.PrepareTesting.PAD;
import static io.augur.prepare.PrepareTesting.fixture;
import static io.augur.prepare.PrepareTesting.rows;
import static io.augur.prepare.PrepareTesting.sharedData;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code --format taobao}: the display-ad CSV (label clk, user, ad group as item, category,
 * ^-joined click sequence as history, profile columns as extra sparse fields), on the real sample
 * and on fixtures; unknown ids counted; bad lines; the round trip into training.
 */
class TaobaoConverterTest {

    private static final List<String> PROFILE = List.of("cms_segid", "cms_group_id", "final_gender_code", "age_level", "pvalue_level",
            "shopping_level", "occupation", "new_user_class_level");

    @Test
    void realSampleKeepsEveryRowAndTheProfileFields(@TempDir Path tmp) throws IOException {
        Path in = sharedData("taobao-ad-sample");
        Path out = tmp.resolve("d");
        PrepareReport r = Prepare.run(PrepareFormat.TAOBAO, in, out, PrepareOptions.builder().historyLength(10).build());
        assertEquals(300, r.rowsRead());
        assertEquals(100, r.info().rows(Split.TRAIN));
        assertEquals(100, r.info().rows(Split.VALID));
        assertEquals(100, r.info().rows(Split.TEST));
        JsonNode ds = new ObjectMapper().readTree(out.resolve("dataset.json").toFile());
        List<String> profile = new ArrayList<>();
        for (JsonNode f : ds.get("fields")) {
            if (f.get("role").asText().equals("profile")) {
                profile.add(f.get("name").asText());
            }
        }
        assertEquals(PROFILE, profile);
        // the first training line, read independently: clk 0, user 874257, ad group 172298, cate 5443, clicks 170301^573514
        List<String> lines = Files.readAllLines(in.resolve("train_sample.csv"), StandardCharsets.UTF_8);
        String[] f = lines.get(1).split(",", -1);
        Row first = rows(out, Split.TRAIN).get(0);
        assertEquals(Integer.parseInt(f[0]), first.label());
        assertEquals(f[2], first.user());
        assertEquals(f[3], first.item());
        assertEquals(f[5], first.cate());
        List<String> clicks = f[18].isEmpty() ? List.of() : List.of(f[18].split("\\^"));
        assertEquals(clicks, first.histItems());
    }

    @Test
    void fixtureHistoriesUnknownIdsAndTruncation(@TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("d");
        PrepareReport r = Prepare.run(PrepareFormat.TAOBAO, fixture("taobao"), out, PrepareOptions.builder().historyLength(2).build());
        List<Row> train = rows(out, Split.TRAIN);
        // 101^102^103 keeps the last two; their categories are those of the ad groups as training targets (102 -> 7, 103 -> 9)
        assertEquals(new Row(1, "10", "100", "7", List.of("102", "103"), List.of("7", "9")), train.get(0));
        assertEquals(List.of(), train.get(3).histItems(), "an empty click sequence is an empty history");
        assertEquals(3, r.event("truncated_histories"), "train rows 1 and 2 (three clicks), the valid row (four)");
        List<Row> test = rows(out, Split.TEST);
        assertEquals(new Row(0, PAD, PAD, "7", List.of("101", PAD), List.of("8", PAD)), test.get(0));
        assertEquals(1, r.event("unknown_users"));
        assertEquals(1, r.event("unknown_items"));
        assertEquals(1, r.event("unknown_hist_items"));
        assertEquals(1, r.event("unknown_cms_segid"), "cms_segid 9 is new in the test file");
    }

    @Test
    void minHistoryDropsShortRowsInEveryFile(@TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("d");
        PrepareReport r = Prepare.run(PrepareFormat.TAOBAO, fixture("taobao"), out, PrepareOptions.builder().historyLength(2).minHistory(2).build());
        // train: the rows with one click and with none; test: the row with one click
        assertEquals(3, r.event(HistoryWindow.BELOW_MIN));
        assertEquals(3, r.event("truncated_histories"), "truncation is counted whether or not the row is kept");
        assertEquals(2, r.info().rows(Split.TRAIN));
        assertEquals(1, r.info().rows(Split.VALID));
        assertEquals(1, r.info().rows(Split.TEST));
        for (Split s : Split.values()) {
            for (Row row : rows(out, s)) {
                assertEquals(2, row.histItems().size(), row.toString());
            }
        }
    }

    @Test
    void badLinesNameFileLineAndFieldOrAreCountedByReason(@TempDir Path tmp) throws IOException {
        DataFormatException e = assertThrows(DataFormatException.class,
                () -> Prepare.run(PrepareFormat.TAOBAO, fixture("taobao-bad"), tmp.resolve("d"), PrepareOptions.builder().build()));
        assertTrue(e.getMessage().contains("train.csv: line 3, field 'clk'") && e.getMessage().contains("'yes'"), e.getMessage());
        PrepareReport r = Prepare.run(PrepareFormat.TAOBAO, fixture("taobao-bad"), tmp.resolve("s"),
                PrepareOptions.builder().skipBadRows(true).build());
        assertEquals(Map.of("bad_label", 1L, "wrong_field_count", 1L), r.skippedByReason());
        assertEquals(2, r.info().rows(Split.TRAIN));
    }

    @Test
    void roundTripIntoTraining(@TempDir Path tmp) {
        PrepareTesting.prepareAndTrain(tmp, "din", "--format", "taobao", "--input", sharedData("taobao-ad-sample").toString(), "-T", "10");
    }
}
