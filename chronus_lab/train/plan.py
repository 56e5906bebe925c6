"""Will a recipe fit? GPU memory per device, planned on the CPU before a GPU is rented.

Built in ``notebooks/10_full_scale.ipynb`` (planned: the instructor's path); tested in ``tests/test_plan.py``;
CLI: ``chronus-lab plan --config full-sft --devices 4 --gpu-mem 80``.

Everything is counted on the model itself, built on the **meta device** (shapes, no weights, no memory):
parameters of each part, which of them train (LoRA adapters made by PEFT on the recipe's targets, the
projectors), and the activations one decoder layer saves for backward — found by running that layer on
meta tensors under ``torch.autograd.graph.saved_tensors_hooks`` and adding up what autograd keeps. On
meta the attention runs PyTorch's math path, which also keeps the s × s probabilities; measured at two
lengths, that quadratic part is separated and dropped, because the GPU recipes use flash / memory-
efficient attention, which keeps no s × s matrix. Per device, in bytes:

* weights: frozen ones in the recipe's dtype (bf16: 2), trainable ones in float32 (4, master weights);
* gradients: float32 for the trainable weights; AdamW: two float32 moments per trainable weight;
* activations: the per-layer bytes × layers × micro-batch × sequence length, plus the logits
  (bf16, their float32 copy for the loss, and the float32 log-softmax the loss keeps: 10 bytes per
  vocabulary entry per token, at the peak of the loss's backward). With activation checkpointing a layer
  keeps only its input (one value per hidden unit per token) and one layer's full activations exist at a time, during its recomputation;
* DDP replicates weights, gradients and optimiser state on every device; FSDP (full shard) divides them
  by the number of devices; activations are per device either way;
* plus a fixed allowance for the CUDA context and allocator slack (``OVERHEAD_GIB``, an assumption).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..errors import ConfigError
from ..world import WorldConfig
from .config import TrainConfig
from .module import omni_config

GIB = 2**30
OVERHEAD_GIB = 1.5
"""CUDA context (~0.5 GiB) and the caching allocator's fragmentation: an allowance, not a measurement."""
DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
TEXT_TOKENS = 72
"""Question + answer + ``</s>`` tokens allowed per example (the world's longest with the tiny tokenizer: an AVFC
claim, 62 + 2 tokens; checked in ``tests/test_timestamps.py``)."""
QUESTION_TOKENS = 64
"""The world's longest question (an AVFC claim, 62 tokens), written a second time with ``question_again``."""
TEXT_TIME_TOKENS = 7
"""Tokens of one ``second{12.5}`` time with a hub tokenizer (Llama and Qwen split it into ~7 pieces)."""


@dataclass
class Counts:
    """Parameters of one recipe's model, by part, and what trains."""

    encoders: int
    projectors: int
    llm: int
    """The LLM's own weights (LoRA adapters not included)."""
    lora: int
    token_rows: int
    """Trainable rows of the project's added tokens (``lora.train_new_tokens``), embedding and untied head
    (with ``time_rows: fourier``: the modality tokens' rows and the matrix the ``<t_k>`` rows are computed by)."""
    trainable: int
    layers: int
    hidden: int
    vocab: int
    layer_bytes_per_token: float
    """Activation bytes one decoder layer keeps for backward, per token (flash attention, no s × s)."""
    llm_dtype: str

    @property
    def total(self) -> int:
        return self.encoders + self.projectors + self.llm + self.lora + self.token_rows

    @property
    def frozen(self) -> int:
        return self.total - self.trainable


def _meta_model(cfg: TrainConfig):
    """Encoders, projectors and the LLM (with the recipe's LoRA) on the meta device, no tokenizer needed."""
    from ..model.encoders import build_encoder
    from ..model.omni import build_llm
    from ..model.projectors import build_projector
    from ..model.tokenizer import MODALITY_TOKENS, load_tokenizer

    ocfg = omni_config(cfg)
    if "vocab_size" in ocfg.llm.config:  # a hub model: its vocabulary + the tokens the project adds
        vocab = ocfg.llm.config["vocab_size"] + len(MODALITY_TOKENS) + ocfg.max_time_tokens
    else:  # the tiny model: its tokenizer is local
        vocab = len(load_tokenizer(ocfg.tokenizer, ocfg.max_time_tokens))
    with torch.device("meta"):
        vision, audio = build_encoder(ocfg.vision, load=False), build_encoder(ocfg.audio, load=False)
        llm = build_llm(ocfg.llm, vocab_size=vocab, load=False)
        llm = llm.to(getattr(torch, ocfg.dtype))
        width = llm.config.hidden_size
        vdim = vision.config.hidden_size
        adim = getattr(audio.config, "d_model", None) or audio.config.hidden_size
        projectors = [build_projector(ocfg.vision_projector, vdim, width, ocfg.vision_tokens, grid=True,
                                      context=ocfg.vision_context),
                      build_projector(ocfg.audio_projector, adim, width, ocfg.audio_tokens, grid=False,
                                      context=ocfg.audio_context)]
        if cfg.stage == 2 and cfg.finetune == "lora":  # stage 1 trains the projectors only
            from .module import add_lora

            # added last (counted, never indexed here); computed <t_k> rows (time_rows: fourier) are no table rows
            n_new = len(MODALITY_TOKENS) + (ocfg.max_time_tokens if ocfg.time_rows == "table" else 0)
            llm = add_lora(llm, cfg.lora, list(range(vocab - n_new, vocab)), dropout=0.0)
    return ocfg, vision, audio, projectors, llm


def _decoder(llm):
    """The LLM's stack of decoder layers and its rotary embedding (Llama and Qwen2 share the layout)."""
    core = llm.get_base_model().model if hasattr(llm, "get_base_model") else llm.model
    return core.layers, core.rotary_emb


def saved_bytes(fn, exclude=()) -> int:
    """Bytes of the tensors autograd saves for backward while ``fn()`` runs, those of ``exclude`` (the
    parameters) left out; a storage saved twice counts once. Works on meta tensors: it reads sizes only."""
    skip = {p.untyped_storage()._cdata for p in exclude}
    seen: dict[int, int] = {}

    def pack(t):
        storage = t.untyped_storage()
        if storage._cdata not in skip:
            seen[storage._cdata] = max(seen.get(storage._cdata, 0), storage.nbytes())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(seen.values())


def layer_bytes_per_token(llm, lengths=(256, 512)) -> float:
    """One decoder layer's saved activations per token, the s × s attention part removed: measured at
    two lengths on meta, ``bytes(s) = c·s + q·s²`` solved for ``c``."""
    layers, rotary = _decoder(llm)
    layer = layers[0]
    weight = next(layer.parameters())

    def at(s: int) -> int:
        x = torch.empty(1, s, llm.config.hidden_size, device=weight.device, dtype=weight.dtype, requires_grad=True)
        pos = torch.arange(s, device=weight.device)[None]
        pe = rotary(x, pos)
        return saved_bytes(lambda: layer(x, attention_mask=None, position_embeddings=pe, position_ids=pos),
                           exclude=list(llm.parameters()))

    s1, s2 = lengths
    b1, b2 = at(s1), at(s2)
    quadratic = (b2 / s2 - b1 / s1) / (s2 - s1)  # bytes(s)/s = c + q·s
    return b1 / s1 - quadratic * s1


def count(cfg: TrainConfig) -> Counts:
    ocfg, vision, audio, projectors, llm = _meta_model(cfg)
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    n_proj = sum(n(p) for p in projectors)
    adapter = lambda name: "lora_" in name or "trainable_tokens_delta" in name  # noqa: E731
    n_llm = sum(p.numel() for name, p in llm.named_parameters() if not adapter(name))
    lora = sum(p.numel() for name, p in llm.named_parameters() if "lora_" in name)
    rows = sum(p.numel() for name, p in llm.named_parameters() if "trainable_tokens_delta" in name)
    if ocfg.time_rows == "fourier":  # the one matrix the <t_k> rows are computed by: trained with the LLM
        from ..model.time_rows import N_FEATURES

        rows += N_FEATURES * llm.config.hidden_size
    trainable = n_proj + (0 if cfg.stage == 1 else lora + rows if cfg.finetune == "lora"
                          else n_llm + rows)
    return Counts(encoders=n(vision) + n(audio), projectors=n_proj, llm=n_llm, lora=lora, token_rows=rows,
                  trainable=trainable, layers=llm.config.num_hidden_layers, hidden=llm.config.hidden_size,
                  vocab=llm.config.vocab_size,
                  layer_bytes_per_token=layer_bytes_per_token(llm), llm_dtype=ocfg.dtype)


def sequence_length(cfg: TrainConfig) -> int:
    """Positions of the longest training example: ``[time, visual…, audio…]`` per slice + text."""
    ocfg = omni_config(cfg)
    world = WorldConfig.named(cfg.data.world)
    slices = ocfg.plan.n_slices(world.max_duration, world.fps)  # the plan's count only grows with the length
    time_tokens = {"token": 1, "text": TEXT_TIME_TOKENS, "none": 0}[ocfg.time_format]
    again = QUESTION_TOKENS if ocfg.question_again else 0
    return 1 + slices * (time_tokens + ocfg.vision_tokens + ocfg.audio_tokens) + TEXT_TOKENS + again


def plan(cfg: TrainConfig, devices: int = 1, gpu_mem_gib: float = 80.0, strategy: str | None = None,
         counts: Counts | None = None) -> list[dict]:
    """Rows of GiB per device, without and with activation checkpointing, and whether each fits."""
    strategy = strategy or (cfg.strategy if cfg.strategy in ("ddp", "fsdp") else "ddp")
    if strategy not in ("ddp", "fsdp") or devices < 1 or gpu_mem_gib <= 0:
        raise ConfigError(f"plan: strategy must be ddp or fsdp, devices >= 1, gpu memory > 0 "
                          f"(got {strategy!r}, {devices!r}, {gpu_mem_gib!r})")
    c = counts or count(cfg)
    shard = devices if strategy == "fsdp" else 1
    weights = (c.frozen * DTYPE_BYTES[c.llm_dtype] + c.trainable * 4) / shard
    grads = c.trainable * 4 / shard
    optim = c.trainable * 8 / shard
    s, b = sequence_length(cfg), cfg.data.batch_size
    logits = b * s * c.vocab * 10
    full = c.layers * c.layer_bytes_per_token * s * b + logits
    layer_input = DTYPE_BYTES[c.llm_dtype] * c.hidden  # what a checkpointed layer keeps, per token
    checkpointed = c.layers * layer_input * s * b + c.layer_bytes_per_token * s * b + logits
    rows = []
    for name, act in (("off", full), ("on", checkpointed)):
        total = weights + grads + optim + act + OVERHEAD_GIB * GIB
        rows.append({"checkpointing": name + (" (recipe)" if (name == "on") == cfg.gradient_checkpointing else ""),
                     "weights": weights / GIB, "grads": grads / GIB, "AdamW": optim / GIB,
                     "activations": act / GIB, "total": total / GIB, "fits": "yes" if total <= gpu_mem_gib * GIB else "no"})
    return rows


def describe(cfg: TrainConfig, counts: Counts, devices: int, strategy: str, gpu_mem_gib: float) -> str:
    what = ("stage 1 (projectors)" if cfg.stage == 1 else
            f"stage 2, LoRA r={cfg.lora.r}" if cfg.finetune == "lora" else "stage 2, full fine-tuning")
    return (f"{cfg.model} model ({cfg.llm + ' + ' + cfg.audio_encoder if cfg.model == 'full' else 'tiny'}), {what}: "
            f"{counts.total:,} parameters, {counts.trainable:,} trainable; sequence {sequence_length(cfg)} positions × micro-batch "
            f"{cfg.data.batch_size}; {devices} device(s), {strategy}, {gpu_mem_gib:g} GiB each; "
            f"one layer keeps {counts.layer_bytes_per_token / counts.hidden:.1f} bytes per hidden unit per token")
