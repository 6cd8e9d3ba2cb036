#!/usr/bin/env python3
"""Nsight Compute's warp samples per SASS instruction, added up per line of Augur's CUDA source.

    scripts/ncu_source_lines.py NCU_SOURCE_CSV [--section N ...] [--cubin FILE] [--arch 90] [--top 25] [--stalls K]

NCU_SOURCE_CSV is profile.sh's ncu-source.csv (NCU_SOURCE=1: `ncu --page source --csv --print-source sass`,
one section per profiled launch, each headed by its kernel's name). The device has no nvdisasm, so the lines
are put back here: the kernel's SASS from a -lineinfo cubin of the same source (compiled with
CMakeLists.txt's flags, as scripts/sass_loops.py does, or --cubin), matched to the CSV's rows by offset from the
kernel's first instruction (not by position: nvdisasm 11.8 leaves out sm_90 instructions it does not know,
VIADDMNMX for one). The source must be the one the profiled bundle was built from (git checkout its commit).

With --stage FILE:FIRST-LAST each instruction is charged instead to the line of that range it was inlined from
(nvdisasm -gi's inline chains): per stage of one function, such as backward_tiles' copies, products and barriers.
2026-11-26 (forty-first session): 19.5% of the unit backward's samples at batch 2048 in its recomputation of the MLP.

For each section (or those given): per source line (file, line), its warp samples, the share of them stalled
for want of an instruction (stall_no_inst: code fetched as the warps reach it, code run once a launch), and how
many distinct instructions of the line ran at all; with --stalls K, its K largest stall reasons too.
2026-11-26: half the top tower backward's samples at batch 2048 fell on sum_in_four's unrolled copies, most of
them stall_no_inst (docs/perf/README.md, thirty-seventh session). Standard library only, but for nvcc and an
nvdisasm (NVDISASM; see sass_loops.py's header).
"""
import argparse
import collections
import csv
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sass_loops import disassemble  # noqa: E402


def sections(path):
    """[(kernel name, [row dict])] of an ncu source CSV, one per profiled launch."""
    out = []
    with open(path, newline="") as f:
        lines = f.read().splitlines()
    chunk, name = [], None
    for line in lines + [None]:
        if line is None or line.startswith('"Kernel Name"'):
            if name is not None:
                rows = list(csv.reader(chunk))
                if rows:
                    header = rows[0]
                    out.append((name, [dict(zip(header, r)) for r in rows[1:] if len(r) == len(header)]))
            if line is None:
                break
            name = next(csv.reader([line]))[1]
            chunk = []
        else:
            chunk.append(line)
    return out


def sass_lines(sass):
    """{kernel: {offset: (file, line)}} from `nvdisasm -c -g` output."""
    out = collections.defaultdict(dict)
    name, where = None, None
    for line in sass.splitlines():
        m = re.match(r"//-+ \.text\.(\S+)\s+-+", line)
        if m:
            name, where = m.group(1), None
            continue
        if name is None:
            continue
        m = re.match(r'\s*//## File "([^"]+)", line (\d+)', line)
        if m:
            where = (os.path.basename(m.group(1)), int(m.group(2)))
            continue
        m = re.match(r"\s*/\*([0-9a-f]+)\*/\s+(.*?)\s*;", line)
        if m:
            out[name][int(m.group(1), 16)] = where
    return out


def sass_stages(sass, file, lo, hi):
    """{kernel: {offset: (file, line)}} from `nvdisasm -c -gi` output, each instruction charged to the outermost line of
    `file` in [lo, hi] on its inline chain (the call site in the function those lines hold: which stage of it the
    instruction was inlined into), else to its own line. nvdisasm writes a chain as consecutive //## lines, innermost
    first, each "File F, line L inlined at G, line M"."""
    out = collections.defaultdict(dict)
    name, where, chain, in_chain = None, None, [], False
    for line in sass.splitlines():
        m = re.match(r"//-+ \.text\.(\S+)\s+-+", line)
        if m:
            name, where, chain, in_chain = m.group(1), None, [], False
            continue
        if name is None:
            continue
        if re.match(r"\s*//## File ", line):
            if not in_chain:
                chain = []
            in_chain = True
            chain += [(os.path.basename(f), int(n)) for f, n in re.findall(r'"([^"]+)", line (\d+)', line)]
            inside = [c for c in chain if c[0] == file and lo <= c[1] <= hi]
            where = inside[-1] if inside else chain[0]
            continue
        in_chain = False
        m = re.match(r"\s*/\*([0-9a-f]+)\*/\s+(.*?)\s*;", line)
        if m:
            out[name][int(m.group(1), 16)] = where
    return out


def number(s):
    try:
        return int(s.replace(",", "")) if s else 0
    except ValueError:
        return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("csv")
    ap.add_argument("--section", type=int, action="append", help="a section's number (0 first); default: all")
    ap.add_argument("--cubin", help="a -lineinfo cubin to read instead of compiling cuda/augur.cu")
    ap.add_argument("--arch", type=int, default=90)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--stalls", type=int, default=0, metavar="K",
                    help="also print each line's K largest stall reasons (of all its samples)")
    ap.add_argument("--stage", metavar="FILE:FIRST-LAST",
                    help="charge each instruction to its call site among lines FIRST to LAST of FILE (a kernel body's "
                         "function, e.g. activation_unit.cu:960-1330 for backward_tiles): what each of its stages costs")
    args = ap.parse_args()
    if args.stage:
        m = re.fullmatch(r"([^:]+):(\d+)-(\d+)", args.stage)
        if not m:
            sys.exit(f"--stage {args.stage}: expected FILE:FIRST-LAST, e.g. activation_unit.cu:960-1330")
        where = sass_stages(disassemble(args.cubin, args.arch, "-gi"), os.path.basename(m.group(1)), int(m.group(2)), int(m.group(3)))
    else:
        where = sass_lines(disassemble(args.cubin, args.arch, "-g"))
    for i, (kernel, rows) in enumerate(sections(args.csv)):
        if args.section and i not in args.section:
            continue
        if kernel not in where:
            print(f"== section {i}: {kernel}: not in the cubin (another build?)")
            continue
        base = int(rows[0]["Address"], 16)
        samples, no_inst, ran = collections.Counter(), collections.Counter(), collections.Counter()
        stalls = collections.defaultdict(collections.Counter)
        reasons = [k for k in rows[0] if k.startswith("stall_") and not k.endswith("(Not Issued)")]
        matched = 0
        for r in rows:
            w = where[kernel].get(int(r["Address"], 16) - base)
            if w is None:
                continue
            matched += 1
            samples[w] += number(r.get("Warp Stall Sampling (All Samples)"))
            no_inst[w] += number(r.get("stall_no_inst"))
            ran[w] += number(r.get("Instructions Executed")) > 0
            for k in reasons if args.stalls else ():
                stalls[w][k[len("stall_"):]] += number(r.get(k))
        total = sum(samples.values()) or 1
        print(f"== section {i}: {kernel}: {len(rows)} instructions in the CSV, {matched} matched, "
              f"{total} samples, {100 * sum(no_inst.values()) / total:.0f}% stall_no_inst")
        for w, n in samples.most_common(args.top):
            print(f"  {w[0]}:{w[1]:<5d} {n:6d} samples ({100 * n / total:4.1f}%), no_inst {no_inst[w]:5d}, "
                  f"{ran[w]:4d} distinct instructions run"
                  + "".join(f", {k} {v}" for k, v in stalls[w].most_common(args.stalls) if v))


if __name__ == "__main__":
    main()
