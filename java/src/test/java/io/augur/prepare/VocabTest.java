package io.augur.prepare;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/**
 * {@link Vocab}: ids in order of first appearance whichever table (decimal or bytes) holds a key,
 * decimals with leading zeros or signs kept apart from their value, growth past many rehashes
 * checked against a HashMap, and the vocabulary file.
 */
class VocabTest {

    private static int add(Vocab v, String key) {
        return v.getOrAdd(key);
    }

    @Test
    void decimalAndOtherKeysShareOneIdSequence() {
        Vocab v = new Vocab("t", 4);
        assertEquals(1, add(v, "17"));
        assertEquals(2, add(v, "B00X"));
        assertEquals(3, add(v, "017"));
        assertEquals(4, add(v, "0"));
        assertEquals(5, add(v, "-17"));
        assertEquals(6, add(v, "1234567890123456789")); // 19 digits: the byte table
        assertEquals(1, add(v, "17"));
        assertEquals(3, add(v, "017"));
        assertNotEquals(v.get("17"), v.get("017"));
        assertEquals(0, v.get("18"));
        assertEquals(0, v.get("00"));
        assertEquals("017", v.key(3));
        assertEquals("0", v.key(4));
        assertEquals(6, v.keys());
        assertEquals(7, v.size());
    }

    @Test
    void manyKeysAgreeWithAHashMap() {
        Vocab v = new Vocab("t", 4);
        Map<String, Integer> ref = new HashMap<>();
        SplittableRandom rng = new SplittableRandom(5);
        for (int k = 0; k < 200_000; k++) {
            int x = rng.nextInt(60_000);
            String key = switch (x % 3) {
                case 0 -> Integer.toString(x);
                case 1 -> "i" + x;
                default -> "0" + x;
            };
            int id = add(v, key);
            Integer want = ref.putIfAbsent(key, ref.size() + 1);
            assertEquals(want == null ? ref.size() : want, id, key);
        }
        for (Map.Entry<String, Integer> e : ref.entrySet()) {
            assertEquals(e.getValue(), v.get(e.getKey()), e.getKey());
            assertEquals(e.getKey(), v.key(e.getValue()));
        }
    }

    @Test
    void keysAddedByValueMatchKeysAddedByBytes() {
        // the batched path of the log converter adds canonical decimals by value; the ids, the key
        // bytes (as written to the vocabulary file) and later byte lookups must be the same
        Vocab byBytes = new Vocab("a", 4);
        Vocab byValue = new Vocab("b", 4);
        SplittableRandom rnd = new SplittableRandom(7);
        for (int i = 0; i < 50_000; i++) {
            long x = switch (i % 4) {
                case 0 -> 0;
                case 1 -> rnd.nextLong(1_000_000_000_000_000_000L);
                default -> rnd.nextInt(20_000);
            };
            String key = Long.toString(x);
            byte[] b = key.getBytes(StandardCharsets.UTF_8);
            assertEquals(x, Vocab.decimal(b, 0, b.length));
            int id = byBytes.getOrAdd(key);
            byValue.touch(x);
            assertEquals(id, byValue.getOrAddNumber(x), key);
            assertEquals(id, byValue.get(b, 0, b.length), key);
            assertEquals(key, byValue.key(id));
        }
        assertEquals(byBytes.keys(), byValue.keys());
        // a non-decimal key after them continues the same sequence
        assertEquals(byBytes.getOrAdd("B00X"), byValue.getOrAdd("B00X"));
    }

    @Test
    void vocabularyFileEscapesTabsAndNewlines(@TempDir Path tmp) throws IOException {
        Vocab v = new Vocab("t");
        add(v, "42");
        add(v, "a\tb");
        add(v, "line\nbreak\\");
        add(v, "Bücher");
        Path f = tmp.resolve("t.tsv");
        v.write(f);
        List<String> lines = new ArrayList<>(Files.readAllLines(f, StandardCharsets.UTF_8));
        assertEquals(List.of("1\t42", "2\ta\\tb", "3\tline\\nbreak\\\\", "4\tBücher"), lines);
    }
}
