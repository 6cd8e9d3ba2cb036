package io.augur.prepare;

import java.util.Arrays;

/**
 * The fields of one line, found by a hand-written byte scan (no regex, no String.split, no
 * allocation per line): after {@link #split} field {@code i} is {@code buf()[start(i) .. end(i))}.
 * Spaces around a field are trimmed. With quoting on, a field that starts with {@code "} runs to
 * the matching quote and may contain the delimiter; {@code ""} inside stands for one quote and is
 * unescaped in place (the line buffer is the reader's, so this is free). A quoted field cannot span
 * lines.
 *
 * <p>The parsing helpers ({@link #parseLong}, {@link #parseTime}, ...) throw {@link BadRow} naming
 * the field (by the names given at construction) and quoting what was found.
 */
final class Fields {

    private final String[] names;
    private final boolean quoting;
    private byte[] buf;
    private int[] start = new int[16];
    private int[] end = new int[16];
    private int count;
    private int lineStart;
    private int lineEnd;

    /**
     * @param names   field names for messages, by position (a position beyond them is "field k", 1-based)
     * @param quoting whether {@code "} quotes fields (CSV); off for formats whose ids may hold quotes
     */
    Fields(String[] names, boolean quoting) {
        this.names = names.clone();
        this.quoting = quoting;
    }

    /** The name of field {@code i} used in messages. */
    String name(int i) {
        return i < names.length ? names[i] : "field " + (i + 1);
    }

    /** Splits {@code b[from, to)} at every {@code delim} byte. */
    void split(byte[] b, int from, int to, byte delim) {
        buf = b;
        lineStart = from;
        lineEnd = to;
        int n = 0;
        int i = from;
        while (true) {
            if (n == start.length) {
                grow();
            }
            if (quoting && i < to && b[i] == '"') {
                i = quoted(b, i, to, n);
                if (i < to && b[i] != delim) {
                    throw new BadRow(BadRow.Reason.BAD_QUOTING, name(n), "the delimiter after a closing quote", quote(i, to));
                }
            } else {
                int s = i;
                while (i < to && b[i] != delim) {
                    i++;
                }
                start[n] = s;
                end[n] = i;
                trim(n);
            }
            n++;
            if (i >= to) {
                break;
            }
            i++; // past the delimiter
            if (i == to) { // a trailing delimiter: one more, empty field
                if (n == start.length) {
                    grow();
                }
                start[n] = to;
                end[n] = to;
                n++;
                break;
            }
        }
        count = n;
    }

    /** Splits {@code b[from, to)} at every occurrence of the multi-byte {@code delim} (MovieLens "::"). */
    void split(byte[] b, int from, int to, byte[] delim) {
        if (delim.length == 1) {
            split(b, from, to, delim[0]);
            return;
        }
        buf = b;
        lineStart = from;
        lineEnd = to;
        int n = 0;
        int s = from;
        int i = from;
        byte d0 = delim[0];
        int dl = delim.length;
        while (i <= to - dl) {
            if (b[i] == d0 && matches(b, i, delim)) {
                if (n + 1 >= start.length) {
                    grow();
                }
                start[n] = s;
                end[n] = i;
                trim(n);
                n++;
                i += dl;
                s = i;
            } else {
                i++;
            }
        }
        if (n == start.length) {
            grow();
        }
        start[n] = s;
        end[n] = to;
        trim(n);
        count = n + 1;
    }

    private static boolean matches(byte[] b, int at, byte[] delim) {
        for (int k = 1; k < delim.length; k++) {
            if (b[at + k] != delim[k]) {
                return false;
            }
        }
        return true;
    }

    /** Parses a quoted field starting at {@code b[i] == '"'} into field n; returns the index after the closing quote. */
    private int quoted(byte[] b, int i, int to, int n) {
        int s = i + 1;
        int w = s;        // write position of the unescaped text
        int r = s;
        while (true) {
            if (r >= to) {
                throw new BadRow(BadRow.Reason.BAD_QUOTING, name(n), "a closing quote on the same line", quote(i, to));
            }
            byte c = b[r];
            if (c == '"') {
                if (r + 1 < to && b[r + 1] == '"') {
                    b[w++] = '"';
                    r += 2;
                    continue;
                }
                start[n] = s;
                end[n] = w;
                return r + 1;
            }
            b[w++] = c;
            r++;
        }
    }

    private void trim(int n) {
        int s = start[n];
        int e = end[n];
        while (s < e && buf[s] == ' ') {
            s++;
        }
        while (e > s && buf[e - 1] == ' ') {
            e--;
        }
        start[n] = s;
        end[n] = e;
    }

    private void grow() {
        start = Arrays.copyOf(start, start.length * 2);
        end = Arrays.copyOf(end, end.length * 2);
    }

    /** The number of fields of the last split. */
    int count() {
        return count;
    }

    byte[] buf() {
        return buf;
    }

    int start(int i) {
        return start[i];
    }

    int end(int i) {
        return end[i];
    }

    int length(int i) {
        return end[i] - start[i];
    }

    boolean isEmpty(int i) {
        return end[i] == start[i];
    }

    /** Field {@code i} as a String (UTF-8). Not for the hot path. */
    String text(int i) {
        return new String(buf, start[i], end[i] - start[i], java.nio.charset.StandardCharsets.UTF_8);
    }

    /**
     * Requires exactly {@code n} fields. Too few names the first missing field; too many names the
     * first extra one. {@code delimName} describes the delimiter for the message (e.g. "','").
     */
    void expectCount(int n, String delimName) {
        if (count == n) {
            return;
        }
        String field = count < n ? name(count) : name(n);
        throw new BadRow(BadRow.Reason.WRONG_FIELD_COUNT, field, n + " fields separated by " + delimName,
                count + (count == 1 ? " field" : " fields") + separatorHint() + " in " + quote(lineStart, lineEnd));
    }

    /** Requires at least {@code n} fields. */
    void expectAtLeast(int n, String delimName) {
        if (count < n) {
            throw new BadRow(BadRow.Reason.WRONG_FIELD_COUNT, name(count), "at least " + n + " fields separated by " + delimName,
                    count + (count == 1 ? " field" : " fields") + separatorHint() + " in " + quote(lineStart, lineEnd));
        }
    }

    /** When a line did not split, names another separator it contains (a wrong delimiter is the usual cause). */
    private String separatorHint() {
        if (count != 1) {
            return "";
        }
        for (byte c : new byte[] {'\t', ',', ';', '|', ':'}) {
            for (int i = lineStart; i < lineEnd; i++) {
                if (buf[i] == c) {
                    String shown = c == '\t' ? "a tab" : "'" + (char) c + "'";
                    return " (the line contains " + shown + ": is it the delimiter?)";
                }
            }
        }
        return "";
    }

    /** Throws MISSING_FIELD when field {@code i} is empty. */
    void requireNonEmpty(int i) {
        if (end[i] == start[i]) {
            throw new BadRow(BadRow.Reason.MISSING_FIELD, name(i), "a value", "an empty field");
        }
    }

    /** A decimal integer (optional sign); throws BAD_NUMBER. */
    long parseLong(int i) {
        requireNonEmpty(i);
        long v = Numbers.parseLong(buf, start[i], end[i]);
        if (v == Numbers.BAD) {
            throw new BadRow(BadRow.Reason.BAD_NUMBER, name(i), "an integer", quote(start[i], end[i]));
        }
        return v;
    }

    /** A decimal number such as 4, 4.5 or -0.25 (no exponent); throws BAD_NUMBER. */
    double parseDecimal(int i) {
        requireNonEmpty(i);
        double v = Numbers.parseDecimal(buf, start[i], end[i]);
        if (Double.isNaN(v)) {
            throw new BadRow(BadRow.Reason.BAD_NUMBER, name(i), "a number", quote(start[i], end[i]));
        }
        return v;
    }

    /**
     * A timestamp: an integer (or decimal, truncated) count such as Unix seconds, or a date-time
     * {@code yyyy-MM-dd[( |T)HH:mm[:ss[.fraction]]][Z]} read as UTC and returned in Unix seconds;
     * throws BAD_TIMESTAMP.
     */
    long parseTime(int i) {
        requireNonEmpty(i);
        long v = Numbers.parseTime(buf, start[i], end[i]);
        if (v == Numbers.NO_TIME) {
            throw new BadRow(BadRow.Reason.BAD_TIMESTAMP, name(i), "Unix time or yyyy-MM-dd[ HH:mm[:ss]]", quote(start[i], end[i]));
        }
        return v;
    }

    /** A label: exactly 0 or 1; throws BAD_LABEL. */
    int parseLabel(int i) {
        requireNonEmpty(i);
        if (end[i] - start[i] == 1) {
            byte c = buf[start[i]];
            if (c == '0' || c == '1') {
                return c - '0';
            }
        }
        throw new BadRow(BadRow.Reason.BAD_LABEL, name(i), "0 or 1", quote(start[i], end[i]));
    }

    String quote(int from, int to) {
        return BadRow.quote(buf, from, to);
    }
}
