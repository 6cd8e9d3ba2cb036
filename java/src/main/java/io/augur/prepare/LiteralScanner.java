package io.augur.prepare;

import java.util.Arrays;

/**
 * Reads one line holding a dict: strict JSON ({@code {"asin": "B00", "unixReviewTime": 1252800000}})
 * or a Python dict literal as written by Python's {@code repr}/{@code str} ({@code {'asin': 'B00',
 * 'categories': [['Books', "Children's Books"]], 'price': 3.17, 'x': None}}), straight from the
 * line's bytes. Strings may be single- or double-quoted, with an optional {@code u}/{@code b}
 * prefix; escapes ({@code \\ \' \" \n \t \r \b \f \/ \xHH \\uHHHH \UHHHHHHHH}, surrogate pairs)
 * are decoded to UTF-8 only for the values a converter asks for — everything else is skipped with
 * a scan that respects quotes and nesting.
 *
 * <p>Usage: {@link #reset}, {@link #beginDict}, then while {@link #nextKey} compare
 * {@link #keyIs}, read the value ({@link #readString}, {@link #readLong}, ...) or
 * {@link #skipValue}. Errors are {@link BadRow}s (MALFORMED_RECORD) naming the key being read and
 * the column where the scan stopped.
 */
final class LiteralScanner {

    private byte[] b;
    private int pos;
    private int end;
    private int lineStart;
    private int keyStart;
    private int keyEnd;
    private boolean inValue;                // reading the value of the current key (messages name the key)
    private byte[] str = new byte[256];     // the last decoded string
    private int strLen;
    private boolean firstEntry;

    void reset(byte[] buf, int from, int to) {
        b = buf;
        pos = from;
        end = to;
        lineStart = from;
        inValue = false;
    }

    /** Consumes the opening brace of the top-level dict. */
    void beginDict() {
        ws();
        if (pos >= end || b[pos] != '{') {
            throw error("a record starting with '{'");
        }
        pos++;
        firstEntry = true;
    }

    /** Moves to the next key of the dict; false at its closing brace (then nothing but spaces may follow). */
    boolean nextKey() {
        inValue = false;
        ws();
        if (pos < end && b[pos] == '}') {
            pos++;
            ws();
            if (pos != end) {
                throw error("the end of the line after the closing '}'");
            }
            return false;
        }
        if (!firstEntry) {
            if (pos >= end || b[pos] != ',') {
                throw error("',' or '}' between entries");
            }
            pos++;
            ws();
            if (pos < end && b[pos] == '}') { // trailing comma (Python allows it)
                return nextKey();
            }
        }
        firstEntry = false;
        int q = quoteAt();
        if (q < 0) {
            throw error("a quoted key");
        }
        keyStart = pos + 1;
        // keys are plain names: find the closing quote (escapes allowed but not decoded)
        int i = keyStart;
        while (i < end && b[i] != q) {
            if (b[i] == '\\') {
                i++;
            }
            i++;
        }
        if (i >= end) {
            throw error("a closing quote of the key");
        }
        keyEnd = i;
        pos = i + 1;
        ws();
        if (pos >= end || b[pos] != ':') {
            throw error("':' after the key");
        }
        pos++;
        ws();
        inValue = true;
        return true;
    }

    /** Whether the current key is {@code name} (ASCII bytes). */
    boolean keyIs(byte[] name) {
        return keyEnd - keyStart == name.length && Arrays.equals(b, keyStart, keyEnd, name, 0, name.length);
    }

    /** The current key as text (messages). */
    String key() {
        return new String(b, keyStart, keyEnd - keyStart, java.nio.charset.StandardCharsets.UTF_8);
    }

    /** Reads a string value, decoded into {@link #str()}[0, {@link #strLength()}). */
    void readString() {
        int q = quoteAt();
        if (q < 0) {
            throw error("a quoted string");
        }
        if (b[pos] != q) {
            pos++; // the prefix letter
        }
        pos++;
        strLen = 0;
        while (true) {
            if (pos >= end) {
                throw error("a closing quote");
            }
            byte c = b[pos];
            if (c == q) {
                pos++;
                return;
            }
            if (c == '\\') {
                escape();
            } else {
                put(c);
                pos++;
            }
        }
    }

    byte[] str() {
        return str;
    }

    int strLength() {
        return strLen;
    }

    /** Reads an integer value (a decimal like 1.2e9 is refused: Unix times are integers). */
    long readLong() {
        int s = pos;
        while (pos < end && (b[pos] == '-' || b[pos] == '+' || (b[pos] >= '0' && b[pos] <= '9'))) {
            pos++;
        }
        long v = Numbers.parseLong(b, s, pos);
        if (v == Numbers.BAD || (pos < end && !endOfScalar(b[pos]))) {
            pos = s;
            throw error("an integer");
        }
        return v;
    }

    /** Consumes '[' (a list) and returns true, or returns false when the value is not a list. */
    boolean beginList() {
        if (pos < end && (b[pos] == '[' || b[pos] == '(')) {
            pos++;
            firstEntry = true;
            return true;
        }
        return false;
    }

    /** Moves to the next element of the current list; false at its closing bracket. */
    boolean nextElement() {
        ws();
        if (pos < end && (b[pos] == ']' || b[pos] == ')')) {
            pos++;
            firstEntry = false;
            return false;
        }
        if (!firstEntry) {
            if (pos >= end || b[pos] != ',') {
                throw error("',' or ']' between list elements");
            }
            pos++;
            ws();
            if (pos < end && (b[pos] == ']' || b[pos] == ')')) {
                pos++;
                firstEntry = false;
                return false;
            }
        }
        firstEntry = false;
        if (pos >= end) {
            throw error("a list element or ']'");
        }
        return true;
    }

    /** Skips one value of any kind: string, number, identifier, list, tuple, dict. */
    void skipValue() {
        ws();
        if (pos >= end) {
            throw error("a value");
        }
        int depth = 0;
        int from = pos;
        while (pos < end) {
            byte c = b[pos];
            int q = quoteAt();
            if (q >= 0) {
                skipString(q);
                if (depth == 0) {
                    return;
                }
                continue;
            }
            if (c == '[' || c == '{' || c == '(') {
                depth++;
            } else if (c == ']' || c == '}' || c == ')') {
                if (depth == 0) {
                    break; // end of the enclosing container: the scalar before it is done
                }
                depth--;
                if (depth == 0) {
                    pos++;
                    return;
                }
            } else if (c == ',' && depth == 0) {
                break;
            }
            pos++;
        }
        if (pos == from) {
            throw error("a value");
        }
        if (depth > 0) {
            throw error("a closing bracket");
        }
    }

    private void skipString(int q) {
        if (b[pos] != q) {
            pos++;
        }
        pos++;
        while (pos < end) {
            byte c = b[pos];
            if (c == '\\') {
                pos += 2;
                continue;
            }
            pos++;
            if (c == q) {
                return;
            }
        }
        throw error("a closing quote");
    }

    /** The quote char when a string (optionally u/b-prefixed) starts at pos, else -1. */
    private int quoteAt() {
        if (pos >= end) {
            return -1;
        }
        byte c = b[pos];
        if (c == '\'' || c == '"') {
            return c;
        }
        if ((c == 'u' || c == 'b' || c == 'U' || c == 'B') && pos + 1 < end && (b[pos + 1] == '\'' || b[pos + 1] == '"')) {
            return b[pos + 1];
        }
        return -1;
    }

    private static boolean endOfScalar(byte c) {
        return c == ',' || c == '}' || c == ']' || c == ')' || c == ' ' || c == '\t';
    }

    private void escape() {
        if (pos + 1 >= end) {
            throw error("an escape sequence");
        }
        byte e = b[pos + 1];
        pos += 2;
        switch (e) {
            case 'n' -> put((byte) '\n');
            case 't' -> put((byte) '\t');
            case 'r' -> put((byte) '\r');
            case 'b' -> put((byte) '\b');
            case 'f' -> put((byte) '\f');
            case '0' -> put((byte) 0);
            case 'x' -> codePoint(hex(2));
            case 'u' -> {
                int cp = hex(4);
                if (cp >= 0xD800 && cp <= 0xDBFF && pos + 1 < end && b[pos] == '\\' && b[pos + 1] == 'u') {
                    pos += 2;
                    int lo = hex(4);
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                codePoint(cp);
            }
            case 'U' -> codePoint(hex(8));
            default -> put(e); // \\ \' \" \/ and any other escaped character stand for themselves
        }
    }

    private int hex(int n) {
        if (pos + n > end) {
            throw error(n + " hex digits");
        }
        int v = 0;
        for (int k = 0; k < n; k++) {
            int c = b[pos + k];
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (d < 0) {
                throw error(n + " hex digits");
            }
            v = v * 16 + d;
        }
        pos += n;
        return v;
    }

    private void codePoint(int cp) {
        if (cp < 0x80) {
            put((byte) cp);
        } else if (cp < 0x800) {
            put((byte) (0xC0 | (cp >> 6)));
            put((byte) (0x80 | (cp & 0x3F)));
        } else if (cp < 0x10000) {
            put((byte) (0xE0 | (cp >> 12)));
            put((byte) (0x80 | ((cp >> 6) & 0x3F)));
            put((byte) (0x80 | (cp & 0x3F)));
        } else {
            put((byte) (0xF0 | (cp >> 18)));
            put((byte) (0x80 | ((cp >> 12) & 0x3F)));
            put((byte) (0x80 | ((cp >> 6) & 0x3F)));
            put((byte) (0x80 | (cp & 0x3F)));
        }
    }

    private void put(byte c) {
        if (strLen == str.length) {
            str = Arrays.copyOf(str, strLen * 2);
        }
        str[strLen++] = c;
    }

    private void ws() {
        while (pos < end && (b[pos] == ' ' || b[pos] == '\t')) {
            pos++;
        }
    }

    private BadRow error(String expected) {
        String found = pos >= end ? "the end of the line" : "'" + BadRow.quote(b, pos, Math.min(end, pos + 20)).replace("'", "") + "'";
        return new BadRow(BadRow.Reason.MALFORMED_RECORD, inValue ? key() : null, expected + " at column " + (pos - lineStart + 1), found);
    }
}
