"""Experiments and benchmarks: one module each, each a ``run(...) -> rows``, found by name.

Layer 7, above everything they measure (``align`` holds losses, ``train`` holds training, ``viz`` the explorer — the
experiments that measure them live here). ``chronus-lab bench NAME`` looks a name up in
``REGISTRY`` and passes the options that ``run`` accepts; the notebooks call the same ``run``.
"""
from __future__ import annotations

import importlib
import inspect

REGISTRY: dict[str, tuple[str, str]] = {
    "timestamps": ("timestamps", "notebook 04: <t_k> tokens vs second{x} text vs no time input"),
    "time": ("time_slices", "notebook 04: uniform slices on 4-12 s clips, per time input × seeds, tested on 12-24 s too"),
    "cache": ("feature_cache", "notebook 02: feature extraction through the cache, then reading it back"),
    "ot": ("ot_solvers", "notebook 05: batched log-domain Sinkhorn vs a loop of POT calls"),
    "ot-align": ("ot_align", "notebook 05: stage-1 projectors with and without the AVOpT loss"),
    "avace": ("avace_attention", "notebook 06: audio→patch attention with and without AVACE"),
    "probe": ("probe", "what the frozen encoders can tell at all: linear probes"),
    "sft": ("sft", "notebook 07: a recipe trained from scratch, timed, and its test table"),
    "lora": ("lora", "notebook 07: LoRA r 4 / 16 / 32 vs full fine-tuning, same budget"),
    "explorer": ("explorer", "notebook 09: time per slider move, clip opened and question asked in the explorer"),
    "memory": ("data_memory", "notebook 10: peak memory of the training data against the number of clips, cache vs RAM"),
    "worlds": ("worlds", "a checkpoint (--ckpt, default the shipped model) on test clips of other lengths and event counts"),
    "rl": ("rl", "notebook 08: SFT → + PPO and → + GRPO from one checkpoint (--ckpt), mean ± std over seeds"),
}
"""``name → (module in this package, what it measures)``."""


def get(name: str):
    """The ``run`` function of an experiment."""
    from ..errors import ConfigError

    if name not in REGISTRY:
        raise ConfigError(f"no experiment {name!r}; known: {', '.join(REGISTRY)}")
    return importlib.import_module(f"{__name__}.{REGISTRY[name][0]}").run


def run(name: str, log=print, **options) -> list[dict]:
    """Run an experiment with the options its ``run`` accepts (others, and ``None`` values, are dropped)."""
    fn = get(name)
    accepted = inspect.signature(fn).parameters
    return fn(log=log, **{k: v for k, v in options.items() if k in accepted and v is not None})
