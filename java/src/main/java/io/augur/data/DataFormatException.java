package io.augur.data;

/**
 * A sample file or dataset folder that does not follow the format (DESIGN.md §2). The message
 * always names the file, and for row-level problems the 0-based global row index and the field,
 * followed by what was expected and what was found, e.g.
 * {@code train.arrow: row 1234, field 'hist_cate_ids': expected length 7 (as hist_item_ids), found 6}.
 * Nothing is clipped or dropped silently: the first bad value stops the read.
 *
 * <p>Problems in text inputs (the converters of {@code augur prepare}) name the 1-based line
 * instead of the row: {@code ratings.dat: line 17, field 'Timestamp': expected an integer, found '12x'};
 * {@link #row()} then holds the line number.
 */
public final class DataFormatException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /** Row index used when a problem concerns the whole file (schema, footer), not one row. */
    public static final long NO_ROW = -1;

    private final String file;
    private final long row;
    private final String field;

    private DataFormatException(String file, long row, String field, String message, Throwable cause) {
        super(message, cause);
        this.file = file;
        this.row = row;
        this.field = field;
    }

    /** A bad value in one row. */
    static DataFormatException atRow(String file, long row, String field, String expected, String found) {
        return new DataFormatException(file, row, field,
                file + ": row " + row + ", field '" + field + "': expected " + expected + ", found " + found, null);
    }

    /** A problem with one column that holds for every row (missing column, wrong type). */
    static DataFormatException atField(String file, String field, String expected, String found) {
        return new DataFormatException(file, NO_ROW, field,
                file + ": schema (all rows), field '" + field + "': expected " + expected + ", found " + found, null);
    }

    /**
     * A bad value on one line of a text input; {@code field} may be null when the line as a whole
     * is bad (say so in {@code expected}).
     */
    public static DataFormatException atLine(String file, long line, String field, String expected, String found) {
        String where = field == null ? file + ": line " + line : file + ": line " + line + ", field '" + field + "'";
        return new DataFormatException(file, line, field, where + ": expected " + expected + ", found " + found, null);
    }

    /** A problem with the file as a whole (not Arrow, truncated, wrong row count, an empty text input). */
    public static DataFormatException atFile(String file, String expected, String found, Throwable cause) {
        return new DataFormatException(file, NO_ROW, null,
                file + ": expected " + expected + ", found " + found, cause);
    }

    /** A bad or missing entry of a JSON file such as dataset.json; {@code key} is a dotted path. */
    static DataFormatException atKey(String file, String key, String expected, String found) {
        return new DataFormatException(file, NO_ROW, key,
                file + ": key '" + key + "': expected " + expected + ", found " + found, null);
    }

    /** The file the problem was found in, as it was named when opened. */
    public String file() {
        return file;
    }

    /**
     * The 0-based global row index (the 1-based line number for a text input), or {@link #NO_ROW}
     * when the problem is not tied to a row.
     */
    public long row() {
        return row;
    }

    /** The column (field) name, or null when the problem is not tied to a column. */
    public String field() {
        return field;
    }
}
