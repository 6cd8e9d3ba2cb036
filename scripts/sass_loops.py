#!/usr/bin/env python3
"""The inner loops of Augur's kernels as the GPU runs them (SASS), counted without a GPU.

    scripts/sass_loops.py [--arch 90] [--cubin FILE] [--min-ffma 16] KERNEL [KERNEL ...]

Compiles cuda/augur.cu to a cubin for sm_<arch> with the flags of CMakeLists.txt (or reads --cubin),
disassembles it with nvdisasm and prints, for each named kernel, its instruction count and every loop
(the innermost ranges of a backward branch and the instructions it jumps over) with at least --min-ffma FFMAs, or any
tensor-core product (HMMA, the TF32 kernels'): the loop's
instructions, its FFMAs and its commonest opcodes. A product's loop is the place to see what a change
costs per multiply-add before a device measures it: on sm_90 the activation unit's scalar 4 x 4 tiles
take 131 to 151 instructions for 4 k steps (64 FFMAs), its vector tiles 83 to 102
(docs/perf/README.md, nineteenth session). Static counts, not timings.

nvdisasm: the CUDA 13 toolkit here has none. NVDISASM names one; Debian's nvidia-cuda-toolkit
(11.8, in bookworm's non-free component: `apt-get download nvidia-cuda-toolkit && dpkg -x ...`)
ships one that still decodes sm_90 code but not CUDA 13's cubin header, so this script writes a copy
of the cubin with the header in the older form (ELF ABI version 7, e_flags = sm | sm << 16 | 64-bit
addresses) for it: the instructions are untouched.
"""
import argparse
import collections
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def compile_cubin(arch, out):
    nvcc = shutil.which("nvcc") or os.path.join(os.environ.get("CUDA_HOME", "/usr/local/cuda"), "bin", "nvcc")
    cmd = [nvcc, "-cubin", "-O3", "-std=c++17", "-lineinfo", f"-arch=sm_{arch}", "-o", out, os.path.join(ROOT, "cuda", "augur.cu")]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def old_header(cubin, out, arch):
    b = bytearray(open(cubin, "rb").read())
    if b[:4] != b"\x7fELF" or b[4] != 2:
        sys.exit(f"{cubin}: not a 64-bit ELF file")
    b[7] = 0x33   # the CUDA OS/ABI the older tools expect
    b[8] = 7      # ELF ABI version 7
    struct.pack_into("<I", b, 0x30, arch | (arch << 16) | 0x500)   # EF_CUDA_SM<arch>, virtual sm, 64-bit addresses
    open(out, "wb").write(b)


def kernels(sass):
    """{kernel name: [(address, instruction text)]} and {kernel: {label: address}} from nvdisasm -c output."""
    code, labels = collections.defaultdict(list), collections.defaultdict(dict)
    name, pending = None, []
    for line in sass.splitlines():
        m = re.match(r"//-+ \.text\.(\S+)\s+-+", line)
        if m:
            name, pending = m.group(1), []
            continue
        if name is None:
            continue
        m = re.match(r"\s*\.L_x_(\d+):", line)
        if m:
            pending.append(m.group(1))
            continue
        m = re.match(r"\s*/\*([0-9a-f]+)\*/\s+(.*?)\s*;", line)
        if m:
            addr = int(m.group(1), 16)
            for label in pending:
                labels[name][label] = addr
            pending = []
            code[name].append((addr, m.group(2)))
    return code, labels


def opcode(text):
    words = text.split()
    op = words[1] if words[0].startswith("@") and len(words) > 1 else words[0]
    return op.split(".")[0]


def loops(code, labels):
    """The innermost loops: (first address, opcode counts) of each backward branch's range that holds no other."""
    ranges = []
    for addr, text in code:
        m = re.search(r"BRA\b.*\.L_x_(\d+)", text)
        if m and m.group(1) in labels and labels[m.group(1)] <= addr:
            ranges.append((labels[m.group(1)], addr))
    out = []
    for start, end in ranges:
        if any(start <= s and e <= end and (s, e) != (start, end) for s, e in ranges):
            continue
        out.append((start, collections.Counter(opcode(t) for a, t in code if start <= a <= end)))
    return out


def disassemble(cubin, arch, *flags):
    """nvdisasm -c FLAGS of `cubin` (None: cuda/augur.cu compiled here for sm_<arch>), as text."""
    nvdisasm = os.environ.get("NVDISASM") or shutil.which("nvdisasm")
    if not nvdisasm:
        sys.exit("no nvdisasm: set NVDISASM (see scripts/sass_loops.py's header for where to get one)")
    with tempfile.TemporaryDirectory() as tmp:
        if cubin is None:
            cubin = os.path.join(tmp, "augur.cubin")
            compile_cubin(arch, cubin)
        readable = os.path.join(tmp, "old-header.cubin")
        old_header(cubin, readable, arch)
        return subprocess.run([nvdisasm, "-c", *flags, readable], check=True, capture_output=True, text=True).stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("kernels", nargs="+")
    ap.add_argument("--arch", type=int, default=90)
    ap.add_argument("--cubin", help="a cubin to read instead of compiling cuda/augur.cu")
    ap.add_argument("--min-ffma", type=int, default=16)
    args = ap.parse_args()
    code, labels = kernels(disassemble(args.cubin, args.arch))
    for k in args.kernels:
        if k not in code:
            sys.exit(f"{k}: no such kernel in the cubin")
        print(f"{k}: {len(code[k])} instructions")
        for start, ops in sorted(loops(code[k], labels[k]), key=lambda l: (-l[1]["FFMA"], sum(l[1].values()))):
            if ops["FFMA"] >= args.min_ffma or ops["HMMA"] > 0:   # fp32 FMAs, or tensor-core products (TF32: HMMA.1684.F32.TF32)
                common = ", ".join(f"{op} {n}" for op, n in ops.most_common(6))
                mma = f", {ops['HMMA']} HMMA" if ops["HMMA"] else ""
                print(f"  loop at {start:#07x}: {sum(ops.values())} instructions, {ops['FFMA']} FFMA{mma} ({common})")


if __name__ == "__main__":
    main()
