"""Skipped position ids (PoSE, Zhu et al. 2023): train on short sequences, see the distances of long ones.

A model trained on clips of at most 16 s never saw a query more than ~16 s of slices away from the slice it
has to read, so on a 24 s clip its rotary attention meets distances it never trained on — and on clips of one
length the position alone already says the time, so it never had to read the ``<t_k>`` tokens at all
(README, "Clips unlike training"). PoSE's recipe: cut each training sequence in two at a random point and
move the second part's position ids up by a random skip. Inside each part nothing changes; across the cut
the model meets every distance up to ``length + max_skip``, and the distance from a slice to the answer no
longer says how far into the clip the slice was. Inference uses plain positions ``0 … L-1``.

``TrainConfig.position_skip`` sets ``max_skip`` (0 = off, the papers' training). Tested in
``tests/test_positions.py``.
"""
from __future__ import annotations

import torch


def skipped_positions(attention_mask: torch.Tensor, max_skip: int, generator: torch.Generator | None = None,
                      ) -> torch.Tensor:
    """``(B, L)`` position ids: ``0 … L-1`` with everything from a random cut on moved up by a random skip.

    Per row: the cut is drawn uniformly from the row's tokens after the first (``attention_mask`` says which
    are tokens; a right-padded row's padding keeps counting on and is never attended to), the skip uniformly
    from ``0 … max_skip``. A row of one token has nothing to cut.

    >>> mask = torch.tensor([[1, 1, 1, 1, 0]])
    >>> pos = skipped_positions(mask, 10, torch.Generator().manual_seed(0))
    >>> bool((pos.diff() >= 1).all()), int(pos[0, 0])  # still increasing, still from 0
    (True, 0)
    >>> skipped_positions(mask, 0).tolist()  # no skip: the plain positions
    [[0, 1, 2, 3, 4]]
    """
    batch, length = attention_mask.shape
    plain = torch.arange(length, device=attention_mask.device).expand(batch, length)
    if max_skip <= 0:
        return plain.clone()
    tokens = attention_mask.sum(1).clamp_min(1).cpu()
    u = torch.rand(batch, generator=generator)
    cut = 1 + (u * (tokens - 1)).long()  # 1 … tokens-1
    skip = torch.randint(0, max_skip + 1, (batch,), generator=generator) * (tokens > 1)
    moved = plain >= cut.to(plain.device)[:, None]
    return plain + moved * skip.to(plain.device)[:, None]
