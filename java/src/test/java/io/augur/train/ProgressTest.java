package io.augur.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class ProgressTest {

    private static final long MS = 1_000_000L;

    @Test
    void logsOneLinePerIntervalNeverPerBatch() {
        AtomicLong clock = new AtomicLong(5_000 * MS);
        List<String> lines = new ArrayList<>();
        Progress p = Progress.logging("epoch 1/3", 1_000_000, Duration.ofSeconds(10), clock::get, lines::add);
        // 500 batches of 1,000 samples, 50 ms apart: 25 s.
        for (int i = 1; i <= 500; i++) {
            clock.addAndGet(50 * MS);
            p.update(i * 1_000L, 0.5);
            if (i == 199) assertEquals(0, lines.size(), "nothing before 10 s");
        }
        assertEquals(2, lines.size(), "one line at 10 s and one at 20 s: " + lines);
        assertEquals("epoch 1/3: 20.0% (200,000/1,000,000 samples), 20,000 samples/s, ETA 0:40, loss 0.5000", lines.get(0));
        assertEquals("epoch 1/3: 40.0% (400,000/1,000,000 samples), 20,000 samples/s, ETA 0:30, loss 0.5000", lines.get(1));

        p.finish();
        p.finish();
        assertEquals(3, lines.size(), "finish reports once");
        assertEquals("epoch 1/3: done, 500,000 samples in 25.0 s, 20,000 samples/s, loss 0.5000", lines.get(2));
        assertEquals(20_000, p.samplesPerSecond(), 1e-9);
    }

    @Test
    void slowBatchesLogAtMostOncePerBatch() {
        AtomicLong clock = new AtomicLong();
        List<String> lines = new ArrayList<>();
        Progress p = Progress.logging("eval valid", 300, Duration.ofSeconds(10), clock::get, lines::add);
        for (int i = 1; i <= 3; i++) {
            clock.addAndGet(30_000 * MS);
            p.update(i * 100L);
        }
        assertEquals(3, lines.size());
        assertEquals("eval valid: 33.3% (100/300 samples), 3 samples/s, ETA 1:00", lines.get(0));
    }

    @Test
    void divergedLossShowsAsNaNAndUnknownTotalHasNoEta() {
        AtomicLong clock = new AtomicLong();
        List<String> lines = new ArrayList<>();
        Progress p = Progress.logging("epoch 2", 0, Duration.ofSeconds(1), clock::get, lines::add);
        p.update(10, 0.7);
        clock.addAndGet(2_000 * MS);
        p.update(20, Double.NaN);
        assertEquals(List.of("epoch 2: 20 samples, 10 samples/s, loss NaN"), lines);
        assertTrue(Double.isNaN(p.smoothedLoss()));
    }

    @Test
    void smoothedLossFollowsTheBatches() {
        AtomicLong clock = new AtomicLong();
        Progress p = Progress.logging("e", 100, Duration.ofSeconds(10), clock::get, s -> {});
        assertTrue(Double.isNaN(p.smoothedLoss()));
        p.update(1, 0.9);
        assertEquals(0.9, p.smoothedLoss(), 1e-12, "bias-corrected: the first value is itself");
        for (int i = 0; i < 1000; i++) p.update(2 + i, 0.4);
        assertEquals(0.4, p.smoothedLoss(), 1e-6);
    }

    @Test
    void terminalRedrawsAtMostTenTimesASecond() {
        AtomicLong clock = new AtomicLong();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        Progress p = Progress.terminal("epoch 1/1", 2_000, out, clock::get);
        for (int i = 1; i <= 2_000; i++) { // 2,000 batches, 1 ms apart: 2 s
            clock.addAndGet(MS);
            p.update(i, 0.25);
        }
        String text = bytes.toString(StandardCharsets.UTF_8);
        long redraws = text.chars().filter(c -> c == '\r').count();
        assertTrue(redraws >= 19 && redraws <= 20, "about 10 redraws per second, got " + redraws);
        assertTrue(!text.contains("\n"), "one line, redrawn in place");
        p.finish();
        text = bytes.toString(StandardCharsets.UTF_8);
        assertTrue(text.endsWith("epoch 1/1 [====================] 100.0%  2,000/2,000  1,000 samples/s  ETA 0:00  loss 0.2500\n"), text);
    }

    @Test
    void terminalLineHasBarPercentRateEtaAndLoss() {
        AtomicLong clock = new AtomicLong();
        Progress p = Progress.terminal("epoch 3/10", 273_000, new PrintStream(new ByteArrayOutputStream()), clock::get);
        clock.addAndGet(10_000 * MS);
        p.update(123_456, 0.5123);
        assertEquals("epoch 3/10 [=========>          ]  45.2%  123,456/273,000  12,346 samples/s  ETA 0:12  loss 0.5123",
                p.terminalLine(clock.get()));
    }

    @Test
    void clockTextFormats() {
        assertEquals("0:12", Progress.clockText(12));
        assertEquals("12:34", Progress.clockText(754));
        assertEquals("1:06:40", Progress.clockText(4000));
    }
}
