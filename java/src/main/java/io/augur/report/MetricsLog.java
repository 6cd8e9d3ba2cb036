package io.augur.report;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.Closeable;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongSupplier;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * The metrics log of a run: JSON lines ({@code metrics.jsonl}), one {@link MetricsRecord} object
 * per line, each line flushed as it is written so that a crashed or killed run keeps everything up
 * to its last line and a reader (plots, {@code tail -f}, a notebook) sees lines as they come.
 *
 * <pre>
 * {"kind":"step","epoch":1,"step":100,"samples":12800,"loss":0.6801,"lr":0.001,"elapsed_s":3.2}
 * {"kind":"eval","split":"valid","epoch":1,"step":781,"count":20000,"auc":0.7012,"gauc":0.6810,"logloss":0.5902,"elapsed_s":31.0}
 * </pre>
 *
 * <p>Writing is synchronized, so a progress thread and the trainer may share one log.
 */
public final class MetricsLog implements Closeable {

    private static final Logger LOG = LogManager.getLogger(MetricsLog.class);
    static final ObjectMapper JSON = new ObjectMapper();

    private final Path file;
    private final Writer out;
    private final LongSupplier nanoClock;
    private final long startNanos;

    private MetricsLog(Path file, Writer out, LongSupplier nanoClock) {
        this.file = file;
        this.out = out;
        this.nanoClock = nanoClock;
        this.startNanos = nanoClock.getAsLong();
    }

    /** Starts a new log, replacing any file there; creates the folder if needed. */
    public static MetricsLog create(Path file) throws IOException {
        return open(file, false, System::nanoTime);
    }

    /** Continues a log (a resumed run); creates it if missing. */
    public static MetricsLog append(Path file) throws IOException {
        return open(file, true, System::nanoTime);
    }

    /** With a clock for {@code elapsed_s}, for tests. */
    static MetricsLog open(Path file, boolean append, LongSupplier nanoClock) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        Writer w = append
                ? Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND, StandardOpenOption.WRITE)
                : Files.newBufferedWriter(file, StandardCharsets.UTF_8);
        return new MetricsLog(file, w, nanoClock);
    }

    public Path file() { return file; }

    /** Writes one line and flushes it; stamps {@code elapsed_s} when the record has none. */
    public synchronized void write(MetricsRecord r) throws IOException {
        if (r.elapsedS() == null) r = r.withElapsedS(Math.round((nanoClock.getAsLong() - startNanos) / 1e6) / 1e3);
        out.write(JSON.writeValueAsString(r));
        out.write('\n');
        out.flush();
    }

    @Override
    public synchronized void close() throws IOException { out.close(); }

    /**
     * Reads a metrics log. Blank lines are skipped. A last line without its newline that does not
     * parse is the trace of a run killed mid-write: it is dropped with a warning. Any other line that
     * does not parse fails with the file and line number.
     */
    public static List<MetricsRecord> read(Path file) throws IOException {
        List<MetricsRecord> records = new ArrayList<>();
        String text = Files.readString(file, StandardCharsets.UTF_8);
        boolean endsWithNewline = text.endsWith("\n");
        List<String> lines = text.lines().toList();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty()) continue;
            try {
                records.add(JSON.readValue(line, MetricsRecord.class));
            } catch (JsonProcessingException e) {
                if (i == lines.size() - 1 && !endsWithNewline) {
                    LOG.warn("{}: ignoring the unfinished last line {} (the run stopped mid-write)", file, i + 1);
                    break;
                }
                throw new IOException(file + ":" + (i + 1) + ": not a metrics record: " + e.getOriginalMessage(), e);
            }
        }
        return records;
    }
}
