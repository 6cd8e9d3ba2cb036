package io.augur.prepare;

import io.augur.data.DataFormatException;
import io.augur.data.Split;
import io.augur.prepare.PrepareTesting.Row;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static io.augur.prepare.PrepareTesting.PAD;
import static io.augur.prepare.PrepareTesting.fixture;
import static io.augur.prepare.PrepareTesting.rows;
import static io.augur.prepare.PrepareTesting.rowsOf;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code --format dien}: the DIEN text samples; string ids through vocabularies built from the
 * training file, ids unknown to it map to 0 in the test split and are counted; truncation to T;
 * bad lines; the round trip into training (DIEN, with sampled negative histories).
 */
class DienConverterTest {

    @Test
    void vocabulariesFromTrainingAndUnknownTestIdsToZero(@TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("d");
        PrepareReport r = Prepare.run(PrepareFormat.DIEN, fixture("dien"), out, PrepareOptions.builder().historyLength(2).build());
        assertEquals(11, r.rowsRead());
        assertEquals(11, r.rowsWritten());
        assertEquals(Map.of("user", 4 + 1, "item", 5 + 1, "cate", 4 + 1),
                Map.of("user", r.info().vocabSize("user"), "item", r.info().vocabSize("item"), "cate", r.info().vocabSize("cate")));
        List<Row> test = rows(out, Split.TEST);
        assertEquals(new Row(1, PAD, "B001", "Electronics", List.of("B002", PAD), List.of("Phones", PAD)), test.get(0));
        assertEquals(new Row(0, PAD, PAD, PAD, List.of("B002", PAD), List.of("Phones", PAD)), test.get(1));
        assertEquals(new Row(1, "AU1", "B003", "Electronics", List.of("B001"), List.of("Electronics")), test.get(2));
        assertEquals(2, r.event("unknown_test_users"));
        assertEquals(1, r.event("unknown_test_items"));
        assertEquals(1, r.event("unknown_test_cates"));
        assertEquals(2, r.event("unknown_test_hist_items"));
        assertEquals(2, r.event("unknown_test_hist_cates"));
        // training rows (train or valid, by user): AU3's three-long history keeps its last T = 2
        List<Row> trainAndValid = new ArrayList<>(rows(out, Split.TRAIN));
        trainAndValid.addAll(rows(out, Split.VALID));
        assertEquals(8, trainAndValid.size());
        Row au3 = rowsOf(trainAndValid, "AU3").get(0);
        assertEquals(new Row(1, "AU3", "B002", "Phones", List.of("B001", "B003"), List.of("Electronics", "Electronics")), au3);
        assertEquals(List.of(), rowsOf(trainAndValid, "AU4").get(0).histItems(), "an empty list field is an empty history");
    }

    @Test
    void badLinesNameFileLineAndFieldOrAreCountedByReason(@TempDir Path tmp) throws IOException {
        DataFormatException e = assertThrows(DataFormatException.class,
                () -> Prepare.run(PrepareFormat.DIEN, fixture("dien-bad"), tmp.resolve("d"), PrepareOptions.builder().build()));
        assertTrue(e.getMessage().contains("local_train_splitByUser: line 2, field 'label'"), e.getMessage());
        PrepareReport r = Prepare.run(PrepareFormat.DIEN, fixture("dien-bad"), tmp.resolve("s"),
                PrepareOptions.builder().skipBadRows(true).build());
        assertEquals(Map.of("bad_label", 1L, "list_length_mismatch", 1L, "wrong_field_count", 1L), r.skippedByReason());
        assertEquals(1 + 1, r.rowsWritten(), "one good training line and the test line");
    }

    @Test
    void roundTripIntoTraining(@TempDir Path tmp) {
        PrepareTesting.prepareAndTrain(tmp, "dien", "--format", "dien", "--input", fixture("dien").toString(), "-T", "3",
                "--neg-history", "--valid-fraction", "0.3");
    }
}
