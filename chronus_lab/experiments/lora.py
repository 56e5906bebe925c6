"""``chronus-lab bench lora``: Meerkat's LoRA-rank ablation — r = 4 / 16 / 32 vs full fine-tuning,
same recipe, same data, same steps.

Built in ``notebooks/07_lightning_sft.ipynb``; tested in ``tests/test_train.py``.
"""
from __future__ import annotations

from ..train.config import LoraSpec
from .sft import train_and_evaluate

ABLATION = {"LoRA r=4": dict(finetune="lora", lora=LoraSpec(r=4, alpha=8)),
            "LoRA r=16": dict(finetune="lora", lora=LoraSpec(r=16, alpha=32)),
            "LoRA r=32": dict(finetune="lora", lora=LoraSpec(r=32, alpha=64)),
            "full fine-tuning": dict(finetune="full")}

HEADLINE = (("explicit (v2t+a2t)", "mIoU"), ("implicit (a2v+v2a)", "acc"), ("xspan", "mIoU"),
            ("arig", "box IoU"), ("igatl", "mIoU"))


def headline(ev, who: str) -> dict:
    """The ablation's columns, for the tasks the recipe evaluates."""
    present = {r["task"] for r in ev.rows}
    return {f"{task.split()[0]} {metric}": round(ev.value(task, who, metric), 3)
            for task, metric in HEADLINE if task in present}


def run(recipe: str = "tiny-sft", overrides=(), limit_per_kind: int | None = 50, log=print) -> list[dict]:
    rows = []
    for name, change in ABLATION.items():
        seconds, run_, ev = train_and_evaluate(recipe, overrides, limit_per_kind, **change)
        llm = run_.module.model.llm
        row = {"adaptation": name, "LLM weights trained": sum(p.numel() for p in llm.parameters() if p.requires_grad),
               "train s": round(seconds), "val score": round(float(run_.trainer.callback_metrics["val/score"]), 3),
               "val loss": round(float(run_.trainer.callback_metrics["val/loss"]), 3), **headline(ev, "model")}
        rows.append(row)
        log(row)
    chance = {"adaptation": "chance", "LLM weights trained": "-", "train s": "-", "val score": "-", "val loss": "-",
              **headline(ev, "chance")}
    return rows + [chance]
