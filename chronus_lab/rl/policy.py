"""The policy side of RL: sample answers from the Omni model, and score each answer token.

Built in ``notebooks/08_ppo_rewards.ipynb``; tested in ``tests/test_rl.py``.

The policy is the SFT model (its LoRA adapters train); the **reference** is the same model with the
adapters switched off (PEFT's ``disable_adapter()``) — no second copy of the LLM. A prompt is the
clip's interleaved ``[time, visual, audio]`` groups and the question, left-padded as for generation;
positions follow the attention mask (``cumsum − 1``), exactly as ``generate`` numbers them, so the
log-probabilities recomputed here are those of the distribution the answers were sampled from.
"""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..model.omni import OmniModel


@dataclass
class Prompts:
    """Left-padded prompts: ``embeds (B, P, H)``, ``mask (B, P)``."""

    embeds: torch.Tensor
    mask: torch.Tensor

    def repeat(self, g: int) -> "Prompts":
        """Each prompt ``g`` times in a row (a GRPO group)."""
        return Prompts(self.embeds.repeat_interleave(g, 0), self.mask.repeat_interleave(g, 0))


@torch.no_grad()
def prompts(model: OmniModel, batch: dict) -> Prompts:
    """The prompts as fixed inputs: RL trains the adapters, not the projectors, so no graph is kept."""
    e = model.embed({**batch, "answers": None}, pad_left=True)
    return Prompts(e["inputs_embeds"], e["attention_mask"])


@torch.no_grad()
def sample(model: OmniModel, p: Prompts, max_new_tokens: int = 16, temperature: float = 1.0):
    """Sampled answers: ``(ids (B, T), mask (B, T) — 1 up to and including </s>, texts)``."""
    tok = model.tokenizer
    out = model.llm.generate(inputs_embeds=p.embeds, attention_mask=p.mask, max_new_tokens=max_new_tokens,
                             do_sample=temperature > 0, temperature=max(temperature, 1e-5), top_k=0, top_p=1.0,
                             eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    ids = out[:, -max_new_tokens:] if out.shape[1] > max_new_tokens else out
    is_eos = ids == tok.eos_token_id
    before_eos = (is_eos.cumsum(1) - is_eos.long()) == 0  # positions up to and including the first </s>
    mask = before_eos.float()
    ids = torch.where(before_eos, ids, torch.full_like(ids, tok.pad_token_id))
    texts = [model._decode(row) for row in ids]
    return ids, mask, texts


def token_scores(model: OmniModel, p: Prompts, ids: torch.Tensor, mask: torch.Tensor, value_head=None,
                 reference: bool = False, temperature: float = 1.0):
    """Per answer token: log π(token | prefix) ``(B, T)``, the value ``V(prefix)`` ``(B, T)`` (if a head is
    given) and the policy's entropy ``(B, T)``. ``reference=True`` scores with the adapters off.

    ``temperature``: the one the answers were sampled at. The logits are divided by it, as ``generate`` does
    before sampling (and TRL's trainers before scoring), so the log-probabilities are those of the
    distribution the answers came from; 0 (greedy) scores at 1."""
    emb = model.llm.get_input_embeddings()(ids)  # (B, T, H)
    x = torch.cat([p.embeds, emb.to(p.embeds.dtype)], 1)  # (B, P + T, H)
    attn = torch.cat([p.mask, mask.long()], 1)
    pos = (attn.cumsum(1) - 1).clamp_min(0)  # as generate numbers positions under left padding
    ctx = model.llm.disable_adapter() if reference else nullcontext()
    with ctx:
        out = model.llm(inputs_embeds=x, attention_mask=attn, position_ids=pos, output_hidden_states=True)
    P, T = p.embeds.shape[1], ids.shape[1]
    logits = out.logits[:, P - 1:P + T - 1].float() / (temperature or 1.0)  # the logits that predicted each token
    logp_all = F.log_softmax(logits, -1)
    logp = logp_all.gather(-1, ids[..., None]).squeeze(-1)
    entropy = -(logp_all.exp() * logp_all).sum(-1)
    values = value_head(out.hidden_states[-1][:, P - 1:P + T - 1].float()).squeeze(-1) if value_head is not None else None
    return logp, values, entropy
