"""Does the AVOpT loss align audio with the sounding object? (notebook 05's experiment)

Built in ``notebooks/05_wasserstein_alignment.ipynb``; tested in ``tests/test_ot.py``;
full numbers: ``chronus-lab bench ot-align``.

Stage 1 as in Meerkat: the LLM frozen, the projectors (linear, per token, so each patch keeps its
own projected token) trained with the LM loss on cross-modal questions — with and without
w · AVOpT between a slice's projected patches and its projected audio tokens.
Retrieval on held-out slices where ≥ 2 objects are visible and one of them sounds: for each visible
object, the OT cost between the slice's projected audio tokens and the projected patches its box
covers; the prediction is the cheapest object. Chance = mean of 1 / (number of visible objects).
"""
from __future__ import annotations

import torch

from ..align.avace import box_mask
from ..align.ot import ot_loss
from ..model.config import OmniConfig
from ..model.omni import OmniModel
from ..train.loop import fit, task_batches
from ..world import WorldConfig, slices
from .timestamps import features

KINDS = ("a2v", "v2a", "t2v", "t2a")


def _tokens(model: OmniModel, v: torch.Tensor, a: torch.Tensor):
    """Per-token projections (before the budget pool): ``(K, 64, H)`` patches, ``(K, 16, H)`` audio."""
    return model.vision_proj.core(v), model.audio_proj.core(a)


def retrieval_items(items, plan=0.5):
    """Slices with ≥ 2 visible objects of which exactly one sounds: (patches, audio, boxes, truth)."""
    out = []
    for clip, f in items:
        for s in slices(clip, plan):
            if len(s.objects) >= 2 and len(s.sounding) == 1:
                boxes = torch.tensor([list(b) for b in s.boxes])
                out.append((f["vision"][s.index], f["audio"][s.index], boxes, s.objects.index(s.sounding[0])))
    return out


@torch.no_grad()
def retrieval_accuracy(model: OmniModel, items) -> tuple[float, float]:
    hits, chance = 0, 0.0
    for v, a, boxes, truth in items:
        pv, pa = _tokens(model, v[None], a[None])
        cover = box_mask(boxes, 8) >= 0.5  # (n_obj, 64)
        costs = [float(ot_loss(pv[:, m], pa, eps=0.05, max_iter=300)) if m.any() else float("inf") for m in cover]
        hits += int(min(range(len(costs)), key=costs.__getitem__) == truth)
        chance += 1 / len(costs)
    return hits / max(len(items), 1), chance / max(len(items), 1)


def run(weights=(0.0, 0.1), steps: int = 200, n_train: int = 150, n_test: int = 100, seed: int = 0,
        log=print) -> list[dict]:
    rows = []
    for w in weights:
        torch.manual_seed(seed)
        model = OmniModel(OmniConfig.tiny(vision_projector="linear", audio_projector="linear"))
        model.llm.requires_grad_(False)  # stage 1: only the projectors learn
        train = features(model, 80_000 + seed, n_train, WorldConfig.tiny())
        test = retrieval_items(features(model, 90_000 + seed, n_test, WorldConfig.tiny()))
        batches = task_batches(model, train, KINDS, 16, seed)
        gen = torch.Generator().manual_seed(seed)

        def loss_at(step: int) -> torch.Tensor:
            batch = next(batches)
            loss = model(batch).loss
            if w > 0:
                v = torch.cat([batch["vision"][i, :s] for i, s in enumerate(batch["n_slices"])])
                a = torch.cat([batch["audio"][i, :s] for i, s in enumerate(batch["n_slices"])])
                idx = torch.randint(len(v), (48,), generator=gen)
                loss = loss + w * ot_loss(*_tokens(model, v[idx], a[idx]), eps=0.05, max_iter=100).mean()
            return loss

        fit(model.parameters(), loss_at, steps, lr=2e-3, weight_decay=0.01)  # AdamW's default decay, as measured
        acc, chance = retrieval_accuracy(model, test)
        rows.append({"OT weight": w, "steps": steps, "retrieval acc": round(acc, 3),
                     "chance": round(chance, 3), "held-out slices": len(test)})
        log(rows[-1])
    return rows
