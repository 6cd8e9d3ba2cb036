package io.augur.prepare;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;

/**
 * Reads a text file line by line as bytes, without decoding and without allocating per line: after
 * {@link #next()} the current line is {@code buf()[start() .. end())}, its terminator ({@code \n}
 * or {@code \r\n}) excluded, and {@link #line()} is its 1-based number. A last line without a
 * terminator is a line. A name ending in {@code .gz} is read through gzip.
 *
 * <p>Memory: one buffer of {@value #BUFFER} bytes, grown only when a single line is longer.
 * Nothing here knows about fields; see {@link Fields}.
 */
final class LineReader implements Closeable {

    static final int BUFFER = 1 << 20;

    private final Path path;
    private final String name;
    private final InputStream in;
    private byte[] buf = new byte[BUFFER];
    private int pos;     // first byte not yet returned
    private int limit;   // end of the valid bytes in buf
    private boolean eof;
    private int start;
    private int end;
    private long line;
    private long bytes;  // bytes consumed from the stream (uncompressed)

    private LineReader(Path path, InputStream in) {
        this.path = path;
        this.name = path.toString();
        this.in = in;
    }

    /** Opens {@code file} (gzip when its name ends in .gz). */
    static LineReader open(Path file) throws IOException {
        InputStream raw = Files.newInputStream(file);
        try {
            InputStream in = file.getFileName().toString().endsWith(".gz") ? new GZIPInputStream(raw, 1 << 16) : raw;
            return new LineReader(file, in);
        } catch (IOException e) {
            raw.close();
            throw e;
        }
    }

    /** Moves to the next line; false at the end of the file. */
    boolean next() throws IOException {
        while (true) {
            byte[] b = buf;
            int lim = limit;
            for (int i = pos; i < lim; i++) {
                if (b[i] == '\n') {
                    start = pos;
                    end = i > pos && b[i - 1] == '\r' ? i - 1 : i;
                    pos = i + 1;
                    line++;
                    return true;
                }
            }
            if (eof) {
                if (pos < limit) { // the last line has no terminator
                    start = pos;
                    end = limit > pos && b[limit - 1] == '\r' ? limit - 1 : limit;
                    pos = limit;
                    line++;
                    return true;
                }
                return false;
            }
            fill();
        }
    }

    /** Moves the unread tail to the front (growing the buffer when one line fills it) and reads more. */
    private void fill() throws IOException {
        int rest = limit - pos;
        if (pos == 0 && rest == buf.length) {
            buf = Arrays.copyOf(buf, buf.length * 2);
        } else if (rest > 0) {
            System.arraycopy(buf, pos, buf, 0, rest);
        }
        pos = 0;
        limit = rest;
        while (limit < buf.length) {
            int n = in.read(buf, limit, buf.length - limit);
            if (n < 0) {
                eof = true;
                return;
            }
            limit += n;
            bytes += n;
            if (n > 0 && limit - rest >= (buf.length >> 2)) {
                return;
            }
        }
    }

    byte[] buf() {
        return buf;
    }

    int start() {
        return start;
    }

    int end() {
        return end;
    }

    /** True when the current line holds only spaces and tabs, or nothing. */
    boolean blank() {
        for (int i = start; i < end; i++) {
            if (buf[i] != ' ' && buf[i] != '\t') {
                return false;
            }
        }
        return true;
    }

    /** The 1-based number of the current line (0 before the first). */
    long line() {
        return line;
    }

    /** Bytes read from the (uncompressed) stream so far. */
    long bytesRead() {
        return bytes;
    }

    /** The file, as named when opened (used in error messages). */
    String name() {
        return name;
    }

    Path path() {
        return path;
    }

    /** The current line as text (UTF-8), for messages. */
    String text() {
        return new String(buf, start, end - start, java.nio.charset.StandardCharsets.UTF_8);
    }

    @Override
    public void close() throws IOException {
        in.close();
    }
}
