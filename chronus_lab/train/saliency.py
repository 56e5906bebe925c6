"""Slice saliency: an auxiliary loss that makes every feature position say whether its slice is the one asked about.

Tested in ``tests/test_saliency.py``; a lever of ``tiny-grounding`` (``w_saliency``), measured in the README.

Why: the model's explicit-grounding errors are mostly a *wrong event* — asked about a 1 s event, it answers
the span of a longer one, often one sharing a word ("red cross" → the blue cross). The answer tokens teach
the lookup "which slices does the question mean?" through two or three tokens per question. Moment-retrieval
models (Moment-DETR, QD-DETR, UniVTG) train it densely beside the span: a *saliency* score per clip
position, high inside the queried moment. Here the question comes before the clip (``question_first``), so
every visual and audio position can read it; a one-unit linear head on a middle layer scores each position,
and binary cross-entropy asks for 1 inside the slices the question is about, 0 elsewhere. The answer
positions above that layer then look for marked positions instead of matching words against features.
The head is training-only (``AUXILIARY``): the model that answers has no extra part.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..model.timestamps import AUDIO, VISION


def relevant_slices(target: dict, parts) -> list[float] | None:
    """Per slice of a clip (``world.slices(clip, plan)``): 1.0 where the question is about it, else 0.0.

    A task's ``target`` says what it is about: a ``span`` (the slices read inside it), one ``time`` (the slice
    holding that instant), or the ``event`` / ``events`` it asks after (the slices where one is seen or heard).
    None when it names none of these (captions, AVQA): no saliency for that question."""
    if "span" in target:
        start, end = target["span"]
        return [float(start <= s.time < end) for s in parts]
    if "time" in target:
        return [float(s.start <= target["time"] < s.end) for s in parts]
    ids = set(target.get("events", [])) | ({target["event"]} if "event" in target else set())
    if not ids:
        return None
    return [float(any(e.id in ids for e in (*s.objects, *s.sounds))) for s in parts]


def saliency_loss(scores: torch.Tensor, modality: torch.Tensor, slice_idx: torch.Tensor,
                  relevant: list[list[float] | None]) -> torch.Tensor:
    """Mean binary cross-entropy between the scores at every visual / audio position (``(B, L)`` logits) and
    whether its slice is relevant (``relevant[b][slice]``); rows whose ``relevant`` is None are skipped."""
    got, want = [], []
    for b, rel in enumerate(relevant):
        if rel is None:
            continue
        pos = ((modality[b] == VISION) | (modality[b] == AUDIO)).nonzero().flatten()
        got.append(scores[b, pos])
        want.append(torch.tensor([rel[int(s)] for s in slice_idx[b, pos].tolist()]))
    if not got:
        return scores.new_zeros(())
    return F.binary_cross_entropy_with_logits(torch.cat(got).float(), torch.cat(want).to(scores.device))
