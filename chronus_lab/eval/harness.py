"""The evaluation table: every task of a split, its metrics, and the chance row beside each.

Built in ``notebooks/07_lightning_sft.ipynb``; tested in ``tests/test_eval.py``; CLI:
``chronus-lab eval --ckpt runs/tiny-sft/checkpoints/last.ckpt``.

Four small steps, each a function: ``predict`` (greedy answers to every question) → ``score``
(the metrics of one kind from parsed answers) → ``chance_answers`` (what a model that ignores the
clip would write) → ``evaluate`` (the rows: a model row and a chance row per kind and headline group).
Answers are parsed with the same ``TimeFormat`` that wrote the targets (an unreadable answer scores 0).

Chance never looks at the test answers: it comes from the *training* answers of the kind (majority
answer, a random span of a training length, the mean training box, a random training caption). For a
kind the run never trained, spans fall back to a stated uniform prior (a uniformly random span on the
slice grid) and the other kinds have no chance row value (``nan``, printed ``-``).

Eval sits below ``train`` in the layers (it needs only a model and a dataset of questions), so
training can use it to choose checkpoints by what the model is for.
"""
from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace

import torch

from ..errors import ConfigError
from ..model.omni import collate
from ..world.tasks import AVFC_TYPES, Task, format_box
from . import metrics as M

LABEL_KINDS = ("t2v", "t2a", "a2v", "v2a", "order", "avqa")
SPAN_KINDS = ("v2t", "a2t", "xspan", "igatl")
COLUMNS = ("acc", "F1", "mIoU", "R@0.3", "R@0.5", "R@0.7", "box IoU", "cIoU@0.5", "BLEU-4", "content")
GROUPS = {"explicit (v2t+a2t)": ("v2t", "a2t"), "implicit (a2v+v2a)": ("a2v", "v2a")}
"""The two headline numbers: explicit grounding mIoU, implicit cross-modal accuracy."""
NAN = float("nan")


@dataclass
class Prediction:
    task: Task
    text: str
    clip_index: int


MAIN_METRICS = ("mIoU", "box IoU", "content", "acc")
"""The metric a row is judged by, first present wins (a row holds NaN for the metrics not of its kind)."""


@dataclass
class Evaluation:
    predictions: list[Prediction]
    rows: list[dict] = field(default_factory=list)
    """``rows``: ``{"task", "who", "n", <metric>: float}`` — numbers stay floats; ``table`` formats them."""
    clips: list = field(default_factory=list)
    """The split's clips, ``clips[p.clip_index]`` for each prediction (``eval/errors.py`` reads their events)."""

    def table(self) -> str:
        return M.format_table([{k: _fmt(k, v) for k, v in r.items()} for r in self.rows])

    def value(self, task: str, who: str, metric: str) -> float:
        row = next(r for r in self.rows if r["task"] == task and r["who"] == who)
        return float(row[metric])

    def versus_chance(self, task: str) -> tuple[str, float, float]:
        """``(metric, model, chance)`` on a row's main metric: mIoU for spans, box IoU for ARIG, the content
        score for captions (BLEU-4 rewards the template), accuracy otherwise."""
        model = next(r for r in self.rows if r["task"] == task and r["who"] == "model")
        metric = next(m for m in MAIN_METRICS if not math.isnan(model.get(m, math.nan)))
        return metric, self.value(task, "model", metric), self.value(task, "chance", metric)


def _fmt(column: str, value) -> str:
    if not isinstance(value, float):
        return str(value)
    if math.isnan(value):
        return "-"
    return f"{value:.1f}" if column == "BLEU-4" else f"{value:.3f}"


def score(kind: str, tasks: list[Task], texts: list[str], fmt) -> dict[str, float]:
    """The metrics of one task kind from the written answers."""
    if kind in SPAN_KINDS:
        preds = [fmt.parse_span(t) for t in texts]
        trues = [tuple(t.target["span"]) for t in tasks]
        out = {"mIoU": M.mean_iou(preds, trues), "F1": sum(map(M.span_f1, preds, trues)) / max(len(trues), 1)}
        out.update({f"R@{th}": M.recall_at(preds, trues, th) for th in (0.3, 0.5, 0.7)})
        return out
    if kind == "arig":
        ious = [M.box_iou(M.parse_box(x), t.target["box"]) for x, t in zip(texts, tasks)]
        return {"box IoU": sum(ious) / max(len(ious), 1), "cIoU@0.5": sum(i >= 0.5 for i in ious) / max(len(ious), 1)}
    if kind == "avfc":
        trues = [t.answer for t in tasks]
        return {"acc": M.accuracy(texts, trues), "F1": M.binary_f1(texts, trues)}
    if kind == "avcap":
        refs = [t.answer for t in tasks]
        return {"BLEU-4": M.bleu4(texts, refs),
                "content": sum(map(M.caption_content, texts, refs)) / max(len(refs), 1)}
    return {"acc": M.accuracy(texts, [t.answer for t in tasks])}


def chance_answers(kind: str, tasks: list[Task], durations: list[float], train: list[Task], fmt,
                   seed: int = 0) -> list[str | None]:
    """What a model that ignores the clip would write, from the *training* answers of the kind.

    With no training answer of the kind: spans are uniformly random on the slice grid; other kinds
    have no prior (``None`` answers, reported as ``nan``). Test answers are never looked at.
    """
    rng = random.Random(seed)
    prior = [t for t in train if t.kind == kind]
    if kind in SPAN_KINDS:
        lengths = [t.target["span"][1] - t.target["span"][0] for t in prior]
        out = []
        for d in durations:
            grid = max(int(round(d / fmt.quantum)), 1)
            if lengths:
                length = min(rng.choice(lengths), d)
            else:  # uniform prior: every span [i, j) of the grid equally likely by its length
                length = rng.randint(1, grid) * fmt.quantum
            starts = int((d - length) / fmt.quantum) + 1
            s = rng.randrange(starts) * fmt.quantum
            out.append(fmt.span(s, s + length))
        return out
    if not prior:
        return [None] * len(tasks)
    if kind == "arig":
        mean = [sum(t.target["box"][i] for t in prior) / len(prior) for i in range(4)]
        return [format_box(mean)] * len(tasks)
    if kind == "avcap":
        return [rng.choice(prior).answer for _ in tasks]
    majority = Counter(t.answer for t in prior).most_common(1)[0][0]
    return [majority] * len(tasks)


MAX_NEW_TOKENS = {"avcap": 96}


@torch.no_grad()
def predict(model, dataset, batch_size: int = 32, limit_per_kind: int | None = None) -> list[Prediction]:
    """Greedy answers to every task of a dataset (``.tasks`` = [(clip index, Task)], ``.features``
    per clip), batched by kind (captions need longer answers)."""
    if limit_per_kind is not None and (isinstance(limit_per_kind, bool) or not isinstance(limit_per_kind, int)
                                       or limit_per_kind < 1):
        # 0 used to mean "no limit" and -1 "all but the last": a typo would silently change the table
        raise ConfigError(f"limit_per_kind must be a whole number from 1 or None (every question), "
                          f"not {limit_per_kind!r}")
    by_kind = defaultdict(list)
    for ci, task in dataset.tasks:
        by_kind[task.kind].append((ci, task))
    was_training = model.training
    model.eval()
    out = []
    for kind, items in by_kind.items():
        items = items[:limit_per_kind] if limit_per_kind is not None else items
        for i in range(0, len(items), batch_size):
            chunk = items[i:i + batch_size]
            batch = collate([dataset.features[ci] for ci, _ in chunk], [t.question for _, t in chunk])
            batch["tasks"] = [t for _, t in chunk]  # for scripted models (tests, oracles); the model ignores it
            texts = model.generate(batch, max_new_tokens=MAX_NEW_TOKENS.get(kind, 24))
            out += [Prediction(task, text, ci) for (ci, task), text in zip(chunk, texts)]
    model.train(was_training)
    return out


def span_predictions(ev: Evaluation, clips: list, fmt, kinds=("v2t", "a2t")) -> dict[int, dict]:
    """``{clip index: {object or sound: predicted span}}`` for drawing answers on a clip's timeline."""
    out: dict[int, dict] = {}
    for p in ev.predictions:
        if p.task.kind in kinds and (span := fmt.parse_span(p.text)) is not None:
            event = next(e for e in clips[p.clip_index].events if e.id == p.task.target["event"])
            out.setdefault(p.clip_index, {})[event.object if p.task.kind == "v2t" else event.sound] = span
    return out


def table_rows(preds: list[Prediction], chance_text: dict[str, list], fmt) -> list[dict]:
    """A model row and a chance row for each headline group, then each kind, then AVFC per claim type
    (Meerkat reports AVFC's types apart: a model may judge sounds well and boxes badly). Floats, not strings."""
    by_kind = defaultdict(list)
    for p in preds:
        by_kind[p.task.kind].append(p)
    paired = {k: list(zip(ps, chance_text[k])) for k, ps in by_kind.items()}  # each answer beside its chance guess
    kinds = [k for k in (*SPAN_KINDS, *LABEL_KINDS, "arig", "avfc", "avcap") if k in by_kind]
    groups = [(name, [k for k in ks if k in by_kind]) for name, ks in GROUPS.items()]
    blocks = [(name, [pg for k in ks for pg in paired[k]]) for name, ks in groups if ks]
    blocks += [(k, paired[k]) for k in kinds]
    blocks += [(f"avfc {claim}", [pg for pg in paired.get("avfc", []) if pg[0].task.target.get("type") == claim])
               for claim in AVFC_TYPES]
    rows = []
    for name, pairs in blocks:
        if not pairs:
            continue
        ps, guesses = [p for p, _ in pairs], [g for _, g in pairs]
        tasks, kind = [p.task for p in ps], ps[0].task.kind
        model_m = score(kind, tasks, [p.text for p in ps], fmt)
        chance_m = (score(kind, tasks, guesses, fmt) if all(g is not None for g in guesses)
                    else dict.fromkeys(model_m, NAN))
        for who, m in (("model", model_m), ("chance", chance_m)):
            rows.append({"task": name, "who": who, "n": len(ps), **{c: m.get(c, NAN) for c in COLUMNS}})
    return rows


PRIMARY = {**dict.fromkeys(SPAN_KINDS, "mIoU"), "arig": "box IoU", "avcap": "content"}
"""Each kind's primary metric (accuracy for the rest)."""


def selection_score(preds: list[Prediction], fmt) -> float:
    """The number a run chooses its best checkpoint by: the mean of the headline rows present
    (explicit mIoU, implicit accuracy); a run evaluating neither averages every kind's primary
    metric (captions: the content score, all in [0, 1])."""
    by_kind = defaultdict(list)
    for p in preds:
        by_kind[p.task.kind].append(p)
    groups = [[k for k in ks if k in by_kind] for ks in GROUPS.values()]
    groups = [g for g in groups if g] or [[k] for k in by_kind]
    values = []
    for members in groups:
        ps = [p for k in members for p in by_kind[k]]
        metric = PRIMARY.get(members[0], "acc")
        v = score(members[0], [p.task for p in ps], [p.text for p in ps], fmt)[metric]
        values.append(v)
    return sum(values) / max(len(values), 1)


def evaluate(model, dataset, train_tasks: list[Task], fmt, batch_size: int = 32,
             limit_per_kind: int | None = None) -> Evaluation:
    """Predict, then score per kind and per headline group, with a chance row under each."""
    preds = predict(model, dataset, batch_size, limit_per_kind)
    ev = score_predictions(preds, [c.duration for c in dataset.clips], train_tasks, fmt)
    return replace(ev, clips=list(dataset.clips))


def score_predictions(preds: list[Prediction], durations: list[float], train_tasks: list[Task], fmt) -> Evaluation:
    """The table of answers already written (``durations[clip_index]``: each clip's length, for the span prior)."""
    by_kind = defaultdict(list)
    for p in preds:
        by_kind[p.task.kind].append(p)
    chance_text = {kind: chance_answers(kind, [p.task for p in ps], [durations[p.clip_index] for p in ps],
                                        train_tasks, fmt)
                   for kind, ps in by_kind.items()}
    return Evaluation(preds, table_rows(preds, chance_text, fmt))
