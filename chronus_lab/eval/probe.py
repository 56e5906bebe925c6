"""What can the frozen encoders tell at all? Linear probes on per-slice features.

Run by ``chronus-lab bench probe``; used in the README to explain what limits SFT.

For every 0.5 s slice with exactly one visible object (one audible sound), a softmax-regression probe
on the slice's mean feature vector predicts its class; trained on one world seed, scored on another.
An LLM reading these features through a projector cannot, in effect, recognise objects much better
than such a probe — so the probe's accuracy bounds every task that needs the object's name.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..config import OmniConfig
from ..encoders import Encoders
from ..world import WorldConfig, make_clip


def slice_examples(encoders: Encoders, seed: int, n_clips: int) -> dict[str, tuple[list, list]]:
    out = {"vision": ([], []), "audio": ([], [])}
    for i in range(n_clips):
        clip = make_clip(WorldConfig.tiny(), seed, i)
        feats = encoders.clip_features(clip)
        for k in range(feats["vision"].shape[0]):
            t = k * encoders.cfg.slice_s
            for name, labels in (("vision", clip.visible_at(t)), ("audio", clip.heard_at(t))):
                if len(labels) == 1:
                    out[name][0].append(feats[name][k].mean(0))
                    out[name][1].append(labels[0])
    return out


def linear_probe(x_train, y_train, x_test, y_test, steps: int = 300, lr: float = 1e-2) -> float:
    classes = sorted(set(y_train) | set(y_test))
    idx = {c: j for j, c in enumerate(classes)}
    xtr, xte = torch.stack(x_train), torch.stack(x_test)
    mu, sd = xtr.mean(0), xtr.std(0) + 1e-6
    xtr, xte = (xtr - mu) / sd, (xte - mu) / sd
    ytr, yte = torch.tensor([idx[c] for c in y_train]), torch.tensor([idx[c] for c in y_test])
    w = torch.zeros(xtr.shape[1], len(classes), requires_grad=True)
    b = torch.zeros(len(classes), requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=lr)
    for _ in range(steps):
        loss = F.cross_entropy(xtr @ w + b, ytr) + 1e-3 * (w ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(((xte @ w + b).argmax(1) == yte).float().mean())


def run(n_train: int = 150, n_test: int = 60, cfg: OmniConfig | None = None) -> list[dict]:
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
