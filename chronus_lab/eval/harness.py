"""The evaluation table: every task of a split, its metrics, and the chance row beside each.

Built in ``notebooks/07_lightning_sft.ipynb``; tested in ``tests/test_eval.py``; CLI:
``chronus-lab eval --ckpt runs/tiny-sft/checkpoints/last.ckpt``.

The model answers each held-out question by greedy decoding; answers are parsed with the same
``TimeFormat`` that wrote the targets (an unreadable answer scores 0). Chance rows are computed on
the same split from the *training* answers only: the majority answer of each kind, a random span
whose length is drawn from the training spans, the mean training box, a random training caption.
"""
from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import torch
from torch.utils.data import DataLoader

from ..world.tasks import Task, format_box
from . import metrics as M

LABEL_KINDS = ("t2v", "t2a", "a2v", "v2a", "order", "avqa")
SPAN_KINDS = ("v2t", "a2t", "xspan", "igatl")
COLUMNS = ("acc", "F1", "mIoU", "R@0.3", "R@0.5", "R@0.7", "box IoU", "cIoU@0.5", "BLEU-4")
GROUPS = {"explicit (v2t+a2t)": ("v2t", "a2t"), "implicit (a2v+v2a)": ("a2v", "v2a")}
"""The two headline numbers: explicit grounding mIoU, implicit cross-modal accuracy."""


@dataclass
class Prediction:
    task: Task
    text: str
    clip_index: int


@dataclass
class Evaluation:
    predictions: list[Prediction]
    rows: list[dict] = field(default_factory=list)

    def table(self) -> str:
        return M.format_table(self.rows)

    def value(self, task: str, who: str, metric: str) -> float:
        row = next(r for r in self.rows if r["task"] == task and r["who"] == who)
        return float(row[metric])


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
        return {"BLEU-4": M.bleu4(texts, [t.answer for t in tasks])}
    return {"acc": M.accuracy(texts, [t.answer for t in tasks])}


def chance_answers(kind: str, tasks: list[Task], durations: list[float], train: list[Task], fmt,
                   seed: int = 0) -> list[str]:
    """What a model that ignores the clip would write, from the training answers of the kind."""
    rng = random.Random(seed)
    prior = [t for t in train if t.kind == kind] or tasks
    if kind in SPAN_KINDS:
        lengths = [t.target["span"][1] - t.target["span"][0] for t in prior]
        out = []
        for d in durations:
            length = min(rng.choice(lengths), d)
            starts = int((d - length) / fmt.slice_s) + 1
            s = rng.randrange(starts) * fmt.slice_s
            out.append(fmt.span(s, s + length))
        return out
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
    """Greedy answers to every task of a ``TaskDataset``, batched by kind (captions need longer)."""
    from ..train.data import collate_tasks

    by_kind = defaultdict(list)
    for i, (ci, task) in enumerate(dataset.tasks):
        by_kind[task.kind].append(i)
    was_training = model.training
    model.eval()
    out = []
    for kind, idx in by_kind.items():
        idx = idx[:limit_per_kind] if limit_per_kind else idx
        loader = DataLoader(torch.utils.data.Subset(dataset, idx), batch_size=batch_size, collate_fn=collate_tasks)
        pos = iter(idx)
        for batch in loader:
            for text in model.generate(batch, max_new_tokens=MAX_NEW_TOKENS.get(kind, 24)):
                ci, task = dataset.tasks[next(pos)]
                out.append(Prediction(task, text, ci))
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


def evaluate(model, dataset, train_tasks: list[Task], fmt, batch_size: int = 32,
             limit_per_kind: int | None = None) -> Evaluation:
    """Predict, score per kind and per headline group, with a chance row under each."""
    preds = predict(model, dataset, batch_size, limit_per_kind)
    by_kind = defaultdict(list)
    for p in preds:
        by_kind[p.task.kind].append(p)
    ev = Evaluation(preds)
    chance_text = {}
    for kind, ps in by_kind.items():
        durations = [dataset.clips[p.clip_index].duration for p in ps]
        chance_text[kind] = chance_answers(kind, [p.task for p in ps], durations, train_tasks, fmt)
    kinds = [k for k in (*SPAN_KINDS, *LABEL_KINDS, "arig", "avfc", "avcap") if k in by_kind]
    groups = [(name, [k for k in ks if k in by_kind]) for name, ks in GROUPS.items()]
    for name, members in [(n, ks) for n, ks in groups if ks] + [(k, [k]) for k in kinds]:
        ps = [p for k in members for p in by_kind[k]]
        tasks = [p.task for p in ps]
        model_m = score(members[0], tasks, [p.text for p in ps], fmt)
        chance_m = score(members[0], tasks, [t for k in members for t in chance_text[k]], fmt)
        for who, m in (("model", model_m), ("chance", chance_m)):
            ev.rows.append({"task": name, "who": who, "n": len(ps),
                            **{c: (f"{m[c]:.1f}" if c == "BLEU-4" else f"{m[c]:.3f}") if c in m else "-"
                               for c in COLUMNS}})
    return ev
