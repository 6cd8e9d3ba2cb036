package io.augur.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The dataset folder: DatasetWriter → Dataset.open, dataset.json, training counts. */
class DatasetTest {

    @TempDir
    Path tmp;

    private static final SampleSchema SCHEMA =
            new SampleSchema(5, 12, 40, 6, List.of(new ExtraField("gender", 3)), true);

    private static final ObjectMapper JSON = new ObjectMapper();

    private Path writeDataset(Map<Split, List<SampleFileRoundTripTest.Row>> rows) throws IOException {
        Path dir = tmp.resolve("ds");
        ObjectNode madeBy = JSON.createObjectNode().put("converter", "test").put("seed", 7);
        try (DatasetWriter w = DatasetWriter.create(dir, SCHEMA, madeBy, 16)) {
            for (Map.Entry<Split, List<SampleFileRoundTripTest.Row>> e : rows.entrySet()) {
                SampleFileRoundTripTest.write(w.split(e.getKey()), e.getValue());
            }
            DatasetInfo info = w.finish();
            assertEquals(rows.get(Split.TRAIN).size(), info.rows(Split.TRAIN));
        }
        return dir;
    }

    private Map<Split, List<SampleFileRoundTripTest.Row>> someRows() {
        return Map.of(Split.TRAIN, SampleFileRoundTripTest.randomRows(SCHEMA, 70, 11),
                Split.VALID, SampleFileRoundTripTest.randomRows(SCHEMA, 9, 12),
                Split.TEST, SampleFileRoundTripTest.randomRows(SCHEMA, 13, 13));
    }

    @Test
    void writeThenOpenGivesTheSameRowsAndInfo() throws IOException {
        Map<Split, List<SampleFileRoundTripTest.Row>> rows = someRows();
        Path dir = writeDataset(rows);
        for (String f : List.of("train.arrow", "valid.arrow", "test.arrow", "dataset.json",
                "counts/user.arrow", "counts/item.arrow", "counts/cate.arrow", "counts/gender.arrow")) {
            assertTrue(Files.isRegularFile(dir.resolve(f)), f);
        }
        Dataset ds = Dataset.open(dir);
        DatasetInfo info = ds.info();
        assertEquals(5, info.historyLength());
        assertTrue(info.hasNegHist());
        assertEquals(Map.of("user", 12, "item", 40, "cate", 6, "gender", 3), info.vocabularies());
        assertEquals(List.of("user", "item", "cate", "gender"), List.copyOf(info.vocabularies().keySet()));
        assertEquals(List.of("user_id", "gender"), info.profileFields().stream().map(FieldSpec::name).toList());
        assertEquals(SCHEMA, ds.schema());
        assertEquals(70, info.rows(Split.TRAIN));
        assertEquals(9, info.rows(Split.VALID));
        assertEquals(13, info.rows(Split.TEST));
        assertEquals("test", info.madeBy().get("converter").asText());
        for (Split s : Split.values()) {
            SampleFileRoundTripTest.assertRows(rows.get(s), ds.split(s));
        }
        assertTrue(ds.train() == ds.split(Split.TRAIN), "splits are read once");
    }

    @Test
    void datasetJsonLayout() throws IOException {
        Path dir = writeDataset(someRows());
        JsonNode j = JSON.readTree(dir.resolve("dataset.json").toFile());
        assertEquals(List.of("format", "format_version", "history_length", "has_neg_hist", "vocabularies", "fields",
                "rows", "counts", "made_by"), iterableToList(j.fieldNames()));
        assertEquals("augur-samples", j.get("format").asText());
        assertEquals(1, j.get("format_version").asInt());
        assertEquals(5, j.get("history_length").asInt());
        assertEquals(3, j.get("vocabularies").get("gender").asInt());
        assertEquals("counts/item.arrow", j.get("counts").get("item").asText());
        JsonNode hist = j.get("fields").get(5);
        assertEquals("hist_item_ids", hist.get("name").asText());
        assertEquals("hist_item", hist.get("role").asText());
        assertEquals("item", hist.get("vocab").asText());
        JsonNode gender = j.get("fields").get(2);
        assertEquals("profile", gender.get("role").asText());
        assertFalse(j.get("fields").get(0).has("vocab"), "the label has no vocabulary");
        assertEquals(70, j.get("rows").get("train").asLong());
    }

    private static List<String> iterableToList(java.util.Iterator<String> it) {
        List<String> out = new java.util.ArrayList<>();
        it.forEachRemaining(out::add);
        return out;
    }

    @Test
    void countsMatchACountOverTheTrainingRows() throws IOException {
        Path dir = writeDataset(someRows());
        Dataset ds = Dataset.open(dir);
        SampleFile train = ds.train();
        int[] user = new int[12];
        int[] item = new int[40];
        int[] cate = new int[6];
        int[] gender = new int[3];
        for (int r = 0; r < train.rows(); r++) {
            user[train.userId(r)]++;
            gender[train.profile(1, r)]++;
            item[train.itemId(r)]++;
            cate[train.cateId(r)]++;
            for (int t = 0; t < train.historyLength(r); t++) {
                item[train.histItem(r, t)]++;
                cate[train.histCate(r, t)]++;
            }
        }
        assertArrayEquals(user, ds.counts("user"));
        assertArrayEquals(item, ds.counts("item"));
        assertArrayEquals(cate, ds.counts("cate"));
        assertArrayEquals(gender, ds.counts("gender"));
        long total = 0;
        for (int c : item) {
            total += c;
        }
        assertEquals(train.rows() + train.historyValues(), total, "neg columns are not counted");
    }

    @Test
    void closingWithoutFinishingLeavesNoDatasetJson() throws IOException {
        Path dir = tmp.resolve("half");
        try (DatasetWriter w = DatasetWriter.create(dir, SCHEMA, null)) {
            SampleFileRoundTripTest.write(w.split(Split.TRAIN), SampleFileRoundTripTest.randomRows(SCHEMA, 3, 1));
        }
        assertFalse(Files.exists(dir.resolve("dataset.json")));
        DataFormatException e = assertThrows(DataFormatException.class, () -> Dataset.open(dir));
        assertTrue(e.getMessage().contains("dataset.json"), e.getMessage());
    }

    @Test
    void badDatasetJsonNamesTheKey() throws IOException {
        Path dir = writeDataset(someRows());
        Path json = dir.resolve("dataset.json");
        String good = Files.readString(json, StandardCharsets.UTF_8);

        Files.writeString(json, good.replace("\"format_version\" : 1", "\"format_version\" : 9"));
        DataFormatException e = assertThrows(DataFormatException.class, () -> Dataset.open(dir));
        assertTrue(e.getMessage().contains("dataset.json") && e.getMessage().contains("'format_version'"), e.getMessage());

        Files.writeString(json, good.replace("\"vocab\" : \"gender\"", "\"vocab\" : \"item\""));
        e = assertThrows(DataFormatException.class, () -> Dataset.open(dir));
        assertTrue(e.getMessage().contains("fields[2].vocab"), e.getMessage());

        Files.writeString(json, good.replace("\"has_neg_hist\" : true", "\"has_neg_hist\" : false"));
        e = assertThrows(DataFormatException.class, () -> Dataset.open(dir));
        assertTrue(e.getMessage().contains("'has_neg_hist'"), e.getMessage());

        Files.writeString(json, good.substring(0, good.length() / 2));
        e = assertThrows(DataFormatException.class, () -> Dataset.open(dir));
        assertTrue(e.getMessage().contains("dataset.json"), e.getMessage());
    }

    @Test
    void rowCountsMustMatchDatasetJson() throws IOException {
        Path dir = writeDataset(someRows());
        Path json = dir.resolve("dataset.json");
        Files.writeString(json, Files.readString(json).replace("\"valid\" : 9", "\"valid\" : 10"));
        Dataset ds = Dataset.open(dir);
        DataFormatException e = assertThrows(DataFormatException.class, ds::valid);
        assertTrue(e.getMessage().contains("valid.arrow") && e.getMessage().contains("10 rows"), e.getMessage());
    }

    @Test
    void badCountsFileIsRejected() throws IOException {
        Path dir = writeDataset(someRows());
        Files.copy(dir.resolve("counts/cate.arrow"), dir.resolve("counts/item.arrow"),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        DataFormatException e = assertThrows(DataFormatException.class, () -> Dataset.open(dir));
        assertTrue(e.getMessage().contains("item.arrow") && e.getMessage().contains("40 rows"), e.getMessage());
    }
}
