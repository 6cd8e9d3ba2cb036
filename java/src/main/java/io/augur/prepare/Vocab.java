package io.augur.prepare;

import java.io.BufferedOutputStream;
import java.io.OutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * An id vocabulary: raw ids (any byte string: "A2SUAM1J3GNN3B", "13179", "Books") to dense int ids
 * 1, 2, 3, ... in order of first appearance; 0 is reserved for padding and unknown ids.
 *
 * <p>An open-addressing hash table (linear probing, load at most 1/2) of int ids, with the key
 * bytes in one growing arena: looking up a key allocates nothing, so the converters can map every
 * field of every line straight from the line buffer. Keys that are canonical decimals ("13179",
 * the common case in click logs) live in a second table holding the value itself, so their lookup
 * costs one cache line and never reads the arena (this halved the read phase of a 10-million-row
 * log). Memory: about {@code 20-36 + key length} bytes per key (table slots at load at most 1/2,
 * arena offsets, the bytes).
 */
final class Vocab {

    private final String name;
    // slot i is slots[2i] (the id, 0 = empty) and slots[2i+1] (the key's full hash), side by side so
    // that a probe touches one cache line; the slot count is a power of two
    private int[] slots;
    private int mask;          // slot count - 1
    private int byteKeys;      // keys in slots (the others are in nums)
    // canonical decimal keys ("0", "17", not "017", at most 18 digits) skip the byte comparison:
    // nums[2i] = value + 1 (0 = empty), nums[2i+1] = id; one probe touches one cache line and no arena
    private long[] nums;
    private int numMask;
    private int numKeys;
    private byte[] arena = new byte[1 << 12];
    private int[] keyStart = new int[1 << 8]; // (size + 1): key of id k is arena[keyStart[k-1] .. keyStart[k])
    private int size;          // keys held; ids are 1..size
    private final byte[] digits = new byte[19]; // scratch for getOrAddNumber

    Vocab(String name) {
        this(name, 1 << 10);
    }

    Vocab(String name, int expectedKeys) {
        this.name = name;
        int cap = Integer.highestOneBit(Math.max(16, expectedKeys * 2 - 1)) << 1;
        slots = new int[2 * cap];
        mask = cap - 1;
        nums = new long[2 * cap];
        numMask = cap - 1;
    }

    /** The vocabulary's name ("user", "item", a profile field). */
    String name() {
        return name;
    }

    /** Keys held (the largest id). */
    int keys() {
        return size;
    }

    /** The vocabulary size as the sample format counts it: keys + 1 (the padding id 0). */
    int size() {
        return size + 1;
    }

    /** The id of {@code b[off, off+len)}, adding it when new. */
    int getOrAdd(byte[] b, int off, int len) {
        long v = decimal(b, off, len);
        if (v >= 0) {
            return numberOrAdd(v, b, off, len);
        }
        int h = hash(b, off, len);
        int i = h & mask;
        while (true) {
            int id = slots[2 * i];
            if (id == 0) {
                return add(b, off, len, h, i);
            }
            if (slots[2 * i + 1] == h && equalsKey(id, b, off, len)) {
                return id;
            }
            i = (i + 1) & mask;
        }
    }

    /** The id of {@code b[off, off+len)}, or 0 when it is not held. */
    int get(byte[] b, int off, int len) {
        long v = decimal(b, off, len);
        if (v >= 0) {
            int i = mix(v) & numMask;
            while (true) {
                long k = nums[2 * i];
                if (k == 0) {
                    return 0;
                }
                if (k == v + 1) {
                    return (int) nums[2 * i + 1];
                }
                i = (i + 1) & numMask;
            }
        }
        int h = hash(b, off, len);
        int i = h & mask;
        while (true) {
            int id = slots[2 * i];
            if (id == 0) {
                return 0;
            }
            if (slots[2 * i + 1] == h && equalsKey(id, b, off, len)) {
                return id;
            }
            i = (i + 1) & mask;
        }
    }

    /** The id of a String key (UTF-8), adding it when new. Not for the hot path. */
    int getOrAdd(String key) {
        byte[] k = key.getBytes(StandardCharsets.UTF_8);
        return getOrAdd(k, 0, k.length);
    }

    /** The id of a String key, or 0. Not for the hot path. */
    int get(String key) {
        byte[] k = key.getBytes(StandardCharsets.UTF_8);
        return get(k, 0, k.length);
    }

    /** The raw id of dense id {@code id} (1..keys()). */
    String key(int id) {
        if (id < 1 || id > size) {
            throw new IllegalArgumentException(name + ": no id " + id + " (ids 1.." + size + ")");
        }
        int s = id == 1 ? 0 : keyStart[id - 1];
        return new String(arena, s, keyStart[id] - s, StandardCharsets.UTF_8);
    }

    private int add(byte[] b, int off, int len, int h, int slot) {
        int id = appendKey(b, off, len);
        slots[2 * slot] = id;
        slots[2 * slot + 1] = h;
        if (++byteKeys * 2 > mask + 1) {
            rehash();
        }
        return id;
    }

    /** The canonical decimal value of the key, or -1 when it is none (empty, a sign, a leading zero, over 18 digits, not digits). */
    static long decimal(byte[] b, int off, int len) {
        if (len == 0 || len > 18 || (b[off] == '0' && len > 1)) {
            return -1;
        }
        long v = 0;
        for (int i = off, e = off + len; i < e; i++) {
            int d = b[i] - '0';
            if (d < 0 || d > 9) {
                return -1;
            }
            v = v * 10 + d;
        }
        return v;
    }

    /**
     * Reads the table slot a canonical decimal key (a value of {@link #decimal}) hashes to and
     * returns what it holds, a meaningless number. A converter calls this for a batch of keys before
     * looking them up: the loads are independent, so their cache misses overlap instead of being
     * paid one after another (the tables of a million users do not fit in cache).
     */
    long touch(long v) {
        return nums[2 * (mix(v) & numMask)];
    }

    /** {@link #getOrAdd} for a key given by its canonical decimal value ({@link #decimal} of its bytes). */
    int getOrAddNumber(long v) {
        int i = mix(v) & numMask;
        while (true) {
            long k = nums[2 * i];
            if (k == 0) {
                // the key's bytes are the value's digits: canonical decimals print back exactly
                byte[] d = digits;
                int n = d.length;
                long x = v;
                do {
                    d[--n] = (byte) ('0' + (int) (x % 10));
                    x /= 10;
                } while (x != 0);
                int id = appendKey(d, n, d.length - n);
                nums[2 * i] = v + 1;
                nums[2 * i + 1] = id;
                if (++numKeys * 2 > numMask + 1) {
                    rehashNums();
                }
                return id;
            }
            if (k == v + 1) {
                return (int) nums[2 * i + 1];
            }
            i = (i + 1) & numMask;
        }
    }

    private int numberOrAdd(long v, byte[] b, int off, int len) {
        int i = mix(v) & numMask;
        while (true) {
            long k = nums[2 * i];
            if (k == 0) {
                int id = appendKey(b, off, len);
                nums[2 * i] = v + 1;
                nums[2 * i + 1] = id;
                if (++numKeys * 2 > numMask + 1) {
                    rehashNums();
                }
                return id;
            }
            if (k == v + 1) {
                return (int) nums[2 * i + 1];
            }
            i = (i + 1) & numMask;
        }
    }

    private void rehashNums() {
        int cap = 2 * (numMask + 1);
        long[] nn = new long[2 * cap];
        int m = cap - 1;
        for (int i = 0; i <= numMask; i++) {
            long k = nums[2 * i];
            if (k != 0) {
                int j = mix(k - 1) & m;
                while (nn[2 * j] != 0) {
                    j = (j + 1) & m;
                }
                nn[2 * j] = k;
                nn[2 * j + 1] = nums[2 * i + 1];
            }
        }
        nums = nn;
        numMask = m;
    }

    /** A 64-bit finaliser (murmur3's fmix64) folded to 32 bits. */
    private static int mix(long v) {
        v ^= v >>> 33;
        v *= 0xFF51AFD7ED558CCDL;
        v ^= v >>> 33;
        v *= 0xC4CEB9FE1A85EC53L;
        v ^= v >>> 33;
        return (int) v;
    }

    /** Gives the key the next id and appends its bytes to the arena. */
    private int appendKey(byte[] b, int off, int len) {
        if (size == Integer.MAX_VALUE - 1) {
            throw new IllegalStateException("vocabulary '" + name + "' is full");
        }
        int id = ++size;
        if (id >= keyStart.length) {
            keyStart = Arrays.copyOf(keyStart, keyStart.length * 2);
        }
        int s = id == 1 ? 0 : keyStart[id - 1];
        if (s + len > arena.length) {
            long want = Math.max((long) arena.length * 2, (long) s + len);
            if (want > Integer.MAX_VALUE - 8) {
                throw new IllegalStateException("vocabulary '" + name + "': keys exceed 2 GiB");
            }
            arena = Arrays.copyOf(arena, (int) want);
        }
        System.arraycopy(b, off, arena, s, len);
        keyStart[id] = s + len;
        return id;
    }

    private boolean equalsKey(int id, byte[] b, int off, int len) {
        int s = id == 1 ? 0 : keyStart[id - 1];
        if (keyStart[id] - s != len) {
            return false;
        }
        return Arrays.equals(arena, s, s + len, b, off, off + len);
    }

    private void rehash() {
        int cap = 2 * (mask + 1);
        int[] ns = new int[2 * cap];
        int m = cap - 1;
        for (int i = 0; i <= mask; i++) {
            int id = slots[2 * i];
            if (id != 0) {
                int h = slots[2 * i + 1];
                int j = h & m;
                while (ns[2 * j] != 0) {
                    j = (j + 1) & m;
                }
                ns[2 * j] = id;
                ns[2 * j + 1] = h;
            }
        }
        slots = ns;
        mask = m;
    }

    /** FNV-1a over the bytes, then a murmur finaliser so that the low bits (the slot) mix well. */
    static int hash(byte[] b, int off, int len) {
        int h = 0x811C9DC5;
        for (int i = off, e = off + len; i < e; i++) {
            h = (h ^ b[i]) * 0x01000193;
        }
        h ^= h >>> 16;
        h *= 0x85EBCA6B;
        h ^= h >>> 13;
        h *= 0xC2B2AE35;
        h ^= h >>> 16;
        return h;
    }

    /** Approximate bytes held. */
    long bytes() {
        return 4L * slots.length + 8L * nums.length + 4L * keyStart.length + arena.length;
    }

    /**
     * Writes {@code id<TAB>raw id} per line, ids 1..keys() in order, so that predictions can be
     * mapped back to the source's ids. Tabs, newlines and backslashes in a raw id are escaped
     * ({@code \t}, {@code \n}, {@code \\}).
     */
    void write(Path file) throws IOException {
        // byte by byte from the arena: the escaped characters are ASCII, so UTF-8 keys pass unchanged
        try (OutputStream w = new BufferedOutputStream(Files.newOutputStream(file), 1 << 16)) {
            byte[] num = new byte[12];
            for (int id = 1; id <= size; id++) {
                int n = num.length;
                for (int v = id; v > 0; v /= 10) {
                    num[--n] = (byte) ('0' + v % 10);
                }
                w.write(num, n, num.length - n);
                w.write('\t');
                int s = id == 1 ? 0 : keyStart[id - 1];
                int e = keyStart[id];
                for (int i = s; i < e; i++) {
                    byte c = arena[i];
                    switch (c) {
                        case '\t' -> { w.write('\\'); w.write('t'); }
                        case '\n' -> { w.write('\\'); w.write('n'); }
                        case '\r' -> { w.write('\\'); w.write('r'); }
                        case '\\' -> { w.write('\\'); w.write('\\'); }
                        default -> w.write(c);
                    }
                }
                w.write('\n');
            }
        }
    }
}
