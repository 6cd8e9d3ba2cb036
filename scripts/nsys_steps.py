#!/usr/bin/env python3
"""Where a replayed step's time goes on the GPU, from an Nsight Systems SQLite export (profile.sh
runs `nsys stats --force-export=true`, which leaves augur-nsys.sqlite beside the report):

    python3 scripts/nsys_steps.py augur-nsys.sqlite [--min-steps N] [--skip N]

nsys's kernel summary adds up each kernel's own duration; with programmatic dependent launch a
kernel starts while the one before it still runs and waits inside (griddepcontrol.wait), so those
durations overlap and their sum says little about the step. This takes the timeline instead. Every
graph replay (the kernels that share a cuGraphLaunch's correlation id) is one step; the replays
whose kernels run in the same order (one such sequence per graph: training at batch B, evaluation)
are lined up, the first --skip of them dropped as warm-up, and for each launch of the sequence it
prints the median over the steps of:

  start, end   its first block's start and its end, from the step's first kernel's start (us)
  dur          end - start
  gap          start - the previous launch's end (negative: it started early, under PDL)
  adds         end - the latest end before it: what the launch adds to the step's span, the part
               of the critical path that is its own (a chain of launches: the adds sum to the span)

and for the step: the span (first start to last end), the period (one replay's first start to the
next one's) and the GPU's idle time between replays (period - span), with the kernels and copies
that ran outside the graphs in those gaps (the batch's input copy, the host's reads).

Standard library only (sqlite3), so that it runs on the device machine. Columns are looked up by
name: nsys versions differ in what they export.
"""
import argparse
import sqlite3
import statistics
import sys
from collections import Counter, defaultdict


def columns(db, table):
    try:
        return {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
    except sqlite3.DatabaseError:
        return set()


def strings(db):
    return dict(db.execute("SELECT id, value FROM StringIds"))


def kernels(db, names):
    cols = columns(db, "CUPTI_ACTIVITY_KIND_KERNEL")
    if not cols:
        sys.exit("nsys_steps: no CUPTI_ACTIVITY_KIND_KERNEL table (was the run traced with --trace=cuda?)")
    name_col = "shortName" if "shortName" in cols else "demangledName"
    rows = db.execute(f"SELECT start, end, correlationId, {name_col} FROM CUPTI_ACTIVITY_KIND_KERNEL ORDER BY start").fetchall()
    return [(s, e, c, names.get(n, str(n))) for s, e, c, n in rows]


def copies(db):
    """(start, end, what) of every memcpy and memset: the host's reads between steps, the staging copies."""
    out = []
    kinds = {1: "HtoD", 2: "DtoH", 8: "DtoD", 10: "PtoP"}
    if "copyKind" in columns(db, "CUPTI_ACTIVITY_KIND_MEMCPY"):
        for s, e, k, b in db.execute("SELECT start, end, copyKind, bytes FROM CUPTI_ACTIVITY_KIND_MEMCPY"):
            out.append((s, e, f"[memcpy {kinds.get(k, k)} {b} B]"))
    if "start" in columns(db, "CUPTI_ACTIVITY_KIND_MEMSET"):
        for s, e in db.execute("SELECT start, end FROM CUPTI_ACTIVITY_KIND_MEMSET"):
            out.append((s, e, "[memset]"))
    return sorted(out)


def graph_launches(db, names):
    """Correlation ids of the cuGraphLaunch calls (driver or runtime API)."""
    cols = columns(db, "CUPTI_ACTIVITY_KIND_RUNTIME")
    if not {"correlationId", "nameId"} <= cols:
        return None
    ids = {i for i, v in names.items() if v.startswith("cuGraphLaunch") or v.startswith("cudaGraphLaunch")}
    if not ids:
        return set()
    marks = ",".join("?" * len(ids))
    return {c for (c,) in db.execute(f"SELECT correlationId FROM CUPTI_ACTIVITY_KIND_RUNTIME WHERE nameId IN ({marks})", list(ids))}


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def us(ns):
    return ns / 1000.0


def report(path, min_steps, skip, out):
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    names = strings(db)
    ks = kernels(db, names)
    launches = graph_launches(db, names)
    by_launch = defaultdict(list)
    outside = []
    for k in ks:
        if launches is None or k[2] in launches:
            by_launch[k[2]].append(k)
        else:
            outside.append(k)
    if launches is None:
        print("nsys_steps: no API table with correlation ids: every kernel taken as part of a graph", file=out)
    # a replay: its kernels by start; with --cuda-graph-trace=graph a replay is one record with no kernels of its own
    replays = sorted((sorted(v) for v in by_launch.values() if len(v) > 1), key=lambda r: r[0][0])
    if not replays:
        print("nsys_steps: no graph replay with more than one kernel (was the run traced with --cuda-graph-trace=node?)", file=out)
        return 1
    order = Counter(tuple(k[3] for k in r) for r in replays)
    others = sorted(outside + [(s, e, None, w) for s, e, w in copies(db)])
    # each replay's first start -> the next replay's (of any graph): the GPU's gap between the two
    nexts = {r[0][0]: replays[i + 1][0][0] for i, r in enumerate(replays[:-1])}
    shown = 0
    for seq, count in order.most_common():
        steps = [r for r in replays if tuple(k[3] for k in r) == seq][skip:]
        if len(steps) < min_steps:
            continue
        shown += 1
        spans, periods, idles = [], [], []
        cols = [defaultdict(list) for _ in seq]
        between = defaultdict(list)
        for r in steps:
            t0 = r[0][0]
            span = max(k[1] for k in r) - t0
            spans.append(span)
            nxt = nexts.get(t0)
            if nxt is not None:
                periods.append(nxt - t0)
                idles.append(nxt - t0 - span)
                # the work outside the graphs from this replay's end to the next one's start (by start time)
                end = max(k[1] for k in r)
                for s, e, _, w in others:
                    if end <= s < nxt:
                        between[w].append(e - s)
            latest = None
            prev_end = None
            for i, (s, e, _, _) in enumerate(r):
                c = cols[i]
                c["start"].append(s - t0)
                c["end"].append(e - t0)
                c["dur"].append(e - s)
                c["gap"].append(s - prev_end if prev_end is not None else 0)
                c["adds"].append(e - latest if latest is not None else e - s)
                latest = e if latest is None else max(latest, e)
                prev_end = e
        print(f"graph: {len(seq)} kernels a replay, {count} replays ({len(steps)} after the first {skip})", file=out)
        line = (f"  span {us(med(spans)):.1f} us, period {us(med(periods)):.1f} us, "
                f"idle between replays {us(med(idles)):.1f} us (medians)")
        print(line, file=out)
        print(f"  {'#':>3}  {'kernel':<46} {'start':>8} {'end':>8} {'dur':>8} {'gap':>7} {'adds':>7}", file=out)
        total_adds = 0.0
        for i, name in enumerate(seq):
            c = cols[i]
            a = med(c["adds"])
            total_adds += a
            print(f"  {i:>3}  {name[:46]:<46} {us(med(c['start'])):8.1f} {us(med(c['end'])):8.1f} {us(med(c['dur'])):8.1f} "
                  f"{us(med(c['gap'])):7.1f} {us(a):7.1f}", file=out)
        print(f"  the adds' medians sum to {us(total_adds):.1f} us (the span's median {us(med(spans)):.1f})", file=out)
        if between:
            print("  outside the graphs between a replay and the next (median duration, count a step):", file=out)
            for w, ds in sorted(between.items(), key=lambda x: -sum(x[1])):
                print(f"    {w[:60]:<60} {us(med(ds)):7.1f} us  x{len(ds) / max(1, len(periods)):.2f}", file=out)
        print(file=out)
    if shown == 0:
        print(f"nsys_steps: no graph ran at least {min_steps} times after the first {skip}", file=out)
        return 1
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("sqlite")
    p.add_argument("--min-steps", type=int, default=20, help="graphs replayed fewer times (after --skip) are left out (20)")
    p.add_argument("--skip", type=int, default=10, help="replays of each graph dropped first, as warm-up (10)")
    a = p.parse_args()
    sys.exit(report(a.sqlite, a.min_steps, a.skip, sys.stdout))


if __name__ == "__main__":
    main()
