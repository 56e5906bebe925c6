"""Typed configs for the Omni model: one ``OmniConfig`` with ``tiny()`` and ``full()`` constructors.

Built across ``notebooks/02``–``04``; tested in ``tests/test_config.py`` and ``tests/test_omni.py``.

Tiny and full share every line of code but this file: tiny names random-init (or stage-0
pretrained, see ``train/base.py``) Hugging Face architectures shrunk to run on a laptop; full names the
papers' pretrained hub ids. Each ``ModelSpec`` carries both a hub id / local path *and* the HF
config kwargs of that architecture, so a full config can be built on the meta device, offline,
to check its parameter count without downloading a byte.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import ConfigError, check_fields
from ..typed import check_types

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "tiny"


class OmniConfigError(ConfigError):
    """A config value is invalid; the message names the field."""


@dataclass
class ModelSpec:
    """One pretrained component: what to load, and its architecture for offline meta builds."""

    kind: str
    """``"clip"`` (CLIPVisionModel), ``"clap"`` (ClapAudioModel), ``"whisper"`` (WhisperEncoder),
    ``"llama"`` / ``"qwen2"`` (causal LM)."""
    pretrained: str | None
    """A hub id (full) or a local folder (tiny: ``assets/tiny/...``); None = random init from ``config``."""
    config: dict = field(default_factory=dict)
    """HF config kwargs of the architecture (for random init and for meta-device builds)."""
    params: int | None = None
    """Known parameter count of the pretrained model (checked by the meta-build test)."""


@dataclass
class OmniConfig:
    """Everything that differs between a laptop run and a GPU run of the Omni model."""

    vision: ModelSpec
    audio: ModelSpec
    llm: ModelSpec
    tokenizer: str | None
    """A folder or hub id; None for the tiny tokenizer trained on the world's text (tokenizer.py)."""
    image_size: int = 64
    """Frames are resized to this before the vision encoder (CLIP ViT-B/16: 224)."""
    sample_rate: int = 16_000
    """The audio encoder's input rate (CLAP HTSAT: 48 kHz; Whisper: 16 kHz). World audio is resampled."""
    n_mels: int = 32
    hop_ms: float = 10.0
    """Log-mel hop: 10 ms → 50 mel frames per 0.5 s slice."""
    slice_s: float = 0.5
    """One ``[time, visual…, audio…]`` group per slice (ChronusOmni §3): fixed slices of this width, and the
    seconds of audio each slice is encoded from (``world/slices.py``: ``SlicePlan``)."""
    slices_per_clip: int | None = None
    """Uniform slices: exactly N per clip, ``duration / N`` seconds each (None: fixed ``slice_s`` slices)."""
    max_slices: int | None = None
    """At most N slices: fixed while they fit, else N uniform (the released ChronusOmni code: 64 frames)."""
    frames_per_slice: int = 1
    """Frames encoded per slice (the first ones of the slice), averaged after encoding."""
    read_at: str = "start"
    """Where a slice is read and which time is written for it: ``"start"``, or ``"middle"`` (Meerkat's one image:
    ``slices_per_clip: 1, read_at: middle, audio_window_s: <clip seconds>``)."""
    audio_window_s: float | None = None
    """Seconds of audio each slice is encoded from (None: ``slice_s``); Meerkat's one slice: the whole clip."""
    time_quantum: float = 0.5
    """Seconds per time step of the time vocabulary (``<t_k>`` = k × quantum) and of the tasks' time grid."""
    time_format: str = "token"
    """``"token"`` (``<t_k>``, the paper), ``"text"`` (``second{x}``, the released code), ``"none"``."""
    max_time_tokens: int = 64
    """``<t_0> … <t_63>``: times up to 31.5 s at 0.5 s per token (a recipe checks its world's longest clip fits)."""
    time_rows: str = "table"
    """How ``<t_k>``'s embedding and output rows are made: ``"table"``, a free vocabulary row per token (the paper;
    a row no training answer wrote is trained only as a negative), or ``"fourier"``, computed from Fourier features of k through
    one learnt matrix, so times past the training clips get rows placed by the trained ones (``model/time_rows.py``)."""
    time_rows_period: float | None = None
    """``time_rows: fourier``: the longest period of its features, in time steps (None: twice the vocabulary, so
    one feature is a ramp over every k). Shorter periods leave no feature that says "a late k" by itself."""
    vision_projector: str = "pool_mlp"
    """``"linear"``, ``"mlp"``, ``"pool_mlp"`` (ChronusOmni: Linear → 2×2 pool → GELU → Linear),
    ``"conv"`` (Meerkat: Conv1d token compression → Linear)."""
    audio_projector: str = "stack_mlp"
    """``"linear"``, ``"mlp"``, ``"stack_mlp"`` (ChronusOmni: stack frames → Linear → ReLU → Linear), ``"conv"``."""
    vision_tokens: int = 4
    """Visual tokens per slice after the projector (a square number: 2×2 by default)."""
    audio_tokens: int = 2
    """Audio tokens per slice after the projector."""
    vision_context: int = 0
    """Slices on either side each projected visual token also reads (``projectors.SliceContext``: a Conv1d over
    the slice axis, zero at start); 0: each slice is projected alone, as in both papers."""
    audio_context: int = 0
    """The same for the audio tokens. Built so that a token can tell a sound that starts and stops with an event
    from one that lasts through it; measured over three seeds and not adopted (README, "Slice context")."""
    question_first: bool = False
    """Put the question before the clip (a lever for small models: they read the clip knowing what to look for)."""
    question_again: bool = False
    """With ``question_first``, write the question a second time after the clip: the answer then reads it at
    the same distance whatever the clip's length (a model trained on one length otherwise learns where the
    question sits from the answer, and writes nonsense on clips of any other length — README)."""
    dtype: str = "float32"
    """``"bfloat16"`` at full scale on GPUs."""
    fusion: str = "none"
    """``"none"``: a slice's time, visual and audio tokens are separate positions (the papers).
    ``"early"``: each visual token also gets the slice's mean audio token and its time token's
    embedding added, each audio token the time embedding — every feature position says *what* and
    *when* by itself, so "when X is heard, what is seen?" is one attention hop instead of two
    (a lever for small models, measured in the README's table of levers; the token layout is unchanged)."""

    def __post_init__(self) -> None:
        check_types(self, "OmniConfig")
        for name in ("vision", "audio", "llm"):
            if not isinstance(getattr(self, name), ModelSpec):
                raise OmniConfigError(f"OmniConfig.{name} is {getattr(self, name)!r}, not a ModelSpec.")
            check_types(getattr(self, name), f"OmniConfig.{name}")
        side = int(round(self.vision_tokens ** 0.5))
        checks = [
            (self.time_format in ("token", "text", "none"), "time_format", "use 'token', 'text' or 'none'"),
            (self.time_rows in ("table", "fourier"), "time_rows", "use 'table' or 'fourier'"),
            (self.time_rows_period is None or 2 < self.time_rows_period <= 1e6, "time_rows_period",
             "need a period above 2 time steps (or None: twice the vocabulary)"),
            (self.time_rows == "table" or self.time_format == "token", "time_rows",
             f"'fourier' computes the rows of <t_k> tokens; time_format {self.time_format!r} has none: use "
             "time_format 'token', or time_rows 'table'"),
            (side * side == self.vision_tokens and side >= 1, "vision_tokens", "must be a square (1, 4, 9, …)"),
            (self.audio_tokens >= 1, "audio_tokens", "must be >= 1"),
            (1 <= self.max_time_tokens <= 100_000, "max_time_tokens", "need 1 to 100000"),
            (0 < self.time_quantum <= 60, "time_quantum", f"need 0 < time_quantum <= 60 s (got {self.time_quantum!r})"),
            (16 <= self.image_size <= 4096 and 8000 <= self.sample_rate <= 192_000 and 1 <= self.n_mels <= 512
             and 1 <= self.hop_ms <= 100, "image_size/sample_rate/n_mels/hop_ms", "out of range"),
            (self.vision_tokens <= 4096 and self.audio_tokens <= 4096, "vision_tokens/audio_tokens", "at most 4096"),
            (0 <= self.vision_context <= 64 and 0 <= self.audio_context <= 64, "vision_context/audio_context",
             "need 0 to 64 slices on either side"),
            (self.vision_projector in ("linear", "mlp", "pool_mlp", "conv"), "vision_projector", "unknown kind"),
            (self.audio_projector in ("linear", "mlp", "stack_mlp", "conv"), "audio_projector", "unknown kind"),
            (self.dtype in ("float32", "bfloat16", "float16"), "dtype", "use float32, bfloat16 or float16"),
            (self.fusion in ("none", "early"), "fusion", "use 'none' or 'early'"),
            (self.question_first or not self.question_again, "question_again",
             "repeats a question written before the clip: set question_first too"),
        ]
        check_fields("OmniConfig", checks, OmniConfigError)
        from ..world.slices import SlicePlanError

        try:  # the slice fields are checked once, by the plan they make
            self.plan
        except SlicePlanError as e:
            raise OmniConfigError(f"OmniConfig: {e}") from None

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def plan(self):
        """How this model cuts a clip into slices (one ``SlicePlan`` for every consumer)."""
        from ..world.slices import SlicePlan

        return SlicePlan(slice_s=self.slice_s, slices_per_clip=self.slices_per_clip, max_slices=self.max_slices,
                         frames_per_slice=self.frames_per_slice, read_at=self.read_at,
                         audio_window_s=self.audio_window_s)

    def check_durations(self, longest: float, where: str = "the world") -> None:
        """One clear error when a clip of ``longest`` seconds cannot be written in the time vocabulary."""
        need = int(math.floor(longest / self.time_quantum + 0.5 + 1e-9)) + 1  # <t_0> … the clip's end
        if self.time_format == "token" and need > self.max_time_tokens:
            raise OmniConfigError(
                f"OmniConfig.max_time_tokens: {where} has clips up to {longest:g} s, which need <t_0> … <t_{need - 1}> "
                f"at {self.time_quantum:g} s per token; the vocabulary has {self.max_time_tokens}: set "
                f"max_time_tokens >= {need} (or a larger time_quantum)")

    @classmethod
    def from_dict(cls, d: dict) -> "OmniConfig":
        d = dict(d)
        for k in ("vision", "audio", "llm"):
            d[k] = ModelSpec(**d[k])
        return cls(**d)

    @classmethod
    def tiny(cls, pretrained: bool = True, **overrides) -> "OmniConfig":
        """Laptop scale. ``pretrained=True`` loads the stage-0 base models shipped in ``assets/tiny``."""
        p = (lambda name: str(ASSETS / name)) if pretrained else (lambda name: None)
        cfg = dict(
            vision=ModelSpec("clip", p("clip"), dict(image_size=64, patch_size=8, hidden_size=64,
                             intermediate_size=128, num_hidden_layers=4, num_attention_heads=4)),
            audio=ModelSpec("clap", p("clap"), dict(num_mel_bins=32, spec_size=64, patch_size=4,
                            patch_stride=(4, 4), patch_embeds_hidden_size=32, depths=(1, 1),
                            num_attention_heads=(2, 4), hidden_size=64, window_size=4)),
            llm=ModelSpec("llama", p("llm"), dict(hidden_size=128, intermediate_size=256,
                          num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=4,
                          max_position_embeddings=1024, tie_word_embeddings=True)),
            tokenizer=p("tokenizer"),
        )
        cfg.update(overrides)
        return cls(**cfg)

    @classmethod
    def full(cls, llm: str = "llama2-7b", audio: str = "clap-htsat", **overrides) -> "OmniConfig":
        """The papers' sizes: CLIP ViT-B/16, an audio encoder, a 7B chat LLM, bf16.

        Meerkat: ``llm="llama2-7b"``, ``audio="clap-htsat"`` (CLAP's HTS-AT at 48 kHz).
        ChronusOmni: ``llm="qwen2.5-7b"`` (its Ola-7B base's family), ``audio="whisper-large-v3"``
        (Whisper's encoder, 128 mel bins at 16 kHz).
        """
        audios = {
            "clap-htsat": (ModelSpec("clap", "laion/clap-htsat-unfused", dict(), params=27_534_488),
                           dict(sample_rate=48_000, n_mels=64)),
            "whisper-large-v3": (ModelSpec("whisper", "openai/whisper-large-v3", dict(
                d_model=1280, encoder_layers=32, encoder_attention_heads=20, encoder_ffn_dim=5120,
                decoder_layers=2, decoder_attention_heads=20, decoder_ffn_dim=5120, num_mel_bins=128,
                max_source_positions=1500, vocab_size=51866), params=636_968_960),
                dict(sample_rate=16_000, n_mels=128)),
        }
        if audio not in audios:
            raise OmniConfigError(f"OmniConfig.full(audio={audio!r}): choose one of {sorted(audios)}")
        llms = {
            "llama2-7b": ModelSpec("llama", "meta-llama/Llama-2-7b-chat-hf", dict(
                vocab_size=32000, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                num_attention_heads=32, num_key_value_heads=32, max_position_embeddings=4096),
                params=6_738_415_616),
            "qwen2.5-7b": ModelSpec("qwen2", "Qwen/Qwen2.5-7B-Instruct", dict(
                vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
                num_attention_heads=28, num_key_value_heads=4, max_position_embeddings=32768,
                tie_word_embeddings=False), params=7_615_616_512),
        }
        if llm not in llms:
            raise OmniConfigError(f"OmniConfig.full(llm={llm!r}): choose one of {sorted(llms)}")
        cfg = dict(
            vision=ModelSpec("clip", "openai/clip-vit-base-patch16", dict(
                image_size=224, patch_size=16, hidden_size=768, intermediate_size=3072,
                num_hidden_layers=12, num_attention_heads=12), params=85_799_424),
            audio=audios[audio][0],
            llm=llms[llm],
            tokenizer=llms[llm].pretrained,
            image_size=224, vision_tokens=16, audio_tokens=4, dtype="bfloat16", **audios[audio][1],
        )
        cfg.update(overrides)
        return cls(**cfg)
