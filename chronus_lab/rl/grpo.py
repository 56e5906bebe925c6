"""GRPO on the same reward functions (the authors' released code; TimeZero, Time-R1, VideoChat-R1).

Built in ``notebooks/08_ppo_rewards.ipynb``; tested in ``tests/test_rl.py``.

No value model: G answers are sampled per prompt and each answer's advantage is its reward against
its own group, ``A_i = (r_i − mean(r)) / (std(r) + 1e-4)`` (the released code's 1e-4). The KL to the
reference sits in the loss, estimated per token with k3 (never negative), weighted by β — 0.04 in the
released code, 0 in TRL's defaults today (no reference model needed). The per-token objective is
``ρ_t·A − β·k3_t`` with ρ clipped as in PPO (ε = 0.2).

How the token losses are averaged is a lesson of its own: ``"sequence"`` (the original GRPO: mean
over each answer's tokens, then over answers) gives every token of a short answer more weight than a
token of a long one — a length bias; ``"token"`` (DAPO, TRL's default) averages over all tokens of
the batch at once.
"""
from __future__ import annotations

import torch

from .ppo import kl_k3


def group_advantages(rewards: torch.Tensor, group_size: int, eps: float = 1e-4) -> torch.Tensor:
    """``(B,)`` rewards, B = prompts × G in groups of G → ``(r − group mean) / (group std + eps)``."""
    r = rewards.view(-1, group_size)
    return ((r - r.mean(1, keepdim=True)) / (r.std(1, keepdim=True, unbiased=False) + eps)).view(-1)


def flat_groups(rewards: torch.Tensor, group_size: int, tol: float = 1e-6) -> float:
    """Share of the groups whose G rewards are all equal: their advantages are 0, so they teach GRPO nothing
    (and PPO, whose baseline is a value head, little). Sampling that always gives one answer is the usual cause.

    >>> flat_groups(torch.tensor([1.0, 1.0, 0.0, 0.5]), 2)
    0.5
    """
    r = rewards.view(-1, group_size)
    return float(((r.amax(1) - r.amin(1)) <= tol).float().mean())


def grpo_loss(logp, old_logp, ref_logp, adv, mask, beta: float = 0.04, clip: float = 0.2,
              loss_type: str = "sequence"):
    """The GRPO loss and its parts; ``logp``/``old_logp``/``ref_logp``/``mask`` are ``(B, T)``, ``adv`` ``(B,)``."""
    ratio = (logp - old_logp).exp()
    a = adv[:, None]
    surrogate = torch.minimum(ratio * a, ratio.clamp(1 - clip, 1 + clip) * a)
    kl = kl_k3(logp, ref_logp)
    per_token = -(surrogate - beta * kl)
    if loss_type == "sequence":
        loss = ((per_token * mask).sum(1) / mask.sum(1).clamp_min(1)).mean()
    elif loss_type == "token":
        loss = (per_token * mask).sum() / mask.sum().clamp_min(1)
    else:
        raise ValueError(f"loss_type {loss_type!r}: use 'sequence' or 'token'")
    n = mask.sum().clamp_min(1)
    return loss, {"kl": ((kl * mask).sum() / n).item(),
                  "clip frac": ((((ratio - 1).abs() > clip).float() * mask).sum() / n).item()}


def grpo_update(score_fn, params, optimizer, rollout: dict, rewards: torch.Tensor, group_size: int,
                beta: float = 0.04, clip: float = 0.2, loss_type: str = "sequence", epochs: int = 1,
                max_grad_norm: float = 1.0) -> dict:
    """One GRPO update: group advantages, then ``epochs`` gradient steps on the same samples."""
    adv = group_advantages(rewards, group_size)
    stats = {}
    for _ in range(epochs):
        logp, _, entropy = score_fn()
        loss, stats = grpo_loss(logp, rollout["logp"], rollout["ref_logp"], adv, rollout["mask"], beta, clip, loss_type)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
        optimizer.step()
        stats["policy loss"] = loss.item()
        stats["entropy"] = ((entropy * rollout["mask"]).sum() / rollout["mask"].sum().clamp_min(1)).item()
    return stats
