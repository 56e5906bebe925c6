"""The one plain training loop for the short teaching experiments (Lightning runs the long ones).

Built in ``notebooks/04_timestamp_tokens.ipynb``; used by stage 0 (``train/base.py``), the
experiments of notebooks 04–06 and the linear probes; tested in ``tests/test_experiment.py``.

``fit`` is AdamW over a list of parameters, driven by a ``loss_at(step)`` callable that builds its
own batch — so a contrastive tower, a language model, an attention module or a probe's two tensors
all train through the same dozen lines. Options cover what those callers need: weight decay,
gradient clipping, and a one-cycle schedule (warm-up then cosine decay).
"""
from __future__ import annotations

import random
from typing import Callable

import torch
from torch import nn

from ..errors import Diverged
from ..model.omni import OmniModel, collate
from ..world import make_task
from .finite import advice


def fit(params, loss_at: Callable[[int], torch.Tensor], steps: int, lr: float = 1e-3, *,
        weight_decay: float = 0.0, clip: float | None = None, one_cycle: bool = False,
        module: nn.Module | None = None, log_every: int = 0, log=print) -> list[float]:
    """Minimise ``loss_at(step)`` for ``steps`` AdamW steps; returns the loss of every step.

    ``module`` (if given) is in train mode during the loop and in eval mode after it.
    """
    params = [p for p in params if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    sched = (torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
             if one_cycle else None)
    if module is not None:
        module.train()
    losses = []
    for step in range(steps):
        loss = loss_at(step)
        if not torch.isfinite(loss):  # one NaN step would spread into every weight: stop with what was reached
            raise Diverged(f"training diverged at step {step + 1} of {steps}: the loss is {loss.item()}; {advice(lr)}.")
        opt.zero_grad()
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(params, clip)
        opt.step()
        if sched is not None:
            sched.step()
        losses.append(loss.item())
        if log_every and (step + 1) % log_every == 0:
            log(f"step {step + 1:4d}  loss {sum(losses[-log_every:]) / log_every:.3f}")
    if module is not None:
        module.eval()
    return losses


def fit_model(model: OmniModel, batches, steps: int, lr: float = 1e-3, log_every: int = 0) -> list[float]:
    """An ``OmniModel`` on a batch iterator: every trainable weight, clipped, one-cycle schedule."""
    return fit(model.parameters(), lambda _: model(next(batches)).loss, steps, lr, clip=1.0,
               one_cycle=True, module=model, log_every=log_every)


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
        tasks = [make_task(c, rng.choice(kinds), seed=seed + step, fmt=model.answer_format,
                           plan=model.cfg.plan) for c, _ in picks]
        pairs = [(f, t) for (_, f), t in zip(picks, tasks) if t is not None]
        batch = collate([f for f, _ in pairs], [t.question for _, t in pairs], [t.answer for _, t in pairs])
        batch["prefixes"] = [filler(rng.randint(0, prefix_words)) for _ in pairs] if prefix_words else None
        batch["tasks"] = [t for _, t in pairs]
        step += 1
        yield batch


def filler(n: int) -> str:
    words = "please watch the clip and listen to the sound".split()
    return " ".join(words[i % len(words)] for i in range(n))
