#!/usr/bin/env python3
"""Golden values for Augur's DIEN CPU reference (DESIGN.md section 3): one training step.

Extends scripts/golden_din.py (same tiny batch, same closed-form parameter generator,
same building blocks and JSON writer) with an independent plain-PyTorch (float32,
autograd) implementation of DIEN: the GRU interest extractor, the auxiliary network
and loss, the query-projected attention with softmax, and the AUGRU / AGRU / AIGRU
interest evolution.  A Java test (GoldenDienTest) compares the CPU reference and the
fast path against every output and every parameter gradient.

Regenerate (Debian's python3-torch is installed for /usr/bin/python3):

    /usr/bin/python3 scripts/golden_dien.py --out java/src/test/resources/golden

Self-check (float64 gradcheck of the same function, padding invariance, float32 vs
float64, a second formulation of the recurrences), writes nothing:

    /usr/bin/python3 scripts/golden_dien.py --selfcheck

Cases (one JSON file each):
  dien_augru_aux.json   AUGRU evolution, auxiliary loss weight 1 (the paper's DIEN)
  dien_agru_aux.json    AGRU evolution, auxiliary loss weight 0.5
  dien_aigru.json       AIGRU evolution, no auxiliary loss (weight 0: no auxiliary network)

Sizes: the DIN cases' batch (B = 5, T = 6, D = 4, E = 8, lengths [6, 3, 0, 1, 4]),
GRU hidden H = 5 (deliberately != E), attention 8-4-1 with sigmoid, auxiliary network
7-3-1 with sigmoid, top MLP 10-6-1 with Dice; negatives ê_t for every position,
including t = 0 (never used by the loss) and non-zero ids where a DIN test has none.

Conventions (the Java side must match):
  * GRU cell, weights wx (in, 3H), wh (H, 3H), biases bx, bh (3H), columns [u, r, n]:
        u = sigmoid(x wx_u + bx_u + h wh_u + bh_u)
        r = sigmoid(x wx_r + bx_r + h wh_r + bh_r)
        n = tanh(x wx_n + bx_n + r * (h wh_n + bh_n))
        GRU   h' = (1 - u) h + u n
        AUGRU h' = (1 - a u) h + a u n
        AGRU  h' = (1 - a) h + a n
    h_{-1} = 0; states at t >= len are 0 and never read.
  * Auxiliary pairs for 1 <= t < len: [h_{t-1}, e_t] (label 1) and [h_{t-1}, ê_t]
    (label 0); one BatchNorm (training mode, biased variance, eps 1e-5) over all 2P
    rows; L_aux = (sum of the 2P BCE terms) / P; total = CE + alpha * L_aux.
  * Attention: q = PReLU(e_a Wq + bq) (size H); a_t = MLP([q, h_t, q - h_t, q * h_t])
    (att.fc1.weight rows ordered q, h, q - h, q * h), softmax over valid positions,
    an empty history gets all-zero weights.
  * AIGRU: a plain GRU over a_t h_t.  The evolution's last state h'_{len-1} (0 when
    len = 0) is the interest: x = [u, e_a, s, e_a * s, h'].
"""

import argparse
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_din as G  # noqa: E402

B, T, D, E = G.B, G.T, G.D, G.E
H = 5
ATT_H = (8, 4)
AUX_H = (7, 3)
MLP_H = G.MLP_H

# Non-clicked behaviours, one per history position (t = 0 included); never equal to the
# clicked item at the same position.
NEG_ITEM_VALID = [[4, 9, 12, 2, 6, 10], [11, 3, 9], [], [8], [1, 12, 5, 3]]
NEG_CATE_VALID = [[3, 1, 2, 4, 1, 3], [4, 2, 1], [], [3], [2, 4, 1, 3]]
NEG_ITEM = G.padded(NEG_ITEM_VALID)
NEG_CATE = G.padded(NEG_CATE_VALID)

CASES = [
    # file stem, evolution, aux weight
    ("dien_augru_aux", "augru", 1.0),
    ("dien_agru_aux", "agru", 0.5),
    ("dien_aigru", "aigru", 0.0),
]


def param_specs(aux_weight):
    F_in = D + 3 * E + H
    specs = [
        ("emb.user", (G.N_USER, D), 0.5, 0.0),
        ("emb.item", (G.N_ITEM, D), 0.5, 0.0),
        ("emb.cate", (G.N_CATE, D), 0.5, 0.0),
        ("extractor.wx", (E, 3 * H), 0.4, 0.0),
        ("extractor.wh", (H, 3 * H), 0.4, 0.0),
        ("extractor.bx", (3 * H,), 0.2, 0.0),
        ("extractor.bh", (3 * H,), 0.2, 0.0),
        ("att.query.weight", (E, H), 0.4, 0.0),
        ("att.query.bias", (H,), 0.1, 0.0),
        ("att.query_act.alpha", (H,), 0.1, 0.25),
        ("att.fc1.weight", (4 * H, ATT_H[0]), 0.4, 0.0),
        ("att.fc1.bias", (ATT_H[0],), 0.1, 0.0),
        ("att.fc2.weight", (ATT_H[0], ATT_H[1]), 0.4, 0.0),
        ("att.fc2.bias", (ATT_H[1],), 0.1, 0.0),
        ("att.fc3.weight", (ATT_H[1], 1), 1.0, 0.0),
        ("att.fc3.bias", (1,), 0.1, 0.2),
        ("evolution.wx", (H, 3 * H), 0.5, 0.0),
        ("evolution.wh", (H, 3 * H), 0.4, 0.0),
        ("evolution.bx", (3 * H,), 0.2, 0.1),
        ("evolution.bh", (3 * H,), 0.2, 0.0),
    ]
    if aux_weight > 0:
        specs += [
            ("aux.bn.gamma", (H + E,), 0.2, 1.0),
            ("aux.bn.beta", (H + E,), 0.1, 0.0),
            ("aux.fc1.weight", (H + E, AUX_H[0]), 0.4, 0.0),
            ("aux.fc1.bias", (AUX_H[0],), 0.1, 0.0),
            ("aux.fc2.weight", (AUX_H[0], AUX_H[1]), 0.5, 0.0),
            ("aux.fc2.bias", (AUX_H[1],), 0.1, 0.0),
            ("aux.fc3.weight", (AUX_H[1], 1), 0.8, 0.0),
            ("aux.fc3.bias", (1,), 0.1, 0.0),
        ]
    specs += [
        ("mlp.bn.gamma", (F_in,), 0.2, 1.0),
        ("mlp.bn.beta", (F_in,), 0.1, 0.0),
        ("mlp.fc1.weight", (F_in, MLP_H[0]), 0.3, 0.0),
        ("mlp.fc1.bias", (MLP_H[0],), 0.1, 0.0),
        ("mlp.act1.alpha", (MLP_H[0],), 0.1, 0.2),
        ("mlp.fc2.weight", (MLP_H[0], MLP_H[1]), 0.3, 0.0),
        ("mlp.fc2.bias", (MLP_H[1],), 0.1, 0.0),
        ("mlp.act2.alpha", (MLP_H[1],), 0.1, 0.2),
        ("mlp.fc3.weight", (MLP_H[1], 1), 0.3, 0.0),
        ("mlp.fc3.bias", (1,), 0.1, 0.0),
    ]
    return specs, F_in


def make_params(aux_weight):
    specs, F_in = param_specs(aux_weight)
    return {name: G.gen(shape, c, scale, offset) for c, (name, shape, scale, offset) in enumerate(specs)}, F_in


def make_inputs(hist_item=G.HIST_ITEM, hist_cate=G.HIST_CATE, neg_item=NEG_ITEM, neg_cate=NEG_CATE):
    inp = G.make_inputs(hist_item, hist_cate)
    inp["neg_item"] = torch.tensor(neg_item, dtype=torch.long)
    inp["neg_cate"] = torch.tensor(neg_cate, dtype=torch.long)
    return inp


def gru_cell(x, h, p, prefix, kind, a=None):
    """x (B, in), h (B, H), a (B,) or None -> the new state (B, H)."""
    gx = x @ p[prefix + ".wx"] + p[prefix + ".bx"]
    gh = h @ p[prefix + ".wh"] + p[prefix + ".bh"]
    u = torch.sigmoid(gx[:, :H] + gh[:, :H])
    r = torch.sigmoid(gx[:, H:2 * H] + gh[:, H:2 * H])
    n = torch.tanh(gx[:, 2 * H:] + r * gh[:, 2 * H:])
    if kind == "gru":
        return (1 - u) * h + u * n
    a = a.unsqueeze(1)
    if kind == "augru":
        ua = a * u
        return (1 - ua) * h + ua * n
    if kind == "agru":
        return (1 - a) * h + a * n
    raise ValueError(kind)


def recurrence(x, mask, p, prefix, kind, a=None):
    """x (B, T, in), mask (B, T) bool -> states (B, T, H) (0 where masked), last (B, H)."""
    h = torch.zeros(B, H, dtype=x.dtype)
    outs = []
    for t in range(T):
        m = mask[:, t].unsqueeze(1)
        new = gru_cell(x[:, t], h, p, prefix, kind, None if a is None else a[:, t])
        h = torch.where(m, new, h)
        outs.append(torch.where(m, new, torch.zeros_like(new)))
    return torch.stack(outs, 1), h


def forward(p, inp, evolution, aux_weight, keep=None):
    user, item, cate, lengths, labels = inp["user"], inp["item"], inp["cate"], inp["lengths"], inp["labels"]
    dtype = p["emb.user"].dtype
    mask = torch.arange(T).unsqueeze(0) < lengths.unsqueeze(1)                  # (B, T)
    mf = mask.to(dtype).unsqueeze(2)
    u = p["emb.user"][user]
    e_a = torch.cat([p["emb.item"][item], p["emb.cate"][cate]], 1)              # (B, E)

    def behaviours(ids_item, ids_cate):
        # padded positions are multiplied by 0: their ids (real ones in the padding check) cannot matter
        e = torch.cat([p["emb.item"][ids_item], p["emb.cate"][ids_cate]], 2)    # (B, T, E)
        return e * mf

    e_t = behaviours(inp["hist_item"], inp["hist_cate"])
    s = e_t.sum(1)

    # interest extractor
    h, _ = recurrence(e_t, mask, p, "extractor", "gru")                        # (B, T, H)

    # attention
    q = G.prelu(e_a @ p["att.query.weight"] + p["att.query.bias"], p["att.query_act.alpha"])  # (B, H)
    qq = q.unsqueeze(1).expand(B, T, H)
    a_in = torch.cat([qq, h, qq - h, qq * h], 2).reshape(B * T, 4 * H)
    z = torch.sigmoid(a_in @ p["att.fc1.weight"] + p["att.fc1.bias"])
    z = torch.sigmoid(z @ p["att.fc2.weight"] + p["att.fc2.bias"])
    scores = (z @ p["att.fc3.weight"] + p["att.fc3.bias"]).reshape(B, T)
    w = torch.softmax(scores.masked_fill(~mask, -math.inf), 1)
    w = torch.where(mask, w, torch.zeros_like(w))                               # empty history -> 0 (no NaN)

    # interest evolution
    if evolution == "aigru":
        _, h_last = recurrence(w.unsqueeze(2) * h, mask, p, "evolution", "gru")
    else:
        _, h_last = recurrence(h, mask, p, "evolution", evolution, w)

    x = torch.cat([u, e_a, s, e_a * s, h_last], 1)
    if keep is not None:
        if x.requires_grad:
            x.retain_grad()
        keep["x_tensor"] = x
        keep.update(x=x.detach(), s=s.detach(), h=h.detach(), att_weights=w.detach(), h_last=h_last.detach())
    y = G.batch_norm(x, p["mlp.bn.gamma"], p["mlp.bn.beta"])
    y = G.dice(y @ p["mlp.fc1.weight"] + p["mlp.fc1.bias"], p["mlp.act1.alpha"])
    y = G.dice(y @ p["mlp.fc2.weight"] + p["mlp.fc2.bias"], p["mlp.act2.alpha"])
    logits = (y @ p["mlp.fc3.weight"] + p["mlp.fc3.bias"]).squeeze(1)
    ce = G.bce_with_logits_mean(logits, labels.to(dtype))

    aux = torch.zeros((), dtype=dtype)
    if aux_weight > 0:
        neg = behaviours(inp["neg_item"], inp["neg_cate"])
        rows = []
        for b in range(B):
            for t in range(1, int(lengths[b])):
                rows.append(torch.cat([h[b, t - 1], e_t[b, t]]))
                rows.append(torch.cat([h[b, t - 1], neg[b, t]]))
        P = len(rows) // 2
        ax = torch.stack(rows)                                                   # (2P, H + E)
        ay = G.batch_norm(ax, p["aux.bn.gamma"], p["aux.bn.beta"])
        ay = torch.sigmoid(ay @ p["aux.fc1.weight"] + p["aux.fc1.bias"])
        ay = torch.sigmoid(ay @ p["aux.fc2.weight"] + p["aux.fc2.bias"])
        az = (ay @ p["aux.fc3.weight"] + p["aux.fc3.bias"]).squeeze(1)          # (2P,)
        target = torch.tensor([1.0, 0.0] * P, dtype=dtype)
        terms = torch.clamp(az, min=0) - az * target + torch.log1p(torch.exp(-torch.abs(az)))
        aux = terms.sum() / P
        if keep is not None:
            keep["aux_logits"] = az.detach()
    if keep is not None:
        keep["ce"] = ce.detach()
        keep["aux"] = aux.detach()
    return logits, ce + aux_weight * aux


def run_case(evolution, aux_weight, dtype=torch.float32, inp=None):
    params, F_in = make_params(aux_weight)
    params = {k: v.to(dtype).requires_grad_(True) for k, v in params.items()}
    inp = inp if inp is not None else make_inputs()
    keep = {}
    logits, loss = forward(params, inp, evolution, aux_weight, keep)
    loss.backward()
    grads = {k: v.grad.detach().clone() for k, v in params.items()}
    return params, F_in, inp, logits.detach(), loss.detach(), keep, grads


def case_json(name, evolution, aux_weight):
    params, F_in, inp, logits, loss, keep, grads = run_case(evolution, aux_weight)
    config = {
        "case": name, "model": "dien", "evolution": evolution, "aux_weight": aux_weight,
        "attention_activation": "sigmoid", "softmax": True, "top_activation": "dice",
        "B": B, "T": T, "D": D, "E": E, "H": H, "F": F_in,
        "att_hidden": list(ATT_H), "aux_hidden": list(AUX_H), "mlp_hidden": list(MLP_H),
        "vocab": {"user": G.N_USER, "item": G.N_ITEM, "cate": G.N_CATE},
        "bn_eps": G.BN_EPS, "dice_eps": G.DICE_EPS, "bn_variance": "biased",
        "gru_layout": "wx (in, 3H), wh (H, 3H), columns [u, r, n]",
        "x_layout": ["u", "e_a", "s", "e_a*s", "h_last"],
        "dtype": "float32", "torch": torch.__version__,
    }
    inputs = {
        "user": G.USER, "item": G.ITEM, "cate": G.CATE,
        "hist_item": [i for r in G.HIST_ITEM for i in r],
        "hist_cate": [i for r in G.HIST_CATE for i in r],
        "neg_item": [i for r in NEG_ITEM for i in r],
        "neg_cate": [i for r in NEG_CATE for i in r],
        "lengths": G.LENGTHS, "labels": G.LABELS,
    }
    outputs = {
        "logits": G.tensor_json(logits),
        "loss": float(loss.to(torch.float32)),
        "ce": float(keep["ce"].to(torch.float32)),
        "aux_loss": float(keep["aux"].to(torch.float32)),
        "s": G.tensor_json(keep["s"]),
        "h": G.tensor_json(keep["h"]),
        "att_weights": G.tensor_json(keep["att_weights"]),
        "h_last": G.tensor_json(keep["h_last"]),
        "x": G.tensor_json(keep["x"]),
        "grad_x": G.tensor_json(keep["x_tensor"].grad),
    }
    if "aux_logits" in keep:
        outputs["aux_logits"] = G.tensor_json(keep["aux_logits"])
    return {
        "config": config, "inputs": inputs,
        "params": {k: G.tensor_json(v) for k, v in params.items()},
        "outputs": outputs,
        "grads": {k: G.tensor_json(v) for k, v in grads.items()},
    }


# ----------------------------------------------------------------------------- self-check


def packed_recurrence(x, lengths, p, prefix, kind, a=None):
    """A second formulation: each sample run on its own, only over its valid positions."""
    states = torch.zeros(B, T, H, dtype=x.dtype)
    last = torch.zeros(B, H, dtype=x.dtype)
    rows_s, rows_l = [], []
    for b in range(B):
        h = torch.zeros(1, H, dtype=x.dtype)
        seq = []
        for t in range(int(lengths[b])):
            h = gru_cell(x[b, t].unsqueeze(0), h, p, prefix, kind, None if a is None else a[b, t].unsqueeze(0))
            seq.append(h[0])
        rows_s.append(torch.stack(seq + [torch.zeros(H, dtype=x.dtype)] * (T - len(seq))))
        rows_l.append(h[0])
    return torch.stack(rows_s), torch.stack(rows_l)


def selfcheck():
    ok = True
    for name, evolution, aux_weight in CASES:
        base, _ = make_params(aux_weight)
        names = list(base.keys())
        inp = make_inputs()

        def fn(*tensors):
            logits, loss = forward(dict(zip(names, tensors)), inp, evolution, aux_weight)
            return logits, loss.reshape(1)

        args = tuple(base[k].to(torch.float64).requires_grad_(True) for k in names)
        good = torch.autograd.gradcheck(fn, args, eps=1e-6, atol=1e-7, rtol=1e-5, raise_exception=False)
        print(f"[{name}] gradcheck float64 (all params): {'ok' if good else 'FAILED'}")
        ok &= good

        _, _, _, l64, loss64, k64, g64 = run_case(evolution, aux_weight, torch.float64)
        _, _, _, l32, loss32, k32, g32 = run_case(evolution, aux_weight, torch.float32)
        worst, worst_name = 0.0, ""
        tensors = [(k, g32[k], g64[k]) for k in g64] + [("grad_x", k32["x_tensor"].grad, k64["x_tensor"].grad)]
        tensors += [(k, k32[k], k64[k]) for k in ("s", "h", "att_weights", "h_last", "x")]
        for k, a, b in tensors:
            d = (a.double() - b).abs().max().item() / max(1e-4, b.abs().max().item())
            if d > worst:
                worst, worst_name = d, k
        dl = (l32.double() - l64).abs().max().item()
        print(f"[{name}] float32 vs float64: logits {dl:.2e}, loss {abs(loss32.item() - loss64.item()):.2e},"
              f" worst tensor (relative to max(1e-4, its max)) {worst:.2e} ({worst_name})")
        ok &= dl < 1e-5 and worst < 1e-4

        # negatives at t = 0 and rows never used at a valid position get no gradient
        used_items = set(G.ITEM + [i for r in G.HIST_ITEM_VALID for i in r])
        used_cates = set(G.CATE + [i for r in G.HIST_CATE_VALID for i in r])
        if aux_weight > 0:
            used_items |= {r[t] for r in NEG_ITEM_VALID for t in range(1, len(r))}
            used_cates |= {r[t] for r in NEG_CATE_VALID for t in range(1, len(r))}
        for table, used in (("emb.item", used_items), ("emb.cate", used_cates), ("emb.user", set(G.USER))):
            unused = [r for r in range(g32[table].shape[0]) if r not in used]
            if not all(bool((g32[table][r] == 0).all()) for r in unused):
                print(f"[{name}] unused rows of {table} have non-zero gradient: FAILED")
                ok = False

        # padding invariance: real ids at padded positions (and for the unused negatives) change nothing
        hi = [r + [(3 * b + t) % (G.N_ITEM - 1) + 1 for t in range(T - len(r))] for b, r in enumerate(G.HIST_ITEM_VALID)]
        hc = [r + [(b + 2 * t) % (G.N_CATE - 1) + 1 for t in range(T - len(r))] for b, r in enumerate(G.HIST_CATE_VALID)]
        ni = [r + [(5 * b + t) % (G.N_ITEM - 1) + 1 for t in range(T - len(r))] for b, r in enumerate(NEG_ITEM_VALID)]
        nc = [r + [(b + t) % (G.N_CATE - 1) + 1 for t in range(T - len(r))] for b, r in enumerate(NEG_CATE_VALID)]
        _, _, _, l2, loss2, k2, g2 = run_case(evolution, aux_weight, torch.float32, make_inputs(hi, hc, ni, nc))
        same = torch.equal(l2, l32) and torch.equal(loss2, loss32) and all(torch.equal(g2[k], g32[k]) for k in g32)
        print(f"[{name}] padded ids changed -> outputs and grads bit-identical: {'ok' if same else 'FAILED'}")
        ok &= same

        # the recurrences again, one sample at a time over its valid positions only (float64)
        p64 = {k: v.double() for k, v in make_params(aux_weight)[0].items()}
        mask = torch.arange(T).unsqueeze(0) < inp["lengths"].unsqueeze(1)
        e_t = torch.cat([p64["emb.item"][inp["hist_item"]], p64["emb.cate"][inp["hist_cate"]]], 2)
        hs, _ = packed_recurrence(e_t, inp["lengths"], p64, "extractor", "gru")
        d = (hs - k64["h"]).abs().max().item()
        w = k64["att_weights"]
        if evolution == "aigru":
            _, last = packed_recurrence(w.unsqueeze(2) * hs, inp["lengths"], p64, "evolution", "gru")
        else:
            _, last = packed_recurrence(hs, inp["lengths"], p64, "evolution", evolution, w)
        d = max(d, (last - k64["h_last"]).abs().max().item())
        print(f"[{name}] per-sample recurrences agree (float64): {d:.1e} {'ok' if d < 1e-12 else 'FAILED'}")
        ok &= d < 1e-12
        sums = w.sum(1)
        want = torch.tensor([1.0 if n > 0 else 0.0 for n in G.LENGTHS], dtype=torch.float64)
        good = (sums - want).abs().max().item() < 1e-12 and bool((k64["h_last"][2] == 0).all())
        print(f"[{name}] attention sums to 1 per non-empty sample; empty history -> h' = 0: {'ok' if good else 'FAILED'}")
        ok &= good
        del mask
    print("SELFCHECK", "PASSED" if ok else "FAILED")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", help="folder for the JSON files")
    ap.add_argument("--selfcheck", action="store_true", help="gradcheck and padding checks")
    args = ap.parse_args()
    if not args.out and not args.selfcheck:
        ap.error("give --out DIR and/or --selfcheck")
    torch.set_num_threads(1)
    if args.selfcheck and not selfcheck():
        sys.exit(1)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        for name, evolution, aux_weight in CASES:
            path = os.path.join(args.out, name + ".json")
            G.write_json(path, case_json(name, evolution, aux_weight))
            print("wrote", path)


if __name__ == "__main__":
    main()
