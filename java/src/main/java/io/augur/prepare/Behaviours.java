package io.augur.prepare;

import java.util.Arrays;

/**
 * Every behaviour of an input whose rows are not grouped by user, held as columns of primitives
 * until the input is read: user, item, time, and optionally a label (ratings). Then
 * {@link #forEachUser} hands out each user's behaviours sorted by time (ties keep input order).
 *
 * <p>Memory: 16 bytes per behaviour (17 with labels) while reading, plus 4 for the grouping order
 * when handing out: about 20 bytes per behaviour at the peak, whatever the width of the input's
 * lines.
 */
final class Behaviours {

    /** Receives one user's behaviours, oldest first; the arrays are reused for the next user. */
    interface UserSink {
        void user(int user, int[] items, byte[] labels, int n);
    }

    private final boolean withLabels;
    private int[] users = new int[1 << 16];
    private int[] items = new int[1 << 16];
    private long[] times = new long[1 << 16];
    private byte[] labels;
    private int size;

    Behaviours(boolean withLabels) {
        this.withLabels = withLabels;
        if (withLabels) {
            labels = new byte[1 << 16];
        }
    }

    void add(int user, int item, long time) {
        if (size == users.length) {
            grow();
        }
        users[size] = user;
        items[size] = item;
        times[size] = time;
        size++;
    }

    void add(int user, int item, long time, int label) {
        if (size == users.length) {
            grow();
        }
        users[size] = user;
        items[size] = item;
        times[size] = time;
        labels[size] = (byte) label;
        size++;
    }

    private void grow() {
        if (size >= Integer.MAX_VALUE - 16) {
            throw new IllegalStateException("more than 2^31 behaviours: split the input");
        }
        int cap = (int) Math.min(Integer.MAX_VALUE - 8L, (long) users.length * 2);
        users = Arrays.copyOf(users, cap);
        items = Arrays.copyOf(items, cap);
        times = Arrays.copyOf(times, cap);
        if (withLabels) {
            labels = Arrays.copyOf(labels, cap);
        }
    }

    int size() {
        return size;
    }

    /** Bytes of the columns as allocated (capacity), plus the grouping order. */
    long bytes() {
        return (long) users.length * (withLabels ? 17 : 16) + 4L * size;
    }

    /**
     * Groups by user (a stable counting sort over user ids 1..numUsers), sorts each user's
     * behaviours by time (stable), and hands them to {@code sink} in user-id order.
     */
    void forEachUser(int numUsers, UserSink sink) {
        int[] start = new int[numUsers + 2];
        for (int i = 0; i < size; i++) {
            start[users[i] + 1]++;
        }
        int maxLen = 0;
        for (int u = 1; u <= numUsers + 1; u++) {
            maxLen = Math.max(maxLen, start[u]);
            start[u] += start[u - 1];
        }
        int[] order = new int[size];
        int[] fill = Arrays.copyOf(start, numUsers + 1);
        for (int i = 0; i < size; i++) {
            order[fill[users[i]]++] = i;
        }
        int[] uItems = new int[Math.max(1, maxLen)];
        long[] uTimes = new long[Math.max(1, maxLen)];
        byte[] uLabels = withLabels ? new byte[Math.max(1, maxLen)] : null;
        int[] perm = new int[Math.max(1, maxLen)];
        TimeSort sorter = new TimeSort(maxLen);
        for (int u = 1; u <= numUsers; u++) {
            int from = start[u];
            int n = start[u + 1] - from;
            if (n == 0) {
                continue;
            }
            boolean sorted = true;
            for (int k = 0; k < n; k++) {
                int r = order[from + k];
                uTimes[k] = times[r];
                if (k > 0 && uTimes[k] < uTimes[k - 1]) {
                    sorted = false;
                }
            }
            if (sorted) {
                for (int k = 0; k < n; k++) {
                    int r = order[from + k];
                    uItems[k] = items[r];
                    if (withLabels) {
                        uLabels[k] = labels[r];
                    }
                }
            } else {
                for (int k = 0; k < n; k++) {
                    perm[k] = order[from + k];
                }
                sorter.sort(perm, uTimes, n);
                for (int k = 0; k < n; k++) {
                    int r = perm[k];
                    uItems[k] = items[r];
                    if (withLabels) {
                        uLabels[k] = labels[r];
                    }
                }
            }
            sink.user(u, uItems, uLabels, n);
        }
    }

    /**
     * A stable merge sort of row indices by their times (insertion sort below 24 elements). Stable,
     * so behaviours with the same time keep their input order.
     */
    static final class TimeSort {
        private int[] tmpIdx;
        private long[] tmpKey;

        TimeSort(int capacity) {
            tmpIdx = new int[Math.max(1, capacity)];
            tmpKey = new long[Math.max(1, capacity)];
        }

        /** Sorts idx[0..n) and keys[0..n) together by keys, stably. */
        void sort(int[] idx, long[] keys, int n) {
            if (tmpIdx.length < n) {
                tmpIdx = new int[n];
                tmpKey = new long[n];
            }
            mergeSort(idx, keys, 0, n);
        }

        private void mergeSort(int[] idx, long[] keys, int lo, int hi) {
            if (hi - lo < 24) {
                for (int i = lo + 1; i < hi; i++) {
                    long k = keys[i];
                    int v = idx[i];
                    int j = i - 1;
                    while (j >= lo && keys[j] > k) {
                        keys[j + 1] = keys[j];
                        idx[j + 1] = idx[j];
                        j--;
                    }
                    keys[j + 1] = k;
                    idx[j + 1] = v;
                }
                return;
            }
            int mid = (lo + hi) >>> 1;
            mergeSort(idx, keys, lo, mid);
            mergeSort(idx, keys, mid, hi);
            if (keys[mid - 1] <= keys[mid]) {
                return;
            }
            System.arraycopy(idx, lo, tmpIdx, lo, hi - lo);
            System.arraycopy(keys, lo, tmpKey, lo, hi - lo);
            int a = lo;
            int b = mid;
            for (int k = lo; k < hi; k++) {
                if (b >= hi || (a < mid && tmpKey[a] <= tmpKey[b])) {
                    idx[k] = tmpIdx[a];
                    keys[k] = tmpKey[a++];
                } else {
                    idx[k] = tmpIdx[b];
                    keys[k] = tmpKey[b++];
                }
            }
        }
    }
}
