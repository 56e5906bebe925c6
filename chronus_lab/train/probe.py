"""What can the frozen encoders tell at all? Linear probes on per-slice features.

Run by ``chronus-lab bench probe`` (``experiments/probe.py``) and at the end of stage 0, whose manifest
records it (``train/base.py``); tested in ``tests/test_eval.py``; used in the README to explain what
limits SFT.

For every 0.5 s slice with exactly one visible object (one audible sound), a softmax-regression probe
on the slice's mean feature vector predicts its class; trained on one world seed, scored on another.
An LLM reading these features through a projector cannot, in effect, recognise objects much better
than such a probe — so the probe's accuracy bounds every task that needs the object's name.

A slice often shows two objects at once, and one probe per class cannot see whether "red" belongs to the
circle or the square. The **set probe** (``set_probe``) asks for the whole set: a per-token MLP, averaged
over the slice's tokens (the shape of the LLM's projector with a one-token budget), then one sigmoid per class;
it scores the share of multi-object slices whose set it reads exactly — what "when is the red circle
visible?" needs wherever another object is on screen.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..model.config import OmniConfig
from ..model.encoders import Encoders, encode_clips
from ..model.projectors import MLPProjector
from .loop import fit
from ..world import WorldConfig, make_clip, slices


def slice_examples(encoders: Encoders, seed: int, n_clips: int) -> dict[str, tuple[list, list]]:
    """Per modality: (the tokens of every slice, the names seen / heard in it)."""
    clips = [make_clip(WorldConfig.tiny(), seed, i) for i in range(n_clips)]
    out = {"vision": ([], []), "audio": ([], [])}
    for clip, feats in zip(clips, encode_clips(encoders, clips)):
        for s in slices(clip, encoders.cfg.plan):
            for name, labels in (("vision", s.seen), ("audio", s.heard)):
                out[name][0].append(feats[name][s.index])
                out[name][1].append(tuple(labels))
    return out


def single_label(tokens: list, labels: list) -> tuple[list, list]:
    """The slices with exactly one label: (their mean token, the label)."""
    pairs = [(x.mean(0), y[0]) for x, y in zip(tokens, labels) if len(y) == 1]
    return [x for x, _ in pairs], [y for _, y in pairs]


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


def set_probe(x_train: list, y_train: list, x_test: list, y_test: list, classes: list[str], steps: int = 1500,
              lr: float = 2e-3, width: int = 128, seed: int = 0) -> float:
    """Share of the test slices with two or more labels whose label *set* a probe reads exactly (NaN: none).

    ``x``: ``(tokens, D)`` per slice; ``y``: the names in it. The probe: the ``mlp`` projector (Linear → GELU →
    Linear on every token, averaged to one token), one logit per class (BCE; present = logit > 0), trained on all
    slices."""
    torch.manual_seed(seed)
    xtr, xte = torch.stack(x_train), torch.stack(x_test)
    mu, sd = xtr.mean((0, 1)), xtr.std((0, 1)) + 1e-6
    xtr, xte = (xtr - mu) / sd, (xte - mu) / sd

    def onehot(ys):
        out = torch.zeros(len(ys), len(classes))
        for i, y in enumerate(ys):
            out[i, [classes.index(c) for c in y]] = 1.0
        return out

    ytr, yte = onehot(y_train), onehot(y_test)
    net = MLPProjector(xtr.shape[-1], width, n_out=1)  # the LLM's projector with a one-token budget
    head = torch.nn.Linear(width, len(classes))
    read_out = lambda x: head(net(x.unsqueeze(1))[:, 0, 0])  # noqa: E731  (M, N, D) → (M, classes)
    gen = torch.Generator().manual_seed(seed)

    def loss_at(_):
        i = torch.randint(len(xtr), (min(256, len(xtr)),), generator=gen)
        return F.binary_cross_entropy_with_logits(read_out(xtr[i]), ytr[i])

    fit([*net.parameters(), *head.parameters()], loss_at, steps, lr)
    many = yte.sum(1) >= 2
    if not many.any():
        return float("nan")
    with torch.no_grad():
        read = read_out(xte[many]) > 0
    return float((read == yte[many].bool()).all(1).float().mean())


def probe_rows(n_train: int = 150, n_test: int = 60, cfg: OmniConfig | None = None) -> list[dict]:
    """One row per modality: the probe's test accuracy on the frozen encoders of ``cfg`` (tiny by default)."""
    torch.manual_seed(0)
    enc = Encoders(cfg or OmniConfig.tiny())
    train, test = slice_examples(enc, 1000, n_train), slice_examples(enc, 3000, n_test)
    world = WorldConfig.tiny()
    rows = []
    for name, classes in (("vision", world.object_classes), ("audio", list(world.sounds))):
        one_tr, one_te = single_label(*train[name]), single_label(*test[name])
        n_classes = len(set(one_tr[1]) | set(one_te[1]))
        rows.append({"modality": name, "features": "frozen, mean over tokens", "classes": n_classes,
                     "train slices": len(one_tr[1]), "test slices": len(one_te[1]),
                     "probe acc": round(linear_probe(*one_tr, *one_te), 3),
                     "chance": round(1 / n_classes, 3),
                     "multi slices": sum(len(y) >= 2 for y in test[name][1]),
                     "set probe": _rounded(set_probe(*train[name], *test[name], classes))})
    return rows


def _rounded(x: float) -> float | None:
    return None if x != x else round(x, 3)  # NaN (no multi-label test slice) → None: JSON has no NaN
