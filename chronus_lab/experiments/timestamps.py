"""Does the model need a time representation to ground events? (notebook 04's experiment)

Built in ``notebooks/04_timestamp_tokens.ipynb``; tested in ``tests/test_experiment.py``;
full numbers: ``chronus-lab bench timestamps``.

Same tiny model, same steps, three inputs: ``<t_k>`` tokens, ``second{x}`` text, no time at all.
Clips vary in length (6–10 s) and a random-length prefix precedes the clip, so — as in real video
with varying frame rates and prompts — a position in the sequence should no longer tell the time.
(It still does: the README's table shows no time input scoring as well as ``<t_k>`` — rotary positions
are relative, and fixed 0.5 s slices put the k-th group k groups after the clip's start. Uniform slices,
``time_slices.py`` / ``bench time``, break that link.) Answers are always written in text seconds when
the input has no time representation, so every variant can state a span.
"""
from __future__ import annotations

import random
import time

import torch

from ..eval.metrics import mean_iou, recall_at
from ..model.config import OmniConfig
from ..model.encoders import encode_clips
from ..model.omni import OmniModel, collate
from ..train.loop import filler, fit_model, task_batches
from ..world import WorldConfig, make_clip, make_task

KINDS = ("v2t", "a2t", "t2v")


def features(model: OmniModel, seed: int, n: int, world: WorldConfig) -> list:
    """``[(clip, features)]`` for clips 0..n-1 of a world seed."""
    clips = [make_clip(world, seed, i) for i in range(n)]
    return list(zip(clips, encode_clips(model.encoders, clips)))


@torch.no_grad()
def evaluate(model: OmniModel, items: list, prefix_words: int, seed: int = 99) -> dict:
    """mIoU and R@0.5 on object/sound → span questions; accuracy on time → object questions."""
    rng = random.Random(seed)
    fmt = model.answer_format
    spans, truths, right, n_t2v = [], [], 0, 0
    for kind in KINDS:
        tasks = [(f, make_task(c, kind, seed=seed, fmt=fmt, plan=model.cfg.plan)) for c, f in items]
        for i in range(0, len(tasks), 32):
            chunk = tasks[i:i + 32]
            batch = collate([f for f, _ in chunk], [t.question for _, t in chunk])
            batch["prefixes"] = [filler(rng.randint(0, prefix_words)) for _ in chunk] if prefix_words else None
            for (_, task), text in zip(chunk, model.generate(batch, max_new_tokens=16)):
                if kind == "t2v":
                    right += text.strip() == task.answer
                    n_t2v += 1
                else:
                    spans.append(fmt.parse_span(text))
                    truths.append(tuple(task.target["span"]))
    return {"mIoU": mean_iou(spans, truths), "R@0.5": recall_at(spans, truths, 0.5),
            "t2v acc": right / max(n_t2v, 1)}


def run(variants=("token", "text", "none"), steps: int = 500, n_train: int = 400, n_test: int = 100,
        prefix_words: int = 24, batch_size: int = 16, lr: float = 2e-3, seed: int = 0, log=print) -> list[dict]:
    world = WorldConfig.varying()
    rows = []
    for variant in variants:
        torch.manual_seed(seed)
        model = OmniModel(OmniConfig.tiny(time_format=variant))
        train, test = features(model, 40_000 + seed, n_train, world), features(model, 50_000 + seed, n_test, world)
        t0 = time.perf_counter()
        losses = fit_model(model, task_batches(model, train, KINDS, batch_size, seed, prefix_words), steps, lr)
        row = {"time input": variant, "steps": steps, "train s": round(time.perf_counter() - t0),
               "final loss": round(sum(losses[-20:]) / 20, 3),
               **{k: round(v, 3) for k, v in evaluate(model, test, prefix_words).items()}}
        rows.append(row)
        log(row)
    return rows
