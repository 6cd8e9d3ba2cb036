package io.augur.prepare;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.augur.data.DataFormatException;
import io.augur.data.DatasetInfo;
import io.augur.data.DatasetWriter;
import io.augur.data.SampleSchema;
import io.augur.train.Progress;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * What every converter shares: the options, the bad-line policy, the report, finding the input
 * files, the dataset writer with its {@code made_by} description, progress while reading, and the
 * end (report into dataset.json, vocabulary files, dataset.json written last).
 */
abstract class Converter {

    private static final Logger LOG = LogManager.getLogger(Converter.class);
    static final ObjectMapper JSON = new ObjectMapper();
    /** Rows between progress updates (a clock read each time). */
    static final int PROGRESS_EVERY = 1 << 16;
    /** The folder of the vocabulary files (raw id per dense id) inside the dataset folder. */
    static final String VOCAB_DIR = "vocab";

    final PrepareFormat format;
    final PrepareOptions o;
    final BadRows bad;
    final PrepareReport report;
    final List<Path> inputs = new ArrayList<>();
    private final long t0 = System.nanoTime();

    Converter(PrepareFormat format, PrepareOptions o) {
        this.format = format;
        this.o = o;
        this.bad = new BadRows(o.skipBadRows());
        this.report = new PrepareReport(format.label(), o.historyLength());
        report.badRows(bad);
    }

    /** Converts {@code input} (a file or the folder holding the format's files) into the dataset folder {@code out}. */
    abstract PrepareReport run(Path input, Path out) throws IOException;

    // ------------------------------------------------------------------ inputs

    /** {@code input} itself when it is a file, else the one file in the folder matching a glob. */
    static Path fileOrOnlyMatch(Path input, String what, String... globs) throws IOException {
        if (Files.isRegularFile(input)) {
            return input;
        }
        if (!Files.isDirectory(input)) {
            throw new IllegalArgumentException("--input " + input + ": no such file or folder");
        }
        List<Path> found = matches(input, globs);
        if (found.size() != 1) {
            throw new IllegalArgumentException("--input " + input + ": expected one " + what + " (" + String.join(" or ", globs)
                    + ") in the folder, found " + (found.isEmpty() ? "none" : found.size() + ": " + names(found)));
        }
        return found.get(0);
    }

    /** The one file in {@code dir} matching a glob, or null when there is none; two or more is an error. */
    static Path optionalMatch(Path dir, String what, String... globs) throws IOException {
        List<Path> found = matches(dir, globs);
        if (found.size() > 1) {
            throw new IllegalArgumentException("--input " + dir + ": expected at most one " + what + " (" + String.join(" or ", globs)
                    + "), found " + found.size() + ": " + names(found));
        }
        return found.isEmpty() ? null : found.get(0);
    }

    static List<Path> matches(Path dir, String... globs) throws IOException {
        List<PathMatcher> ms = new ArrayList<>();
        for (String g : globs) {
            ms.add(dir.getFileSystem().getPathMatcher("glob:" + g));
        }
        List<Path> out = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.sorted().toList()) {
                if (!Files.isRegularFile(p)) {
                    continue;
                }
                for (PathMatcher m : ms) {
                    if (m.matches(p.getFileName())) {
                        out.add(p);
                        break;
                    }
                }
            }
        }
        return out;
    }

    private static String names(List<Path> ps) {
        List<String> n = new ArrayList<>();
        for (Path p : ps) {
            n.add(p.getFileName().toString());
        }
        return String.join(", ", n);
    }

    /** Opens an input file, recording it for made_by. */
    LineReader open(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("--input: " + file + ": no such file");
        }
        if (!inputs.contains(file)) {
            inputs.add(file);
        }
        return LineReader.open(file);
    }

    /** Reads the first line (a header or the first record); an empty file is an error naming it. */
    static void firstLine(LineReader r, String expected) throws IOException {
        if (!r.next()) {
            throw DataFormatException.atFile(r.name(), expected, "an empty file", null);
        }
    }

    /** An error for a file that holds no usable rows (only a header, or only blank or bad lines). */
    DataFormatException noRows(String file, String what) {
        long skipped = bad.total();
        return DataFormatException.atFile(file, "at least one " + what,
                skipped > 0 ? "none that could be read (" + skipped + " bad lines skipped so far)" : "none", null);
    }

    /** Strips a UTF-8 byte order mark from the current line (the header of a file saved by a spreadsheet). */
    static int skipBom(LineReader r) {
        byte[] b = r.buf();
        int s = r.start();
        if (r.end() - s >= 3 && b[s] == (byte) 0xEF && b[s + 1] == (byte) 0xBB && b[s + 2] == (byte) 0xBF) {
            return s + 3;
        }
        return s;
    }

    // ------------------------------------------------------------------ progress

    Progress progress(String what) {
        return Progress.start("prepare " + format.label() + ": " + what, 0);
    }

    // ------------------------------------------------------------------ output

    /** The made_by object of dataset.json: converter, format, options and (filled at the end) inputs and report. */
    ObjectNode madeBy() {
        ObjectNode m = JSON.createObjectNode();
        m.put("converter", getClass().getName());
        m.put("command", "augur prepare --format " + format.label());
        m.put("format", format.label());
        o.toJson(m.putObject("options"));
        return m;
    }

    DatasetWriter create(Path out, SampleSchema schema, ObjectNode madeBy) throws IOException {
        LOG.info("prepare {}: writing {} (T = {}, vocabularies {})", format.label(), out, schema.historyLength(), schema.vocabularies());
        return DatasetWriter.create(out, schema, madeBy);
    }

    /**
     * Ends a conversion: puts the inputs and the report into made_by, writes dataset.json (last, so
     * that a failed run leaves no dataset.json) and the vocabulary files, and logs the report.
     */
    PrepareReport finish(DatasetWriter w, ObjectNode madeBy, Vocab... vocabs) throws IOException {
        ArrayNode in = madeBy.putArray("inputs");
        for (Path p : inputs) {
            in.add(p.toString());
        }
        ObjectNode vf = madeBy.putObject("vocab_files");
        for (Vocab v : vocabs) {
            vf.put(v.name(), VOCAB_DIR + "/" + v.name() + ".tsv");
        }
        madeBy.set("report", report.toJson());
        Path dir = w.dir();
        Files.createDirectories(dir.resolve(VOCAB_DIR));
        for (Vocab v : vocabs) {
            v.write(dir.resolve(VOCAB_DIR).resolve(v.name() + ".tsv"));
        }
        DatasetInfo info = w.finish();
        report.finish(dir, info, (System.nanoTime() - t0) / 1e9);
        List<String> lines = report.lines();
        LOG.info(lines.get(0));
        for (String line : lines.subList(1, lines.size())) {
            LOG.debug(line);
        }
        return report;
    }

    /** Grows an int array indexed by id to hold index {@code id}. */
    static int[] ensure(int[] a, int id) {
        if (id < a.length) {
            return a;
        }
        return java.util.Arrays.copyOf(a, Math.max(id + 1, a.length * 2));
    }
}
