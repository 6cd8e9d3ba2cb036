package io.augur.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * scripts/gpu-check.sh's test selection. On a GPU it runs the tests of tag {@code gpu} and fails if one of them is
 * aborted (skipped by an assumption), since that means a GPU the tests could not use; so the tests that cannot run
 * there by design are left out by tag: {@code emulator} (the emulator's own checks) always, {@code two-gpus} where
 * fewer than two devices are visible, {@code real-gpu} where the device is the CPU emulator. Here the script runs
 * in a bundle's layout whose {@code bin/augur} and {@code bin/augur-test} are stubs (the first prints the
 * {@code device} lines of {@code augur info}, the second records its arguments and reports what it is told to).
 * And every test whose assumption needs one of those conditions carries the tag that leaves it out: without it, a
 * one-GPU machine reports the whole check as failed (as the bundle of 805ebd5 would have, with four two-device
 * tests and two of the emulator's aborted).
 */
class GpuCheckScriptTest {
    static final Path SCRIPT = Path.of("scripts", "gpu-check.sh");
    static final Path TEST_SOURCES = Path.of("java", "src", "test", "java");

    static final String AUGUR_STUB = """
            #!/usr/bin/env bash
            if [[ "$1" == info ]]; then
              for ((i = 0; i < STUB_DEVICES; i++)); do
                echo "device     cuda:$i $STUB_NAME, compute capability 9.0, 132 SMs, 139.8 GiB"
              done
            fi
            """;
    /** Records its arguments (one per line, a blank line after each run), writes a report with STUB_ABORTED aborted tests. */
    static final String AUGUR_TEST_STUB = """
            #!/usr/bin/env bash
            printf '%s\\n' "$@" "" >>"$STUB_ARGS"
            dir=""
            while (($#)); do if [[ "$1" == --reports-dir ]]; then dir="$2"; fi; shift; done
            if [[ -n "$dir" ]]; then
              mkdir -p "$dir"
              {
                echo '<testsuite name="JUnit Jupiter">'
                echo '<testcase name="passes()" classname="io.augur.backend.cuda.SomeTest" time="0.1"></testcase>'
                for ((i = 0; i < STUB_ABORTED; i++)); do
                  echo "<testcase name=\\"aborts$i()\\" classname=\\"io.augur.backend.cuda.OtherTest\\" time=\\"0.0\\">"
                  echo "<skipped><![CDATA[org.opentest4j.TestAbortedException: Assumption failed: no GPU: reason $i"
                  echo "	at org.junit.jupiter.api.Assumptions.assumeTrue(Assumptions.java:120)"
                  echo "]]></skipped>"
                  echo '</testcase>'
                done
                echo '</testsuite>'
              } >"$dir/TEST-junit-jupiter.xml"
            fi
            echo "[         1 tests successful      ]"
            echo "[         0 tests failed          ]"
            echo "[         $STUB_ABORTED tests aborted         ]"
            echo "[         0 tests skipped         ]"
            """;

    record Run(int code, String out, String summary, List<List<String>> testRuns) {}

    static Run check(Path tmp, int devices, String name, int aborted) throws IOException, InterruptedException {
        Path bundle = tmp.resolve("bundle");
        Files.createDirectories(bundle.resolve("bin"));
        Files.createDirectories(bundle.resolve("scripts"));
        Files.copy(SCRIPT, bundle.resolve("scripts/gpu-check.sh"));
        Files.writeString(bundle.resolve("bin/augur"), AUGUR_STUB);
        Files.writeString(bundle.resolve("bin/augur-test"), AUGUR_TEST_STUB);
        Files.writeString(bundle.resolve("BUILD.txt"), "bundle: augur-test-stub\n");
        for (String f : new String[] {"bin/augur", "bin/augur-test", "scripts/gpu-check.sh"})
            Files.setPosixFilePermissions(bundle.resolve(f), PosixFilePermissions.fromString("rwxr-xr-x"));
        Path out = tmp.resolve("out"), args = tmp.resolve("args.txt");
        ProcessBuilder pb = new ProcessBuilder("bash", bundle.resolve("scripts/gpu-check.sh").toString(), out.toString()).redirectErrorStream(true);
        Map<String, String> env = pb.environment();
        env.put("SKIP_BENCH", "1");
        env.put("AUGUR_WORK", tmp.resolve("work").toString());
        env.put("STUB_DEVICES", Integer.toString(devices));
        env.put("STUB_NAME", name);
        env.put("STUB_ABORTED", Integer.toString(aborted));
        env.put("STUB_ARGS", args.toString());
        env.remove("SANITIZE_CLASSES");
        env.remove("SKIP_TESTS");
        Process p = pb.start();
        String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "gpu-check.sh did not finish: " + text);
        List<List<String>> runs = new ArrayList<>();
        List<String> cur = new ArrayList<>();
        for (String line : Files.readAllLines(args)) {
            if (line.isEmpty()) {
                runs.add(cur);
                cur = new ArrayList<>();
            } else {
                cur.add(line);
            }
        }
        return new Run(p.exitValue(), text, Files.readString(out.resolve("summary.txt")), runs);
    }

    /** The --exclude-tag values of one augur-test run. */
    static Set<String> excluded(List<String> args) {
        Set<String> tags = new LinkedHashSet<>();
        for (int i = 0; i + 1 < args.size(); i++) if (args.get(i).equals("--exclude-tag")) tags.add(args.get(i + 1));
        return tags;
    }

    @Test
    void oneGpuLeavesOutTheTwoDeviceTestsAndTheEmulatorsOwnAndPasses(@TempDir Path tmp) throws Exception {
        Run r = check(tmp, 1, "NVIDIA H200", 0);
        assertEquals(0, r.code(), r.out());
        assertEquals(1, r.testRuns().size(), r.testRuns().toString());
        List<String> args = r.testRuns().get(0);
        assertTrue(String.join(" ", args).contains("--include-tag gpu"), args.toString());
        assertEquals(Set.of("emulator", "two-gpus"), excluded(args));
        assertTrue(r.summary().contains("tests:  1 passed, 0 failed, 0 aborted (skipped by an assumption), 0 skipped; left out: "
                + "tag emulator (the emulator's own checks: mvn's emulated run); tag two-gpus (1 device visible)"), r.summary());
        assertTrue(r.summary().contains("result: PASS"), r.summary());
    }

    @Test
    void theEmulatorWithTwoDevicesRunsTheTwoDeviceTestsButNotTheRealGpuOnes(@TempDir Path tmp) throws Exception {
        Run r = check(tmp, 2, "Augur CPU emulator (not a GPU)", 0);
        assertEquals(0, r.code(), r.out());
        assertEquals(Set.of("emulator", "real-gpu"), excluded(r.testRuns().get(0)));
        assertTrue(r.summary().contains("; tag real-gpu (the device is the CPU emulator)"), r.summary());
        assertFalse(r.summary().contains("two-gpus"), r.summary());
    }

    @Test
    void anAbortedTestFailsTheCheckAndIsNamedWithItsReason(@TempDir Path tmp) throws Exception {
        Run r = check(tmp, 1, "NVIDIA H200", 2);
        assertNotEquals(0, r.code(), r.out());
        assertTrue(r.summary().contains("tests:  FAILED: 1 passed, 0 failed, 2 aborted"), r.summary());
        assertTrue(r.summary().contains("\n  aborted: OtherTest.aborts0(): no GPU: reason 0\n  aborted: OtherTest.aborts1(): no GPU: reason 1\n"),
                r.summary());
        assertTrue(r.summary().contains("result: FAIL"), r.summary());
    }

    /**
     * What in a test method's body needs which tag (class or method): the two-device assumption, a real GPU's, and
     * the emulator's (its own assumption, or a probe JVM that only the emulator runs, unless the method first
     * branches away on a GPU as DeviceMemoryTest's plan check does).
     */
    static final Map<String, Pattern> NEEDS = Map.of(
            "two-gpus", Pattern.compile("\\bassumeTwo\\(\\)"),
            "real-gpu", Pattern.compile("\\bassumeRealGpu\\("),
            "emulator", Pattern.compile("assumeTrue\\((GpuTesting\\.)?emulated\\(\\)|emulatedJvm\\("));
    static final Pattern BRANCHES_AWAY_ON_A_GPU = Pattern.compile("if \\(!GpuTesting\\.emulated\\(\\)\\) \\{[^}]*return;");
    static final Pattern TAG = Pattern.compile("@Tag\\(\"([\\w-]+)\"\\)");
    /** A test method: its annotations (one of them @Test or @ParameterizedTest), then its signature up to the body's brace. */
    static final Pattern TEST_METHOD = Pattern.compile("((?:@\\w+(?:\\([^)]*\\))?\\s+)*@(?:Test|ParameterizedTest)\\b(?:\\([^)]*\\))?\\s+(?:@\\w+(?:\\([^)]*\\))?\\s+)*)"
            + "(?:public\\s+|protected\\s+)?void\\s+(\\w+)\\s*\\([^{]*\\{");

    @Test
    void everyTestThatCannotRunOnAOneGpuMachineCarriesTheTagThatLeavesItOut() throws IOException {
        assertTrue(Files.isDirectory(TEST_SOURCES), TEST_SOURCES.toAbsolutePath().toString());
        List<String> wrong = new ArrayList<>();
        Map<String, Integer> found = new HashMap<>();
        try (Stream<Path> files = Files.walk(TEST_SOURCES)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                String src = Files.readString(f);
                int classAt = src.indexOf("\nclass ");
                if (classAt < 0) classAt = src.indexOf("\npublic class ");
                if (classAt < 0) continue;
                Set<String> classTags = tags(src.substring(0, classAt));
                Matcher m = TEST_METHOD.matcher(src);
                while (m.find()) {
                    String body = body(src, m.end() - 1);
                    Set<String> tags = new LinkedHashSet<>(classTags);
                    tags.addAll(tags(m.group(1)));
                    for (Map.Entry<String, Pattern> need : NEEDS.entrySet()) {
                        if (!need.getValue().matcher(body).find()) continue;
                        if (need.getKey().equals("emulator") && BRANCHES_AWAY_ON_A_GPU.matcher(body).find()) continue;
                        found.merge(need.getKey(), 1, Integer::sum);
                        if (!tags.contains(need.getKey()))
                            wrong.add(f.getFileName() + " " + m.group(2) + "() needs @Tag(\"" + need.getKey() + "\"), has " + tags);
                    }
                }
            }
        }
        assertTrue(wrong.isEmpty(), String.join("\n", wrong));
        // the scan saw what it is for (CudaDevicesTest's two-device cases, CudaProfilingTest's ceilings, the probes)
        assertTrue(found.getOrDefault("two-gpus", 0) >= 4 && found.getOrDefault("real-gpu", 0) >= 1 && found.getOrDefault("emulator", 0) >= 5,
                found.toString());
    }

    static Set<String> tags(String annotations) {
        Set<String> out = new LinkedHashSet<>();
        Matcher t = TAG.matcher(annotations);
        while (t.find()) out.add(t.group(1));
        return out;
    }

    /** The text of the block whose opening brace is at {@code open}, skipping strings, characters and comments. */
    static String body(String src, int open) {
        int depth = 0;
        for (int i = open; i < src.length(); i++) {
            char c = src.charAt(i);
            if (src.startsWith("\"\"\"", i)) {
                int end = src.indexOf("\"\"\"", i + 3);
                while (end > 0 && src.charAt(end - 1) == '\\') end = src.indexOf("\"\"\"", end + 1);
                i = end + 2;
            } else if (c == '"' || c == '\'') {
                for (i++; src.charAt(i) != c; i++) if (src.charAt(i) == '\\') i++;
            } else if (src.startsWith("//", i)) {
                i = src.indexOf('\n', i);
            } else if (src.startsWith("/*", i)) {
                i = src.indexOf("*/", i) + 1;
            } else if (c == '{') {
                depth++;
            } else if (c == '}' && --depth == 0) {
                return src.substring(open, i + 1);
            }
        }
        throw new IllegalStateException("no end to the block at " + open);
    }
}
