"""Projectors: encoder tokens → LLM-width tokens, within a per-slice token budget.

Built in ``notebooks/03_projectors_and_llm_inputs.ipynb``; tested in ``tests/test_projectors.py``.

* ``linear`` / ``mlp`` (LLaVA-style), then average-pooled down to the budget.
* ``pool_mlp`` — ChronusOmni's vision projector (released code): Linear → *learned* 2×2 pooling
  over the patch grid → GELU → Linear.
* ``stack_mlp`` — ChronusOmni's audio projector: concatenate consecutive encoder frames (10 in the
  code: 50 fps → 5 tokens/s) → Linear → ReLU → Linear.
* ``conv`` — Meerkat's token compression: a strided Conv1d over the token axis, then Linear.

Every projector maps ``(B, S, N, D_enc)`` (batch, slices, tokens, width) to ``(B, S, n_out, D_llm)``;
an adaptive average pool at the end enforces the budget (``vision_tokens``, ``audio_tokens``).
Each slice is projected on its own; ``vision_context`` / ``audio_context`` (``SliceContext``, off by default, in
neither paper) add what the slices either side hold, so that a token can say what *starts* or *stops* there.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError


class Projector(nn.Module):
    """Base: subclasses define ``core`` on ``(M, N, D)`` token sets; this handles slices and budget."""

    def __init__(self, n_out: int, grid: bool):
        super().__init__()
        self.n_out, self.grid = n_out, grid
        self.context: SliceContext | None = None  # set by ``build_projector(..., context=k)``

    def core(self, x: torch.Tensor) -> torch.Tensor:  # (M, N, D_in) → (M, N', D_out)
        raise NotImplementedError

    def budget(self, x: torch.Tensor) -> torch.Tensor:
        """Average-pool ``(M, N', D)`` to ``(M, n_out, D)``: a 2-D grid for patches, 1-D for audio."""
        m, n, d = x.shape
        if n == self.n_out:
            return x
        if self.grid:
            side, out = math.isqrt(n), math.isqrt(self.n_out)
            g = x.transpose(1, 2).reshape(m, d, side, side)  # (M, D, side, side)
            return F.adaptive_avg_pool2d(g, out).flatten(2).transpose(1, 2)  # (M, out², D)
        return F.adaptive_avg_pool1d(x.transpose(1, 2), self.n_out).transpose(1, 2)

    def forward(self, x: torch.Tensor, n_slices: list[int] | None = None) -> torch.Tensor:
        """``n_slices``: each clip's own slice count in a padded batch (None: every slice is the clip's)."""
        b, s, n, d = x.shape  # (B, S, N, D): batch, slices, tokens per slice, encoder width
        y = self.budget(self.core(x.reshape(b * s, n, d))).view(b, s, self.n_out, -1)  # (B, S, n_out, D_llm)
        return y if self.context is None else self.context(y, n_slices)


class SliceContext(nn.Module):
    """Each slice's tokens also read the ``reach`` slices on either side: a Conv1d over the slice axis (one per
    token position, weights shared), added to the tokens. Its weights start at zero, so a model starts as the
    per-slice projector and learns what the neighbours add — e.g. "this sound starts here", which tells the
    sound that starts and stops with an event from one that lasts through it. Measured over three seeds, it did
    not (README, "Slice context"): off by default. Clip edges and a padded batch's empty slices read as zeros: a clip's tokens never depend on
    what else is in its batch. In the spirit of VideoLLaMA 2's spatial-temporal convolution connector."""

    def __init__(self, width: int, reach: int):
        super().__init__()
        self.conv = nn.Conv1d(width, width, kernel_size=2 * reach + 1, padding=reach)
        nn.init.zeros_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)

    def forward(self, y: torch.Tensor, n_slices: list[int] | None = None) -> torch.Tensor:
        b, s, n, h = y.shape
        counts = torch.tensor(n_slices if n_slices is not None else [s] * b, device=y.device)
        inside = (torch.arange(s, device=y.device)[None] < counts[:, None]).to(y.dtype)[:, :, None, None]  # (B, S, 1, 1)
        y = y * inside
        seq = y.permute(0, 2, 3, 1).reshape(b * n, h, s)  # each token position: a sequence over slices
        near = self.conv(seq).view(b, n, h, s).permute(0, 3, 1, 2)  # (B, S, n, H)
        return (y + near) * inside


class LinearProjector(Projector):
    def __init__(self, d_in, d_out, n_out, grid=False):
        super().__init__(n_out, grid)
        self.proj = nn.Linear(d_in, d_out)

    def core(self, x):
        return self.proj(x)


class MLPProjector(Projector):
    def __init__(self, d_in, d_out, n_out, grid=False):
        super().__init__(n_out, grid)
        self.net = nn.Sequential(nn.Linear(d_in, d_out), nn.GELU(), nn.Linear(d_out, d_out))

    def core(self, x):
        return self.net(x)


class PoolMLPProjector(Projector):
    """ChronusOmni vision: Linear → learned 2×2 pooling (a stride-2 conv) → GELU → Linear."""

    def __init__(self, d_in, d_out, n_out, grid=True):
        super().__init__(n_out, grid=True)
        self.fc1 = nn.Linear(d_in, d_out)
        self.pool = nn.Conv2d(d_out, d_out, kernel_size=2, stride=2)  # learned 2×2 pooling
        self.fc2 = nn.Linear(d_out, d_out)

    def core(self, x):
        m, n, _ = x.shape
        side = math.isqrt(n)
        h = self.fc1(x).transpose(1, 2).reshape(m, -1, side, side)  # (M, D, side, side)
        h = self.pool(h).flatten(2).transpose(1, 2)  # (M, (side/2)², D)
        return self.fc2(F.gelu(h))


class StackMLPProjector(Projector):
    """ChronusOmni audio: concatenate ``stack`` consecutive frames → Linear → ReLU → Linear."""

    def __init__(self, d_in, d_out, n_out, grid=False, stack: int = 4):
        super().__init__(n_out, grid=False)
        self.stack = stack
        self.net = nn.Sequential(nn.Linear(d_in * stack, d_out), nn.ReLU(), nn.Linear(d_out, d_out))

    def core(self, x):
        m, n, d = x.shape
        short = -n % self.stack  # frames missing to complete the last stack
        if short:  # repeat the last frame rather than drop audio
            x = torch.cat([x, x[:, -1:].expand(m, short, d)], dim=1)
        return self.net(x.reshape(m, -1, d * self.stack))  # (M, ceil(N / stack), D_out)


class ConvProjector(Projector):
    """Meerkat: Conv1d token compression (stride ``k``) over the token axis, then Linear."""

    def __init__(self, d_in, d_out, n_out, grid=False, k: int = 2):
        super().__init__(n_out, grid)
        self.k = k
        self.conv = nn.Conv1d(d_in, d_in, kernel_size=k, stride=k)
        self.proj = nn.Linear(d_in, d_out)

    def core(self, x):
        h = self.conv(x.transpose(1, 2)).transpose(1, 2)  # (M, N / k, D_in)
        if self.grid:  # keep a square grid for the budget pool: pool the sequence back to side²
            side = math.isqrt(h.shape[1])
            h = F.adaptive_avg_pool1d(h.transpose(1, 2), side * side).transpose(1, 2)
        return self.proj(h)


PROJECTORS = {"linear": LinearProjector, "mlp": MLPProjector, "pool_mlp": PoolMLPProjector,
              "stack_mlp": StackMLPProjector, "conv": ConvProjector}


def build_projector(kind: str, d_in: int, d_out: int, n_out: int, grid: bool, context: int = 0) -> Projector:
    """``context``: slices read on either side (``SliceContext``; 0: none, each slice alone)."""
    if kind not in PROJECTORS:
        raise ConfigError(f"unknown projector {kind!r}; choose from {sorted(PROJECTORS)}")
    projector = PROJECTORS[kind](d_in, d_out, n_out, grid=grid)
    if context:
        projector.context = SliceContext(d_out, context)
    return projector
