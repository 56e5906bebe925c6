"""Does AVACE put audio→image attention on the sounding object? (notebook 06's experiment)

Built in ``notebooks/06_attention_consistency.ipynb``; tested in ``tests/test_avace.py``.

Items: slices where an object is visible *and* sounding; the slice's frame patches (8×8 grid from the
tiny CLIP tower) and its audio tokens (tiny CLAP tower). The cross-attention module is trained with
the AVACE loss alone, and compared with the same module untrained (what the released code's
constant map amounts to: no signal). Metrics on held-out clips: the share of attention mass inside
the true box (chance = the box's share of the frame) and ARIG box IoU of the attention's peak region.
"""
from __future__ import annotations

import torch

from ..config import OmniConfig
from ..encoders import Encoders
from ..world import WorldConfig, make_clip
from .avace import AudioToPatchAttention, avace_loss, box_iou, box_mask, mass_inside, peak_box

GRID = 8


def sounding_slices(encoders: Encoders, seed: int, n_clips: int):
    """(patches (K, 64, Dv), audio (K, 16, Da), boxes (K, 4)) for every slice with a sounding object."""
    v, a, boxes = [], [], []
    for i in range(n_clips):
        clip = make_clip(WorldConfig.tiny(), seed, i)
        feats = encoders.clip_features(clip)
        for ev in clip.events:
            if ev.kind != "av":
                continue
            for k in range(int(ev.start / 0.5), int(ev.end / 0.5)):
                v.append(feats["vision"][k])
                a.append(feats["audio"][k])
                boxes.append(torch.tensor(ev.box_at(int(round(k * 0.5 * clip.fps)), clip.fps)))
    return torch.stack(v), torch.stack(a), torch.stack(boxes)


@torch.no_grad()
def evaluate(att: AudioToPatchAttention, data) -> dict:
    v, a, boxes = data
    A, mask = att(a, v), box_mask(boxes, GRID)
    return {"mass inside box": float(mass_inside(A, mask).mean()),
            "chance (box share)": float(mask.mean(-1).mean()),
            "ARIG IoU (peak region)": float(box_iou(peak_box(A, GRID), boxes).mean())}


def run(n_train: int = 150, n_test: int = 50, steps: int = 300, seed: int = 0, log=print):
    """Returns (rows, training losses, the trained module, the held-out data)."""
    torch.manual_seed(seed)
    enc = Encoders(OmniConfig.tiny())
    train, test = sounding_slices(enc, 60_000 + seed, n_train), sounding_slices(enc, 70_000 + seed, n_test)
    att = AudioToPatchAttention(enc.audio_dim, enc.vision_dim, d_attn=64, heads=4)
    rows = [{"attention": "untrained (no AVACE signal)", **evaluate(att, test)}]
    opt = torch.optim.AdamW(att.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(seed)
    mask_all = box_mask(train[2], GRID)
    losses = []
    for _ in range(steps):
        idx = torch.randint(len(train[0]), (64,), generator=g)
        loss = avace_loss(att(train[1][idx], train[0][idx]), mask_all[idx]).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    rows.append({"attention": f"trained with AVACE ({steps} steps)", **evaluate(att, test)})
    for r in rows:
        log({k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()})
    return [{k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()} for r in rows], losses, att, test
