"""A plain PyTorch loop for the short experiments of notebooks 04–06 (Lightning comes in 07).

Built in ``notebooks/04_timestamp_tokens.ipynb``; tested in ``tests/test_experiment.py``.
"""
from __future__ import annotations

import random

import torch

from ..omni import OmniModel, collate
from ..world import make_task


def task_batches(model: OmniModel, items: list, kinds: tuple, batch_size: int, seed: int,
                 prefix_words: int = 0):
    """Endless random batches. ``items`` = [(clip, features)]; a task of a random kind per item.

    ``prefix_words`` > 0 puts a random-length filler (0..prefix_words words) before the clip, so
    slice k no longer sits at a fixed position: only the time representation says when it is.
    """
    rng = random.Random(seed)
    step = 0
    while True:
        picks = [items[rng.randrange(len(items))] for _ in range(batch_size)]
        tasks = [make_task(c, rng.choice(kinds), seed=seed + step, fmt=model.answer_format)
                 for c, _ in picks]
        pairs = [(f, t) for (_, f), t in zip(picks, tasks) if t is not None]
        batch = collate([f for f, _ in pairs], [t.question for _, t in pairs], [t.answer for _, t in pairs])
        batch["prefixes"] = [filler(rng.randint(0, prefix_words)) for _ in pairs] if prefix_words else None
        batch["tasks"] = [t for _, t in pairs]
        step += 1
        yield batch


def filler(n: int) -> str:
    words = "please watch the clip and listen to the sound".split()
    return " ".join(words[i % len(words)] for i in range(n))


def fit(model: OmniModel, batches, steps: int, lr: float = 1e-3, log_every: int = 0) -> list[float]:
    """AdamW on every trainable parameter (projectors + LLM; the encoders are frozen)."""
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    losses = []
    model.train()
    model.encoders.eval()
    for step in range(steps):
        loss = model(next(batches)).loss
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
        if log_every and (step + 1) % log_every == 0:
            print(f"step {step + 1:4d}  loss {sum(losses[-log_every:]) / log_every:.3f}")
    model.eval()
    return losses
