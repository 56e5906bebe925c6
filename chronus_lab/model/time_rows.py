"""``<t_k>`` rows computed from k: a time token's embedding (and its output row) = Fourier features of k × A.

The paper adds ``<t_0> … <t_{K-1}>`` to the vocabulary as new rows, each learnt on its own (``time_rows:
"table"``). A row that no training answer ever wrote — a time past the longest training clip — is trained only
as the softmax's negative, its logit pushed down at every answer, so the model never writes it: on 16–24 s clips, none of 600 answers of models trained on 4–16 s wrote a
time past 16 s (README, "Skipped positions"). With ``time_rows: "fourier"`` every ``<t_k>`` row is computed:
fixed features of k (a constant, and cos/sin of 2πk/P for periods P from 2 steps to ``time_rows_period``) times
one learnt matrix A shared by all k, so what A learns from the trained times also places the untrained ones.
The head being tied, the score of writing ``<t_j>`` after reading ``<t_k>`` through a map G is φ(j)ᵀ·G·φ(k),
which for G = I depends on j − k alone: one peak at j = k for every k, trained or not. In the spirit of Fourier
number embeddings (FoNE, Zhou et al. 2025); in neither paper.

The rows replace the table's wherever the LLM reads or writes a time token — the clip's ``<t_k>``, a generated
answer's ``<t_k>`` read back, the logits of every position — through forward hooks on the LLM's input and output
embedding modules (whatever wraps them: PEFT's adapters replace those modules, so ``attach`` is idempotent and
called again before each use). Tested in ``tests/test_time_rows.py``.
"""
from __future__ import annotations

import math
import weakref

import torch
from torch import nn

__all__ = ["fourier_features", "FourierTimeRows", "PAIRS", "N_FEATURES"]

PAIRS = 16  # cos/sin pairs per k
N_FEATURES = 1 + 2 * PAIRS  # rows of the learnt matrix (what the planner counts)


def fourier_features(n: int, pairs: int = PAIRS, longest: float | None = None) -> torch.Tensor:
    """``(n, 1 + 2·pairs)``: for k = 0 … n-1, ``[1, cos(2πk/P_f), sin(2πk/P_f) for each f]``, periods P_f from
    2 to ``longest`` (default 2n) on a geometric scale (the shortest tell neighbours apart; a longest of 2n is a
    smooth ramp over k).

    >>> phi = fourier_features(64, pairs=4)
    >>> tuple(phi.shape), float(phi[0, 0]), float(phi[0, 1]), float(phi[1, 1])  # k = 1 at period 2: cos π
    ((64, 9), 1.0, 1.0, -1.0)
    """
    k = torch.arange(n, dtype=torch.float64)[:, None]
    longest = 2.0 * max(n, 2) if longest is None else float(longest)
    periods = 2.0 * ((longest / 2.0) ** (torch.arange(pairs, dtype=torch.float64) / max(pairs - 1, 1)))
    angle = 2 * math.pi * k / periods
    return torch.cat([torch.ones(n, 1, dtype=torch.float64), angle.cos(), angle.sin()], 1).float()


class FourierTimeRows(nn.Module):
    """The ``<t_k>`` rows of one LLM: ``features (K, F) @ weight (F, H)``, written over the table's rows."""

    def __init__(self, token_ids: list[int], width: int, pairs: int = PAIRS, row_std: float = 0.02,
                 longest: float | None = None):
        super().__init__()
        self.register_buffer("token_ids", torch.tensor(token_ids, dtype=torch.long), persistent=False)
        k_of_id = torch.full((max(token_ids) + 1,), -1, dtype=torch.long)  # id → k, -1 for other tokens
        k_of_id[token_ids] = torch.arange(len(token_ids))
        self.register_buffer("k_of_id", k_of_id, persistent=False)
        self.register_buffer("features", fourier_features(len(token_ids), pairs, longest),
                             persistent=False)
        n_features = self.features.shape[1]
        # each computed row starts with about the spread of a table row
        self.weight = nn.Parameter(torch.randn(n_features, width) * row_std / math.sqrt(n_features))
        self._hooked: "weakref.WeakSet[nn.Module]" = weakref.WeakSet()  # a module PEFT dropped leaves the set

    def rows(self) -> torch.Tensor:
        """``(K, H)``: row k is ``<t_k>``'s embedding and output row."""
        return self.features @ self.weight

    def _lookup(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Which of ``ids`` are time tokens, and their k (0 elsewhere)."""
        k = self.k_of_id[ids.clamp(0, len(self.k_of_id) - 1)]
        is_time = (k >= 0) & (ids < len(self.k_of_id))
        return is_time, k.clamp_min(0)

    def _embed_hook(self, module, args, output):
        is_time, k = self._lookup(args[0])
        rows = self.rows().to(output.dtype)[k]
        return torch.where(is_time[..., None], rows, output)

    def _head_hook(self, module, args, output):
        scores = args[0] @ self.rows().to(args[0].dtype).T  # (…, K)
        return output.index_copy(-1, self.token_ids, scores.to(output.dtype))

    def attach(self, llm) -> None:
        """Hook the LLM's current input and output embedding modules (once each; again after PEFT wraps them)."""
        for module, hook in ((llm.get_input_embeddings(), self._embed_hook),
                             (llm.get_output_embeddings(), self._head_hook)):
            if module not in self._hooked:  # by identity: a new module may reuse a dropped one's id()
                module.register_forward_hook(hook)
                self._hooked.add(module)
