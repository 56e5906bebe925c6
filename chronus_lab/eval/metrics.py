"""Metrics, each checked on hand-worked cases in ``tests/test_metrics.py``.

Built in ``notebooks/04_timestamp_tokens.ipynb`` (temporal IoU); more arrive with notebook 07.
"""
from __future__ import annotations


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


def format_table(rows: list[dict]) -> str:
    """A plain-text table (one row per dict), for notebooks and the ``bench`` commands."""
    cols = list(rows[0])
    width = {c: max(len(str(c)), *(len(str(r[c])) for r in rows)) for c in cols}
    line = lambda r: " | ".join(str(r[c]).rjust(width[c]) for c in cols)  # noqa: E731
    return "\n".join([line({c: c for c in cols}), "-+-".join("-" * width[c] for c in cols)] + [line(r) for r in rows])
