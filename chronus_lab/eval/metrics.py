"""Metrics, each checked on hand-worked cases in ``tests/test_metrics.py``.

Built in ``notebooks/04_timestamp_tokens.ipynb`` (temporal IoU) and ``07_lightning_sft.ipynb``
(the rest). Every metric takes what the model *wrote* after parsing (``None`` = unreadable, which
scores 0 / counts as wrong) and the structured ground truth of the task.
"""
from __future__ import annotations

import re
import statistics

_NUMBER = r"-?\d+(?:\.\d+)?"  # plain decimals only: "inf", "nan" and exponents never match, so such a box is unreadable
_BOX = re.compile(r"\[\s*" + r"\s*,\s*".join([f"({_NUMBER})"] * 4) + r"\s*\]")


def temporal_iou(pred: tuple[float, float] | None, true: tuple[float, float]) -> float:
    """|pred ∩ true| / |pred ∪ true| for two spans; 0 for an unparsable (None) or empty prediction.

    >>> temporal_iou((1.0, 3.0), (2.0, 4.0))
    0.3333333333333333
    >>> temporal_iou(None, (0.0, 1.0))
    0.0
    """
    if pred is None:
        return 0.0
    inter = max(0.0, min(pred[1], true[1]) - max(pred[0], true[0]))
    union = max(pred[1], true[1]) - min(pred[0], true[0])
    return inter / union if union > 0 and pred[1] > pred[0] else 0.0


def mean_iou(preds, trues) -> float:
    ious = [temporal_iou(p, t) for p, t in zip(preds, trues)]
    return sum(ious) / max(len(ious), 1)


def recall_at(preds, trues, threshold: float) -> float:
    """R@1 at IoU ≥ θ: share of answers whose span overlaps the truth at least that much."""
    hits = [temporal_iou(p, t) >= threshold for p, t in zip(preds, trues)]
    return sum(hits) / max(len(hits), 1)


def span_f1(pred: tuple[float, float] | None, true: tuple[float, float]) -> float:
    """Overlap F1 of two spans: 2|p ∩ t| / (|p| + |t|) — precision and recall of the covered time
    (on the 0.5 s grid, the F1 of the predicted vs true slices).

    >>> span_f1((1.0, 3.0), (2.0, 4.0))
    0.5
    """
    if pred is None or pred[1] <= pred[0]:
        return 0.0
    inter = max(0.0, min(pred[1], true[1]) - max(pred[0], true[0]))
    return 2 * inter / ((pred[1] - pred[0]) + (true[1] - true[0]))


def parse_box(text: str) -> list[float] | None:
    """The first ``[x0, y0, x1, y1]`` in a text, or None (never raises)."""
    m = _BOX.search(text or "")
    return [float(v) for v in m.groups()] if m else None


def box_iou(pred: list[float] | None, true: list[float]) -> float:
    """IoU of two normalised xyxy boxes; 0 for None or a degenerate prediction.

    >>> box_iou([0.0, 0.0, 0.5, 0.5], [0.25, 0.25, 0.75, 0.75])
    0.14285714285714285
    """
    if pred is None or pred[2] <= pred[0] or pred[3] <= pred[1]:
        return 0.0
    iw = max(0.0, min(pred[2], true[2]) - max(pred[0], true[0]))
    ih = max(0.0, min(pred[3], true[3]) - max(pred[1], true[1]))
    inter = iw * ih
    area = lambda b: (b[2] - b[0]) * (b[3] - b[1])  # noqa: E731
    return inter / (area(pred) + area(true) - inter)


def normalize_answer(text: str | None) -> str:
    """The one normalisation of a written answer: spaces and case trimmed, final full stops dropped,
    inner runs of spaces made one. Every label metric compares answers through it.

    >>> normalize_answer("  True. "), normalize_answer("red   Circle")
    ('true', 'red circle')
    """
    return " ".join((text or "").split()).rstrip(".").strip().lower()


def accuracy(preds: list[str], trues: list[str]) -> float:
    """Exact match of the normalised answers (``normalize_answer``)."""
    return sum(normalize_answer(p) == normalize_answer(t) for p, t in zip(preds, trues)) / max(len(trues), 1)


def binary_f1(preds: list[str], trues: list[str], positive: str = "true") -> float:
    """F1 of the ``positive`` class (AVFC: "true"); 0 when it is never predicted nor true."""
    p = [normalize_answer(x) == positive for x in preds]
    t = [normalize_answer(x) == positive for x in trues]
    tp = sum(a and b for a, b in zip(p, t))
    fp = sum(a and not b for a, b in zip(p, t))
    fn = sum(b and not a for a, b in zip(p, t))
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def bleu4(hyps: list[str], refs: list[str]) -> float:
    """Corpus BLEU-4 (0–100) with sacrebleu's standard tokenisation, one reference per caption."""
    import sacrebleu

    return float(sacrebleu.corpus_bleu(list(hyps), [list(refs)]).score)


_NAMED = re.compile(r"\ban? ([a-z]+ [a-z]+) appears|\ban? ([a-z]+) sound\b")


def caption_names(caption: str) -> list[tuple[str, str]]:
    """The events a caption names, in its order: ``("object", "red circle")`` / ``("sound", "chirp")``.

    >>> caption_names("A red circle appears with a chirp sound; then a buzz sound is heard off screen.")
    [('object', 'red circle'), ('sound', 'chirp'), ('sound', 'buzz')]
    """
    return [("object", m[1]) if m[1] else ("sound", m[2]) for m in _NAMED.finditer(caption.lower())]


def caption_content(hyp: str, ref: str) -> float:
    """Does the caption name the right objects and sounds in the right order? F1 of the longest
    common subsequence of the two captions' named events (0–1).

    BLEU-4 over templated captions rewards the template: "a … appears with a … sound; then …" scores
    well with every name wrong. This score ignores the template and reads only the names.

    >>> ref = "A red circle appears with a chirp sound; then a blue cross appears silently."
    >>> caption_content(ref, ref)
    1.0
    >>> caption_content("A blue cross appears silently; then a red circle appears with a chirp sound.", ref)
    0.6666666666666666
    >>> caption_content("A green square appears with a buzz sound.", ref)
    0.0
    """
    h, r = caption_names(hyp), caption_names(ref)
    if not h or not r:
        return float(h == r)
    lcs = [[0] * (len(r) + 1) for _ in range(len(h) + 1)]
    for i, a in enumerate(h):
        for j, b in enumerate(r):
            lcs[i + 1][j + 1] = lcs[i][j] + 1 if a == b else max(lcs[i][j + 1], lcs[i + 1][j])
    n = lcs[-1][-1]
    return 2 * n / (len(h) + len(r))


def mean_std(values: list[float]) -> str:
    """``"mean ± std"`` over seeds, std the sample standard deviation (n − 1, ``statistics.stdev``: with 2–3
    seeds the population std would look tighter than the runs are); one value is printed alone.

    >>> mean_std([0.5, 0.6, 0.7])
    '0.600 ± 0.100'
    """
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def format_table(rows: list[dict]) -> str:
    """A plain-text table (one row per dict), for notebooks and the ``bench`` commands; a missing
    value (``nan`` or ``None``) prints as ``-``.

    >>> print(format_table([{"kind": "v2t", "mIoU": 0.5}, {"kind": "a2v", "mIoU": float("nan")}]))
    kind | mIoU
    -----+-----
     v2t |  0.5
     a2v |    -
    """
    cols = list(rows[0])
    cell = lambda v: "-" if v is None or (isinstance(v, float) and v != v) else str(v)  # noqa: E731
    width = {c: max(len(str(c)), *(len(cell(r[c])) for r in rows)) for c in cols}
    line = lambda r: " | ".join(cell(r[c]).rjust(width[c]) for c in cols)  # noqa: E731
    return "\n".join([line({c: c for c in cols}), "-+-".join("-" * width[c] for c in cols)] + [line(r) for r in rows])
