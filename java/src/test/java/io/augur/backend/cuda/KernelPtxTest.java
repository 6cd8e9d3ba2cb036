package io.augur.backend.cuda;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Which state space each kernel's loads and stores name in its PTX. A load through a pointer that the compiler
 * can trace to shared memory is an {@code ld.shared} (LDS in SASS, 32-bit addresses); one it cannot trace is a
 * generic {@code ld} (LD, 64-bit addresses, resolved at run time), and the compiler must then also assume it may
 * alias any global store, which holds loads back behind stores. A pointer made from an integer loses the trace:
 * the tower's {@code align16} rounded its shared-memory pointers up through {@code uintptr_t}, so every product,
 * outer product and staged array of the tower kernels went through generic loads (280 LD in
 * tower_forward_kernel's SASS, 606 in tower_backward_kernel's). Fixed, the inner loop of the forward's 4 x 4
 * register tile went from 224 instructions for 128 FFMAs to 282 for 192 (docs/perf/README.md, twenty-sixth
 * session). The CPU emulator cannot see this, and the results are the same bits either way.
 * <p>
 * Generic accesses are refused except in the kernels named in {@link #GENERIC_MEANT}, where one pointer is shared
 * memory in some launches and global memory in others, or another block's shared memory. The PTX is the one the
 * build kept (CMakeLists.txt's {@code --keep}; scripts/build-kernels.sh files it as augur.ptx beside the fatbin),
 * or, where that is missing or older than the sources, nvcc's for this test alone (about 40 s). SKIPPED where
 * nvcc is not on the PATH.
 */
class KernelPtxTest {
    static final Path BUILD_PTX = KernelResourcesTest.BUILD_REPORT.resolveSibling("augur.ptx");
    /** The PTX target of the fatbin (CMakeLists.txt's AUGUR_PTX_ARCH). */
    static final int PTX_ARCH = 90;

    /** The kernels whose generic loads or stores are meant, and why. */
    static final Map<String, String> GENERIC_MEANT = new TreeMap<>();

    static {
        String partials = "its partial gradients are in shared memory or in the global partials, chosen per launch (AttentionArgs)";
        for (String k : List.of(Kernels.ACTIVATION_UNIT_BACKWARD, Kernels.ACTIVATION_UNIT_BACKWARD_3BLOCKS, Kernels.ACTIVATION_UNIT_BACKWARD_SCALAR,
                Kernels.ACTIVATION_UNIT_BACKWARD_SCALAR_3BLOCKS, Kernels.ACTIVATION_UNIT_BACKWARD_TF32, Kernels.ACTIVATION_UNIT_BACKWARD_TF32_3BLOCKS,
                Kernels.ACTIVATION_UNIT_BACKWARD_TF32X3, Kernels.ACTIVATION_UNIT_BACKWARD_TF32X3_3BLOCKS)) {
            GENERIC_MEANT.put(k, partials);
        }
        GENERIC_MEANT.put(Kernels.ACTIVATION_UNIT_POOL_FORWARD, "a sample's keys are staged in shared memory where they fit, else read from global memory");
        for (int s : new int[] {2, 4, 8, 16}) {
            String cluster = "the cluster's sums read the other blocks' shared memory (cluster_map: mapa gives a generic address)";
            GENERIC_MEANT.put(Kernels.towerForward(s), cluster);
            GENERIC_MEANT.put(Kernels.towerBackward(s), cluster);
        }
    }

    /** A kernel's loads, stores and atomics by state space ("ld.shared", "st.generic", ...). */
    record Accesses(Map<String, Integer> bySpace) {
        int generic() {
            return bySpace.entrySet().stream().filter(e -> e.getKey().endsWith(".generic")).mapToInt(Map.Entry::getValue).sum();
        }
    }

    @Test
    void everyLoadAndStoreNamesItsStateSpaceWhereTheKernelKnowsIt() throws IOException, InterruptedException {
        Map<String, Accesses> kernels = parse(ptx());
        assertEquals(new TreeSet<>(Kernels.ALL), kernels.keySet(), "the entries of the PTX (sm_" + PTX_ARCH + ")");
        List<String> bad = new ArrayList<>();
        for (Map.Entry<String, Accesses> e : kernels.entrySet()) {
            int generic = e.getValue().generic();
            String meant = GENERIC_MEANT.get(e.getKey());
            if (meant == null && generic > 0) {
                bad.add(e.getKey() + ": " + generic + " generic loads or stores " + e.getValue().bySpace()
                        + " (a pointer into shared memory made from an integer? see this test's comment)");
            }
            if (meant != null && generic == 0) {
                bad.add(e.getKey() + ": no generic access left, so GENERIC_MEANT's entry (\"" + meant + "\") should go");
            }
        }
        assertTrue(bad.isEmpty(), String.join("\n", bad));
        // the tower's products: every staged operand read as shared memory in the kernels without clusters, whose
        // code the cluster kernels share (the generic count above is the check; this one says the loads are there
        // and shared: 361 in the forward since its sums over rows became loops, 2026-11-26, where unrolled they
        // made the 400 this once asked for)
        for (String k : List.of(Kernels.TOWER_FORWARD, Kernels.TOWER_BACKWARD)) {
            assertTrue(kernels.get(k).bySpace().getOrDefault("ld.shared", 0) > 300, k + ": " + kernels.get(k).bySpace());
        }
    }

    @Test
    void theParserTellsTheStateSpaces() {
        String ptx = """
                .version 9.0
                .target sm_90
                .visible .entry k_kernel(
                \t.param .u64 k_kernel_param_0
                )
                {
                \tld.param.u64 \t%rd1, [k_kernel_param_0];
                \tld.shared.v4.f32 \t{%f1, %f2, %f3, %f4}, [%r1];
                \t@%p1 ld.f32 \t%f5, [%rd2];
                \tld.global.nc.f32 \t%f6, [%rd3];
                \tst.shared::cluster.f32 \t[%r2], %f6;
                \tst.v4.f32 \t[%rd4], {%f1, %f2, %f3, %f4};
                \tatom.global.add.f32 \t%f7, [%rd5], %f1;
                \tldmatrix.sync.aligned.m8n8.x4.shared.b16 \t{%r3, %r4, %r5, %r6}, [%r7];
                }
                .func  (.param .b64 func_retval0) helper(
                )
                {
                \tld.f32 \t%f8, [%rd6];
                }
                """;
        Map<String, Accesses> k = parse(ptx);
        assertEquals(List.of("k_kernel"), List.copyOf(k.keySet()));
        assertEquals(Map.of("ld.param", 1, "ld.shared", 1, "ld.generic", 1, "ld.global", 1, "st.shared", 1, "st.generic", 1, "atom.global", 1),
                k.get("k_kernel").bySpace());
        assertEquals(2, k.get("k_kernel").generic());
    }

    /** Each entry's ld, st, atom and red instructions by state space (".generic" where none is named); .func bodies are nobody's. */
    static Map<String, Accesses> parse(String ptx) {
        Pattern entry = Pattern.compile("^(?:\\.visible\\s+)?\\.entry\\s+(\\w+)\\s*\\(");
        Pattern func = Pattern.compile("^(?:\\.visible\\s+|\\.weak\\s+|\\.extern\\s+)?\\.func\\b");
        Pattern access = Pattern.compile("^(?:@!?%\\w+\\s+)?(ld|st|atom|red)((?:\\.[\\w:]+)*)\\s");
        Map<String, Map<String, Integer>> counts = new TreeMap<>();
        Map<String, Integer> current = null;
        for (String raw : ptx.split("\n")) {
            String line = raw.strip();
            Matcher m = entry.matcher(line);
            if (m.find()) {
                current = counts.computeIfAbsent(m.group(1), k -> new TreeMap<>());
                continue;
            }
            if (func.matcher(line).find()) {
                current = null;
                continue;
            }
            if (current == null) continue;
            Matcher a = access.matcher(line);
            if (!a.find()) continue;
            String space = "generic";
            for (String q : a.group(2).split("\\.")) {
                String base = q.contains("::") ? q.substring(0, q.indexOf("::")) : q;
                if (base.equals("shared") || base.equals("global") || base.equals("local") || base.equals("param") || base.equals("const")) {
                    space = base;
                    break;
                }
            }
            current.merge(a.group(1) + "." + space, 1, Integer::sum);
        }
        Map<String, Accesses> out = new TreeMap<>();
        counts.forEach((k, v) -> out.put(k, new Accesses(v)));
        return out;
    }

    /** The build's PTX where it is newer than every source, else nvcc's for this test. */
    static String ptx() throws IOException, InterruptedException {
        Path nvcc = KernelResourcesTest.onPath("nvcc");
        Assumptions.assumeTrue(nvcc != null, "nvcc is not on the PATH");
        if (KernelResourcesTest.fresh(BUILD_PTX)) return Files.readString(BUILD_PTX);
        Path out = Files.createTempFile("augur", ".ptx");
        try {
            KernelResourcesTest.nvcc(nvcc, out, "-ptx", "-arch=compute_" + PTX_ARCH);
            return Files.readString(out);
        } finally {
            Files.deleteIfExists(out);
        }
    }
}
