"""The Omni model: frozen encoders + projectors + a causal LM driven by ``inputs_embeds``.

Built in ``notebooks/03_projectors_and_llm_inputs.ipynb`` and ``04_timestamp_tokens.ipynb``;
tested in ``tests/test_omni.py``.

Path (ChronusOmni §3, Meerkat §3): per-slice features ``vision (B, S, P, Dv)``, ``audio (B, S, A, Da)``
→ projectors → ``(B, S, n_v, H)``, ``(B, S, n_a, H)`` → ``timestamps.interleave`` lays out
``<s> [time_k, v_k…, a_k…]_k question answer </s>`` → the LLM's token embeddings, with the projected
features written into the FEATURE positions → logits. Labels are -100 everywhere but the answer.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .config import ModelSpec, OmniConfig
from .encoders import Encoders
from .hub import from_pretrained, quiet_transformers
from .positions import skipped_positions
from .projectors import build_projector
from .time_rows import FourierTimeRows
from .timestamps import AUDIO, FEATURE, TIME, VISION, interleave, time_format
from .tokenizer import load_tokenizer

IGNORE = -100  # label of positions the loss skips
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def build_llm(spec: ModelSpec, vocab_size: int, load: bool = True, dtype: str = "float32"):
    """The causal LM of a spec (pretrained, or random init from its config), sized to the vocabulary."""
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    if load and spec.pretrained:
        model = from_pretrained(AutoModelForCausalLM, spec.pretrained, dtype=DTYPES[dtype])
    else:
        cls, cfg_cls = {"llama": (LlamaForCausalLM, LlamaConfig), "qwen2": (Qwen2ForCausalLM, Qwen2Config)}[spec.kind]
        with quiet_transformers():
            model = cls(cfg_cls(**{"vocab_size": vocab_size, **spec.config}))  # a full spec keeps its vocab
    if model.get_input_embeddings().num_embeddings < vocab_size:
        # room for <t_k> and the modality tokens; new rows start at the mean of the old ones, except on
        # the meta device (planning, tests), where there are no values to average
        model.resize_token_embeddings(vocab_size, mean_resizing=model.device.type != "meta")
    return model


@dataclass
class OmniOutput:
    loss: torch.Tensor | None
    logits: torch.Tensor
    """(B, L, V)"""
    hidden_states: torch.Tensor
    """(B, L, H): the LLM's last layer (what rewards and probes read)."""
    labels: torch.Tensor
    modality: torch.Tensor
    """(B, L): 0 text, 1 time, 2 vision, 3 audio, -1 padding."""
    slice_idx: torch.Tensor
    """(B, L): the time slice each position belongs to; -1 outside the clip."""
    layers: tuple[torch.Tensor, ...] = ()
    """The embeddings and every decoder layer's output, ``(B, L, H)`` each (``layers[k]`` = after layer k; the
    last one after the final norm, as transformers returns it)."""


def collate(features: list[dict], questions: list[str], answers: list[str] | None = None) -> dict:
    """Per-clip features (``vision (S, P, Dv)``, ``audio (S, A, Da)``, ``times (S,)``) → one padded batch."""
    s_max = max(f["vision"].shape[0] for f in features)

    def pad(t):  # (S, N, D) → (s_max, N, D)
        return torch.cat([t, t.new_zeros(s_max - t.shape[0], *t.shape[1:])]) if t.shape[0] < s_max else t

    return {"vision": torch.stack([pad(f["vision"]) for f in features]),
            "audio": torch.stack([pad(f["audio"]) for f in features]),
            "n_slices": [int(f["vision"].shape[0]) for f in features],
            "times": [slice_read_times(f) for f in features],
            "questions": list(questions), "answers": None if answers is None else list(answers)}


def slice_read_times(features: dict) -> list[float]:
    """The instant each slice of a clip was read at, in seconds, from its features (``times``, written by
    ``Encoders.clip_features``): the time written before each slice's group (the slice's start, or its
    middle for a plan that reads there)."""
    if "times" not in features:
        raise ValueError("these features have no 'times' (the instant each slice was read at): they were encoded before "
                         "slice plans; encode the clips again (a feature cache made then is keyed apart)")
    return [float(t) for t in features["times"]]


class OmniModel(nn.Module):
    """Encoders (frozen) + projectors + LLM, one code path for tiny and full configs."""

    def __init__(self, cfg: OmniConfig, tokenizer=None, load: bool = True):
        super().__init__()
        self.cfg = cfg
        self.tokenizer = tokenizer or load_tokenizer(cfg.tokenizer, cfg.max_time_tokens)
        self.encoders = Encoders(cfg, load)
        self.llm = build_llm(cfg.llm, len(self.tokenizer), load, cfg.dtype)
        width = self.llm.config.hidden_size
        self.vision_proj = build_projector(cfg.vision_projector, self.encoders.vision_dim, width,
                                           cfg.vision_tokens, grid=True, context=cfg.vision_context)
        self.audio_proj = build_projector(cfg.audio_projector, self.encoders.audio_dim, width,
                                          cfg.audio_tokens, grid=False, context=cfg.audio_context)
        self.time_format = (None if cfg.time_format == "none"
                            else time_format(cfg.time_format, cfg.time_quantum, cfg.max_time_tokens))
        self.time_rows = None  # "table": <t_k> rows are the vocabulary's own
        if cfg.time_rows == "fourier":
            from .tokenizer import time_tokens

            ids = self.tokenizer.convert_tokens_to_ids(time_tokens(cfg.max_time_tokens))
            table = self.llm.get_input_embeddings().weight
            row_std = 0.02 if table.device.type == "meta" else float(table.detach().float().std())  # start at the table's spread
            self.time_rows = FourierTimeRows(ids, width, row_std=row_std, longest=cfg.time_rows_period).to(table.device)

    @property
    def answer_format(self):
        """How answers write times: the input's own format, or text seconds when the input has none
        (a model without time tokens must still be able to state a span)."""
        from .timestamps import TextTime

        return self.time_format or TextTime(quantum=self.cfg.time_quantum)

    @property
    def added_token_ids(self) -> list[int]:
        """Ids of the tokens this project adds to the LLM's vocabulary (``<vision>``, ``<audio>``, ``<t_k>``):
        the rows LoRA trains (``lora.train_new_tokens``)."""
        from .tokenizer import MODALITY_TOKENS, model_token_ids

        ids = model_token_ids(self.tokenizer, self.cfg.max_time_tokens)
        return ids[:len(MODALITY_TOKENS)] if self.time_rows is not None else ids  # fourier: <t_k> rows are computed

    @property
    def own_parts(self) -> tuple[str, ...]:
        """The trained parts outside the LLM, by attribute name: the projectors, and with ``time_rows: fourier``
        the matrix the ``<t_k>`` rows are computed by (what exports and RL's policy checkpoints carry)."""
        return ("vision_proj", "audio_proj") + (("time_rows",) if self.time_rows is not None else ())

    @property
    def projector_dtype(self) -> torch.dtype:
        return next(self.vision_proj.parameters()).dtype

    def train(self, mode: bool = True) -> "OmniModel":
        """Train mode for projectors and LLM; the frozen encoders always stay in eval mode."""
        super().train(mode)
        self.encoders.eval()
        return self

    # --- inputs ----------------------------------------------------------------------------------
    def layouts(self, batch: dict) -> list:
        n = len(batch["questions"])
        answers = batch.get("answers") or [None] * n
        prefixes = batch.get("prefixes") or [None] * n
        return [interleave(self.tokenizer, self.time_format, times, self.cfg.vision_tokens, self.cfg.audio_tokens,
                           q, a, self.cfg.question_first, p, self.cfg.question_again)
                for times, q, a, p in zip(batch["times"], batch["questions"], answers, prefixes)]

    def embed(self, batch: dict, pad_left: bool = False) -> dict[str, torch.Tensor]:
        """Build ``inputs_embeds (B, L, H)``, attention mask, labels, modality and slice ids."""
        if self.time_rows is not None:
            self.time_rows.attach(self.llm)  # again: PEFT may have wrapped the embedding modules since
        emb_layer = self.llm.get_input_embeddings()
        device, dtype = emb_layer.weight.device, emb_layer.weight.dtype
        # Projectors keep their own dtype (float32 master weights while the LLM is bf16 at full scale):
        # features go in as the projector's dtype, projected tokens come out as the LLM's.
        n_slices = batch["n_slices"]
        v = self.vision_proj(batch["vision"].to(device, self.projector_dtype), n_slices).to(dtype)  # (B, S, n_v, H)
        a = self.audio_proj(batch["audio"].to(device, self.projector_dtype), n_slices).to(dtype)  # (B, S, n_a, H)
        lays = self.layouts(batch)
        length = max(len(lay) for lay in lays)
        rows = []
        for b, lay in enumerate(lays):
            ids = torch.tensor(lay.ids, device=device)
            mod = torch.tensor(lay.modality, device=device)
            x = emb_layer(ids.clamp_min(0))  # (L_b, H); FEATURE positions are overwritten below
            s = batch["n_slices"][b]
            vb, ab = v[b, :s], a[b, :s]
            if self.cfg.fusion == "early":
                when = self._time_embedding(x, mod, torch.tensor(lay.slice_idx, device=device), s)  # (s, H)
                vb = vb + ab.mean(1, keepdim=True) + when[:, None]
                ab = ab + when[:, None]
            x = x.masked_scatter((mod == VISION)[:, None], vb.reshape(-1, x.shape[-1]))
            x = x.masked_scatter((mod == AUDIO)[:, None], ab.reshape(-1, x.shape[-1]))
            labels = torch.where(torch.tensor(lay.is_answer, device=device) & (ids != FEATURE), ids, IGNORE)
            rows.append((x, labels, mod, torch.tensor(lay.slice_idx, device=device)))
        return self._pad(rows, length, pad_left)

    @staticmethod
    def _time_embedding(x: torch.Tensor, mod: torch.Tensor, slice_idx: torch.Tensor, n: int) -> torch.Tensor:
        """``(n, H)``: the mean embedding of each slice's time tokens (zeros without a time format)."""
        is_time = (mod == TIME).to(x.dtype)
        onehot = torch.nn.functional.one_hot(slice_idx.clamp_min(0), n).to(x.dtype) * is_time[:, None]  # (L, n)
        return (onehot.T @ x) / onehot.sum(0).clamp_min(1)[:, None]

    @staticmethod
    def _pad(rows, length: int, pad_left: bool) -> dict[str, torch.Tensor]:
        out = {k: [] for k in ("inputs_embeds", "labels", "modality", "slice_idx", "attention_mask")}
        for x, labels, mod, sl in rows:
            n = length - x.shape[0]
            cat = (lambda t, fill: torch.cat([t.new_full((n, *t.shape[1:]), fill), t]) if pad_left
                   else torch.cat([t, t.new_full((n, *t.shape[1:]), fill)]))
            out["inputs_embeds"].append(cat(x, 0))
            out["labels"].append(cat(labels, IGNORE))
            out["modality"].append(cat(mod, -1))
            out["slice_idx"].append(cat(sl, -1))
            out["attention_mask"].append(cat(torch.ones_like(mod), 0))
        return {k: torch.stack(v) for k, v in out.items()}

    # --- forward / generate --------------------------------------------------------------------
    def forward(self, batch: dict, position_skip: int = 0) -> OmniOutput:
        """``position_skip > 0`` (training only, ``model/positions.py``): position ids with a random skip."""
        e = self.embed(batch)
        positions = skipped_positions(e["attention_mask"], position_skip) if position_skip > 0 else None
        out = self.llm(inputs_embeds=e["inputs_embeds"], attention_mask=e["attention_mask"], position_ids=positions,
                       labels=e["labels"] if batch.get("answers") else None, output_hidden_states=True)
        return OmniOutput(out.loss, out.logits, out.hidden_states[-1], e["labels"], e["modality"], e["slice_idx"],
                          out.hidden_states)

    def lens_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """A middle layer's hidden state read as the last one is: final norm, then the LM head (a logit lens).
        Only for ``out.layers[1:-1]``: transformers stores the last layer's output already normed."""
        if self.time_rows is not None:
            self.time_rows.attach(self.llm)
        return self.llm.get_output_embeddings()(self.llm.get_decoder().norm(hidden))

    @torch.no_grad()
    def generate(self, batch: dict, max_new_tokens: int = 24) -> list[str]:
        """Greedy answers to ``batch["questions"]`` (answers, if given, are ignored)."""
        e = self.embed({**batch, "answers": None}, pad_left=True)
        ids = self.llm.generate(inputs_embeds=e["inputs_embeds"], attention_mask=e["attention_mask"],
                                max_new_tokens=max_new_tokens, do_sample=False,
                                eos_token_id=self.tokenizer.eos_token_id,
                                pad_token_id=self.tokenizer.pad_token_id)
        return [self._decode(row) for row in ids]

    def _decode(self, row: torch.Tensor) -> str:
        row = row.tolist()
        if self.tokenizer.eos_token_id in row:
            row = row[: row.index(self.tokenizer.eos_token_id)]
        row = [t for t in row if t != self.tokenizer.pad_token_id]
        return self.tokenizer.decode(row, skip_special_tokens=False).strip()

    def trainable_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)
