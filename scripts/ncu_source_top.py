#!/usr/bin/env python3
"""Summarises Nsight Compute's source page (SASS) per kernel: where the warp-state samples fall.

    ncu --import augur-ncu.ncu-rep --page source --csv --print-source sass > ncu-source.csv
    scripts/ncu_source_top.py ncu-source.csv [--top 25]

The page is one table per profiled launch; a table starts with a header row that names the
instruction columns ("Address", "Source") and the sampling columns ("Warp Stall Sampling (All
Samples)", "... (Not-issued Samples)"). Lines that are not part of a table (a launch's title) name
the kernel of the table that follows. For each table this prints the samples in all, the share of
the top instructions (address, opcode, samples, share), and the samples by opcode (the first word
of the instruction without its predicate and modifiers: BAR, LDS, LDG, FFMA, ...), so a barrier's or
a load's waits stand out. profile.sh (NCU_SOURCE=1) writes both files; gpu-sweep.sh's ncu part
asks for it on the activation unit's and the fused tower's kernels.
"""
import argparse
import csv
import io
import re
import sys
from collections import Counter

SAMPLE_ALL = re.compile(r"warp stall sampling \(all", re.I)
SAMPLE_NOT_ISSUED = re.compile(r"warp stall sampling \(not", re.I)


def number(s):
    s = (s or "").replace(",", "").strip()
    try:
        return float(s)
    except ValueError:
        return 0.0


def opcode(source):
    """FFMA from '@!P0 FFMA R1, R2, R3, R4 ;', BAR from 'BAR.SYNC.DEFER_BLOCKING 0x0 ;'."""
    words = source.strip().split()
    if words and words[0].startswith("@"):
        words = words[1:]
    return words[0].split(".")[0] if words else "?"


def tables(lines):
    """(title, header, rows) for each table of the page."""
    title, header, rows = "", None, []
    for line in lines:
        if not line.strip():
            continue
        cells = next(csv.reader(io.StringIO(line)))
        is_header = any(c.strip().lower() == "source" for c in cells) and any("address" in c.lower() for c in cells)
        if is_header:
            if header is not None:
                yield title, header, rows
            header, rows = cells, []
            continue
        if header is not None and len(cells) == len(header):
            rows.append(cells)
            continue
        if header is not None:  # a line outside the table: the next launch's title
            yield title, header, rows
            header, rows = None, []
        title = line.strip().strip('"')
    if header is not None:
        yield title, header, rows


def summarise(title, header, rows, top, out):
    low = [h.lower() for h in header]
    src = next(i for i, h in enumerate(low) if h.strip() == "source")
    addr = next(i for i, h in enumerate(low) if "address" in h)
    alls = [i for i, h in enumerate(header) if SAMPLE_ALL.search(h)]
    nots = [i for i, h in enumerate(header) if SAMPLE_NOT_ISSUED.search(h)]
    print(f"== {title or '(a launch)'}: {len(rows)} instructions", file=out)
    if not alls:
        print("   no 'Warp Stall Sampling (All Samples)' column; the columns are: " + "; ".join(header), file=out)
        return
    a = alls[0]
    n = nots[0] if nots else None
    total = sum(number(r[a]) for r in rows)
    if total <= 0:
        print("   no samples", file=out)
        return
    print(f"   samples: {total:,.0f}" + (f" (not issued: {sum(number(r[n]) for r in rows):,.0f})" if n is not None else ""), file=out)
    by_op = Counter()
    for r in rows:
        by_op[opcode(r[src])] += number(r[a])
    print("   by opcode: " + ", ".join(f"{op} {100 * v / total:.1f}%" for op, v in by_op.most_common(12)), file=out)
    ranked = sorted(rows, key=lambda r: -number(r[a]))[:top]
    print(f"   {'address':>10}  {'samples':>9} {'share':>6}  instruction", file=out)
    for r in ranked:
        print(f"   {r[addr].strip():>10}  {number(r[a]):9,.0f} {100 * number(r[a]) / total:5.1f}%  {r[src].strip()}", file=out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv")
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args(argv)
    with open(args.csv, newline="", errors="replace") as f:
        lines = f.read().splitlines()
    found = 0
    for title, header, rows in tables(lines):
        summarise(title, header, rows, args.top, sys.stdout)
        found += 1
    if found == 0:
        print(f"{args.csv}: no table with 'Address' and 'Source' columns (the first lines follow)", file=sys.stdout)
        for line in lines[:10]:
            print("   " + line[:200], file=sys.stdout)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
