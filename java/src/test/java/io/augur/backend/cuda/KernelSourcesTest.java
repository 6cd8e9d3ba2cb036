package io.augur.backend.cuda;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Java launcher and the CUDA sources agree, checked without a GPU: every kernel named in
 * {@link Kernels} is defined in cuda/ and included by cuda/augur.cu (and the reverse); the
 * status bits and COL_ROWS match common.cuh; {@link AttentionArgs} matches the struct's fields;
 * and, where this build compiled the fatbin, every kernel's name is in it.
 */
class KernelSourcesTest {
    static final Path CUDA = Path.of("cuda");

    static String read(Path p) throws IOException { return Files.readString(p, StandardCharsets.UTF_8); }

    @Test
    void everyKernelIsDefinedIncludedAndListed() throws IOException {
        Set<String> defined = new TreeSet<>();
        Pattern kernel = Pattern.compile("AUGUR_KERNEL\\s+void\\s+(?:__launch_bounds__\\([^)]*\\)\\s+)?(?:AUGUR_CLUSTER\\(\\d+\\)\\s+)?(\\w+)\\s*\\(");
        String unity = read(CUDA.resolve("augur.cu"));
        try (Stream<Path> files = Files.list(CUDA)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".cu") && !p.endsWith("augur.cu")).toList()) {
                assertTrue(unity.contains("#include \"" + f.getFileName() + "\""), "cuda/augur.cu does not include " + f.getFileName());
                Matcher m = kernel.matcher(read(f));
                while (m.find()) defined.add(m.group(1));
            }
        }
        assertEquals(new TreeSet<>(Kernels.ALL), defined, "Kernels.ALL and the kernels defined in cuda/*.cu");
        assertEquals(Kernels.ALL.size(), Set.copyOf(Kernels.ALL).size(), "a kernel listed twice");
    }

    @Test
    void statusBitsAndColumnRowsMatchCommonHeader() throws IOException {
        String h = read(CUDA.resolve("common.cuh"));
        assertEquals(DeviceStatus.BAD_ID, define(h, "AUGUR_STATUS_BAD_ID"));
        assertEquals(DeviceStatus.BAD_LENGTH, define(h, "AUGUR_STATUS_BAD_LENGTH"));
        assertEquals(DeviceStatus.SPARSE_OVERFLOW, define(h, "AUGUR_STATUS_SPARSE_OVERFLOW"));
        assertEquals(DeviceStatus.NONFINITE_GRAD, define(h, "AUGUR_STATUS_NONFINITE_GRAD"));
        Matcher m = Pattern.compile("constexpr int COL_ROWS = (\\d+);").matcher(h);
        assertTrue(m.find());
        assertEquals(Kernels.COL_ROWS, Integer.parseInt(m.group(1)));
        Matcher s = Pattern.compile("constexpr int FIXED_SHIFT = (\\d+);").matcher(read(CUDA.resolve("sparse_grad.cuh")));
        assertTrue(s.find());
        assertEquals(CudaSparseGrad.FIXED_SCALE, Math.scalb(1.0, Integer.parseInt(s.group(1))));
        Matcher g = Pattern.compile("constexpr int REDUCE_GROUPS = (\\d+);").matcher(read(CUDA.resolve("activation_unit.cu")));
        assertTrue(g.find());
        assertEquals(CudaBackend.ATT_REDUCE_GROUPS, Integer.parseInt(g.group(1)), "activation_unit_reduce_kernel's block rows");
        Matcher t = Pattern.compile("constexpr int MAX_THREADS = (\\d+);").matcher(read(CUDA.resolve("activation_unit.cu")));
        assertTrue(t.find());
        assertTrue(KernelTuning.MAX_ATTENTION_THREADS <= Integer.parseInt(t.group(1)) && KernelTuning.MAX_ATTENTION_THREADS % 32 == 0,
                "the backward's item count runs one per thread of at most MAX_THREADS, whole warps");
        Matcher pool = Pattern.compile("constexpr int POOL_MAX_THREADS = (\\d+);").matcher(read(CUDA.resolve("activation_unit.cu")));
        assertTrue(pool.find());
        assertTrue(CudaBackend.ATT_POOL_THREADS <= Integer.parseInt(pool.group(1)), "activation_unit_pool_forward_kernel's partial sums, one per thread");
        // the list launches' blocks as the kernels take them: a warp's rows of a lookup (32 GATHER_BATCH / D), a sparse update's elements
        Matcher batch = Pattern.compile("constexpr int GATHER_BATCH = (\\d+);").matcher(read(CUDA.resolve("embedding.cu")));
        assertTrue(batch.find());
        assertEquals(GatherListArgs.BATCH, Integer.parseInt(batch.group(1)), "the lookups' elements a lane a round");
        assertTrue(read(CUDA.resolve("embedding.cu")).contains("return min(32, max(1, 32 * GATHER_BATCH / D));"),
                "gather_warp_rows as GatherListArgs.warpRows reckons it");
        Matcher chunk = Pattern.compile("constexpr int SPARSE_CHUNK = (\\d+);").matcher(read(CUDA.resolve("sparse_update.cu")));
        assertTrue(chunk.find());
        assertEquals(SparseUpdateListArgs.CHUNK, Integer.parseInt(chunk.group(1)), "a sparse update block's elements");
    }

    private static int define(String h, String name) {
        Matcher m = Pattern.compile("#define " + name + " (\\d+)").matcher(h);
        assertTrue(m.find(), name + " not in common.cuh");
        return Integer.parseInt(m.group(1));
    }

    @Test
    void attentionArgsMatchTheStruct() throws IOException {
        String src = read(CUDA.resolve("activation_unit.cu"));
        int start = src.indexOf("struct AttentionArgs {"), end = src.indexOf("};", start);
        assertTrue(start >= 0 && end > start);
        List<String> pointers = new ArrayList<>(), ints = new ArrayList<>();
        Matcher ptr = Pattern.compile("^\\s*(?:const\\s+)?(?:float|int)\\*\\s+(\\w+);", Pattern.MULTILINE).matcher(src.substring(start, end));
        while (ptr.find()) pointers.add(ptr.group(1));
        Matcher in = Pattern.compile("^\\s*int\\s+([\\w, ]+);", Pattern.MULTILINE).matcher(src.substring(start, end));
        while (in.find()) for (String n : in.group(1).split(",")) ints.add(n.trim());
        assertEquals(Stream.of(AttentionArgs.Ptr.values()).map(p -> p.name().toLowerCase()).toList(), pointers);
        assertEquals(Stream.of(AttentionArgs.Int.values()).map(p -> p.name().toLowerCase()).toList(), ints.stream().map(String::toLowerCase).toList());
        assertEquals(344, AttentionArgs.BYTES, "36 pointers + 14 ints");
        AttentionArgs a = new AttentionArgs().set(AttentionArgs.Ptr.G_B3, 0x1234_5678_9abcL).set(AttentionArgs.Int.LOCAL, 7)
                .set(AttentionArgs.Ptr.TILES, 0x42L).set(AttentionArgs.Ptr.WEIGHTS, 0x43L).set(AttentionArgs.Ptr.S, 0x44L).set(AttentionArgs.Ptr.OUT, 0x45L).set(AttentionArgs.Int.B, 9)
                .set(AttentionArgs.Int.SOFTMAX, 1).set(AttentionArgs.Int.D_OUT_STRIDE, 11).set(AttentionArgs.Ptr.HIDDEN2, 0x46L);
        assertEquals(0x1234_5678_9abcL, a.buffer().getLong(8 * 28));
        assertEquals(0x42L, a.buffer().getLong(8 * 6));
        assertEquals(0x43L, a.buffer().getLong(8 * 30));
        assertEquals(0x44L, a.buffer().getLong(8 * 32));
        assertEquals(0x45L, a.buffer().getLong(8 * 33));
        assertEquals(0x46L, a.buffer().getLong(8 * 35));
        assertEquals(9, a.buffer().getInt(8 * 36));
        assertEquals(7, a.buffer().getInt(8 * 36 + 4 * 8));
        assertEquals(1, a.buffer().getInt(8 * 36 + 4 * 9));
        assertEquals(11, a.buffer().getInt(8 * 36 + 4 * 10));
    }

    @Test
    void vectorTilesWhereTheWidthsAndWeightsAllowThem() {
        assertTrue(CudaBackend.attentionVectorTiles(36, 80, 40, 0x7f0000000100L, 0x7f0000001230L));
        assertFalse(CudaBackend.attentionVectorTiles(13, 80, 40), "W off the tiles");
        assertFalse(CudaBackend.attentionVectorTiles(36, 21, 40), "h1 off the tiles");
        assertFalse(CudaBackend.attentionVectorTiles(36, 80, 6), "h2 off the tiles");
        assertFalse(CudaBackend.attentionVectorTiles(36, 80, 40, 0x7f0000000100L, 0x7f0000001238L), "a weight 8-byte aligned");
        assertEquals(Kernels.ACTIVATION_UNIT_FORWARD, CudaBackend.attentionForwardKernel(io.augur.backend.Precision.FP32, true, false));
        assertEquals(Kernels.ACTIVATION_UNIT_FORWARD_SCALAR, CudaBackend.attentionForwardKernel(io.augur.backend.Precision.FP32, false, false));
        assertEquals(Kernels.ACTIVATION_UNIT_FORWARD_SPLIT, CudaBackend.attentionForwardKernel(io.augur.backend.Precision.FP32, true, true));
        assertEquals(Kernels.ACTIVATION_UNIT_FORWARD_SCALAR_SPLIT, CudaBackend.attentionForwardKernel(io.augur.backend.Precision.FP32, false, true));
        assertEquals(Kernels.ACTIVATION_UNIT_FORWARD_TF32, CudaBackend.attentionForwardKernel(io.augur.backend.Precision.TF32, true, true));
        assertEquals(Kernels.ACTIVATION_UNIT_FORWARD_TF32, CudaBackend.attentionForwardKernel(io.augur.backend.Precision.TF32, true, false));
        assertEquals(Kernels.ACTIVATION_UNIT_BACKWARD_SCALAR_3BLOCKS, CudaBackend.attentionBackwardKernel(io.augur.backend.Precision.FP32, 3, false));
        assertEquals(Kernels.ACTIVATION_UNIT_BACKWARD, CudaBackend.attentionBackwardKernel(io.augur.backend.Precision.FP32, 2, true));
        assertEquals(Kernels.ACTIVATION_UNIT_BACKWARD_TF32_3BLOCKS, CudaBackend.attentionBackwardKernel(io.augur.backend.Precision.TF32, 3, false));
        assertEquals(Kernels.ACTIVATION_UNIT_FORWARD_TF32X3, CudaBackend.attentionForwardKernel(io.augur.backend.Precision.TF32X3, true, false));
        assertEquals(Kernels.ACTIVATION_UNIT_BACKWARD_TF32X3, CudaBackend.attentionBackwardKernel(io.augur.backend.Precision.TF32X3, 2, true));
        assertEquals(Kernels.ACTIVATION_UNIT_BACKWARD_TF32X3_3BLOCKS, CudaBackend.attentionBackwardKernel(io.augur.backend.Precision.TF32X3, 3, true));
    }

    @Test
    void sharedMemoryLayoutsOfTheAmazonConfig() {
        // DIN, Amazon config: W = E = 36, 80-40 (T does not matter: a block holds one tile of positions)
        long fwd = AttentionArgs.forwardSharedBytes(36, 80, 40, 32);
        long bwd = AttentionArgs.backwardSharedBytes(36, 80, 40, 32);
        assertEquals(4 * (108 * 80 + 32 * (5 + 108 + 160 + 40)), fwd);   // M2 and Ma (3W rows), then 5 ints and R, Q (3W), A1, P (2 h1), A2 (h2) a row
        assertTrue(AttentionArgs.dr3InH1(36, 80), "dR3 (3W = 108 a row) fits where H1 and A1 were (160)");
        assertEquals(8 * 32 + 4 * 32 * (3 + 108 + 240 + 120), bwd);
        assertFalse(AttentionArgs.dr3InH1(36, 50));
        assertEquals(8 * 16 + 4 * 16 * (3 + 108 + 150 + 120 + 108), AttentionArgs.backwardSharedBytes(36, 50, 40, 16));
        // three forward blocks fit an H200 multiprocessor's 228 KB (with the static part and the 1 KB each block reserves),
        // as its 72 registers a thread allow
        assertTrue(3 * (fwd + 1168 + 1024) <= 228 * 1024, "" + fwd);
        // within the 48 KB every GPU gives without opting in: 11 rows beside M2's and Ma's 34,560 bytes
        assertEquals(11, AttentionArgs.rowsThatFit(false, 36, 80, 40, 32, 48 * 1024));
        assertEquals(3, AttentionArgs.rowsThatFit(true, 36, 80, 40, 16, AttentionArgs.backwardSharedBytes(36, 80, 40, 3) + 10));
        assertEquals(0, AttentionArgs.rowsThatFit(false, 36, 80, 40, 16, 100));
        // 12,121 floats rounded up to a multiple of 4, so that each block's slice starts 16-byte aligned
        assertEquals(3L * 36 * 80 + 2 * 80 + 80 * 40 + 3 * 40 + 1 + 3, AttentionArgs.partialFloats(36, 80, 40));
        // tiles of an odd row count: seg_dot's doubles rounded up to an even count, the rows' ints (5 forward, 3 backward) and
        // the partial gradients on chip to a multiple of 4 floats, so the products' operands start 16-byte aligned
        assertEquals(4 * (108 * 80 + 16 + 3 * (108 + 160 + 40)), AttentionArgs.forwardSharedBytes(36, 80, 40, 3));
        assertEquals(8 * 4 + 4 * 12 + 4 * 3 * (108 + 240 + 120), AttentionArgs.backwardSharedBytes(36, 80, 40, 3));
        assertEquals(8 * 4 + 4 * 12 + 4 * 3 * (108 + 240 + 120) + 4 * (12124 - 8640),
                AttentionArgs.backwardSharedBytes(36, 80, 40, 3, AttentionArgs.PARTIALS_CHIP_BUT_DM3));
        assertEquals(4 * 8 + 4 * 12 + 4 * 3 * (39 + 3 * 21 + 3 * 3) + 4 * (819 + 2 * 21 + 21 * 3 + 3 * 3 + 1 + 2),
                AttentionArgs.backwardSharedBytes(13, 21, 3, 3, AttentionArgs.PARTIALS_CHIP));
        // the backward's partial gradients on chip as well: within Ampere's and Hopper's opt-in (Turing's 64 KiB is too little)
        long local = AttentionArgs.backwardSharedBytes(36, 80, 40, 32, AttentionArgs.PARTIALS_CHIP);
        assertEquals(bwd + 4 * AttentionArgs.partialFloats(36, 80, 40), local);
        long split = AttentionArgs.backwardSharedBytes(36, 80, 40, 32, AttentionArgs.PARTIALS_CHIP_BUT_DM3);
        assertEquals(bwd + 4 * (AttentionArgs.partialFloats(36, 80, 40) - 3 * 36 * 80), split);
        assertEquals(bwd, AttentionArgs.backwardSharedBytes(36, 80, 40, 32, AttentionArgs.PARTIALS_GLOBAL));
        // where they go: the settings, then what fits (Hopper's 227 KB a block; Volta's 96 KB takes all but dM3; Turing's 64 none)
        long hopper = 227 * 1024 - CudaBackend.ATT_STATIC_SHARED, volta = 96 * 1024 - CudaBackend.ATT_STATIC_SHARED,
                turing = 64 * 1024 - CudaBackend.ATT_STATIC_SHARED;
        assertEquals(AttentionArgs.PARTIALS_CHIP, CudaBackend.attentionPartials(true, true, 36, 80, 40, 32, hopper));
        assertEquals(AttentionArgs.PARTIALS_CHIP_BUT_DM3, CudaBackend.attentionPartials(true, false, 36, 80, 40, 32, hopper));
        assertEquals(AttentionArgs.PARTIALS_GLOBAL, CudaBackend.attentionPartials(false, true, 36, 80, 40, 32, hopper));
        assertEquals(AttentionArgs.PARTIALS_CHIP_BUT_DM3, CudaBackend.attentionPartials(true, true, 36, 80, 40, 32, volta));
        assertEquals(AttentionArgs.PARTIALS_GLOBAL, CudaBackend.attentionPartials(true, true, 36, 80, 40, 32, turing));
        // by shared memory alone: two such backward blocks on an H200 multiprocessor (228 KB), three with the partials in
        // global memory (the occupancy calculator, which counts registers too, decides on a GPU)
        assertEquals(2, CudaBackend.attentionBlocksPerSm(0, 0, local, 228 * 1024));
        assertEquals(3, CudaBackend.attentionBlocksPerSm(0, 0, bwd, 228 * 1024));
        assertEquals(1, CudaBackend.attentionBlocksPerSm(1, 0, local, 228 * 1024));
        assertTrue(local > 96 * 1024 && local <= 227 * 1024, "" + local);
        assertEquals(4, AttentionArgs.tiles(100, 32));
        assertEquals(0, AttentionArgs.tiles(0, 32));
        assertEquals(1, AttentionArgs.tiles(16, 16));
    }

    /**
     * The packed fatbin holds an entry for each SASS target of CMakeLists.txt and the PTX one, and every kernel: named in
     * each entry nvcc left uncompressed, and where it compressed them all, in augur.ptx, the PTX it compiled into the
     * fatbin's PTX entry (nvcc 13 compresses entries by a rule of its own: it had left the sm_75 entry plain, and with
     * the kernels of 2026-11-26's thirty-ninth session it compressed all six; the compressed format is not published,
     * so the test reads names only where they are plain). The entries are read from the fatbin's headers: a 16-byte header (magic
     * 0xBA55ED50, its size, the entries' size), then per entry its kind (1 PTX, 2 ELF), header size, payload size, the
     * target at word 7 and flags at word 10 (0x8000: compressed), as the files nvcc writes lay them out.
     */
    @Test
    void theBuiltFatbinHoldsEveryKernel() throws IOException {
        byte[] fatbin = CudaProbe.readFatbin();
        org.junit.jupiter.api.Assumptions.assumeTrue(fatbin != null, "this build has no fatbin (no nvcc)");
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(fatbin).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        assertEquals(0xBA55ED50, b.getInt(0), "the fatbin's magic");
        int off = b.getShort(6) & 0xffff;
        long end = off + b.getLong(8);
        assertEquals(fatbin.length, end, "the fatbin's header says its size");
        Set<String> targets = new TreeSet<>();
        List<String> plain = new ArrayList<>();
        while (off < end) {
            int kind = b.getShort(off) & 0xffff, header = b.getInt(off + 4), arch = b.getInt(off + 28), flags = b.getInt(off + 40);
            long payload = b.getLong(off + 8);
            targets.add((kind == 1 ? "compute_" : "sm_") + arch);
            if ((flags & 0x8000) == 0) plain.add(new String(fatbin, off + header, (int) payload, StandardCharsets.ISO_8859_1));
            off += header + (int) payload;
        }
        String cmake = Files.readString(Path.of("CMakeLists.txt"));
        Matcher sass = Pattern.compile("set\\(AUGUR_SASS_ARCHS ([0-9 ]+) CACHE").matcher(cmake), ptx = Pattern.compile("set\\(AUGUR_PTX_ARCH ([0-9]+) CACHE").matcher(cmake);
        assertTrue(sass.find() && ptx.find(), "CMakeLists.txt names its targets");
        Set<String> want = new TreeSet<>();
        for (String a : sass.group(1).trim().split(" +")) want.add("sm_" + a);
        want.add("compute_" + ptx.group(1));
        assertEquals(want, targets, "the fatbin's entries");
        if (plain.isEmpty()) {
            org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(KernelPtxTest.BUILD_PTX), "every entry compressed, and no augur.ptx beside the fatbin");
            plain.add(Files.readString(KernelPtxTest.BUILD_PTX));
        }
        for (String entry : plain)
            for (String k : Kernels.ALL) assertTrue(entry.contains(k), k + " is not in an entry of cuda/augur.fatbin (or augur.ptx)");
    }
}
