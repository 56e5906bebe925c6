"""``chronus-lab bench sft``: a recipe trained from scratch, timed, then its test table with chance rows.

Built in ``notebooks/07_lightning_sft.ipynb``; tested in ``tests/test_train.py``; the README's SFT
numbers come from this command (not from tests).
"""
from __future__ import annotations

import tempfile
import time

from ..train.config import TrainConfig
from ..train.run import evaluate_module, train


def train_and_evaluate(recipe: str = "tiny-sft", overrides=(), limit_per_kind: int | None = None, **changes):
    """Train a recipe from scratch in a temporary folder; (train seconds, the run, its evaluation)."""
    with tempfile.TemporaryDirectory() as out:
        cfg = TrainConfig.load(recipe, [*overrides, f"out={out}", "progress_bar=false"])
        cfg = cfg.replace(**changes) if changes else cfg
        t0 = time.perf_counter()
        run = train(cfg, resume=False, quiet=True)
        seconds = time.perf_counter() - t0
        return seconds, run, evaluate_module(run.module, run.data, limit_per_kind=limit_per_kind)


def run(recipe: str = "tiny-sft", overrides=(), limit_per_kind: int | None = None, log=print) -> list[dict]:
    seconds, _, ev = train_and_evaluate(recipe, overrides, limit_per_kind)
    log(f"{recipe} {' '.join(overrides)}: trained in {seconds:.0f} s ({seconds / 60:.1f} min); "
        f"test split, {len(ev.predictions)} questions")
    return [{k: round(v, 1 if k == "BLEU-4" else 3) if isinstance(v, float) else v for k, v in r.items()}
            for r in ev.rows]
