"""Benchmarks of the tiny SFT: wall time and the evaluation table, and Meerkat's LoRA-rank ablation.

Numbers in the README come from these commands (not from tests):

    chronus-lab bench sft      # the tiny-sft recipe, timed, then its test table with chance rows
    chronus-lab bench lora     # LoRA r = 4 / 16 / 32 vs full fine-tuning, same data, same steps
"""
from __future__ import annotations

import tempfile
import time

from ..eval.harness import GROUPS
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
               "train s": round(seconds), "val loss": round(float(run.trainer.callback_metrics["val/loss"]), 3)}
        for group, metric in zip(GROUPS, ("mIoU", "acc")):
            row[f"{group.split()[0]} {metric}"] = ev.value(group, "model", metric)
        row["ARIG box IoU"] = ev.value("arig", "model", "box IoU")
        row["IGATL mIoU"] = ev.value("igatl", "model", "mIoU")
        rows.append(row)
        log(row)
    chance = {"adaptation": "chance", "LLM weights trained": "-", "train s": "-", "val loss": "-"}
    for group, metric in zip(GROUPS, ("mIoU", "acc")):
        chance[f"{group.split()[0]} {metric}"] = ev.value(group, "chance", metric)
    chance["ARIG box IoU"] = ev.value("arig", "chance", "box IoU")
    chance["IGATL mIoU"] = ev.value("igatl", "chance", "mIoU")
    return rows + [chance]
