"""Does AVACE put audio→image attention on the sounding object? (notebook 06's experiment)

Built in ``notebooks/06_attention_consistency.ipynb``; tested in ``tests/test_avace.py``;
full numbers: ``chronus-lab bench avace``.

Items: slices where an object is visible *and* sounding; the slice's frame patches (8×8 grid from the
tiny CLIP tower) and its audio tokens (tiny CLAP tower). The cross-attention module is trained with
the AVACE loss alone, and compared with the same module untrained (what the released code's
constant map amounts to: no signal). Metrics on held-out clips: the share of attention mass inside
the true box (chance = the box's share of the frame) and ARIG box IoU of the attention's peak region.
"""
from __future__ import annotations

import torch

from ..align.avace import AudioToPatchAttention, avace_loss, box_mask, mass_inside, peak_box
from ..eval.metrics import box_iou
from ..model.config import OmniConfig
from ..model.encoders import Encoders, encode_clips
from ..train.loop import fit
from ..world import WorldConfig, make_clip, slices

GRID = 8
TRAIN_SEED, TEST_SEED = 60_000, 70_000
"""World seeds of the training and held-out clips (plus the run's seed)."""


def _clips(seed: int, n_clips: int) -> list:
    return [make_clip(WorldConfig.tiny(), seed, i) for i in range(n_clips)]


def _sounding(clip, plan):
    """(slice, event) for every sounding object of every slice of the clip, in a fixed order."""
    for s in slices(clip, plan):
        for ev in s.sounding:
            yield s, ev


def sounding_slices(encoders: Encoders, seed: int, n_clips: int):
    """(patches (K, 64, Dv), audio (K, 16, Da), boxes (K, 4)): one item per sounding object per slice."""
    clips = _clips(seed, n_clips)
    v, a, boxes = [], [], []
    for clip, feats in zip(clips, encode_clips(encoders, clips)):
        for s, ev in _sounding(clip, encoders.cfg.plan):
            v.append(feats["vision"][s.index])
            a.append(feats["audio"][s.index])
            boxes.append(torch.tensor(s.box_of(ev)))
    return torch.stack(v), torch.stack(a), torch.stack(boxes)


def sounding_frames(plan, seed: int, n_clips: int, first: int) -> list:
    """The frames (H, W, 3) beneath the first ``first`` items of ``sounding_slices`` (same seed, clips, order)."""
    return [clip.frames[s.frame] for clip in _clips(seed, n_clips) for s, _ in _sounding(clip, plan)][:first]


@torch.no_grad()
def evaluate(att: AudioToPatchAttention, data) -> dict:
    v, a, boxes = data
    A, mask = att(a, v), box_mask(boxes, GRID)
    ious = [box_iou(p, t) for p, t in zip(peak_box(A, GRID).tolist(), boxes.tolist())]
    return {"mass inside box": float(mass_inside(A, mask).mean()),
            "chance (box share)": float(mask.mean(-1).mean()),
            "ARIG IoU (peak region)": sum(ious) / len(ious)}


def train_attention(n_train: int = 150, n_test: int = 50, steps: int = 300, seed: int = 0, log=print):
    """Returns (rows, training losses, the trained module, the held-out data)."""
    torch.manual_seed(seed)
    enc = Encoders(OmniConfig.tiny())
    train, test = sounding_slices(enc, TRAIN_SEED + seed, n_train), sounding_slices(enc, TEST_SEED + seed, n_test)
    att = AudioToPatchAttention(enc.audio_dim, enc.vision_dim, d_attn=64, heads=4)
    rows = [{"attention": "untrained (no AVACE signal)", **evaluate(att, test)}]
    g = torch.Generator().manual_seed(seed)
    mask_all = box_mask(train[2], GRID)

    def loss_at(step: int) -> torch.Tensor:
        idx = torch.randint(len(train[0]), (64,), generator=g)
        return avace_loss(att(train[1][idx], train[0][idx]), mask_all[idx]).mean()

    losses = fit(att.parameters(), loss_at, steps, lr=3e-3, weight_decay=0.01)  # AdamW's default decay
    rows.append({"attention": f"trained with AVACE ({steps} steps)", **evaluate(att, test)})
    rows = [{k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()} for r in rows]
    for r in rows:
        log(r)
    return rows, losses, att, test


def run(n_train: int = 150, n_test: int = 50, steps: int = 300, seed: int = 0, log=print) -> list[dict]:
    return train_attention(n_train, n_test, steps, seed, log)[0]
