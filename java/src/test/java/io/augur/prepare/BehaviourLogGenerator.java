package io.augur.prepare;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * Writes a deterministic synthetic behaviour log for {@code scripts/bench-prepare.sh}: CSV
 * {@code user_id,item_id,cate_id,time}, rows in time order with users interleaved (as a raw click
 * log is), so the converter must group by user and sort by time.
 *
 * <p>Shape (Amazon-Electronics-like, scaled): users uniform over {@code users} (so about
 * rows/users behaviours each, Poisson), items by a Zipf law of exponent 1 over {@code items},
 * each item in one of {@code categories} categories, time = start + row / 4 + a jitter of up to
 * ±300 s (so some users' rows are out of order and some times tie). The same arguments give the
 * same bytes.
 *
 * <pre>java -cp target/test-classes io.augur.prepare.BehaviourLogGenerator OUT.csv [rows [users [items [categories [seed]]]]]</pre>
 */
public final class BehaviourLogGenerator {

    private BehaviourLogGenerator() {
    }

    public static void main(String[] args) throws IOException {
        Path out = Path.of(args[0]);
        long rows = args.length > 1 ? Long.parseLong(args[1]) : 10_000_000L;
        int users = args.length > 2 ? Integer.parseInt(args[2]) : 1_000_000;
        int items = args.length > 3 ? Integer.parseInt(args[3]) : 400_000;
        int categories = args.length > 4 ? Integer.parseInt(args[4]) : 1_000;
        long seed = args.length > 5 ? Long.parseLong(args[5]) : 2026L;
        write(out, rows, users, items, categories, seed);
    }

    static void write(Path out, long rows, int users, int items, int categories, long seed) throws IOException {
        SplittableRandom rng = new SplittableRandom(seed);
        double[] cum = new double[items]; // Zipf(1) cumulative weights over popularity ranks
        double acc = 0;
        for (int i = 0; i < items; i++) {
            acc += 1.0 / (i + 1);
            cum[i] = acc;
        }
        int[] rankToItem = new int[items]; // a random permutation: popularity says nothing about the id
        for (int i = 0; i < items; i++) {
            rankToItem[i] = i;
        }
        for (int i = items - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = rankToItem[i];
            rankToItem[i] = rankToItem[j];
            rankToItem[j] = t;
        }
        int[] itemCate = new int[items];
        for (int i = 0; i < items; i++) {
            itemCate[i] = rng.nextInt(categories);
        }
        long start = 1_400_000_000L;
        byte[] line = new byte[64];
        try (OutputStream os = new BufferedOutputStream(Files.newOutputStream(out), 1 << 20)) {
            os.write("user_id,item_id,cate_id,time\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            for (long r = 0; r < rows; r++) {
                int u = rng.nextInt(users);
                double x = rng.nextDouble() * acc;
                int lo = 0;
                int hi = items - 1;
                while (lo < hi) {
                    int mid = (lo + hi) >>> 1;
                    if (cum[mid] > x) {
                        hi = mid;
                    } else {
                        lo = mid + 1;
                    }
                }
                int item = rankToItem[lo];
                long t = start + r / 4 + rng.nextInt(601) - 300;
                int n = 0;
                n = digits(line, n, u);
                line[n++] = ',';
                n = digits(line, n, item);
                line[n++] = ',';
                n = digits(line, n, itemCate[item]);
                line[n++] = ',';
                n = digits(line, n, t);
                line[n++] = '\n';
                os.write(line, 0, n);
            }
        }
    }

    private static int digits(byte[] b, int at, long v) {
        if (v == 0) {
            b[at] = '0';
            return at + 1;
        }
        int len = 0;
        for (long x = v; x > 0; x /= 10) {
            len++;
        }
        for (int k = at + len - 1; k >= at; k--) {
            b[k] = (byte) ('0' + v % 10);
            v /= 10;
        }
        return at + len;
    }
}
