package io.augur.prepare;

/**
 * Number and timestamp parsing straight from bytes (ASCII digits), without creating Strings.
 * Failures are signalled by sentinel values that the callers turn into {@link BadRow}s.
 */
final class Numbers {

    /** Returned by {@link #parseTime} for text that is not a timestamp. */
    static final long NO_TIME = Long.MIN_VALUE;

    /** Returned by {@link #parseLong} for text that is not an integer. */
    static final long BAD = Long.MIN_VALUE;

    private Numbers() {
    }

    /**
     * A decimal integer with an optional sign; {@link #BAD} (Long.MIN_VALUE) on any error. MIN_VALUE
     * itself cannot come out of a successful parse (its magnitude overflows), so BAD is unambiguous.
     */
    static long parseLong(byte[] b, int from, int to) {
        int i = from;
        boolean neg = false;
        if (i < to && (b[i] == '-' || b[i] == '+')) {
            neg = b[i] == '-';
            i++;
        }
        if (i == to) {
            return BAD;
        }
        long v = 0;
        for (; i < to; i++) {
            int d = b[i] - '0';
            if (d < 0 || d > 9) {
                return BAD;
            }
            if (v > (Long.MAX_VALUE - d) / 10) {
                return BAD; // overflow
            }
            v = v * 10 + d;
        }
        return neg ? -v : v;
    }

    /** A decimal number {@code [sign] digits [. digits]} (no exponent; 18 significant digits kept); NaN on error. */
    static double parseDecimal(byte[] b, int from, int to) {
        int i = from;
        boolean neg = false;
        if (i < to && (b[i] == '-' || b[i] == '+')) {
            neg = b[i] == '-';
            i++;
        }
        long mant = 0;
        int significant = 0;
        int exp10 = 0;
        boolean dot = false;
        boolean any = false;
        for (; i < to; i++) {
            byte c = b[i];
            if (c == '.' && !dot) {
                dot = true;
                continue;
            }
            int d = c - '0';
            if (d < 0 || d > 9) {
                return Double.NaN;
            }
            any = true;
            if (significant < 18) {
                mant = mant * 10 + d;
                if (mant != 0) {
                    significant++;
                }
                if (dot) {
                    exp10--;
                }
            } else if (!dot) {
                exp10++;
            }
        }
        if (!any) {
            return Double.NaN;
        }
        double v = exp10 >= 0 ? mant * Math.pow(10, exp10) : mant / Math.pow(10, -exp10);
        return neg ? -v : v;
    }

    /**
     * Unix seconds from an integer count, a decimal count (truncated toward zero), or
     * {@code yyyy-MM-dd[( |T)HH:mm[:ss[.fraction]]][Z]} taken as UTC; {@link #NO_TIME} otherwise.
     * An integer is returned as is, whatever its unit (seconds, milliseconds): only its order matters.
     */
    static long parseTime(byte[] b, int from, int to) {
        if (to - from >= 10 && b[from + 4] == '-' && b[from + 7] == '-') {
            return parseDateTime(b, from, to);
        }
        long v = parseLong(b, from, to);
        if (v != BAD) {
            return v;
        }
        double d = parseDecimal(b, from, to);
        if (Double.isNaN(d) || Math.abs(d) > 9.0e18) {
            return NO_TIME;
        }
        return (long) d;
    }

    private static long parseDateTime(byte[] b, int from, int to) {
        int year = digits(b, from, 4);
        int month = digits(b, from + 5, 2);
        int day = digits(b, from + 8, 2);
        if (year < 0 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) {
            return NO_TIME;
        }
        int i = from + 10;
        int hour = 0;
        int minute = 0;
        int second = 0;
        if (i < to && b[i] != 'Z') {
            if ((b[i] != ' ' && b[i] != 'T') || to - i < 6 || b[i + 3] != ':') {
                return NO_TIME;
            }
            hour = digits(b, i + 1, 2);
            minute = digits(b, i + 4, 2);
            i += 6;
            if (i < to && b[i] == ':') {
                if (to - i < 3) {
                    return NO_TIME;
                }
                second = digits(b, i + 1, 2);
                i += 3;
                if (i < to && b[i] == '.') {
                    i++;
                    int f = i;
                    while (i < to && b[i] >= '0' && b[i] <= '9') {
                        i++;
                    }
                    if (i == f) {
                        return NO_TIME;
                    }
                }
            }
            if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60) {
                return NO_TIME;
            }
        }
        if (i < to && b[i] == 'Z') {
            i++;
        }
        if (i != to) {
            return NO_TIME;
        }
        return daysFromCivil(year, month, day) * 86_400L + hour * 3600L + minute * 60L + second;
    }

    /** The value of n ASCII digits at b[at], or -1. */
    private static int digits(byte[] b, int at, int n) {
        int v = 0;
        for (int k = 0; k < n; k++) {
            int d = b[at + k] - '0';
            if (d < 0 || d > 9) {
                return -1;
            }
            v = v * 10 + d;
        }
        return v;
    }

    private static int daysInMonth(int y, int m) {
        return switch (m) {
            case 2 -> (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) ? 29 : 28;
            case 4, 6, 9, 11 -> 30;
            default -> 31;
        };
    }

    /** Days since 1970-01-01 of a proleptic Gregorian date (the well-known civil-from-days inverse). */
    static long daysFromCivil(int y, int m, int d) {
        long yy = m <= 2 ? y - 1 : y;
        long era = Math.floorDiv(yy, 400);
        long yoe = yy - era * 400;
        long doy = (153L * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146_097 + doe - 719_468;
    }
}
