"""Benchmarks of the tiny SFT: wall time and the evaluation table, and Meerkat's LoRA-rank ablation.

Numbers in the README come from these commands (not from tests):

    chronus-lab bench sft      # the tiny-sft recipe, timed, then its test table with chance rows
    chronus-lab bench lora     # LoRA r = 4 / 16 / 32 vs full fine-tuning, same data, same steps
"""
from __future__ import annotations

import tempfile
import time

from .config import LoraSpec, TrainConfig
from .run import evaluate_module, train


def sft(recipe: str = "tiny-sft", overrides=(), limit_per_kind: int | None = None):
    """Train a recipe from scratch in a temporary folder; (train seconds, evaluation)."""
    with tempfile.TemporaryDirectory() as out:
        cfg = TrainConfig.load(recipe, [*overrides, f"out={out}", "progress_bar=false"])
        t0 = time.perf_counter()
        run = train(cfg, resume=False, quiet=True)
        seconds = time.perf_counter() - t0
        return seconds, evaluate_module(run.module, run.data, limit_per_kind=limit_per_kind)


ABLATION = {"LoRA r=4": dict(finetune="lora", lora=LoraSpec(r=4, alpha=8)),
            "LoRA r=16": dict(finetune="lora", lora=LoraSpec(r=16, alpha=32)),
            "LoRA r=32": dict(finetune="lora", lora=LoraSpec(r=32, alpha=64)),
            "full fine-tuning": dict(finetune="full")}


def lora_ablation(recipe: str = "tiny-sft", overrides=(), limit_per_kind: int | None = 50, log=print) -> list[dict]:
    """The same recipe and budget with each way of adapting the LLM (Meerkat's Table: LoRA rank)."""
    rows = []
    base = TrainConfig.load(recipe, list(overrides))
    for name, change in ABLATION.items():
        with tempfile.TemporaryDirectory() as out:
            cfg = base.replace(**change, out=out, progress_bar=False)
            t0 = time.perf_counter()
            run = train(cfg, resume=False, quiet=True)
            seconds = time.perf_counter() - t0
            ev = evaluate_module(run.module, run.data, limit_per_kind=limit_per_kind)
        llm = run.module.model.llm
        row = {"adaptation": name, "LLM weights trained": sum(p.numel() for p in llm.parameters() if p.requires_grad),
               "train s": round(seconds), "val loss": round(float(run.trainer.callback_metrics["val/loss"]), 3),
               **headline(ev, "model")}
        rows.append(row)
        log(row)
    chance = {"adaptation": "chance", "LLM weights trained": "-", "train s": "-", "val loss": "-", **headline(ev, "chance")}
    return rows + [chance]


HEADLINE = (("explicit (v2t+a2t)", "mIoU"), ("implicit (a2v+v2a)", "acc"), ("xspan", "mIoU"),
            ("arig", "box IoU"), ("igatl", "mIoU"))


def headline(ev, who: str) -> dict:
    """The ablation's columns, for the tasks the recipe evaluates."""
    present = {r["task"] for r in ev.rows}
    return {f"{task.split()[0]} {metric}": ev.value(task, who, metric) for task, metric in HEADLINE if task in present}
