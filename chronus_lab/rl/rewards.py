"""Reward functions for temporal grounding: plain callables looked up by name and combined by weights.

Built in ``notebooks/08_ppo_rewards.ipynb``; tested in ``tests/test_rl.py`` (and the doctests below).

Convention (TRL's GRPO trainer): ``reward(completions, **columns) -> list[float | None]`` — one value
per completion; the dataset's columns arrive as keyword arguments, one list each; ``None`` means
"not applicable to this sample" (it is skipped when rewards are combined). ``task_columns`` writes the
columns of one world task.

* ``temporal_iou`` — IoU of the written span with the true one (TimeZero, VideoChat-R1, the released code).
* ``distance_iou`` — Time-R1: IoU·(1 − |Δs|/d)·(1 − |Δe|/d), d = the clip's duration.
* ``format`` — the answer is a span in the run's time format, start ≤ end, inside the clip (released code).
* ``temporal_order`` — ChronusOmni's paper: the order the answer gives to the events agrees with the
  true order; partial credit as Kendall's τ mapped to [0, 1]. No public code has it: built here.
* ``cross_modal`` — ChronusOmni's paper: an implicit question's answer names the partner event that
  really co-occurs (1), or an event whose span overlaps the partner's (its temporal IoU), else 0.

Unparsable answers score 0 (never None): a reward that skipped them would pay nothing for learning
the format. Parsing follows the project's one rule (``world/time_format.py``: negative or non-finite
times are unreadable; a reversed span is read forwards).
"""
from __future__ import annotations

from ..errors import ConfigError
from ..eval.metrics import normalize_answer, temporal_iou as _tiou
from ..world.time_format import time_format
from ..world.tasks import Task

SPAN_KINDS = ("v2t", "a2t", "xspan", "igatl")
ORDER_KINDS = ("order",)
PARTNER_KINDS = ("a2v", "v2a")


def _fmt(columns: dict, i: int):
    return time_format(columns["time_format"][i], columns["quantum"][i])


def temporal_iou(completions: list[str], **columns) -> list[float | None]:
    """IoU of the answer's span with ``span``; None where the sample has no span.

    >>> temporal_iou(["second{1.0}-second{3.0}", "junk"], span=[[2.0, 4.0], [0.0, 1.0]],
    ...              time_format=["text", "text"], quantum=[0.5, 0.5])
    [0.3333333333333333, 0.0]
    """
    out = []
    for i, text in enumerate(completions):
        true = columns["span"][i]
        out.append(None if true is None else _tiou(_fmt(columns, i).parse_span(text), tuple(true)))
    return out


def distance_iou(completions: list[str], **columns) -> list[float | None]:
    """Time-R1's distance-penalised IoU: IoU·(1 − |s − ŝ|/d)·(1 − |e − ê|/d).

    >>> [round(r, 4) for r in distance_iou(["second{1.0}-second{3.0}"], span=[[2.0, 4.0]], duration=[8.0],
    ...                                     time_format=["text"], quantum=[0.5])]  # 1/3 · 7/8 · 7/8
    [0.2552]
    """
    out = []
    for i, text in enumerate(completions):
        true = columns["span"][i]
        if true is None:
            out.append(None)
            continue
        pred, d = _fmt(columns, i).parse_span(text), columns["duration"][i]
        if pred is None:
            out.append(0.0)
            continue
        iou = _tiou(pred, tuple(true))
        out.append(iou * max(0.0, 1 - abs(pred[0] - true[0]) / d) * max(0.0, 1 - abs(pred[1] - true[1]) / d))
    return out


def format_reward(completions: list[str], **columns) -> list[float | None]:
    """1 when a span answer is exactly two times in the run's format, start ≤ end, inside the clip.

    >>> format_reward(["<t_2> <t_6>", "<t_6> <t_2>", "<t_2> <t_40>", "a red circle"], span=[[1, 2]] * 4,
    ...               duration=[8.0] * 4, time_format=["token"] * 4, quantum=[0.5] * 4)
    [1.0, 0.0, 0.0, 0.0]
    """
    out = []
    for i, text in enumerate(completions):
        if columns["span"][i] is None:
            out.append(None)
            continue
        times = _fmt(columns, i).parse_times(text)
        ok = len(times) == 2 and times[0] <= times[1] <= columns["duration"][i] + 1e-9
        out.append(1.0 if ok else 0.0)
    return out


def kendall_agreement(predicted: list[str], true: list[str]) -> float:
    """Kendall's τ between two orders of the same items, mapped to [0, 1] (1 = same order).

    Items the prediction leaves out share its last place (a tie scores half a pair).

    >>> kendall_agreement(["a", "b", "c"], ["a", "b", "c"]), kendall_agreement(["c", "b", "a"], ["a", "b", "c"])
    (1.0, 0.0)
    >>> kendall_agreement(["b"], ["a", "b"])
    0.0
    """
    rank = {x: i for i, x in enumerate(predicted)}
    last = len(predicted)
    pairs = [(true[i], true[j]) for i in range(len(true)) for j in range(i + 1, len(true))]
    if not pairs:
        return 1.0
    score = 0.0
    for a, b in pairs:  # true order: a before b
        ra, rb = rank.get(a, last), rank.get(b, last)
        score += 1.0 if ra < rb else 0.5 if ra == rb else 0.0
    return score / len(pairs)


def temporal_order(completions: list[str], **columns) -> list[float | None]:
    """Agreement of the order the answer gives with ``order`` (true chronological labels).

    The answer's order is the order in which it names the labels; for "which starts first?" it names
    one, which then comes first. Naming none of them scores 0.

    >>> temporal_order(["the red circle", "the chirp sound", "no idea"],
    ...                order=[["the red circle", "the chirp sound"]] * 3)
    [1.0, 0.0, 0.0]
    """
    out = []
    for text, true in zip(completions, columns["order"]):
        if not true:
            out.append(None)
            continue
        norm = normalize_answer(text)
        found = sorted((norm.find(normalize_answer(x)), x) for x in true if normalize_answer(x) in norm)
        out.append(kendall_agreement([x for _, x in found], list(true)) if found else 0.0)
    return out


def cross_modal(completions: list[str], **columns) -> list[float | None]:
    """Implicit questions: 1 for the partner actually co-occurring; else the temporal IoU of the named
    event's span with the partner's (a near miss in time earns part); 0 for anything else.

    >>> cross_modal(["red circle", "blue square", "zebra"], partner=["red circle"] * 3,
    ...             events=[{"red circle": [1.0, 3.0], "blue square": [2.0, 3.0]}] * 3)
    [1.0, 0.5, 0.0]
    >>> cross_modal(["nothing", "chirp"], partner=["nothing"] * 2, events=[{"chirp": [0.0, 1.0]}] * 2)
    [1.0, 0.0]
    """
    out = []
    for i, text in enumerate(completions):
        partner = columns["partner"][i]
        if partner is None:
            out.append(None)
            continue
        answer, events = normalize_answer(text), columns["events"][i]
        if answer == normalize_answer(partner):
            out.append(1.0)
        elif answer in events and partner in events:
            out.append(_tiou(tuple(events[answer]), tuple(events[partner])))
        else:
            out.append(0.0)
    return out


REWARDS = {"temporal_iou": temporal_iou, "distance_iou": distance_iou, "format": format_reward,
           "temporal_order": temporal_order, "cross_modal": cross_modal}
"""Every reward by the name a config uses."""

KINDS_OF = {"temporal_iou": SPAN_KINDS, "distance_iou": SPAN_KINDS, "format": SPAN_KINDS,
            "temporal_order": ORDER_KINDS, "cross_modal": PARTNER_KINDS}
"""The task kinds each reward applies to (elsewhere it returns None); ``tests/test_rl.py`` checks it by calling them."""


def unrewarded(kinds, weights: dict[str, float]) -> list[str]:
    """The kinds no reward with a positive weight applies to: RL on them would train on a reward of 0.

    >>> unrewarded(["v2t", "a2v", "arig"], {"temporal_iou": 1.0, "cross_modal": 0.0})
    ['a2v', 'arig']
    """
    covered = {k for name, w in weights.items() if w > 0 for k in KINDS_OF.get(name, ())}
    return [k for k in kinds if k not in covered]


def combine(weights: dict[str, float]):
    """One reward from several: the weighted sum of the applicable parts (None skipped); 0 when none applies.

    Returns ``fn(completions, **columns) -> (totals, parts)`` where ``parts[name]`` is each reward's list.
    """
    unknown = sorted(set(weights) - set(REWARDS))
    if unknown:
        raise ConfigError(f"unknown reward(s) {unknown}; known: {sorted(REWARDS)}")

    def total(completions: list[str], **columns):
        parts = {name: REWARDS[name](completions, **columns) for name in weights}
        totals = [sum(weights[n] * parts[n][i] for n in weights if parts[n][i] is not None)
                  for i in range(len(completions))]
        return totals, parts

    return total


def task_columns(task: Task, clip, fmt) -> dict:
    """The reward columns of one world task: its span, the clip's length, the true order, the partner."""
    objects = {e.object: list(e.span) for e in clip.objects}
    sounds = {e.sound: list(e.span) for e in clip.sounds}
    order = None
    if task.kind in ORDER_KINDS:
        named = task.question.removeprefix("Which starts first: ").rstrip("?").split(" or ")
        order = sorted(named, key=lambda n: named.index(n) if n != task.answer else -1)
    partner = task.answer if task.kind in PARTNER_KINDS else None  # "nothing" for a silent object: exact match only
    return {"kind": task.kind, "span": task.target.get("span") if task.kind in SPAN_KINDS else None,
            "duration": clip.duration, "time_format": fmt.name, "quantum": fmt.quantum, "order": order,
            "partner": partner, "events": objects if task.kind == "a2v" else sounds}


def columns_of(rows: list[dict]) -> dict:
    """Per-sample dicts → one list per column (what the reward functions take as keyword arguments)."""
    return {k: [r[k] for r in rows] for k in rows[0]} if rows else {}
