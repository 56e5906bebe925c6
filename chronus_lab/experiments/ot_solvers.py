"""``chronus-lab bench ot``: batched torch Sinkhorn vs a loop of POT calls.

Built in ``notebooks/05_wasserstein_alignment.ipynb``. Same problem, same ε, same iteration
count (no early stop) for every solver, so the timing compares work per iteration.
"""
from __future__ import annotations

import time

import torch

from ..align.ot import cosine_cost, sinkhorn_log


def run(B: int = 64, N: int = 196, M: int = 64, D: int = 512, eps: float = 0.05, iters: int = 100,
        repeat: int = 3, log=print) -> list[dict]:
    import ot

    log(f"B={B}, {N} × {M} tokens, width {D}, eps {eps}, {iters} iterations; torch threads {torch.get_num_threads()}")
    g = torch.Generator().manual_seed(0)
    C = cosine_cost(torch.randn(B, N, D, generator=g), torch.randn(B, M, D, generator=g))
    a, b = torch.full((B, N), 1 / N), torch.full((B, M), 1 / M)
    Cn, an, bn = C.double().numpy(), a[0].double().numpy(), b[0].double().numpy()

    def best(fn):
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    rows = []
    ours = best(lambda: sinkhorn_log(C, a, b, eps, max_iter=iters, tol=0.0, check_every=iters))
    rows.append({"solver": f"torch batched log-domain (B={B} at once, float32)", "seconds": ours})
    for method in ("sinkhorn", "sinkhorn_log"):
        t = best(lambda: [ot.sinkhorn2(an, bn, Cn[i], eps, method=method, numItermax=iters, stopThr=0.0)
                          for i in range(B)])
        rows.append({"solver": f"loop of {B} × ot.sinkhorn2(method='{method}', numpy float64)", "seconds": t})
        # what a training step would call: POT on the batch's own torch tensors (float32)
        t = best(lambda: [ot.sinkhorn2(a[i], b[i], C[i], eps, method=method, numItermax=iters, stopThr=0.0)
                          for i in range(B)])
        rows.append({"solver": f"loop of {B} × ot.sinkhorn2(method='{method}', torch float32)", "seconds": t})
    for r in rows:
        r["ratio vs ours"] = round(r["seconds"] / ours, 2)
        r["seconds"] = round(r["seconds"], 3)
    return rows
