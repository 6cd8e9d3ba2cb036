#!/usr/bin/env python3
"""Regenerates docs/PERFORMANCE.md from the measurement records under docs/perf/.

Reads every docs/perf/*.json:
  * `augur bench --json` output (schema augur-bench/2, tool augur): throughput, step times,
    memory, op shares, and the cost model's FLOPs and bytes per sample (io.augur.model.CostModel,
    counted from the model shapes and the data's mean history length);
  * `scripts/torch_ref.py --json` output (schema augur-bench/2, tool pytorch);
  * JMH's JSON results (a list; files named *jmh*.json, from JMH_JSON=... scripts/jmh.sh);
  * older `augur bench` records (no schema field), listed at the end.
Naming (what scripts/perf_all.sh writes; any *.json is read whatever its name):
  <UTC date>-<device>-augur-b<B>.json    augur bench --json, base/din/dien at batch B
  <UTC date>-<device>-augur-cost.json    augur bench --cost-only --ceilings (FLOPs, bytes, ceilings)
  <UTC date>-<device>-torch-b<B>.json    scripts/torch_ref.py --json, eager and compile
  <UTC date>-cpu-<model>.json            older augur bench records (scripts/bench.sh)
with <device> cpu or cuda.
For each (tool, device, model, batch size, variant) the newest record wins.  Nothing in the
tables is typed by hand: edit the records (by measuring again), then run

    python3 scripts/perf_report.py            # writes docs/PERFORMANCE.md
    python3 scripts/perf_report.py --check    # exits 1 if docs/PERFORMANCE.md is out of date

Standard library only.
"""

import argparse
import glob
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA = "augur-bench/2"
TARGET_RATIO = 2.0

# The H200 (SXM, 141 GB HBM3e): fp32 (non-tensor) ~67 TFLOP/s from NVIDIA's data sheet; ~4.3 TB/s
# is the device-to-device copy rate measured on the H200 boxes this project uses (the data sheet
# says 4.8 TB/s).  Replaced by the backend's own measured ceilings once a CUDA record has them.
H200 = {"name": "H200", "flops": 67e12, "bytes": 4.3e12,
        "source": "fp32 67 TFLOP/s (data sheet), copy 4.3 TB/s (measured on the project's H200 machines)"}
MODELS = ["base", "din", "dien"]
MODEL_NAMES = {"base": "BaseModel", "din": "DIN", "dien": "DIEN"}


def load_records(perf_dir):
    recs, jmh, legacy = [], [], []
    for path in sorted(glob.glob(os.path.join(perf_dir, "*.json"))):
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, ValueError) as e:
            print(f"perf_report: skipping {path}: {e}", file=sys.stderr)
            continue
        name = os.path.relpath(path, ROOT)
        if isinstance(data, list):
            if data and isinstance(data[0], dict) and "benchmark" in data[0]:
                jmh.append((name, data))
            continue
        if "emulator" in str(data.get("backend", "")):
            # the CPU emulator of the CUDA driver (cuda/emu): host-side timings, not device figures
            continue
        if data.get("schema") == SCHEMA:
            data["_file"] = name
            recs.append(data)
        elif "results" in data and "samples_per_s" in data:
            data["_file"] = name
            legacy.append(data)
    return recs, jmh, legacy


MAIN_WORLD = "bench"   # the world `augur bench` and perf_all.sh use (data/bench) when no PyTorch record names one


def world(rec):
    """The synthetic world a record ran on: the folder name of its dataset (the npy export names its source)."""
    d = rec.get("dataset") or {}
    src = d.get("source") or d.get("dir")
    return os.path.basename(os.path.normpath(src)) if src else MAIN_WORLD


def variant(rec, res):
    """The flavour of a result: Augur's backend; PyTorch's mode and attention layout."""
    if rec["tool"] == "augur":
        # a run off the defaults is its own variant, so that it never stands in for the default run:
        # eager steps (--no-cuda-graphs), --precision tf32, --resident-data, the kernels' settings
        # (-Daugur.attention.*, -Daugur.tower.*, -Daugur.gemm*, -Daugur.cuda.pdl), settings chosen
        # by --autotune (which the result names) and a tuning table of the run's own; other
        # properties (a test run's poisoned activations, say) change no kernel's shape
        v = "augur"
        if rec.get("device") == "cuda" and rec.get("cuda_graphs") is False:
            v += "/eager"
        if rec.get("precision", "fp32") != "fp32":
            v += "/" + rec["precision"]
        if res.get("resident_data"):
            v += "/resident"
        for k, val in sorted((rec.get("system_properties") or {}).items()):
            if k.startswith(("augur.attention.", "augur.tower.", "augur.gemm", "augur.cuda.pdl")):
                v += f"/{k[len('augur.'):]}={val}"
        if res.get("autotune"):
            v += "/autotune"
        # a tuning table other than the one shipped in the jar (--tuning FILE or off, -Daugur.tuning)
        tuning = (rec.get("settings") or {}).get("tuning")
        if tuning not in (None, "", "auto"):
            v += "/tuning=" + ("off" if tuning == "off" else os.path.basename(tuning))
        return v
    v = res.get("mode", "eager")
    if res.get("att_layout"):
        v += "/" + res["att_layout"]
    return v


def index(recs):
    """(tool, device, model, batch, variant) -> (record, result), newest record first."""
    best = {}
    for rec in sorted(recs, key=lambda r: r.get("date", "")):
        for res in rec.get("results", []):
            key = (rec["tool"], rec.get("device", "cpu"), res["model"], res["batch_size"], variant(rec, res))
            measured = res.get("train_samples_per_s") is not None or res.get("skipped")
            if measured or key not in best:
                best[key] = (rec, res)
    return best


def profiled(recs):
    """(tool, device, model, batch, variant) -> [(record, result)] of the results with an op profile, oldest first."""
    out = {}
    for rec in sorted(recs, key=lambda r: r.get("date", "")):
        for res in rec.get("results", []):
            if (res.get("op_profile") or {}).get("ops"):
                key = (rec["tool"], rec.get("device", "cpu"), res["model"], res["batch_size"], variant(rec, res))
                out.setdefault(key, []).append((rec, res))
    return out


OPS_COMPARED = 12   # the ops each comparison lists, by the larger of their two times


def op_comparison(old, new):
    """Lines of a table: each op's calls and microseconds per step in two profiled results, largest first."""
    po, pn = old[1]["op_profile"], new[1]["op_profile"]
    ops = {}
    for side, p in ((0, po), (1, pn)):
        for o in p["ops"]:
            e = ops.setdefault(o["op"], [None, None, None, None])
            e[side] = o.get("calls_per_step")
            e[2 + side] = 1000.0 * o["ms_per_step"]
    order = sorted(ops, key=lambda k: -max(x for x in ops[k][2:] if x is not None))
    lines = ["| op | calls a step | µs a step | change |", "|---|---|---|---|"]
    for k in order[:OPS_COMPARED]:
        c0, c1, t0, t1 = ops[k]
        calls = f"{fmt(c0, 1) if c0 is not None else '–'} → {fmt(c1, 1) if c1 is not None else '–'}"
        times = f"{fmt(t0, 1)} → {fmt(t1, 1)}"
        if t0 is None:
            change = "new"
        elif t1 is None:
            change = "gone"
        else:
            change = f"{t1 - t0:+,.1f} µs"
        lines.append(f"| {k} | {calls} | {times} | {change} |")
    rest = len(order) - OPS_COMPARED
    if rest > 0:
        lines.append(f"| ({rest} more) | | | |")
    return lines


def torch_result(best, device, model, B, mode):
    """The PyTorch result of one mode (any attention layout): the fastest measured one, else a skipped one, else None."""
    hits = [best[k] for k in best if k[:4] == ("pytorch", device, model, B) and k[4].split("/")[0] == mode]
    got = [h for h in hits if h[1].get("train_samples_per_s") is not None]
    if got:
        return max(got, key=lambda h: h[1]["train_samples_per_s"])
    return hits[0] if hits else None


def fmt(x, digits=0):
    if x is None:
        return "–"
    return f"{x:,.{digits}f}"


def day(rec):
    return rec.get("date", "")[:10]


def costs(recs):
    """(model, batch) -> (record, result) of the newest Augur record with a cost entry (CPU records first)."""
    out = {}
    for rec in sorted(recs, key=lambda r: (r.get("device") == "cpu", r.get("date", ""))):
        if rec["tool"] != "augur":
            continue
        for res in rec.get("results", []):
            if "cost" in res:
                out[(res["model"], res["batch_size"])] = (rec, res)
    return out


def cpu_ceilings(recs):
    """The newest measured CPU ceilings (an Augur CPU record run with --ceilings, not a smoke run)."""
    found = None
    for rec in sorted(recs, key=lambda r: r.get("date", "")):
        if rec["tool"] == "augur" and rec.get("device") == "cpu" and rec.get("ceilings") and not rec.get("settings", {}).get("smoke"):
            found = rec
    return found


def device_ceilings(recs, device):
    found = None
    for rec in sorted(recs, key=lambda r: r.get("date", "")):
        if rec["tool"] == "augur" and rec.get("device") == device and rec.get("ceilings") and not rec.get("settings", {}).get("smoke"):
            found = rec
    return found


def floor(cost, flops, bytes_):
    tc, tb = cost["flops_per_sample"] / flops, cost["bytes_per_sample"] / bytes_
    return 1.0 / max(tc, tb), ("compute" if tc >= tb else "memory")


def batches_of(best, tool=None, device=None):
    return sorted({k[3] for k in best if (tool is None or k[0] == tool) and (device is None or k[1] == device)})


def report(perf_dir):
    recs, jmh, legacy = load_records(perf_dir)
    recs = [r for r in recs if not r.get("settings", {}).get("smoke")]
    everything = recs
    # the comparisons use one world for every tool: the one the newest PyTorch record ran on (its npy export
    # names the source), else data/bench; runs on other worlds get their own section
    torch_recs = sorted((r for r in recs if r["tool"] == "pytorch"), key=lambda r: r.get("date", ""))
    main_world = world(torch_recs[-1]) if torch_recs else MAIN_WORLD
    others = [r for r in recs if world(r) != main_world]
    recs = [r for r in recs if world(r) == main_world]
    best = index(recs)
    cost = costs(recs)
    L = []
    w = L.append
    w("# Performance")
    w("")
    w("<!-- Generated by scripts/perf_report.py from docs/perf/*.json; do not edit by hand. -->")
    w("Generated by `scripts/perf_report.py` from the records in `docs/perf/` (each the unedited JSON output of")
    w("`augur bench`, `scripts/torch_ref.py` or JMH). To measure again and regenerate, on an otherwise idle machine:")
    w("")
    w("```bash")
    w("scripts/perf_all.sh            # Augur and the PyTorch reference, base/din/dien at batch 128 and 1024, then this page")
    w("python3 scripts/perf_report.py # this page only, from the records already there")
    w("```")
    w("")

    # ------------------------------------------------------------------ summary: CPU side by side
    w("## Augur vs PyTorch on the CPU")
    w("")
    cpu_batches = sorted({k[3] for k in best if k[1] == "cpu" and k[0] in ("augur", "pytorch")
                          and best[k][1].get("train_samples_per_s") is not None})
    if not cpu_batches:
        w("No side-by-side CPU measurement yet: run `scripts/perf_all.sh` on an otherwise idle machine."
          + (" Augur-only figures of an earlier harness are under Earlier records." if legacy else ""))
        w("")
    else:
        modes = [md for md in ("eager", "compile") if any(k[0] == "pytorch" and k[1] == "cpu" and k[4].split("/")[0] == md for k in best)]
        head = ["model", "batch", "Augur samples/s"] + [f"PyTorch {md} samples/s" for md in modes] + \
               ["Augur / best PyTorch", f"target ≥ {TARGET_RATIO:g}×", "measured", "records"]
        w("Steady-state training samples/s (median of the runs; warm-up excluded; data reading included), same world,")
        w("same model sizes, same optimizers, each tool on all cores. PyTorch: the faster attention layout measured")
        w("(`packed`, valid history positions only, on the CPU; `dense`, the whole (B, T_b) grid masked, on a GPU);")
        w("`compile` is torch.compile.")
        w("")
        w("| " + " | ".join(head) + " |")
        w("|" + "---|" * len(head))
        reasons = set()
        for m in MODELS:
            for B in cpu_batches:
                a = best.get(("augur", "cpu", m, B, "augur"))
                a_sps = a[1].get("train_samples_per_s") if a else None
                got = {md: torch_result(best, "cpu", m, B, md) for md in modes}
                if a_sps is None and not any(g and g[1].get("train_samples_per_s") is not None for g in got.values()):
                    continue
                row = [MODEL_NAMES[m], str(B), fmt(a_sps)]
                tsps = []
                used = [a[0]] if a_sps is not None else []
                for md in modes:
                    t = got[md]
                    if t is None:
                        row.append("–")
                    elif t[1].get("train_samples_per_s") is None:
                        row.append("not available" if t[1].get("skipped", "").startswith("not available") else "failed")
                        reasons.add(f"{md}: {t[1].get('skipped', 'not run')}")
                    else:
                        row.append(fmt(t[1]["train_samples_per_s"]))
                        tsps.append(t[1]["train_samples_per_s"])
                        if t[0] not in used:
                            used.append(t[0])
                if a_sps and tsps:
                    ratio = a_sps / max(tsps)
                    row += [f"{ratio:.2f}×", "met" if ratio >= TARGET_RATIO else "**not met**"]
                else:
                    row += ["–", "–"]
                row += [", ".join(sorted({day(r) for r in used})) or "–", ", ".join(f"`{os.path.basename(r['_file'])}`" for r in used) or "–"]
                w("| " + " | ".join(row) + " |")
        w("")
        for reason in sorted(reasons):
            w(f"- PyTorch {reason}")
        if reasons:
            w("")
        cpu_recs = [r for r in recs if r.get("device") == "cpu" and r["tool"] in ("augur", "pytorch")
                    and any(x.get("train_samples_per_s") is not None for x in r.get("results", []))]
        machines = sorted({f"{r['machine'].get('cpu')}, {r['machine'].get('cores')} cores" for r in cpu_recs})
        w("Machines: " + "; ".join(machines) + ". Threads: " + "; ".join(sorted({
            f"{r['tool']} {r.get('settings', {}).get('threads')}" for r in cpu_recs})) + " (each tool on all cores)."
          " Commands, load averages and commits: see Records below.")
        w("")

    # ------------------------------------------------------------------ work per sample and floors
    w("## Work per sample and throughput floors")
    w("")
    if not cost:
        w("No cost records yet (`augur bench --cost-only` or any `augur bench` run writes them).")
        w("")
    else:
        ceil_rec = cpu_ceilings(recs)
        gpu_rec = device_ceilings(recs, "cuda")
        gpu = H200 if gpu_rec is None else {"name": "GPU (measured)", "flops": gpu_rec["ceilings"]["fp32_flops_per_s"],
                                            "bytes": gpu_rec["ceilings"]["bytes_per_s"], "source": gpu_rec["ceilings"]["how"]}
        w("Counted by `io.augur.model.CostModel` from the model shapes (Amazon config: D = 18, T = 100, H = 36, attention")
        w("80-40, top MLP 200-80, auxiliary network 100-50) and the benchmark world's statistics (mean valid history length L,")
        w("mean auxiliary pairs P, distinct embedding rows per batch), not typed in:")
        w("")
        w("- **FLOPs**: GEMM FLOPs of forward + backward (backward = 2 × forward), sequence layers over the valid positions")
        w("  only, the activation unit's first layer counted as written (4W × 80 per position); elementwise work is left out.")
        w("- **Bytes**: the compulsory traffic of a step: ids and labels, one read of every embedding row looked up and one")
        w("  write of its gradient, lazy Adam on each distinct row (7 row transfers), and 10 passes over the dense parameters")
        w("  (forward and backward reads, the gradient, Adam) shared by the batch. Activations are not counted (a fused")
        w("  implementation can keep them on chip), so the floor is a bound, not a prediction.")
        w(f"- **Floor** = 1 / max(FLOPs / peak FLOP/s, bytes / peak bytes/s). {gpu['name']}: {gpu['source']}.")
        if ceil_rec:
            c = ceil_rec["ceilings"]
            w(f"  CPU: measured on {ceil_rec['machine'].get('cpu')} ({ceil_rec['machine'].get('cores')} cores), {day(ceil_rec)}:"
              f" {c['fp32_flops_per_s'] / 1e9:.1f} GFLOP/s fp32 GEMM, {c['bytes_per_s'] / 1e9:.1f} GB/s streaming ({c['how']}).")
        else:
            w("  CPU: no measured ceilings yet (`augur bench --ceilings`, which `scripts/perf_all.sh` runs).")
        w("")
        head = ["model", "batch", "L", "MFLOP / sample", "KB / sample", f"{gpu['name']} floor samples/s (bound)"]
        if ceil_rec:
            head += ["CPU floor samples/s (bound)", "Augur CPU samples/s", "of the CPU floor"]
        w("| " + " | ".join(head) + " |")
        w("|" + "---|" * len(head))
        for m in MODELS:
            for B in sorted({k[1] for k in cost if k[0] == m}):
                rec, res = cost[(m, B)]
                c = res["cost"]
                g, gb = floor(c, gpu["flops"], gpu["bytes"])
                row = [MODEL_NAMES[m], str(B), f"{res['workload']['mean_length']:.1f}", f"{c['flops_per_sample'] / 1e6:.3f}",
                       f"{c['bytes_per_sample'] / 1e3:.1f}", f"{fmt(g)} ({gb})"]
                if ceil_rec:
                    cc = ceil_rec["ceilings"]
                    f_, fb = floor(c, cc["fp32_flops_per_s"], cc["bytes_per_s"])
                    a = best.get(("augur", "cpu", m, B, "augur"))
                    a_sps = a[1].get("train_samples_per_s") if a else None
                    row += [f"{fmt(f_)} ({fb})", fmt(a_sps), f"{100 * a_sps / f_:.0f}%" if a_sps else "–"]
                w("| " + " | ".join(row) + " |")
        w("")
        parts = cost[next(iter(sorted(cost)))][1]["cost"].get("forward_flops_by_part")
        if parts is not None:
            w("Forward GEMM FLOPs per sample by part (batch-independent):")
            w("")
            for m in MODELS:
                ks = [k for k in cost if k[0] == m]
                if ks:
                    p = cost[ks[0]][1]["cost"]["forward_flops_by_part"]
                    w(f"- {MODEL_NAMES[m]}: " + ", ".join(f"{k.replace('_', ' ')} {v / 1e3:,.0f} k" for k, v in p.items()))
            w("")

    # ------------------------------------------------------------------ details per tool and device
    w("## Measurements in detail")
    w("")
    keys = sorted(k for k in best if best[k][1].get("train_samples_per_s") is not None)
    if not keys:
        w("None yet.")
        w("")
    else:
        w("| tool | device | variant | model | batch | train samples/s | runs | step p50 / p90 / p99 ms | eval samples/s |"
          " peak RSS MiB | peak device MiB | date | record |")
        w("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        order = {m: i for i, m in enumerate(MODELS)}
        for k in sorted(keys, key=lambda k: (k[1], order.get(k[2], 9), k[3], k[0], k[4])):
            rec, res = best[k]
            st = res["step_ms"]
            runs = " / ".join(fmt(x) for x in res["runs_train_samples_per_s"])
            w(f"| {rec['tool']} | {k[1]} | {k[4]} | {MODEL_NAMES.get(k[2], k[2])} | {k[3]} | {fmt(res['train_samples_per_s'])} | {runs} |"
              f" {st['p50']:.1f} / {st['p90']:.1f} / {st['p99']:.1f} | {fmt(res.get('eval_samples_per_s'))} |"
              f" {fmt(res.get('peak_host_rss_mib'))} | {fmt(res.get('peak_device_mib'))} | {day(rec)} | `{rec['_file']}` |")
        w("")
        w("Peak RSS is the whole process (dataset included) over that model and batch size's runs.")
        w("")

    # ------------------------------------------------------------------ GPU
    w("## GPU")
    w("")
    gpu_keys = [k for k in best if k[1] == "cuda" and best[k][1].get("train_samples_per_s") is not None]
    NONE = "no device measured yet"
    w("Augur on the GPU against the PyTorch reference on the same GPU (targets: ≥ 10× eager, ≥ 3× torch.compile), and")
    w("the share of the fp32 floor (the H200 floor of the table above) Augur reaches.")
    w("")
    w("| model | batch | Augur samples/s | PyTorch eager | PyTorch compile | Augur / eager (≥ 10×) | Augur / compile (≥ 3×) |"
      " of the fp32 floor | measured |")
    w("|---|---|---|---|---|---|---|---|---|")
    for m in ("din", "dien"):
        for B in sorted({128, 2048} | {k[3] for k in gpu_keys if k[2] == m}):
            a = best.get(("augur", "cuda", m, B, "augur"))
            a_sps = a[1].get("train_samples_per_s") if a else None
            cells, used = [fmt(a_sps) if a_sps else NONE], [a[0]] if a_sps else []
            t_sps = {}
            for mode in ("eager", "compile"):
                h = torch_result(best, "cuda", m, B, mode)
                if h is None:
                    cells.append(NONE)
                elif h[1].get("train_samples_per_s") is None:
                    cells.append("n/a (" + h[1].get("skipped", "not run") + ")")
                else:
                    t_sps[mode] = h[1]["train_samples_per_s"]
                    cells.append(fmt(t_sps[mode]))
                    used.append(h[0])
            for mode, target in (("eager", 10.0), ("compile", 3.0)):
                if a_sps and mode in t_sps:
                    r_ = a_sps / t_sps[mode]
                    cells.append(f"{r_:.2f}× ({'met' if r_ >= target else '**not met**'})")
                else:
                    cells.append("–")
            c = cost.get((m, B))
            if a_sps and c:
                gr = device_ceilings(recs, "cuda")
                gfl, gby = (gr["ceilings"]["fp32_flops_per_s"], gr["ceilings"]["bytes_per_s"]) if gr else (H200["flops"], H200["bytes"])
                cells.append(f"{100 * a_sps / floor(c[1]['cost'], gfl, gby)[0]:.1f}%")
            else:
                cells.append("–")
            cells.append(", ".join(sorted({day(r) for r in used})) or "–")
            w(f"| {MODEL_NAMES[m]} | {B} | " + " | ".join(cells) + " |")
    w("")
    if not gpu_keys:
        w("No GPU record yet: no session with a device has run the measurement. On a GPU machine:")
        w("`scripts/augur bench --device cuda --models base,din,dien --batch-sizes 128,2048 --profile --ceilings --json --out")
        w("docs/perf/<date>-cuda-augur-b128-2048.json` and")
        w("`python3 scripts/torch_ref.py --device cuda --models din,dien --batch-sizes 128,2048 --modes eager,compile")
        w("--data data/bench-npy --out docs/perf/<date>-cuda-torch.json`, then `python3 scripts/perf_report.py`.")
        w("On the CUDA backend `augur bench` reports each kernel's share of the step (a pair of CUDA events around each")
        w("launch, cuBLAS calls as one region), peak device memory and the device's measured ceilings through")
        w("`io.augur.backend.Profiling`; where a backend lacks it those fields read \"n/a on this backend\".")
        w("")
    else:
        w("The CUDA rows are also in the detail table above; kernel shares are in the op profiles below.")
        w("")

    # ------------------------------------------------------------------ op profiles
    prof = [(k, best[k]) for k in sorted(best) if "op_profile" in best[k][1] and best[k][1]["op_profile"].get("ops")]
    if prof:
        w("## Where the step goes")
        w("")
        w("From the profiled run of each record (`--profile`): the ops with the largest share of the step, then what no op")
        w("accounts for (batch assembly, host work between calls).")
        w("")
        w("| tool | device | model | batch | step ms | largest shares | unattributed |")
        w("|---|---|---|---|---|---|---|")
        for k, (rec, res) in prof:
            p = res["op_profile"]
            top = ", ".join(f"{o['op']} {100 * o['share']:.0f}%" for o in p["ops"][:6])
            un = p.get("unattributed_share")
            w(f"| {rec['tool']} {k[4] if k[4] != 'augur' else ''} | {k[1]} | {MODEL_NAMES.get(k[2], k[2])} | {k[3]} |"
              f" {p['step_ms']:.1f} | {top} | {'–' if un is None else f'{100 * un:.0f}%'} |")
        w("")
        # each default run against the profiled record before it (the same tool, device, model and batch)
        pairs = [(k, h[-2], h[-1]) for k, h in sorted(profiled(recs).items()) if len(h) >= 2 and k[4] in ("augur", "eager")]
        if pairs:
            w("### Each op against the record before")
            w("")
            w("Where a default run has an earlier profiled record, the ops' times per step in both (the larger of the two")
            w(f"decides the order; the {OPS_COMPARED} largest), so that a change shows where it landed.")
            w("")
            for k, old, new in pairs:
                so, sn = old[1]["op_profile"]["step_ms"], new[1]["op_profile"]["step_ms"]
                w(f"**{MODEL_NAMES.get(k[2], k[2])} at batch {k[3]}** ({k[0]}, {k[1]}): step {so:.3f} → {sn:.3f} ms;"
                  f" `{old[0]['_file']}` ({day(old[0])}, {old[0].get('git_commit') or 'commit not recorded'}) →"
                  f" `{new[0]['_file']}` ({day(new[0])}, {new[0].get('git_commit') or 'commit not recorded'})")
                w("")
                for line in op_comparison(old, new):
                    w(line)
                w("")

    # ------------------------------------------------------------------ JMH
    if jmh:
        w("## CPU microbenchmarks (JMH)")
        w("")
        w("`scripts/jmh.sh` (java/src/jmh/java, through the Backend interface); average time per call.")
        w("")
        w("| benchmark | parameters | score | error | unit | record |")
        w("|---|---|---|---|---|---|")
        for name, data in jmh:
            for b in data:
                params = ", ".join(f"{k}={v}" for k, v in sorted(b.get("params", {}).items()))
                pm = b["primaryMetric"]
                err = pm.get("scoreError")
                w(f"| {b['benchmark'].replace('io.augur.jmh.', '')} | {params} | {pm['score']:,.1f} |"
                  f" {'–' if err is None or err != err else f'{err:,.1f}'} | {pm['scoreUnit']} | `{name}` |")
        w("")

    # ------------------------------------------------------------------ other worlds
    if others:
        w("## Other worlds")
        w("")
        w(f"Runs on worlds other than `{main_world}` (kept out of the comparisons above, which use one world for")
        w(f"every tool). The same model on `{main_world}` is shown beside each for reference; \"mean history\" is the")
        w("mean number of valid history positions per sample (the recurrence and the attention run over those only).")
        w("")
        w(f"| model | batch | world | mean history | samples/s | on {main_world} (mean history) | record |")
        w("|---|---|---|---|---|---|---|")
        for rec in sorted(others, key=lambda r: r.get("date", "")):
            for res in rec.get("results", []):
                if res.get("train_samples_per_s") is None:
                    continue
                ref = best.get((rec["tool"], rec.get("device", "cpu"), res["model"], res["batch_size"], variant(rec, res)))
                mh = (rec.get("dataset") or {}).get("mean_history")
                if ref:
                    ref_mh = (ref[0].get("dataset") or {}).get("mean_history")
                    there = f"{fmt(ref[1]['train_samples_per_s'])} ({fmt(ref_mh, 1)})"
                else:
                    there = "–"
                w(f"| {MODEL_NAMES.get(res['model'], res['model'])} | {res['batch_size']} | `{world(rec)}` | {fmt(mh, 1)} |"
                  f" {fmt(res['train_samples_per_s'])} | {there} | `{rec['_file']}` |")
        w("")

    # ------------------------------------------------------------------ sources
    w("## Records")
    w("")
    if not everything:
        w("None yet.")
    for rec in sorted(everything, key=lambda r: r.get("date", "")):
        m = rec.get("machine", {})
        extra = f", GPU {m['gpu']}" if m.get("gpu") else ""
        sw = f"torch {m['torch']}" if rec["tool"] == "pytorch" else m.get("java", "")
        kind = "cost model only" if rec.get("settings", {}).get("cost_only") else f"{rec.get('settings', {}).get('repeats')} runs"
        if rec.get("complete") is False:  # torch_ref.py stopped by a time limit: the results it finished
            kind += f", cut short after {len(rec.get('results', []))} results"
        w(f"- `{rec['_file']}` — {rec['tool']}, {rec.get('date', '')}, {kind}; {m.get('cpu')} ({m.get('cores')} cores{extra}), {sw},"
          f" host {m.get('host')}, load average at start {fmt(m.get('load_average_1m'), 2)}; commit {rec.get('git_commit')};"
          f" `{rec.get('command')}`")
    w("")
    if legacy:
        w("## Earlier records")
        w("")
        w("`augur bench` output before the augur-bench/2 layout (time-based runs: 4 s warm-up, 8 s timed, median of 3).")
        w("")
        w("| model | batch | samples/s | date | record |")
        w("|---|---|---|---|---|")
        for rec in legacy:
            for res in rec["results"]:
                w(f"| {MODEL_NAMES.get(rec.get('model'), rec.get('model'))} | {res['batch_size']} | {fmt(res['samples_per_s'])} | {day(rec)} |"
                  f" `{rec['_file']}` |")
        w("")
    return "\n".join(L)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--perf-dir", default=os.path.join(ROOT, "docs", "perf"))
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "PERFORMANCE.md"))
    ap.add_argument("--check", action="store_true", help="exit 1 when --out differs from what would be written")
    args = ap.parse_args()
    text = report(args.perf_dir)
    if args.check:
        try:
            with open(args.out) as f:
                same = f.read() == text
        except OSError:
            same = False
        print(f"{args.out} is {'up to date' if same else 'out of date'}")
        sys.exit(0 if same else 1)
    with open(args.out, "w") as f:
        f.write(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
