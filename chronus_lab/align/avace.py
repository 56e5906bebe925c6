"""AVACE: audio→image cross-attention that should stay inside the sounding object's box (Meerkat §3.3).

Built in ``notebooks/06_attention_consistency.ipynb``; tested in ``tests/test_avace.py``; the ± AVACE
experiment is ``experiments/avace_attention.py``.

Paper: cross-attention between audio tokens and visual patches gives a map A over the patch grid;
a mask M from the ground-truth box; the loss 0.5·mean_out(A) + 0.5·(1 − mean_in(A)), weight 0.2.

**Bug in the released code** (``released_code_map``): the map is the *mean over keys of a softmax
over keys* — every row of a softmax sums to 1, so its mean over the S keys is 1/S everywhere.
The map is constant, the loss is constant, its gradient is zero: AVACE never trains anything.
Also, the released training step assigns the AVACE loss to the variable that held the OT loss,
so the two are never combined (``released_code_total``).

Here: audio tokens are the *queries*, patches the *keys*, softmax **over patches**, averaged over
audio tokens and heads → a distribution over the grid that can actually move. For the paper's
formula the map is peak-normalised (A / max A, so the most attended patch is 1); the share of
attention mass inside the box is reported as the metric.
"""
from __future__ import annotations

import math

import torch
from torch import nn


class AudioToPatchAttention(nn.Module):
    """Multi-head cross-attention, audio queries over patch keys; returns the map ``(B, P)``."""

    def __init__(self, d_audio: int, d_vision: int, d_attn: int = 64, heads: int = 4):
        super().__init__()
        assert d_attn % heads == 0, "d_attn must divide into heads"
        self.heads, self.d_head = heads, d_attn // heads
        self.q = nn.Linear(d_audio, d_attn)
        self.k = nn.Linear(d_vision, d_attn)

    def forward(self, audio: torch.Tensor, patches: torch.Tensor) -> torch.Tensor:
        b, n_a, _ = audio.shape  # (B, A, Da)
        n_p = patches.shape[1]  # (B, P, Dv)
        q = self.q(audio).view(b, n_a, self.heads, self.d_head).transpose(1, 2)  # (B, h, A, d)
        k = self.k(patches).view(b, n_p, self.heads, self.d_head).transpose(1, 2)  # (B, h, P, d)
        attn = (q @ k.transpose(-1, -2) / math.sqrt(self.d_head)).softmax(-1)  # (B, h, A, P): over patches
        return attn.mean(dim=(1, 2))  # (B, P), sums to 1 over patches


def released_code_map(audio: torch.Tensor, patches: torch.Tensor, q: nn.Linear, k: nn.Linear) -> torch.Tensor:
    """The released code's map, reproduced: patches as queries, softmax over the audio keys,
    then the mean over keys → 1 / (number of keys) for every patch."""
    scores = q(patches) @ k(audio).transpose(-1, -2) / math.sqrt(q.out_features)  # (B, P, A)
    return scores.softmax(-1).mean(-1)  # (B, P): constant


def box_mask(boxes: torch.Tensor, grid: int) -> torch.Tensor:
    """Normalised xyxy boxes ``(B, 4)`` → ``(B, grid²)``: the share of each patch the box covers."""
    edges = torch.linspace(0, 1, grid + 1, device=boxes.device, dtype=boxes.dtype)
    lo, hi = edges[:-1], edges[1:]  # (grid,) patch extents

    def cover(a, b):  # (B,) spans → (B, grid) covered fraction of each patch column/row
        return ((torch.minimum(hi, b[:, None]) - torch.maximum(lo, a[:, None])).clamp_min(0) * grid)

    cx, cy = cover(boxes[:, 0], boxes[:, 2]), cover(boxes[:, 1], boxes[:, 3])
    return (cy[:, :, None] * cx[:, None, :]).flatten(1)  # (B, grid²), row-major (y, x)


def avace_loss(attn: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Paper: 0.5·mean_out(A) + 0.5·(1 − mean_in(A)) on the peak-normalised map; ``(B,)``."""
    a = attn / attn.amax(-1, keepdim=True).clamp_min(1e-12)
    mean_in = (a * mask).sum(-1) / mask.sum(-1).clamp_min(1e-6)
    mean_out = (a * (1 - mask)).sum(-1) / (1 - mask).sum(-1).clamp_min(1e-6)
    return 0.5 * mean_out + 0.5 * (1 - mean_in)


def mass_inside(attn: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Share of the attention distribution that falls inside the box (fractional cover) ``(B,)``."""
    return (attn * mask).sum(-1) / attn.sum(-1)


def peak_box(attn: torch.Tensor, grid: int, keep: float = 0.5) -> torch.Tensor:
    """ARIG from attention: the box around patches with ≥ ``keep`` × the peak weight ``(B, 4)``."""
    a = attn.view(-1, grid, grid)
    hot = a >= keep * a.amax(dim=(1, 2), keepdim=True)
    rows, cols = hot.any(2), hot.any(1)  # (B, grid)
    idx = torch.arange(grid, device=attn.device)
    big = grid + 1
    y0 = torch.where(rows, idx, big).amin(1)
    y1 = torch.where(rows, idx, -1).amax(1) + 1
    x0 = torch.where(cols, idx, big).amin(1)
    x1 = torch.where(cols, idx, -1).amax(1) + 1
    return torch.stack([x0, y0, x1, y1], 1).float() / grid


def total_loss(lm: torch.Tensor, ot: torch.Tensor, avace: torch.Tensor, w_ot: float = 0.01,
               w_avace: float = 0.2) -> torch.Tensor:
    """LM + AVOpT + AVACE, *summed* (paper code's weights: 0.1 × 0.1 for OT, 0.2 for AVACE)."""
    return lm + w_ot * ot + w_avace * avace


def released_code_total(lm: torch.Tensor, ot: torch.Tensor, avace: torch.Tensor, w_ot: float = 0.01,
                        w_avace: float = 0.2) -> torch.Tensor:
    """What the released step computes: the OT term is assigned, then overwritten by AVACE."""
    align = w_ot * ot
    align = w_avace * avace  # noqa: F841 - the overwrite, reproduced on purpose
    return lm + align
