#!/usr/bin/env python3
# A model of shared-memory wavefronts for activation_unit.cu's vector_tile (A by rows): its A loads and its epilogue's stores
# per warp, with the rows of a thread's tile 4 tm + ii (before 2026-11-26, thirty-fourth session) or tm + tiles_m ii (now),
# for the Amazon config's shapes (W = 36, h1 = 80, h2 = 40) at tiles of 16 and 32 rows, 256 threads. No GPU needed:
#   python3 scripts/bank_model.py
# shared-memory wavefronts of vector_tile's A loads (float4, A by rows) and its epilogue's float4 stores, per warp and ii,
# old rows (4 tm + ii) against new (tm + tiles_m ii): a wavefront serves each bank once (distinct words), broadcasts free
def wavefronts(addrs):
    words = set()
    for a in addrs:
        for w in range(4): words.add(a + w)
    per_bank = {}
    for w in words: per_bank.setdefault(w % 32, set()).add(w)
    return max(len(v) for v in per_bank.values())
def product(name, M, N, lda, threads=256):
    tiles_n = N // 4; tiles_m = (M + 3) // 4; tiles = tiles_m * tiles_n
    res = {}
    for form in ("old", "new"):
        tot = 0; ideal = 0
        for w0 in range(0, min(tiles, threads), 32):
            lanes = [t for t in range(w0, min(w0 + 32, tiles))]
            for ii in range(4):
                rows = [min((4 * (t // tiles_n) + ii) if form == "old" else (t // tiles_n + tiles_m * ii), M - 1) for t in lanes]
                addrs = [r * lda for r in rows]   # k = 0; the k offset shifts every lane alike
                tot += wavefronts(addrs)
                ideal += 1
        res[form] = (tot, ideal)
    print(f"{name:34s} M={M:2d} N={N:2d} lda={lda:3d}: wavefronts a k-quad, old {res['old'][0]:3d}, new {res['new'][0]:3d} (ideal {res['new'][1]})")
for M in (16, 32):
    product("forward H1 = R M2 (R stride 2W)", M, 80, 72)
    product("H2 = A1 W2 (A1 stride h1)", M, 40, 80)
    product("backward H1 = R3 M2 (stride 3W)", M, 80, 108)
    product("dA1 = D2 W2^T (D2 stride h2)", M, 80, 40)
    product("dR3 = D1 M3^T, 2W wide (D1 stride h1)", M, 72, 80)
print("epilogue stores (float4 runs at 4 tn of row i, output stride ldo):")
def stores(name, M, N, ldo, threads=256):
    tiles_n = N // 4; tiles_m = (M + 3) // 4; tiles = tiles_m * tiles_n
    out = {}
    for form in ("old", "new"):
        tot = 0
        for w0 in range(0, min(tiles, threads), 32):
            lanes = range(w0, min(w0 + 32, tiles))
            for ii in range(4):
                addrs = [((4 * (t // tiles_n) + ii) if form == "old" else (t // tiles_n + tiles_m * ii)) * ldo + 4 * (t % tiles_n) for t in lanes]
                tot += wavefronts(addrs)
        out[form] = tot
    print(f"  {name:30s} M={M:2d}: old {out['old']:3d}, new {out['new']:3d}")
for M in (16, 32):
    stores("H1, A1, D1 (N 80, stride 80)", M, 80, 80)
    stores("H2, A2 (N 40, stride 40)", M, 40, 40)
    stores("dR3 (N 72, stride 108)", M, 72, 108)
