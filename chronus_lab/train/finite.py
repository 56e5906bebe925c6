"""A run that diverged stops before it writes over what was good.

One NaN or inf in the loss or in a weight never heals: the next AdamW step carries it into every weight it
touches. Lightning 2.x does not stop on it (``Trainer(terminate_on_nan=…)`` was removed in 1.7), so a diverged
run used to train on, write NaN weights over its last good ``last.ckpt``, export them, and ``chronus-lab eval``
scored them as a model that answers nothing. The checks here are what the SFT module, the plain loop and RL
call (``Diverged``); ``read_checkpoint`` refuses a checkpoint such a run wrote before them (``CheckpointError``).
Tested in ``tests/test_diverged.py``.
"""
from __future__ import annotations

from typing import Iterable

import torch


def non_finite(named: Iterable[tuple[str, object]]) -> list[str]:
    """Names of the floating-point tensors that hold a NaN or an inf (other entries are skipped).

    >>> non_finite([("ok", torch.ones(2)), ("bad", torch.tensor([1.0, float("inf")])), ("ids", torch.tensor([3])),
    ...             ("step", 7), ("nan", torch.tensor(float("nan")))])
    ['bad', 'nan']
    """
    return [name for name, t in named
            if torch.is_tensor(t) and t.is_floating_point() and not bool(torch.isfinite(t).all())]


def advice(lr: float) -> str:
    """What to do about it, with a learning rate to try.

    >>> advice(0.002)
    'lower the learning rate (lr is 0.002; try --set lr=0.0002)'
    """
    return f"lower the learning rate (lr is {lr:g}; try --set lr={lr / 10:g})"


def named_list(names: list[str], limit: int = 2) -> str:
    """``names`` for a one-line message: how many, and the first few.

    >>> named_list(["a.weight", "b.weight", "c.weight"])
    '3 tensors (a.weight, b.weight, …)'
    """
    more = ", …" if len(names) > limit else ""
    return f"{len(names)} tensor{'s' * (len(names) != 1)} ({', '.join(names[:limit])}{more})"
