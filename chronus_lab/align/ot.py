"""AVOpT: optimal-transport alignment of image patches and audio tokens (Meerkat §3.2).

Built in ``notebooks/05_wasserstein_alignment.ipynb``; tested in ``tests/test_ot.py``;
benchmark: ``chronus-lab bench ot`` (``experiments/ot_solvers.py``).

Paper: both token sets are L2-normalised, the cost is C_ij = 1 − cos(v_i, a_j), the marginals are
uniform, and the loss is the transport cost Σ_ij C_ij T_ij of the optimal plan T.
Released code: solves T with IPOT (proximal point, β = 0.5, 30 iterations), averages over the
batch, weight ≈ 0.1 × 0.1 — and then overwrites the OT loss with the AVACE loss (see ``avace.py``).

Here:
* POT's ``ot.emd2`` (exact) and ``ot.sinkhorn2`` (entropic) are the references;
* ``sinkhorn_log`` is a batched, log-domain Sinkhorn in torch: the whole batch at once, mixed sizes
  through zero weights, stable at small ε in float32 (potentials, never kernels exp(−C/ε));
* ``ot_loss`` = Σ C ⊙ T with T from Sinkhorn held fixed: its gradient w.r.t. C is T, which is also
  the exact gradient of the entropic OT value (envelope theorem) — so no unrolling of iterations;
* ``ipot`` is the authors' solver, for comparison.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import ConfigError


def cosine_cost(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """C = 1 − cos: ``x (B, N, D)``, ``y (B, M, D)`` → ``(B, N, M)`` in [0, 2]."""
    return 1 - F.normalize(x, dim=-1) @ F.normalize(y, dim=-1).transpose(-1, -2)


def uniform(mask: torch.Tensor) -> torch.Tensor:
    """Uniform weights over the valid (True) tokens of each row of a ``(B, N)`` mask."""
    m = mask.float()
    return m / m.sum(-1, keepdim=True)


@dataclass
class SinkhornResult:
    plan: torch.Tensor
    """(B, N, M) transport plan T (rows sum to a, columns to b)."""
    f: torch.Tensor
    g: torch.Tensor
    iterations: int
    marginal_error: float


def _log_weights(w: torch.Tensor) -> torch.Tensor:
    return torch.where(w > 0, w.clamp_min(1e-38).log(), torch.full_like(w, float("-inf")))


@torch.no_grad()
def sinkhorn_log(C: torch.Tensor, a: torch.Tensor, b: torch.Tensor, eps: float = 0.05,
                 max_iter: int = 1000, tol: float = 1e-6, check_every: int = 10) -> SinkhornResult:
    """Entropic OT for a batch: ``C (B, N, M)``, weights ``a (B, N)``, ``b (B, M)`` (zeros = padding).

    Dual potentials f, g with T_ij = exp((f_i + g_j − C_ij) / ε); alternate
    f_i = ε log a_i − ε LSE_j((g_j − C_ij) / ε) and g_j = ε log b_j − ε LSE_i((f_i − C_ij) / ε)
    until the row marginals are within ``tol`` (the column ones are exact after each g step).
    """
    log_a, log_b = _log_weights(a), _log_weights(b)  # (B, N), (B, M)
    f, g = torch.zeros_like(a), torch.zeros_like(b)
    err, it = float("inf"), 0
    for it in range(1, max_iter + 1):
        f = eps * log_a - eps * torch.logsumexp((g[:, None, :] - C) / eps, dim=2)
        g = eps * log_b - eps * torch.logsumexp((f[:, :, None] - C) / eps, dim=1)
        f = torch.nan_to_num(f, nan=float("-inf"))
        if it % check_every == 0 or it == max_iter:
            rows = torch.exp((f[:, :, None] + g[:, None, :] - C) / eps).sum(2)  # (B, N)
            err = float((rows - a).abs().sum(-1).max())
            if err < tol:
                break
    plan = torch.exp((f[:, :, None] + g[:, None, :] - C) / eps)
    return SinkhornResult(plan, f, g, it, err)


def ot_loss(x: torch.Tensor, y: torch.Tensor, x_mask: torch.Tensor | None = None,
            y_mask: torch.Tensor | None = None, eps: float = 0.05, max_iter: int = 200,
            solver: str = "sinkhorn") -> torch.Tensor:
    """Meerkat's AVOpT loss per batch element: Σ_ij C_ij T_ij with T the (detached) optimal plan.

    ``x (B, N, D)`` patch tokens, ``y (B, M, D)`` audio tokens; masks mark valid tokens.
    Returns ``(B,)``; average it over the batch and weight it against the LM loss.
    """
    C = cosine_cost(x, y)
    x_mask = x_mask if x_mask is not None else torch.ones(C.shape[:2], dtype=torch.bool, device=C.device)
    y_mask = y_mask if y_mask is not None else torch.ones(C.shape[0], C.shape[2], dtype=torch.bool, device=C.device)
    a, b = uniform(x_mask), uniform(y_mask)
    if solver == "sinkhorn":
        plan = sinkhorn_log(C.detach().float(), a, b, eps, max_iter).plan
    elif solver == "ipot":
        plan = ipot(C.detach().float(), a, b)
    else:
        raise ConfigError(f"unknown OT solver {solver!r}; use 'sinkhorn' or 'ipot'")
    return (plan.to(C.dtype) * C).sum((1, 2))


@torch.no_grad()
def ipot(C: torch.Tensor, a: torch.Tensor, b: torch.Tensor, beta: float = 0.5, iters: int = 30,
         inner: int = 1) -> torch.Tensor:
    """IPOT (Xie et al., 2019), as Meerkat's code: proximal point steps, each a Sinkhorn step on
    the kernel exp(−C/β) ⊙ T_prev. Converges to the *exact* plan as iterations grow."""
    K = torch.exp(-C / beta)  # (B, N, M)
    T = torch.ones_like(C)
    sigma = b.clone()
    delta = a.clone()
    for _ in range(iters):
        Q = K * T
        for _ in range(inner):
            delta = a / (Q @ sigma[..., None]).squeeze(-1).clamp_min(1e-30)
            sigma = b / (Q.transpose(1, 2) @ delta[..., None]).squeeze(-1).clamp_min(1e-30)
        T = delta[:, :, None] * Q * sigma[:, None, :]
    return T


def pot_reference(C: torch.Tensor, a: torch.Tensor, b: torch.Tensor, eps: float | None = None) -> torch.Tensor:
    """POT, one problem at a time: ``ot.emd2`` (eps None) or ``ot.sinkhorn2`` (log method, float64)."""
    import ot

    out = []
    for Ci, ai, bi in zip(C.double(), a.double(), b.double()):
        keep_a, keep_b = ai > 0, bi > 0
        Ci, ai, bi = Ci[keep_a][:, keep_b], ai[keep_a], bi[keep_b]
        if eps is None:
            out.append(ot.emd2(ai, bi, Ci))
        else:
            out.append(ot.sinkhorn2(ai, bi, Ci, eps, method="sinkhorn_log", numItermax=20000, stopThr=1e-12))
    return torch.stack([torch.as_tensor(v) for v in out])
