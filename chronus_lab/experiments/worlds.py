"""``chronus-lab bench worlds``: one trained checkpoint on test clips unlike its training clips.

Tested in ``tests/test_train.py``; the README's "clips unlike training" table comes from this command.

ChronusOmni's point is that time tokens tell the model *when*; a model that instead learned where in the
sequence things sit answers well on its own clip length and writes nonsense on any other. Each row evaluates
the checkpoint on the test clips of one world (``data.world`` names: other lengths ``"12-16s"``, more events
``"tiny, 5-6 events"``), chance always from the checkpoint's own training answers — the first row is the world
it trained on.
"""
from __future__ import annotations

import math
import time
from dataclasses import replace

from ..eval.harness import GROUPS
from ..eval.metrics import temporal_iou
from ..train.module import load_checkpoint
from ..train.run import evaluate_module
from ..train.ship import shipped
from ..world.config import WorldConfig

WORLDS = ("tiny", "4-8s", "12-16s", "16-24s", "tiny, 5-6 events")
"""Shorter, longer and much longer clips than the shipped recipe's, and more events per clip."""
HEADLINE = {"explicit (v2t+a2t)": "mIoU", "implicit (a2v+v2a)": "acc"}
HEADLINE_SPAN_KINDS = GROUPS["explicit (v2t+a2t)"]


def past_training(ev, longest: float, fmt) -> dict:
    """Explicit (v2t, a2t) questions whose true span ends after ``longest`` — the longest training clip — and
    the answers that write a time after it: a model that never wrote such a time in training can only score
    on the events inside its trained length. ``nan`` where no question reaches past it.

    >>> from chronus_lab.eval.harness import Evaluation, Prediction
    >>> from chronus_lab.world.tasks import Task
    >>> from chronus_lab.world.time_format import time_format
    >>> fmt = time_format("text", 0.5, 64)
    >>> ask = lambda s, e: Task(0, "v2t", "When …?", fmt.span(s, e), {"span": [s, e]})
    >>> ev = Evaluation([Prediction(ask(17.0, 19.0), "second{17.0}-second{18.0}", 0),
    ...                  Prediction(ask(2.0, 4.0), "second{2.0}-second{4.0}", 0),
    ...                  Prediction(ask(15.0, 18.0), "second{15.0}-second{16.0}", 0)])
    >>> past_training(ev, 16.0, fmt)
    {'explicit past': 0.417, 'n past': 2, 'answers past': 0.333}
    """
    ious, past, n = [], 0, 0
    for p in ev.predictions:
        if p.task.kind not in HEADLINE_SPAN_KINDS:
            continue
        pred, (start, end) = fmt.parse_span(p.text), p.task.target["span"]
        n += 1
        past += bool(pred and max(pred) > longest)
        if end > longest:
            ious.append(temporal_iou(pred, (start, end)))
    return {"explicit past": round(sum(ious) / len(ious), 3) if ious else math.nan, "n past": len(ious),
            "answers past": round(past / n, 3) if n else math.nan}


def world_row(ev, world: str, trained: bool, longest: float, fmt) -> dict:
    """The headline rows of one evaluation, model and chance side by side, and what reaches past ``longest``."""
    got = {(r["task"], r["who"]): r for r in ev.rows}
    row = {"world": world + (" (trained on)" if trained else "")}
    for task, metric in HEADLINE.items():
        name = task.split()[0]
        row[f"{name} {metric}"] = got[task, "model"][metric]
        row[f"{name} chance"] = got[task, "chance"][metric]
    return {**row, **past_training(ev, longest, fmt)}


def run(ckpt: str | None = None, worlds=WORLDS, n_test: int | None = None, limit_per_kind: int | None = None,
        log=print) -> list[dict]:
    for world in worlds:  # every name checked before the first world's minutes of evaluation, not after
        WorldConfig.named(world)
    module = load_checkpoint(ckpt or shipped("grounding"))
    if n_test:  # fewer test clips per world (a quick look; the README's rows use the recipe's own count)
        module.cfg = replace(module.cfg, data=replace(module.cfg.data, n_test=n_test))
    own = module.cfg.data.world
    # the longest training clip: no question or answer went past it (but with data.time_offset, whose
    # training times ran later; its positions still did not)
    longest = WorldConfig.named(own).max_duration
    rows = []
    for world in [own, *(w for w in worlds if w != own)]:
        t0 = time.perf_counter()
        ev = evaluate_module(module, world=None if world == own else world, limit_per_kind=limit_per_kind)
        rows.append(world_row(ev, world, world == own, longest, module.model.answer_format))
        log(f"{world}: {len(ev.predictions)} questions, {time.perf_counter() - t0:.0f} s")
    return [{k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()} for r in rows]
