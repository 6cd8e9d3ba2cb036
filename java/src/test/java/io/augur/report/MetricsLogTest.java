package io.augur.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MetricsLogTest {

    @TempDir
    Path dir;

    @Test
    void writesOneSnakeCaseObjectPerLineAndReadsItBack() throws IOException {
        Path f = dir.resolve("run/metrics.jsonl");
        AtomicLong clock = new AtomicLong(1_000_000_000L);
        List<MetricsRecord> written = List.of(
                MetricsRecord.step(1, 100, 12_800, 0.6801, 1e-3).withAuxLoss(0.69),
                MetricsRecord.epoch(1, 781, 100_000, 0.61, 12_345.5),
                MetricsRecord.eval(MetricsRecord.VALID, 1, 781, 20_000, 0.7012, 0.681, 0.5902),
                MetricsRecord.summary(MetricsRecord.TEST, 1, 20_000, 0.70, 0.68, 0.59, 12_000));
        try (MetricsLog log = MetricsLog.open(f, false, clock::get)) {
            for (MetricsRecord r : written) {
                clock.addAndGet(1_500_000_000L); // 1.5 s per line
                log.write(r);
                // Flushed per line: the file already holds it while the log is open.
                assertEquals(written.indexOf(r) + 1, Files.readAllLines(f).size());
            }
        }
        List<String> lines = Files.readAllLines(f, StandardCharsets.UTF_8);
        assertEquals("{\"kind\":\"step\",\"epoch\":1,\"step\":100,\"samples\":12800,\"loss\":0.6801,\"aux_loss\":0.69,"
                + "\"lr\":0.001,\"elapsed_s\":1.5}", lines.get(0));
        assertTrue(lines.get(1).contains("\"samples_per_s\":12345.5"), lines.get(1));
        assertTrue(lines.get(2).startsWith("{\"kind\":\"eval\",\"split\":\"valid\""), lines.get(2));

        List<MetricsRecord> back = MetricsLog.read(f);
        assertEquals(4, back.size());
        for (int i = 0; i < 4; i++) assertEquals(written.get(i).withElapsedS(1.5 * (i + 1)), back.get(i));
        assertNull(back.get(0).auc());
    }

    @Test
    void appendContinuesALog() throws IOException {
        Path f = dir.resolve("metrics.jsonl");
        try (MetricsLog log = MetricsLog.create(f)) {
            log.write(MetricsRecord.step(1, 1, 128, 0.69, 1e-3));
        }
        try (MetricsLog log = MetricsLog.append(f)) {
            log.write(MetricsRecord.step(1, 2, 256, 0.68, 1e-3));
        }
        List<MetricsRecord> back = MetricsLog.read(f);
        assertEquals(List.of(1L, 2L), back.stream().map(MetricsRecord::step).toList());
        assertTrue(back.get(1).elapsedS() >= 0);
    }

    @Test
    void nonFiniteNumbersSurviveTheRoundTrip() throws IOException {
        Path f = dir.resolve("nan.jsonl");
        try (MetricsLog log = MetricsLog.create(f)) {
            log.write(MetricsRecord.step(1, 1, 128, Double.NaN, 1e-3));
            log.write(MetricsRecord.step(1, 2, 256, Double.POSITIVE_INFINITY, 1e-3));
        }
        assertTrue(Files.readString(f).contains("\"loss\":\"NaN\""), Files.readString(f));
        List<MetricsRecord> back = MetricsLog.read(f);
        assertTrue(back.get(0).loss().isNaN());
        assertEquals(Double.POSITIVE_INFINITY, back.get(1).loss());
    }

    @Test
    void unfinishedLastLineIsDroppedButDamageElsewhereIsAnError() throws IOException {
        Path f = dir.resolve("killed.jsonl");
        try (MetricsLog log = MetricsLog.create(f)) {
            log.write(MetricsRecord.step(1, 1, 128, 0.69, 1e-3));
            log.write(MetricsRecord.step(1, 2, 256, 0.68, 1e-3));
        }
        Files.writeString(f, "\n{\"kind\":\"step\",\"epo", StandardOpenOption.APPEND);
        assertEquals(2, MetricsLog.read(f).size());

        Path g = dir.resolve("bad.jsonl");
        Files.writeString(g, "{\"kind\":\"step\",\"step\":1}\n{oops}\n{\"kind\":\"step\",\"step\":2}\n");
        IOException e = assertThrows(IOException.class, () -> MetricsLog.read(g));
        assertTrue(e.getMessage().startsWith(g + ":2:"), e.getMessage());
    }

    @Test
    void unknownFieldsAreIgnoredAndKindIsRequired() throws IOException {
        Path f = dir.resolve("future.jsonl");
        Files.writeString(f, "{\"kind\":\"eval\",\"split\":\"valid\",\"auc\":0.7,\"new_field\":[1,2]}\n");
        assertEquals(0.7, MetricsLog.read(f).get(0).auc());
        Files.writeString(f, "{\"split\":\"valid\",\"auc\":0.7}\n");
        assertThrows(IOException.class, () -> MetricsLog.read(f));
    }
}
