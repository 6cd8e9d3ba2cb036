package io.augur.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * scripts/nsys_steps.py on a small export written here with the tables and columns nsys exports (StringIds, the kernel,
 * API and memcpy activity tables): the replays of one graph lined up, each launch's start, end, gap and what it adds
 * to the span, the period and the idle time between replays, the work outside the graphs, and a graph replayed too
 * few times left out. Skipped where python3 (with its sqlite3 module) is missing.
 */
class NsysStepsTest {
    static final Path SCRIPT = Path.of("scripts", "nsys_steps.py");

    /**
     * 40 replays of a training graph of three kernels, 50 us apart: a [0, 10], b [5, 30] (launched early under PDL),
     * c [31, 40] us from the replay's start; between replays copy_multi_kernel [42, 44] launched outside the graphs and a
     * 4-byte read back [45, 46]. 3 replays of an evaluation graph of two kernels at the end.
     */
    static final String FIXTURE = """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            db.executescript('''
            CREATE TABLE StringIds (id INTEGER PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE CUPTI_ACTIVITY_KIND_KERNEL (start INT NOT NULL, end INT NOT NULL, deviceId INT, streamId INT,
                correlationId INT, demangledName INT, shortName INT, graphNodeId INT);
            CREATE TABLE CUPTI_ACTIVITY_KIND_RUNTIME (start INT NOT NULL, end INT NOT NULL, eventClass INT, globalTid INT,
                correlationId INT, nameId INT);
            CREATE TABLE CUPTI_ACTIVITY_KIND_MEMCPY (start INT NOT NULL, end INT NOT NULL, copyKind INT, bytes INT, streamId INT);
            ''')
            names = ['a_kernel', 'b_kernel', 'c_kernel', 'copy_multi_kernel', 'cuGraphLaunch', 'cuLaunchKernel', 'eval_kernel']
            db.executemany('INSERT INTO StringIds VALUES (?, ?)', list(enumerate(names)))
            corr = 100
            for i in range(40):
                t = 1000000 + i * 50000
                corr += 1
                db.execute('INSERT INTO CUPTI_ACTIVITY_KIND_RUNTIME VALUES (?, ?, 0, 1, ?, 4)', (t - 20000, t - 15000, corr))
                for (s, e, n) in [(0, 10, 0), (5, 30, 1), (31, 40, 2)]:
                    db.execute('INSERT INTO CUPTI_ACTIVITY_KIND_KERNEL VALUES (?, ?, 0, 7, ?, ?, ?, ?)',
                               (t + s * 1000, t + e * 1000, corr, n, n, n + 1))
                corr += 1
                db.execute('INSERT INTO CUPTI_ACTIVITY_KIND_RUNTIME VALUES (?, ?, 0, 1, ?, 5)', (t + 41000, t + 41500, corr))
                db.execute('INSERT INTO CUPTI_ACTIVITY_KIND_KERNEL VALUES (?, ?, 0, 7, ?, 3, 3, 0)', (t + 42000, t + 44000, corr))
                db.execute('INSERT INTO CUPTI_ACTIVITY_KIND_MEMCPY VALUES (?, ?, 2, 4, 7)', (t + 45000, t + 46000))
            for i in range(3):
                t = 5000000 + i * 100000
                corr += 1
                db.execute('INSERT INTO CUPTI_ACTIVITY_KIND_RUNTIME VALUES (?, ?, 0, 1, ?, 4)', (t - 20000, t - 15000, corr))
                for (s, e) in [(0, 20), (20, 60)]:
                    db.execute('INSERT INTO CUPTI_ACTIVITY_KIND_KERNEL VALUES (?, ?, 0, 7, ?, 6, 6, 9)', (t + s * 1000, t + e * 1000, corr))
            db.commit()
            """;

    static PerformanceReportTest.Proc python(Path dir, String... args) throws Exception {
        return SweepImportTest.run(List.of(args), dir);
    }

    @Test
    void aGraphsReplaysAreLinedUpLaunchByLaunch(@TempDir Path tmp) throws Exception {
        assumeTrue(PerformanceReportTest.havePython() && Files.isRegularFile(SCRIPT), "no python3 on the PATH");
        Path fixture = tmp.resolve("fixture.py"), db = tmp.resolve("augur-nsys.sqlite");
        Files.writeString(fixture, FIXTURE);
        PerformanceReportTest.Proc made = python(null, "python3", fixture.toString(), db.toString());
        assumeTrue(made.code() == 0, "python3 without sqlite3: " + made.out());

        PerformanceReportTest.Proc r = python(null, "python3", SCRIPT.toString(), db.toString(), "--skip", "5");
        assertEquals(0, r.code(), r.out());
        String out = r.out();
        assertTrue(out.contains("graph: 3 kernels a replay, 40 replays (35 after the first 5)"), out);
        assertTrue(out.contains("span 40.0 us, period 50.0 us, idle between replays 10.0 us"), out);
        // start, end, dur, gap, adds of each launch
        assertRow(out, "a_kernel", 0.0, 10.0, 10.0, 0.0, 10.0);
        assertRow(out, "b_kernel", 5.0, 30.0, 25.0, -5.0, 20.0);
        assertRow(out, "c_kernel", 31.0, 40.0, 9.0, 1.0, 10.0);
        assertTrue(out.contains("the adds' medians sum to 40.0 us (the span's median 40.0)"), out);
        assertTrue(Pattern.compile("copy_multi_kernel\\s+2\\.0 us\\s+x1\\.00").matcher(out).find(), out);
        assertTrue(Pattern.compile("\\[memcpy DtoH 4 B]\\s+1\\.0 us\\s+x1\\.00").matcher(out).find(), out);
        // the evaluation graph's 3 replays are too few to line up
        assertFalse(out.contains("eval_kernel"), out);

        PerformanceReportTest.Proc few = python(null, "python3", SCRIPT.toString(), db.toString(), "--min-steps", "50");
        assertNotEquals(0, few.code(), few.out());
        assertTrue(few.out().contains("no graph ran at least 50 times"), few.out());
    }

    private static void assertRow(String out, String kernel, double... v) {
        Matcher m = Pattern.compile("^\\s+\\d+\\s+" + kernel + "\\s+(\\S+)\\s+(\\S+)\\s+(\\S+)\\s+(\\S+)\\s+(\\S+)$", Pattern.MULTILINE).matcher(out);
        assertTrue(m.find(), kernel + " has no row:\n" + out);
        for (int i = 0; i < v.length; i++) assertEquals(v[i], Double.parseDouble(m.group(i + 1)), 1e-9, kernel + " column " + i + ":\n" + out);
    }
}
