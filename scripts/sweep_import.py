#!/usr/bin/env python3
"""Files what device calls of scripts/gpu-sweep.sh brought back into docs/perf/, under the names
docs/perf/README.md uses, so that a device session's bookkeeping is one command:

    python3 scripts/sweep_import.py FOLDER [FOLDER ...] [--date YYYY-MM-DD] [--tuning FILE] [--report]

Each FOLDER is one call's $OUT as it came back (the device tool's files_at): summary.txt,
sweep.tar.xz and, from the autotune and tf32 parts, tuning.json. Given in call order. From each
sweep.tar.xz it files:

  gc/bench-<label>.json            <date>-cuda-<label>.json          (din, base, dien, din-eager)
  autotune/, tf32/ bench-<label>   <date>-cuda-<label>.json          (din-autotune, din-tf32, ...)
  v<i>/bench-din.json              <date>-cuda-din-<variant>.json    (variant.txt's JVM option,
                                                                      e.g. attention.fused-off)
  torch/torch-<model>-<mode>.json  <date>-cuda-torch-<model>-<mode>.json
  gc/env.txt                       <date>-cuda-gpu-check.txt         (nvidia-smi, build, augur info,
                                                                      every command and its log)
  nsys-<model><B>/nsys-stats.txt   <date>-cuda-nsys-<model>-b<B>.txt
  nsys-<model><B>/nsys-steps.txt   <date>-cuda-nsys-steps-<model>-b<B>.txt  (the replayed steps'
                                                                      timeline, nsys_steps.py)
  ncu<B>/profile.log (CSV rows)    <date>-cuda-ncu-din-b<B>.csv
  ncu<B>/ncu-details.txt           <date>-cuda-ncu-din-b<B>-details.txt  (each kernel's launch
                                                                      statistics, occupancy, carveout)
  ncu-unit<B>/ncu-details.txt      <date>-cuda-ncu-unit-b<B>.txt     (the unit's kernels, every
                                                                      section: 128 and 2048)
  ncu-tower<B>/ncu-details.txt     <date>-cuda-ncu-tower-b<B>.txt    (the fused tower's: 2048, and
                                                                      128 in clusters of 8)
  ncu-tower-warm<B>/ncu-details.txt <date>-cuda-ncu-tower-warm-b<B>.txt  (the same launches, caches
                                                                      not flushed: NCU_CACHE=none)
  ncu-<what><B>/ncu-source-top.txt <date>-cuda-ncu-<what>-b<B>-source.txt  (warp samples per SASS
                                                                      instruction, ncu_source_top.py)
  summary.txt (the folder's)       <date>-cuda-sweep-<k>.txt         (k: the call's place)

and the last folder's tuning.json (each call starts from the one before, so the last holds every
choice) to --tuning (default: the table shipped in the jar,
java/src/main/resources/io/augur/backend/cuda/tuning.json; --tuning none leaves it).

A record that is not JSON, was not made on a GPU (its device not cuda, or the CPU emulator), or
holds no result with samples/s, is left out and named. A target
that exists with other content is refused unless --force; one with the same content is skipped.
The date defaults to the UTC day of the first record's "date". --dry-run prints the plan only;
--report runs scripts/perf_report.py afterwards (the page beside the
records' folder: docs/PERFORMANCE.md). Standard library only.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tarfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TUNING = os.path.join(ROOT, "java", "src", "main", "resources", "io", "augur", "backend", "cuda", "tuning.json")


def variant_slug(option):
    """'-Daugur.attention.fused=off' -> 'attention.fused-off'."""
    o = option.strip()
    o = re.sub(r"^-D(augur\.)?", "", o)
    o = o.replace("=", "-")
    o = re.sub(r"[^A-Za-z0-9.\-]+", "_", o).strip("_")
    if not o:
        raise ValueError(f"variant option {option!r} gives no name")
    return o


def record_ok(data):
    """Why a bench or torch record should not be filed, or None."""
    try:
        rec = json.loads(data)
    except ValueError as e:
        return None, f"not JSON ({e})"
    if not isinstance(rec, dict):
        return None, "not a record (a JSON object)"
    if rec.get("device") != "cuda":
        return rec, f"device {rec.get('device')!r}, not cuda (a trial without a GPU?)"
    if "emulator" in str(rec.get("backend", "")):
        return rec, "ran on the CPU emulator of the CUDA driver, not a GPU"
    results = rec.get("results") or []
    if not any(isinstance(r, dict) and r.get("train_samples_per_s") for r in results):
        return rec, "no result with samples/s"
    return rec, None


class Plan:
    def __init__(self):
        self.files = []    # (target name, bytes, source description)
        self.left_out = []  # (source description, reason)
        self.dates = []

    def add(self, name, data, source):
        for n, d, s in self.files:
            if n == name:
                if d == data:
                    return
                raise SystemExit(f"sweep_import: {source} and {s} would both be filed as {name}, with different content")
        self.files.append((name, data, source))

    def add_record(self, suffix, data, source):
        rec, why = record_ok(data)
        if why is not None:
            self.left_out.append((source, why))
            return
        if rec.get("date"):
            self.dates.append(str(rec["date"])[:10])
        self.add(suffix + ".json", data, source)


def read_sweep(folder, k, plan):
    tar_path = os.path.join(folder, "sweep.tar.xz")
    if not os.path.isfile(tar_path):
        raise SystemExit(f"sweep_import: {tar_path}: missing (expected one gpu-sweep.sh call's OUT folder)")
    try:
        tar = tarfile.open(tar_path, "r:xz")
    except (tarfile.TarError, OSError) as e:
        raise SystemExit(f"sweep_import: {tar_path}: cannot be read as .tar.xz ({e})")
    members = {}
    with tar:
        for m in tar.getmembers():
            if m.isfile():
                members[os.path.normpath(m.name)] = tar.extractfile(m).read()
    src = lambda name: f"{tar_path}:{name}"
    for name in sorted(members):
        data = members[name]
        parts = name.split(os.sep)
        if len(parts) != 2:
            continue
        top, base = parts
        m = re.fullmatch(r"bench-([A-Za-z0-9.\-]+)\.json", base)
        if m and (top in ("gc", "autotune", "tf32") or re.fullmatch(r"v\d+", top)):
            label = m.group(1)
            if re.fullmatch(r"v\d+", top):
                opt = members.get(os.path.join(top, "variant.txt"))
                if opt is None:
                    plan.left_out.append((src(name), "a variant's record without its variant.txt"))
                    continue
                label = f"{label}-{variant_slug(opt.decode())}"
            plan.add_record(f"cuda-{label}", data, src(name))
            continue
        m = re.fullmatch(r"torch-([a-z]+)-([a-z]+)\.json", base)
        if top == "torch" and m:
            plan.add_record(f"cuda-torch-{m.group(1)}-{m.group(2)}", data, src(name))
            continue
        if top == "gc" and base == "env.txt":
            plan.add("cuda-gpu-check.txt", data, src(name))
            continue
        m = re.fullmatch(r"nsys-([a-z]+)(\d+)", top)
        if m and base == "nsys-stats.txt":
            plan.add(f"cuda-nsys-{m.group(1)}-b{m.group(2)}.txt", data, src(name))
            continue
        if m and base == "nsys-steps.txt":
            plan.add(f"cuda-nsys-steps-{m.group(1)}-b{m.group(2)}.txt", data, src(name))
            continue
        m = re.fullmatch(r"ncu(\d+)", top)
        if m and base == "profile.log":
            rows = [l for l in data.decode(errors="replace").splitlines() if l.startswith('"')]
            if len(rows) > 1:
                head = (f"# ncu on one DIN training step at batch {m.group(1)} (gpu-sweep.sh's ncu part: profile.sh with "
                        f"SKIP_NSYS=1 NCU_SKIP=300 NCU_COUNT=30 NCU_SET=basic), from {os.path.basename(folder)}/sweep.tar.xz:{name}\n")
                plan.add(f"cuda-ncu-din-b{m.group(1)}.csv", (head + "\n".join(rows) + "\n").encode(), src(name))
            else:
                plan.left_out.append((src(name), "no CSV rows (ncu did not profile)"))
            continue
        if m and base == "ncu-details.txt":
            plan.add(f"cuda-ncu-din-b{m.group(1)}-details.txt", data, src(name))
            continue
        m = re.fullmatch(r"ncu-(unit|tower|tower-warm)(\d+)", top)
        if m and base == "ncu-details.txt":
            plan.add(f"cuda-ncu-{m.group(1)}-b{m.group(2)}.txt", data, src(name))
            continue
        if m and base == "ncu-source-top.txt":
            plan.add(f"cuda-ncu-{m.group(1)}-b{m.group(2)}-source.txt", data, src(name))
    summary = os.path.join(folder, "summary.txt")
    if os.path.isfile(summary):
        with open(summary, "rb") as f:
            plan.add(f"cuda-sweep-{k}.txt", f.read(), summary)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folders", nargs="+", help="gpu-sweep.sh calls' OUT folders, in call order")
    ap.add_argument("--date", help="the records' day, YYYY-MM-DD (default: the first record's UTC day)")
    ap.add_argument("--perf-dir", default=os.path.join(ROOT, "docs", "perf"))
    ap.add_argument("--tuning", default=TUNING, help="where the last folder's tuning.json goes ('none': nowhere)")
    ap.add_argument("--force", action="store_true", help="overwrite targets that exist with other content")
    ap.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")
    ap.add_argument("--report", action="store_true", help="run scripts/perf_report.py afterwards")
    args = ap.parse_args()

    plan = Plan()
    for k, folder in enumerate(args.folders, 1):
        if not os.path.isdir(folder):
            raise SystemExit(f"sweep_import: {folder}: not a folder (expected one gpu-sweep.sh call's OUT)")
        read_sweep(folder, k, plan)
    date = args.date or (min(plan.dates) if plan.dates else None)
    if date is None:
        raise SystemExit("sweep_import: no record with a date in these folders; give --date YYYY-MM-DD")
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
        raise SystemExit(f"sweep_import: --date {date!r}: expected YYYY-MM-DD")

    writes, refused = [], []
    for name, data, source in plan.files:
        target = os.path.join(args.perf_dir, f"{date}-{name}")
        if os.path.exists(target):
            with open(target, "rb") as f:
                if f.read() == data:
                    print(f"same as before: {target}")
                    continue
            if not args.force:
                refused.append(target)
                continue
        writes.append((target, data, source))
    tuning_src = os.path.join(args.folders[-1], "tuning.json")
    if args.tuning != "none" and os.path.isfile(tuning_src):
        with open(tuning_src, "rb") as f:
            t = f.read()
        try:
            json.loads(t)
        except ValueError as e:
            raise SystemExit(f"sweep_import: {tuning_src}: not JSON ({e}); not filed")
        writes.append((args.tuning, t, tuning_src))
    for source, why in plan.left_out:
        print(f"left out: {source}: {why}")
    if refused:
        raise SystemExit("sweep_import: these exist with other content (--force overwrites them):\n  " + "\n  ".join(refused))
    for target, data, source in writes:
        print(f"{'would file' if args.dry_run else 'filed'}: {target}  <- {source}")
        if not args.dry_run:
            os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
            with open(target + ".tmp", "wb") as f:
                f.write(data)
            os.replace(target + ".tmp", target)
    if args.report and not args.dry_run:
        # the page beside the records' folder: docs/PERFORMANCE.md for docs/perf
        page = os.path.join(os.path.dirname(os.path.abspath(args.perf_dir)), "PERFORMANCE.md")
        sys.exit(subprocess.call([sys.executable, os.path.join(ROOT, "scripts", "perf_report.py"), "--perf-dir", args.perf_dir, "--out", page]))


if __name__ == "__main__":
    main()
