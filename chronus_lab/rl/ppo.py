"""PPO for an LLM policy with LoRA, top to bottom, with the equations (ChronusOmni's RL stage, the paper).

Built in ``notebooks/08_ppo_rewards.ipynb``; tested in ``tests/test_rl.py``.

Which choice follows which reference, and why:

* Per-token reward (TRL's PPO, "The N implementation details of RLHF with PPO"): every answer token
  pays the KL penalty ``−β·(log π − log π_ref)`` (the k1 estimator), and the last token also gets the
  task score. The KL keeps the policy near the SFT model, which is what makes a reward hackable only
  at a price.
* GAE over tokens with γ = 1 (an answer is one episode, no discounting) and λ = 0.95:
  ``δ_t = r_t + γ V_{t+1} − V_t``, ``A_t = δ_t + γλ A_{t+1}``, returns ``R_t = A_t + V_t``.
* Advantages whitened over the batch's real tokens (TRL, CleanRL ``norm_adv``).
* The clipped surrogate (Schulman et al. 2017, ε = 0.2): ``L = −E[min(ρ A, clip(ρ, 1 ± ε) A)]``,
  ``ρ = exp(log π − log π_old)``; the clipped value loss ``½·max((V − R)², (V_old + clip(V − V_old, ±ε) − R)²)``.
* A value head on the LLM's last hidden state, zero-initialised (the N-details list: it starts
  predicting 0 instead of noise), ``vf_coef`` 0.1 as TRL; a few epochs over each batch of rollouts.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class PPOSettings:
    kl_coef: float = 0.05
    gamma: float = 1.0
    lam: float = 0.95
    clip: float = 0.2
    clip_value: float = 0.2
    vf_coef: float = 0.1
    epochs: int = 4
    max_grad_norm: float = 1.0


def value_head(width: int) -> nn.Linear:
    """V(s) = w·h + b on the last hidden state, zero-initialised."""
    head = nn.Linear(width, 1)
    nn.init.zeros_(head.weight)
    nn.init.zeros_(head.bias)
    return head


def kl_k1(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """k1 = log π − log π_ref: unbiased for KL(π‖π_ref) on samples from π, but can be negative."""
    return logp - ref_logp


def kl_k3(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """k3 = exp(d) − d − 1 with d = log π_ref − log π: unbiased and never negative (Schulman's estimator)."""
    d = ref_logp - logp
    return d.exp() - d - 1


def token_rewards(scores: torch.Tensor, logp: torch.Tensor, ref_logp: torch.Tensor, mask: torch.Tensor,
                  kl_coef: float) -> torch.Tensor:
    """``r_t = −β·k1_t`` on every answer token, plus the task score on the last one. ``(B, T)``"""
    r = -kl_coef * kl_k1(logp, ref_logp) * mask
    last = (mask.sum(1).long() - 1).clamp_min(0)  # index of each answer's last real token
    return r.scatter_add(1, last[:, None], scores[:, None].to(r.dtype))


def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0,
        lam: float = 0.95) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation over answer tokens; padding contributes nothing. ``(A, R)``."""
    T = rewards.shape[1]
    adv = torch.zeros_like(rewards)
    last = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(T)):
        next_v = values[:, t + 1] * mask[:, t + 1] if t + 1 < T else torch.zeros_like(last)
        delta = rewards[:, t] + gamma * next_v - values[:, t]
        last = (delta + gamma * lam * last * (mask[:, t + 1] if t + 1 < T else 0)) * mask[:, t]
        adv[:, t] = last
    return adv, (adv + values) * mask


def whiten(x: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    n = mask.sum().clamp_min(1)
    mean = (x * mask).sum() / n
    var = (((x - mean) * mask) ** 2).sum() / n
    return (x - mean) * torch.rsqrt(var + eps) * mask


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (x * mask).sum() / mask.sum().clamp_min(1)


def clipped_surrogate(logp, old_logp, adv, mask, clip: float = 0.2):
    """``−E[min(ρA, clip(ρ, 1−ε, 1+ε)A)]`` over real tokens; and the share of tokens clipped."""
    ratio = (logp - old_logp).exp()
    loss = -torch.minimum(ratio * adv, ratio.clamp(1 - clip, 1 + clip) * adv)
    clipped = ((ratio - 1).abs() > clip).float()
    return masked_mean(loss, mask), masked_mean(clipped, mask)


def clipped_value_loss(values, old_values, returns, mask, clip: float = 0.2):
    """``½·max((V − R)², (V_old + clip(V − V_old, ±ε) − R)²)`` over real tokens."""
    v_clip = old_values + (values - old_values).clamp(-clip, clip)
    return 0.5 * masked_mean(torch.maximum((values - returns) ** 2, (v_clip - returns) ** 2), mask)


def ppo_update(score_fn, params, optimizer, rollout: dict, scores: torch.Tensor, s: PPOSettings) -> dict:
    """One PPO update on a batch of rollouts.

    ``rollout``: ``logp``, ``ref_logp``, ``values`` (old, detached) and ``mask``, all ``(B, T)``;
    ``score_fn()`` recomputes ``(logp, values, entropy)`` under the current weights.
    """
    mask = rollout["mask"]
    rewards = token_rewards(scores, rollout["logp"], rollout["ref_logp"], mask, s.kl_coef)
    adv, returns = gae(rewards, rollout["values"], mask, s.gamma, s.lam)
    adv = whiten(adv, mask)
    stats = []
    for _ in range(s.epochs):
        logp, values, entropy = score_fn()
        pg, clipfrac = clipped_surrogate(logp, rollout["logp"], adv, mask, s.clip)
        vf = clipped_value_loss(values, rollout["values"], returns, mask, s.clip_value)
        loss = pg + s.vf_coef * vf
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, s.max_grad_norm)
        optimizer.step()
        stats.append({"policy loss": pg.item(), "value loss": vf.item(), "clip frac": clipfrac.item(),
                      "entropy": masked_mean(entropy, mask).item()})
    out = {k: sum(d[k] for d in stats) / len(stats) for k in stats[0]}
    out["kl"] = masked_mean(kl_k1(rollout["logp"], rollout["ref_logp"]), mask).item()
    return out
