"""``chronus-lab bench worlds``: one trained checkpoint on test clips unlike its training clips.

Tested in ``tests/test_train.py``; the README's "clips unlike training" table comes from this command.

ChronusOmni's point is that time tokens tell the model *when*; a model that instead learned where in the
sequence things sit answers well on its own clip length and writes nonsense on any other. Each row evaluates
the checkpoint on the test clips of one world (``data.world`` names: other lengths ``"12-16s"``, more events
``"tiny, 5-6 events"``), chance always from the checkpoint's own training answers — the first row is the world
it trained on.
"""
from __future__ import annotations

import time
from dataclasses import replace

from ..train.module import load_checkpoint
from ..train.run import evaluate_module
from ..train.ship import shipped
from ..world.config import WorldConfig

WORLDS = ("tiny", "4-8s", "12-16s", "16-24s", "tiny, 5-6 events")
"""Shorter, longer and much longer clips than the shipped recipe's, and more events per clip."""
HEADLINE = {"explicit (v2t+a2t)": "mIoU", "implicit (a2v+v2a)": "acc"}


def world_row(ev, world: str, trained: bool) -> dict:
    """The headline rows of one evaluation, model and chance side by side."""
    got = {(r["task"], r["who"]): r for r in ev.rows}
    row = {"world": world + (" (trained on)" if trained else "")}
    for task, metric in HEADLINE.items():
        name = task.split()[0]
        row[f"{name} {metric}"] = got[task, "model"][metric]
        row[f"{name} chance"] = got[task, "chance"][metric]
    return row


def run(ckpt: str | None = None, worlds=WORLDS, n_test: int | None = None, limit_per_kind: int | None = None,
        log=print) -> list[dict]:
    for world in worlds:  # every name checked before the first world's minutes of evaluation, not after
        WorldConfig.named(world)
    module = load_checkpoint(ckpt or shipped("grounding"))
    if n_test:  # fewer test clips per world (a quick look; the README's rows use the recipe's own count)
        module.cfg = replace(module.cfg, data=replace(module.cfg.data, n_test=n_test))
    own = module.cfg.data.world
    rows = []
    for world in [own, *(w for w in worlds if w != own)]:
        t0 = time.perf_counter()
        ev = evaluate_module(module, world=None if world == own else world, limit_per_kind=limit_per_kind)
        rows.append(world_row(ev, world, world == own))
        log(f"{world}: {len(ev.predictions)} questions, {time.perf_counter() - t0:.0f} s")
    return [{k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()} for r in rows]
