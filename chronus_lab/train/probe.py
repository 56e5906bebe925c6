"""What can the frozen encoders tell at all? Linear probes on per-slice features.

Run by ``chronus-lab bench probe`` (``experiments/probe.py``) and at the end of stage 0, whose manifest
records it (``train/base.py``); tested in ``tests/test_eval.py``; used in the README to explain what
limits SFT.

For every 0.5 s slice with exactly one visible object (one audible sound), a softmax-regression probe
on the slice's mean feature vector predicts its class; trained on one world seed, scored on another.
An LLM reading these features through a projector cannot, in effect, recognise objects much better
than such a probe — so the probe's accuracy bounds every task that needs the object's name.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..model.config import OmniConfig
from ..model.encoders import Encoders, encode_clips
from .loop import fit
from ..world import WorldConfig, make_clip, slices


def slice_examples(encoders: Encoders, seed: int, n_clips: int) -> dict[str, tuple[list, list]]:
    """Per modality: (mean feature of each single-label slice, its label)."""
    clips = [make_clip(WorldConfig.tiny(), seed, i) for i in range(n_clips)]
    out = {"vision": ([], []), "audio": ([], [])}
    for clip, feats in zip(clips, encode_clips(encoders, clips)):
        for s in slices(clip, encoders.cfg.plan):
            for name, labels in (("vision", s.seen), ("audio", s.heard)):
                if len(labels) == 1:
                    out[name][0].append(feats[name][s.index].mean(0))
                    out[name][1].append(labels[0])
    return out


def linear_probe(x_train, y_train, x_test, y_test, steps: int = 300, lr: float = 1e-2) -> float:
    """Test accuracy of a softmax regression (L2 1e-3) trained on standardised features."""
    classes = sorted(set(y_train) | set(y_test))
    idx = {c: j for j, c in enumerate(classes)}
    xtr, xte = torch.stack(x_train), torch.stack(x_test)
    mu, sd = xtr.mean(0), xtr.std(0) + 1e-6
    xtr, xte = (xtr - mu) / sd, (xte - mu) / sd
    ytr, yte = torch.tensor([idx[c] for c in y_train]), torch.tensor([idx[c] for c in y_test])
    w = torch.zeros(xtr.shape[1], len(classes), requires_grad=True)
    b = torch.zeros(len(classes), requires_grad=True)
    fit([w, b], lambda _: F.cross_entropy(xtr @ w + b, ytr) + 1e-3 * (w ** 2).sum(), steps, lr)
    return float(((xte @ w + b).argmax(1) == yte).float().mean())


def probe_rows(n_train: int = 150, n_test: int = 60, cfg: OmniConfig | None = None) -> list[dict]:
    """One row per modality: the probe's test accuracy on the frozen encoders of ``cfg`` (tiny by default)."""
    torch.manual_seed(0)
    enc = Encoders(cfg or OmniConfig.tiny())
    train, test = slice_examples(enc, 1000, n_train), slice_examples(enc, 3000, n_test)
    rows = []
    for name in ("vision", "audio"):
        n_classes = len(set(train[name][1]) | set(test[name][1]))
        rows.append({"features": f"{name} (frozen, mean over tokens)", "classes": n_classes,
                     "train slices": len(train[name][1]), "test slices": len(test[name][1]),
                     "probe acc": round(linear_probe(*train[name], *test[name]), 3),
                     "chance": round(1 / n_classes, 3)})
    return rows
