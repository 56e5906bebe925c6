"""``chronus-lab bench rl``: SFT → + PPO and SFT → + GRPO, same rewards, same number of sampled answers.

Built in ``notebooks/08_ppo_rewards.ipynb``; tested in ``tests/test_rl.py``. Each RL run starts from the
same SFT checkpoint; the table gives each headline metric as mean ± std over the seeds, with the SFT
start and the chance row beside it.
"""
from __future__ import annotations

import statistics
import tempfile
import time

from ..rl.run import RLConfig, train_rl
from ..train.module import load_checkpoint
from ..train.run import evaluate_module

METRICS = (("explicit (v2t+a2t)", "mIoU"), ("explicit (v2t+a2t)", "R@0.5"), ("explicit (v2t+a2t)", "R@0.7"),
           ("implicit (a2v+v2a)", "acc"), ("order", "acc"))


def _metrics(ev, who: str = "model") -> dict:
    present = {r["task"] for r in ev.rows}
    return {f"{t.split()[0]} {m}": ev.value(t, who, m) for t, m in METRICS if t in present}


def _cell(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.pstdev(values):.3f}"


def run(ckpt: str = "runs/tiny-grounding/checkpoints/last.ckpt", steps: int | None = None, seeds: int = 3,
        limit_per_kind: int | None = None, overrides=(), algos=("ppo", "grpo"), log=print) -> list[dict]:
    """``steps`` = RL iterations (the recipe's by default); ``seeds`` RL runs per algorithm."""
    start = evaluate_module(load_checkpoint(ckpt), limit_per_kind=limit_per_kind)
    rows = [{"model": "SFT (start)", "RL s": "-", **{k: f"{v:.3f}" for k, v in _metrics(start).items()}}]
    for algo in algos:
        per_seed, seconds = [], []
        for seed in range(seeds):
            with tempfile.TemporaryDirectory() as out:
                over = [f"init_from={ckpt}", f"seed={seed}", f"out={out}", *overrides]
                if steps:
                    over.append(f"iterations={steps}")
                t0 = time.perf_counter()
                rl = train_rl(RLConfig.load(f"tiny-{algo}", over), log=None)
                seconds.append(time.perf_counter() - t0)
                per_seed.append(_metrics(evaluate_module(rl.module, limit_per_kind=limit_per_kind)))
            log(f"{algo} seed {seed}: {per_seed[-1]} in {seconds[-1]:.0f} s")
        rows.append({"model": f"SFT + {algo.upper()} ({seeds} seeds)", "RL s": f"{statistics.mean(seconds):.0f}",
                     **{k: _cell([m[k] for m in per_seed]) for k in per_seed[0]}})
    rows.append({"model": "chance", "RL s": "-", **{k: f"{v:.3f}" for k, v in _metrics(start, "chance").items()}})
    return rows
