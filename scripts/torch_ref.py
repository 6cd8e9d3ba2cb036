#!/usr/bin/env python3
"""PyTorch reference of Augur's BaseModel, DIN and DIEN, for training-throughput comparisons.

Plain PyTorch, the formulas and sizes of DESIGN.md section 3 and of the Java models (the same as
scripts/golden_din.py and scripts/golden_dien.py, which --selfcheck compares against), written
the way a competent PyTorch user would write them for speed: every op batched over the samples,
no Python loop over samples; the only Python loop is AUGRU's over time steps.

  * Embeddings: one table per vocabulary (item and category tables shared by target, history and
    negatives), nn.Embedding(sparse=True, padding_idx=0), N(0, 0.01) init.  Sparse rows are
    updated with lazy Adam (torch.optim.SparseAdam, lr 1e-3) after adding MBAR's term
    lambda * w_j / n_j (lambda 0.01, n_j the id's training count) to each touched row's gradient,
    as Augur does; --mbar-lambda 0 turns that off.  Dense parameters: torch.optim.Adam, lr 1e-3.
  * Each batch is cut to its longest history (T_b <= T); DIN's activation unit and DIEN's
    attention score only the valid (b, t) positions (packed, --att-layout packed), then softmax
    over the valid positions of each sample on the (B, T_b) grid; --att-layout dense scores the
    whole grid and masks (what one would do on a GPU to avoid the host sync of nonzero()).
  * DIEN: interest extractor = nn.GRU over pack_padded_sequence (the fused GRU, valid steps only);
    auxiliary network over the P valid pairs (1 <= t < len) packed into 2P rows with one BatchNorm
    over all of them, L_aux = sum of the 2P BCE terms / P; attention with the query
    q = PReLU(W_q e_a); AUGRU as a custom cell looped over time on the packed layout (at step t
    only the samples still running: batch_sizes[t] rows), its input projection done for all
    valid positions in one GEMM.  Total loss = CE + aux.
  * Top MLP: BatchNorm -> 200 -> act -> 80 -> act -> 1, act = Dice (DIN, DIEN; nn.BatchNorm1d
    without affine, eps 1e-8, momentum 0.01 = Augur's decay 0.99) or PReLU (BaseModel).

Data: the npy export of an Augur dataset (`augur export --format npy --data DIR --out NPY`).

Measurement, as `augur bench` (JSON layout augur-bench/2): per model and batch size, --repeats
runs on a freshly initialised model (seeded), each --warmup-steps untimed steps (and at least
--warmup-seconds), then --steps timed steps on shuffled batches; a run's samples/s is samples /
wall time of its timed steps (batch assembly included); the median run is reported, with step
percentiles, evaluation samples/s (inference forward + probabilities to the host), peak host
memory and, on CUDA, peak device memory.  By default (--modes eager,compile) it measures eager
PyTorch and torch.compile where the installed PyTorch has it; Debian's 1.13 has none, and its
results say "not available".  On the CPU it runs torch.set_num_threads(os.cpu_count()) unless
--threads says otherwise, and records the thread count in settings.threads.

  /usr/bin/python3 scripts/torch_ref.py --data data/bench-npy --models din,dien --batch-sizes 128,1024 --out r.json
  /usr/bin/python3 scripts/torch_ref.py --selfcheck          # same values as the golden scripts
  python3 scripts/torch_ref.py --device cuda --modes eager,compile --data ...   # a GPU machine
"""

import argparse
import datetime
import json
import math
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

SCHEMA = "augur-bench/2"
NEG_FILL = -1e9   # score of masked positions before the softmax (finite: an empty history stays NaN-free)


# ----------------------------------------------------------------------------- configuration


class Config:
    """Model sizes; defaults are the Amazon config (DESIGN.md section 3)."""

    def __init__(self, model, D=18, att=(80, 40), mlp=(200, 80), H=36, aux=(100, 50), aux_weight=1.0,
                 softmax=True, bn_eps=1e-5, dice_eps=1e-8, momentum=0.01, emb_std=0.01):
        self.model, self.D, self.E = model, D, 2 * D
        self.att, self.mlp, self.H, self.aux = tuple(att), tuple(mlp), H, tuple(aux)
        self.aux_weight, self.softmax = aux_weight, softmax
        self.bn_eps, self.dice_eps, self.momentum, self.emb_std = bn_eps, dice_eps, momentum, emb_std

    def as_dict(self):
        return {k: v for k, v in vars(self).items()}


# ----------------------------------------------------------------------------- layers


class Dice(nn.Module):
    """p = sigmoid(BN(x)) without affine, f = p x + (1 - p) alpha x; alpha starts at 0."""

    def __init__(self, C, eps, momentum):
        super().__init__()
        self.bn = nn.BatchNorm1d(C, eps=eps, momentum=momentum, affine=False)
        self.alpha = nn.Parameter(torch.zeros(C))

    def forward(self, x):
        p = torch.sigmoid(self.bn(x))
        return p * x + (1 - p) * self.alpha * x


class TopMlp(nn.Module):
    """BatchNorm -> hidden layers with Dice or PReLU -> 1 logit."""

    def __init__(self, in_width, hidden, act, cfg):
        super().__init__()
        self.bn = nn.BatchNorm1d(in_width, eps=cfg.bn_eps, momentum=cfg.momentum)
        layers, w = [], in_width
        for h in hidden:
            layers.append(nn.Linear(w, h))
            layers.append(Dice(h, cfg.dice_eps, cfg.momentum) if act == "dice" else nn.PReLU(h, init=0.25))
            w = h
        layers.append(nn.Linear(w, 1))
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(self.bn(x)).squeeze(1)


class ActivationUnit(nn.Module):
    """score = MLP([q, k, q - k, q * k]) with sigmoid hidden layers, one linear output."""

    def __init__(self, W, hidden):
        super().__init__()
        self.fc1 = nn.Linear(4 * W, hidden[0])
        self.fc2 = nn.Linear(hidden[0], hidden[1])
        self.fc3 = nn.Linear(hidden[1], 1)

    def scores(self, q, k):
        x = torch.cat([q, k, q - k, q * k], -1)
        return self.fc3(torch.sigmoid(self.fc2(torch.sigmoid(self.fc1(x))))).squeeze(-1)

    def weights(self, q, keys, mask, layout, softmax=True):
        """q (B, W), keys (B, Tb, W), mask (B, Tb) bool -> weights (B, Tb), exactly 0 where masked."""
        B, Tb, W = keys.shape
        if layout == "packed":
            vb, vt = mask.nonzero(as_tuple=True)
            s = self.scores(q[vb], keys[vb, vt])
            dense = keys.new_full((B, Tb), NEG_FILL if softmax else 0.0).index_put((vb, vt), s)
        else:
            dense = self.scores(q.unsqueeze(1).expand(B, Tb, W), keys)
            dense = dense.masked_fill(~mask, NEG_FILL if softmax else 0.0)
        if softmax:
            dense = torch.softmax(dense, 1)
        return dense * mask


class AuxNet(nn.Module):
    """DIEN's auxiliary network: BatchNorm -> 100 sigmoid -> 50 sigmoid -> 1 logit."""

    def __init__(self, in_width, hidden, cfg):
        super().__init__()
        self.bn = nn.BatchNorm1d(in_width, eps=cfg.bn_eps, momentum=cfg.momentum)
        layers, w = [], in_width
        for h in hidden:
            layers += [nn.Linear(w, h), nn.Sigmoid()]
            w = h
        layers.append(nn.Linear(w, 1))
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(self.bn(x)).squeeze(1)


class Augru(nn.Module):
    """AUGRU: u' = a u, h' = (1 - u') h + u' n.  Weights as Augur lays them out: wx (in, 3H), wh (H, 3H), columns [u, r, n]."""

    def __init__(self, in_width, H):
        super().__init__()
        self.H = H
        r = 1.0 / math.sqrt(H)
        self.wx = nn.Parameter(torch.empty(in_width, 3 * H).uniform_(-r, r))
        self.wh = nn.Parameter(torch.empty(H, 3 * H).uniform_(-r, r))
        self.bx = nn.Parameter(torch.empty(3 * H).uniform_(-r, r))
        self.bh = nn.Parameter(torch.empty(3 * H).uniform_(-r, r))

    def forward(self, x_packed, a_packed, batch_sizes, B):
        """x_packed (N, in) and a_packed (N,) in PackedSequence order (time-major, samples sorted by
        length, batch_sizes[t] running at step t) -> the last state of each sample, sorted order (B, H)."""
        H = self.H
        gx = torch.addmm(self.bx, x_packed, self.wx)                          # (N, 3H), all valid steps at once
        h = x_packed.new_zeros(B, H)
        off = 0
        for n in batch_sizes:
            hp = h[:n]
            g = gx[off:off + n]
            gh = torch.addmm(self.bh, hp, self.wh)
            u = torch.sigmoid(g[:, :H] + gh[:, :H])
            r = torch.sigmoid(g[:, H:2 * H] + gh[:, H:2 * H])
            cand = torch.tanh(g[:, 2 * H:] + r * gh[:, 2 * H:])
            u = a_packed[off:off + n].unsqueeze(1) * u
            hn = hp + u * (cand - hp)
            h = hn if n == B else torch.cat([hn, h[n:]], 0)
            off += n
        return h


# ----------------------------------------------------------------------------- models


class CtrModel(nn.Module):
    """Shared part: embeddings, x = [u, e_a, s, e_a * s, interest...], top MLP, loss."""

    def __init__(self, cfg, vocab, interest_width, top_act):
        super().__init__()
        self.cfg = cfg
        D = cfg.D
        self.user = self._emb(vocab["user"], D)
        self.item = self._emb(vocab["item"], D)
        self.cate = self._emb(vocab["cate"], D)
        self.top = TopMlp(D + 3 * cfg.E + interest_width, cfg.mlp, top_act, cfg)

    def _emb(self, V, D):
        e = nn.Embedding(V, D, padding_idx=0, sparse=True)
        with torch.no_grad():
            e.weight.normal_(0, self.cfg.emb_std)
            e.weight[0].zero_()
        return e

    def embeddings(self):
        return [("user", self.user), ("item", self.item), ("cate", self.cate)]

    def behaviours(self, items, cates):
        return torch.cat([self.item(items), self.cate(cates)], -1)

    def interest(self, b, e_a, e_hist):
        return [], torch.zeros((), device=e_a.device)

    def forward(self, b):
        """Returns (logits (B,), auxiliary loss or 0)."""
        u = self.user(b["user"])
        e_a = self.behaviours(b["item"], b["cate"])
        e_hist = self.behaviours(b["hist_item"], b["hist_cate"])          # (B, Tb, E), 0 where padded
        s = e_hist.sum(1)
        extra, aux = self.interest(b, e_a, e_hist)
        x = torch.cat([u, e_a, s, e_a * s] + extra, 1)
        return self.top(x), aux

    def loss(self, b):
        logits, aux = self.forward(b)
        return F.binary_cross_entropy_with_logits(logits, b["label"]) + self.cfg.aux_weight * aux


class BaseModel(CtrModel):
    def __init__(self, cfg, vocab):
        super().__init__(cfg, vocab, 0, "prelu")


class Din(CtrModel):
    def __init__(self, cfg, vocab, att_layout="packed"):
        super().__init__(cfg, vocab, cfg.E, "dice")
        self.att = ActivationUnit(cfg.E, cfg.att)
        self.att_layout = att_layout

    def interest(self, b, e_a, e_hist):
        w = self.att.weights(e_a, e_hist, b["mask"], self.att_layout, self.cfg.softmax)
        v = torch.bmm(w.unsqueeze(1), e_hist).squeeze(1)
        return [v], torch.zeros((), device=e_a.device)


class Dien(CtrModel):
    def __init__(self, cfg, vocab, att_layout="packed"):
        super().__init__(cfg, vocab, cfg.H, "dice")
        E, H = cfg.E, cfg.H
        self.extractor = nn.GRU(E, H, batch_first=True)
        self.query = nn.Linear(E, H)
        self.query_act = nn.PReLU(H, init=0.25)
        self.att = ActivationUnit(H, cfg.att)
        self.evolution = Augru(H, H)
        self.aux = AuxNet(H + E, cfg.aux, cfg) if cfg.aux_weight > 0 else None
        self.att_layout = att_layout

    def interest(self, b, e_a, e_hist):
        mask, lens_cpu = b["mask"], b["lens_cpu"]
        B, Tb, _ = e_hist.shape
        # pack_padded_sequence needs lengths >= 1: an empty history runs one step on a zero input,
        # whose state is masked away below and gets attention 0 (so the evolution keeps h' = 0).
        packed = pack_padded_sequence(e_hist, lens_cpu.clamp(min=1), batch_first=True, enforce_sorted=False)
        out, _ = self.extractor(packed)
        h, _ = pad_packed_sequence(out, batch_first=True, total_length=Tb)
        h = h * mask.unsqueeze(2)                                               # (B, Tb, H)

        aux = torch.zeros((), device=e_a.device)
        if self.training and self.aux is not None:
            pm = mask[:, 1:]                                                    # pairs t = 1 .. len-1
            h_prev = h[:, :-1][pm]                                              # (P, H)
            P = h_prev.shape[0]
            if P > 0:
                pos = e_hist[:, 1:][pm]
                neg = self.behaviours(b["neg_item"][:, 1:][pm], b["neg_cate"][:, 1:][pm])
                rows = torch.cat([torch.cat([h_prev, pos], 1), torch.cat([h_prev, neg], 1)], 0)   # (2P, H + E)
                z = self.aux(rows)
                target = torch.cat([z.new_ones(P), z.new_zeros(P)])
                aux = F.binary_cross_entropy_with_logits(z, target, reduction="sum") / P

        q = self.query_act(self.query(e_a))
        a = self.att.weights(q, h, mask, self.att_layout, True)                # (B, Tb)
        a_packed = pack_padded_sequence(a.unsqueeze(2), lens_cpu.clamp(min=1), batch_first=True, enforce_sorted=False)
        h_last = self.evolution(out.data, a_packed.data.squeeze(1), packed.batch_sizes.tolist(), B)
        h_last = h_last[packed.unsorted_indices]
        return [h_last], aux


def build(cfg, vocab, att_layout):
    return {"base": BaseModel, "din": Din, "dien": Dien}[cfg.model](cfg, vocab, *([] if cfg.model == "base" else [att_layout]))


# ----------------------------------------------------------------------------- optimizer


class Optim:
    """Adam on the dense parameters; lazy Adam (SparseAdam) with MBAR on the embedding rows a batch touches."""

    def __init__(self, model, counts, lr, mbar_lambda):
        emb = [e.weight for _, e in model.embeddings()]
        ids = {id(p) for p in emb}
        self.dense = torch.optim.Adam([p for p in model.parameters() if id(p) not in ids], lr=lr)
        self.sparse = torch.optim.SparseAdam(emb, lr=lr)
        self.tables = [(e.weight, counts[name]) for name, e in model.embeddings()]
        self.lam = mbar_lambda

    def zero_grad(self):
        self.dense.zero_grad(set_to_none=True)
        self.sparse.zero_grad(set_to_none=True)

    def step(self):
        if self.lam > 0:
            for w, n in self.tables:
                if w.grad is None:
                    continue
                g = w.grad.coalesce()
                idx = g.indices()[0]
                reg = self.lam * w.detach()[idx] / n[idx].clamp(min=1).unsqueeze(1) * (idx != 0).unsqueeze(1)
                w.grad = torch.sparse_coo_tensor(g.indices(), g.values() + reg, g.shape)
        self.dense.step()
        self.sparse.step()


# ----------------------------------------------------------------------------- data


class Split:
    """One split of the npy export, histories padded to (N, T), kept on the device."""

    def __init__(self, root, name, T, device, with_neg):
        d = os.path.join(root, name)
        load = lambda c: np.load(os.path.join(d, c + ".npy"))
        self.lens_np = load("hist_len").astype(np.int64)
        self.rows = len(self.lens_np)
        to = lambda a, dt=torch.int32: torch.from_numpy(np.ascontiguousarray(a)).to(dt).to(device)
        self.label = to(load("label"), torch.float32)
        self.user = to(load("user_id"))
        self.item = to(load("item_id"))
        self.cate = to(load("cate_id"))
        self.lens = to(self.lens_np, torch.int64)
        cols = ["hist_item_ids", "hist_cate_ids"] + (["neg_hist_item_ids", "neg_hist_cate_ids"] if with_neg else [])
        self.hist = {c: to(self.pad(load(c), T)) for c in cols}

    def pad(self, values, T, chunk=1 << 16):
        out = np.zeros((self.rows, T), dtype=np.int32)
        starts = np.concatenate([[0], np.cumsum(self.lens_np)[:-1]])
        t = np.arange(T)
        for s in range(0, self.rows, chunk):
            st, ln = starts[s:s + chunk, None], self.lens_np[s:s + chunk, None]
            idx = np.minimum(st + t, max(len(values) - 1, 0))
            out[s:s + chunk] = np.where(t < ln, values[idx] if len(values) else 0, 0)
        return out

    def batch(self, idx_np, device):
        """A batch dict of the given rows, cut to their longest history."""
        lens_cpu = torch.from_numpy(self.lens_np[idx_np])
        Tb = max(int(lens_cpu.max()), 1)
        idx = torch.from_numpy(idx_np).to(device)
        b = {"label": self.label[idx], "user": self.user[idx].long(), "item": self.item[idx].long(), "cate": self.cate[idx].long(),
             "lens_cpu": lens_cpu}
        lens = self.lens[idx]
        b["mask"] = torch.arange(Tb, device=device).unsqueeze(0) < lens.unsqueeze(1)
        for c, key in (("hist_item_ids", "hist_item"), ("hist_cate_ids", "hist_cate"),
                       ("neg_hist_item_ids", "neg_item"), ("neg_hist_cate_ids", "neg_cate")):
            if c in self.hist:
                b[key] = self.hist[c][idx, :Tb].long()
        return b


def load_data(root, device, with_neg):
    with open(os.path.join(root, "meta.json")) as f:
        meta = json.load(f)
    if meta.get("format") != "augur-npy":
        sys.exit(f"{root}: not an augur npy export (meta.json format {meta.get('format')!r}); run `augur export --format npy`")
    if with_neg and not meta["has_neg_hist"]:
        sys.exit(f"{root}: DIEN's auxiliary loss needs the neg_hist columns; this dataset has none")
    T = meta["T"]
    train = Split(root, "train", T, device, with_neg)
    valid = Split(root, "valid", T, device, False)
    counts = {v: torch.from_numpy(np.load(os.path.join(root, "counts", v + ".npy")).astype(np.float32)).to(device)
              for v in ("user", "item", "cate")}
    return meta, train, valid, counts


# ----------------------------------------------------------------------------- measurement


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def batches(split, B, rng):
    """Endless shuffled full batches of row indices."""
    while True:
        perm = rng.permutation(split.rows)
        for s in range(0, split.rows - B + 1, B):
            yield perm[s:s + B]


def reset_peaks(device):
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        ok = True
    except OSError:
        ok = False
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    return ok


def peak_rss_mib():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def timed_run(model, opt, split, B, device, args, seed, profiler=None):
    rng = np.random.default_rng(seed)
    it = batches(split, B, rng)
    model.train()
    start = time.perf_counter()
    warm = 0
    while warm < args.warmup_steps or time.perf_counter() - start < args.warmup_seconds:
        step(model, opt, split.batch(next(it), device))
        warm += 1
    sync(device)
    times = []
    t_start = time.perf_counter()
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step(model, opt, split.batch(next(it), device))
        sync(device)
        times.append(time.perf_counter() - t0)
        if profiler is not None:
            profiler.step()
    t_end = time.perf_counter()
    return args.steps * B / (t_end - t_start), times


def step(model, opt, b):
    opt.zero_grad()
    loss = model.loss(b)
    loss.backward()
    opt.step()
    return loss


def eval_run(model, split, B, device, args):
    model.eval()
    n = split.rows - split.rows % B if split.rows >= B else split.rows
    starts = list(range(0, max(n, 1), B))
    warm = max(1, min(args.warmup_steps, 10))
    done, samples, t0 = 0, 0, None
    with torch.no_grad():
        while True:
            for s in starts:
                idx = np.arange(s, min(s + B, split.rows))
                p = torch.sigmoid(model(split.batch(idx, device))[0]).cpu()
                if warm > 0:
                    warm -= 1
                    if warm == 0:
                        t0 = time.perf_counter()
                    continue
                samples += len(p)
                done += 1
                if done >= args.eval_steps:
                    return samples / (time.perf_counter() - t0)


def percentile(xs, q):
    s = sorted(xs)
    return s[min(len(s) - 1, int(math.floor(q * len(s))))]


def op_profile(model_fn, data, B, device, args, seed):
    """One more run under torch.profiler: each op's self time as a share of the step."""
    from torch.profiler import ProfilerActivity, profile as tprofile
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    model, opt = model_fn(seed)
    with tprofile(activities=acts) as prof:
        sps, times = timed_run(model, opt, data, B, device, args, seed)
    events = prof.key_averages()
    use_cuda = device.type == "cuda"
    total = sum(times)
    ops = []
    for e in events:
        t = (e.self_cuda_time_total if use_cuda else e.self_cpu_time_total) / 1e6
        if t > 0:
            ops.append({"op": e.key, "calls_per_step": e.count / len(times), "ms_per_step": 1e3 * t / len(times), "share": t / total})
    ops.sort(key=lambda o: -o["share"])
    return {"source": "torch.profiler, self %s time per op (warm-up included)" % ("CUDA" if use_cuda else "CPU"),
            "steps": len(times), "step_ms": 1e3 * total / len(times), "ops": ops[:25]}


def measure(args, device, progress=lambda meta, train, results: None):
    """Every result of args.models x args.batch_sizes x args.modes; progress(meta, train, results)
    after each one (main writes --out then, so a run stopped by a time limit keeps what it finished)."""
    with_neg = "dien" in args.models
    meta, train, valid, counts = load_data(args.data, device, with_neg)
    results = []
    for mode in args.modes:
        compiled = mode == "compile"
        if compiled and not hasattr(torch, "compile"):
            for m in args.models:
                for B in args.batch_sizes:
                    results.append({"model": m, "batch_size": B, "mode": mode, "train_samples_per_s": None,
                                    "skipped": f"not available: torch {torch.__version__} has no torch.compile (it came with 2.0)"})
            log(f"compile: not available in torch {torch.__version__} (torch.compile came with 2.0); recorded as such")
            continue
        for m in args.models:
            cfg = Config(m, aux_weight=args.aux_weight)
            layout = args.att_layout if args.att_layout != "auto" else ("dense" if device.type == "cuda" else "packed")

            def make(seed):
                torch.manual_seed(seed)
                model = build(cfg, meta["vocab"], layout).to(device)
                opt = Optim(model, counts, args.lr, args.mbar_lambda)
                if compiled:
                    model.forward = torch.compile(model.forward, dynamic=True)
                return model, opt

            for B in args.batch_sizes:
                rss_reset = reset_peaks(device)
                runs, steps_ms = [], []
                model = None
                for r in range(args.repeats):
                    model, opt = make(args.seed + r)
                    try:
                        sps, times = timed_run(model, opt, train, B, device, args, args.seed + r)
                    except Exception as e:  # torch.compile failures are reported, not fatal
                        if not compiled:
                            raise
                        runs = None
                        err = f"{type(e).__name__}: {e}".splitlines()[0][:300]
                        break
                    runs.append(sps)
                    steps_ms.append(times)
                    log(f"{mode} {m} batch {B} run {r + 1}/{args.repeats}: {sps:,.0f} samples/s (step p50 {1e3 * percentile(times, 0.5):.2f} ms)")
                if runs is None:
                    results.append({"model": m, "batch_size": B, "mode": mode, "train_samples_per_s": None, "skipped": err})
                    progress(meta, train, results)
                    continue
                ev = eval_run(model, valid, B, device, args)
                med = lambda f: statistics.median([f(t) for t in steps_ms])
                res = {
                    "model": m, "batch_size": B, "mode": mode,
                    "train_samples_per_s": statistics.median(runs),
                    "runs_train_samples_per_s": runs,
                    "step_ms": {"p50": med(lambda t: 1e3 * percentile(t, 0.5)), "p90": med(lambda t: 1e3 * percentile(t, 0.9)),
                                "p99": med(lambda t: 1e3 * percentile(t, 0.99)), "mean": med(lambda t: 1e3 * sum(t) / len(t))},
                    "steps_per_run": args.steps,
                    "eval_samples_per_s": ev,
                    "peak_host_rss_mib": peak_rss_mib(),
                    "peak_host_rss_note": ("this model and batch size's runs; the process's resident set, dataset included" if rss_reset
                                           else "the process's lifetime peak"),
                    "peak_device_mib": torch.cuda.max_memory_allocated(device) / 2 ** 20 if device.type == "cuda" else None,
                    "att_layout": layout if m != "base" else None,
                }
                log(f"{mode} {m} batch {B}: {res['train_samples_per_s']:,.0f} samples/s, eval {ev:,.0f} samples/s")
                if args.profile:
                    res["op_profile"] = op_profile(make, train, B, device, args, args.seed)
                results.append(res)
                progress(meta, train, results)
    return meta, train, results


def machine(device):
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    m = {"host": socket.gethostname(), "cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
         "torch": torch.__version__, "numpy": np.__version__, "os": f"{platform.system()} {platform.release()} {platform.machine()}",
         "load_average_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}
    if device.type == "cuda":
        m["gpu"] = torch.cuda.get_device_name(device)
        m["cuda"] = torch.version.cuda
    return m


def git_commit():
    # the bundle's commit where gpu-sweep.sh runs this from the bundle (no git on the GPU box)
    if os.environ.get("AUGUR_BUILD_COMMIT"):
        return os.environ["AUGUR_BUILD_COMMIT"]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, timeout=5).stdout.strip()
        return head + ("+dirty" if dirty else "") if head else None
    except (OSError, subprocess.SubprocessError):
        return None


def log(msg):
    print(f"[torch_ref] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- self-check


def selfcheck():
    """Same loss, logits and gradients as golden_din.py / golden_dien.py on their tiny batch (float64)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import golden_din as G
    import golden_dien as GD
    torch.set_default_dtype(torch.float64)
    ok = True
    vocab = {"user": G.N_USER, "item": G.N_ITEM, "cate": G.N_CATE}
    for model, layout in (("base", "packed"), ("din", "packed"), ("din", "dense"), ("dien", "packed"), ("dien", "dense")):
        if model == "dien":
            cfg = Config("dien", D=G.D, att=GD.ATT_H, mlp=G.MLP_H, H=GD.H, aux=GD.AUX_H, aux_weight=1.0)
            gp, _ = GD.make_params(1.0)
            inp = GD.make_inputs()
        else:
            cfg = Config(model, D=G.D, att=G.ATT_H, mlp=G.MLP_H)
            gp, _ = G.make_params(model, "sigmoid")
            inp = G.make_inputs()
        gp = {k: v.double().requires_grad_(True) for k, v in gp.items()}
        if model == "dien":
            g_logits, g_loss = GD.forward(gp, inp, "augru", 1.0)
        else:
            g_logits, g_loss = G.forward(gp, inp, model, "sigmoid", model == "din")
        g_loss.backward()

        net = build(cfg, vocab, layout).double()
        load_golden(net, gp, cfg)
        net.train()
        lens = inp["lengths"]
        Tb = int(lens.max())
        b = {"label": inp["labels"].double(), "user": inp["user"], "item": inp["item"], "cate": inp["cate"], "lens_cpu": lens,
             "mask": torch.arange(Tb).unsqueeze(0) < lens.unsqueeze(1)}
        for src, dst in (("hist_item", "hist_item"), ("hist_cate", "hist_cate"), ("neg_item", "neg_item"), ("neg_cate", "neg_cate")):
            if src in inp:
                b[dst] = inp[src][:, :Tb] * b["mask"]     # padded ids are 0 in the export
        logits, aux = net(b)
        loss = F.binary_cross_entropy_with_logits(logits, b["label"]) + cfg.aux_weight * aux
        loss.backward()
        d_logits = (logits - g_logits).abs().max().item()
        d_loss = abs(loss.item() - g_loss.item())
        grads = {"emb.item": net.item.weight.grad.to_dense(), "mlp.fc1.weight": net.top.body[0].weight.grad.t()}
        if model != "base":
            grads["att.fc1.weight"] = net.att.fc1.weight.grad.t()
        if model == "dien":
            grads["evolution.wh"] = net.evolution.wh.grad
            grads["extractor.wx"] = gru_to_augur(net.extractor.weight_ih_l0.grad, cfg.H)
        d_grad = max((grads[k] - gp[k].grad).abs().max().item() for k in grads)
        good = d_logits < 1e-10 and d_loss < 1e-10 and d_grad < 1e-10
        print(f"[{model}, {layout}] logits {d_logits:.1e}, loss {d_loss:.1e}, grads ({', '.join(grads)}) {d_grad:.1e}: "
              f"{'ok' if good else 'FAILED'}")
        ok &= good
    print("SELFCHECK", "PASSED" if ok else "FAILED")
    return ok


# nn.GRU computes h' = (1 - z) n + z h: its z gate keeps the old state, Augur's u takes the new one,
# so z = 1 - u = sigmoid(-(pre-activation of u)): z's weights and biases are u's negated.


def gru_to_augur(w, H):
    """nn.GRU weight (3H, in), rows [r, z, n] -> Augur's (in, 3H), columns [u = -z, r, n] (also for gradients)."""
    return torch.cat([-w[H:2 * H], w[:H], w[2 * H:]], 0).t()


def augur_to_gru(w, H):
    """Augur's (in, 3H) columns [u, r, n] (or a bias (3H)) -> nn.GRU's rows [r, z = -u, n]."""
    if w.dim() == 1:
        return torch.cat([w[H:2 * H], -w[:H], w[2 * H:]])
    return torch.cat([w[:, H:2 * H], -w[:, :H], w[:, 2 * H:]], 1).t()


def load_golden(net, gp, cfg):
    """Copies the golden scripts' parameters (Linear weights stored (in, out)) into the modules."""
    with torch.no_grad():
        net.user.weight.copy_(gp["emb.user"])
        net.item.weight.copy_(gp["emb.item"])
        net.cate.weight.copy_(gp["emb.cate"])
        for _, e in net.embeddings():     # the golden tables' row 0 is non-zero on purpose (a padding leak would show);
            e.weight[0].zero_()          # here padding reads row 0, which nn.Embedding(padding_idx=0) keeps at 0
        top = net.top
        top.bn.weight.copy_(gp["mlp.bn.gamma"])
        top.bn.bias.copy_(gp["mlp.bn.beta"])
        for i, mod in enumerate(top.body):
            l = i // 2 + 1
            if isinstance(mod, nn.Linear):
                mod.weight.copy_(gp[f"mlp.fc{l}.weight"].t())
                mod.bias.copy_(gp[f"mlp.fc{l}.bias"])
            elif isinstance(mod, nn.PReLU):
                mod.weight.copy_(gp[f"mlp.act{l}.alpha"])
            else:
                mod.alpha.copy_(gp[f"mlp.act{l}.alpha"])
        if cfg.model != "base":
            for k in (1, 2, 3):
                fc = getattr(net.att, f"fc{k}")
                fc.weight.copy_(gp[f"att.fc{k}.weight"].t())
                fc.bias.copy_(gp[f"att.fc{k}.bias"])
        if cfg.model == "dien":
            H = cfg.H
            net.extractor.weight_ih_l0.copy_(augur_to_gru(gp["extractor.wx"], H))
            net.extractor.weight_hh_l0.copy_(augur_to_gru(gp["extractor.wh"], H))
            net.extractor.bias_ih_l0.copy_(augur_to_gru(gp["extractor.bx"], H))
            net.extractor.bias_hh_l0.copy_(augur_to_gru(gp["extractor.bh"], H))
            net.query.weight.copy_(gp["att.query.weight"].t())
            net.query.bias.copy_(gp["att.query.bias"])
            net.query_act.weight.copy_(gp["att.query_act.alpha"])
            for n in ("wx", "wh", "bx", "bh"):
                getattr(net.evolution, n).copy_(gp["evolution." + n])
            net.aux.bn.weight.copy_(gp["aux.bn.gamma"])
            net.aux.bn.bias.copy_(gp["aux.bn.beta"])
            for i, mod in enumerate(m for m in net.aux.body if isinstance(m, nn.Linear)):
                mod.weight.copy_(gp[f"aux.fc{i + 1}.weight"].t())
                mod.bias.copy_(gp[f"aux.fc{i + 1}.bias"])


# ----------------------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="an `augur export --format npy` folder")
    ap.add_argument("--models", default="din", help="comma-separated: base, din, dien (default din)")
    ap.add_argument("--batch-sizes", default="128,1024")
    ap.add_argument("--modes", default="eager,compile",
                    help="eager and/or compile (torch.compile, PyTorch >= 2.0; recorded as not available on older versions) (default eager,compile)")
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads on the CPU; 0 (default) = the core count, os.cpu_count()")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warmup-steps", type=int, default=20)
    ap.add_argument("--warmup-seconds", type=float, default=3.0)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--eval-steps", type=int, default=50)
    ap.add_argument("--att-layout", default="auto", choices=["auto", "packed", "dense"],
                    help="score valid positions only (packed) or the whole (B, T_b) grid (dense); auto: packed on the CPU, dense on CUDA")
    ap.add_argument("--aux-weight", type=float, default=1.0)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--mbar-lambda", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--profile", action="store_true", help="one more run per model and batch size under torch.profiler")
    ap.add_argument("--json", action="store_true", help="print the JSON object (else a table)")
    ap.add_argument("--out", help="also write the JSON object to this file")
    ap.add_argument("--selfcheck", action="store_true", help="compare with the golden scripts' values and exit")
    args = ap.parse_args()
    if args.selfcheck:
        torch.set_num_threads(1)
        sys.exit(0 if selfcheck() else 1)
    if not args.data:
        ap.error("--data is required (an `augur export --format npy` folder)")
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    args.batch_sizes = [int(x) for x in args.batch_sizes.split(",")]
    for m in args.models:
        if m not in ("base", "din", "dien"):
            ap.error(f"unknown model {m!r} (expected base, din or dien)")
    for m in args.modes:
        if m not in ("eager", "compile"):
            ap.error(f"unknown mode {m!r} (expected eager or compile)")
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda: torch.cuda.is_available() is False")
    if device.type == "cpu":
        threads = args.threads if args.threads > 0 else os.cpu_count()
        torch.set_num_threads(threads)
        log(f"torch.set_num_threads({threads}){' (the core count)' if args.threads <= 0 else ''}; interop threads {torch.get_num_interop_threads()}")
    started = datetime.datetime.now(datetime.timezone.utc)

    def record(meta, train, results, complete):
        return {
            "schema": SCHEMA, "tool": "pytorch", "models": args.models, "modes": args.modes, "device": args.device,
            "backend": f"PyTorch {torch.__version__} ({args.device}, {torch.get_num_threads() if device.type == 'cpu' else 'GPU'}"
                       f"{' threads' if device.type == 'cpu' else ''})",
            "results": results,
            # false while results are still to come: a run stopped by a time limit leaves the record
            # with the results it finished
            "complete": complete,
            "settings": {"repeats": args.repeats, "warmup_steps": args.warmup_steps, "warmup_s": args.warmup_seconds, "steps": args.steps,
                         "eval_steps": args.eval_steps, "threads": torch.get_num_threads(),
                         "threads_note": ("torch.set_num_threads(os.cpu_count())" if args.threads <= 0 else f"torch.set_num_threads({args.threads}), --threads")
                         if device.type == "cpu" else None, "seed": args.seed, "att_layout": args.att_layout,
                         "optimizer": f"Adam {args.lr:g} (dense); SparseAdam (lazy Adam) + MBAR lambda {args.mbar_lambda:g} on the embedding rows",
                         "step_sync": "each timed step ends with torch.cuda.synchronize() on CUDA" if device.type == "cuda" else None},
            "dataset": {"dir": args.data, "source": meta.get("source"), "train_rows": train.rows, "T": meta["T"],
                        "mean_history": float(train.lens_np.mean()), "vocab": meta["vocab"]},
            "model_configs": {m: Config(m, aux_weight=args.aux_weight).as_dict() for m in args.models},
            "machine": machine(device),
            "command": "python3 scripts/torch_ref.py " + " ".join(sys.argv[1:]),
            "git_commit": git_commit(),
            "date": started.isoformat(),
        }

    def write(text, quiet):
        # whole or not at all: through a temporary file beside it, then a rename
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        tmp = args.out + ".tmp"
        with open(tmp, "w") as f:
            f.write(text + "\n")
        os.replace(tmp, args.out)
        if not quiet:
            log(f"wrote {args.out}")

    progress = (lambda meta, train, results: write(json.dumps(record(meta, train, results, False), indent=2), True)) if args.out else \
        (lambda meta, train, results: None)
    meta, train, results = measure(args, device, progress)
    text = json.dumps(record(meta, train, results, True), indent=2)
    if args.out:
        write(text, False)
    if args.json:
        print(text)
    else:
        print(f"PyTorch {torch.__version__} reference on {args.data}, {args.device}, median of {args.repeats} runs of {args.steps} steps")
        print(f"{'mode':8} {'model':6} {'batch':>6} {'train/s':>12} {'p50 ms':>9} {'p90 ms':>9} {'eval/s':>12} {'RSS MiB':>9}")
        for r in results:
            if r.get("train_samples_per_s") is None:
                print(f"{r['mode']:8} {r['model']:6} {r['batch_size']:>6}  skipped: {r['skipped']}")
                continue
            print(f"{r['mode']:8} {r['model']:6} {r['batch_size']:>6} {r['train_samples_per_s']:>12,.0f} {r['step_ms']['p50']:>9.2f} "
                  f"{r['step_ms']['p90']:>9.2f} {r['eval_samples_per_s']:>12,.0f} {r['peak_host_rss_mib']:>9.0f}")


if __name__ == "__main__":
    main()
