package io.augur.prepare;

/**
 * One input line that cannot be converted: why ({@link Reason}), which field, what was expected
 * and what was found. Thrown by the parsing helpers and caught per line by the converter, which
 * hands it to {@link BadRows}: that either stops the conversion with a
 * {@link io.augur.data.DataFormatException} naming file, line and field, or (with
 * {@code --skip-bad-rows}) counts it by reason. No stack trace is filled in: with
 * {@code --skip-bad-rows} it is ordinary control flow.
 */
final class BadRow extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /** Why a line was rejected; the key in the report's {@code skipped} counts. */
    enum Reason {
        WRONG_FIELD_COUNT("wrong number of fields"),
        MISSING_FIELD("missing (empty) field"),
        BAD_NUMBER("unparseable number"),
        BAD_TIMESTAMP("unparseable timestamp"),
        BAD_LABEL("label not 0 or 1"),
        BAD_QUOTING("unbalanced quotes"),
        LIST_LENGTH_MISMATCH("history lists of different lengths"),
        UNKNOWN_REFERENCE("reference to an unknown id"),
        DUPLICATE_ID("id defined twice"),
        MALFORMED_RECORD("malformed record");

        private final String text;

        Reason(String text) {
            this.text = text;
        }

        /** The reason in words. */
        String text() {
            return text;
        }

        /** The key in the report: the lower-case name. */
        String key() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    final Reason reason;
    final String field;
    final String expected;
    final String found;

    BadRow(Reason reason, String field, String expected, String found) {
        super(reason.text() + (field == null ? "" : " in field '" + field + "'") + ": expected " + expected + ", found " + found,
                null, false, false);
        this.reason = reason;
        this.field = field;
        this.expected = expected;
        this.found = found;
    }

    /** Up to 40 bytes of {@code b[from, to)} as a quoted text for messages (UTF-8, control bytes escaped). */
    static String quote(byte[] b, int from, int to) {
        int n = Math.min(to - from, 40);
        StringBuilder s = new StringBuilder(n + 8).append('\'');
        String text = new String(b, from, n, java.nio.charset.StandardCharsets.UTF_8);
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c < 0x20) {
                s.append(String.format(java.util.Locale.ROOT, "\\x%02x", (int) c));
            } else {
                s.append(c);
            }
        }
        s.append('\'');
        if (to - from > n) {
            s.append("...");
        }
        return s.toString();
    }
}
