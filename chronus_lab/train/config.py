"""One training run, written down: model, data, stage, optimiser, Lightning settings.

Built in ``notebooks/07_lightning_sft.ipynb``; tested in ``tests/test_train.py``.

A ``TrainConfig`` is read from YAML (``chronus-lab train --config tiny-sft`` or a path), can be
overridden field by field (``--set lr=1e-3 lora.r=4``), and is written back, resolved, beside the
run as ``config.yaml`` — so every checkpoint says exactly what made it. The packaged recipes live in
``chronus_lab/configs/*.yaml``; tiny and full differ only there.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from ..errors import SEED_MAX, ConfigError, check_fields, is_seed
from ..eval.errors import CASES
from ..typed import check_types, coerce_fields
from ..world.tasks import KINDS

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
LIMIT = 1_000_000
"""Largest count a config may ask for (clips, epochs …): absurd values fail here, not hours later."""
SINGLE_HOP = ("t2v", "t2a", "v2t", "a2t")
"""One look at the clip answers these; the others need two (find X, then read Y there)."""


class TrainConfigError(ConfigError):
    """A training config value is invalid; the message names the field and what to do."""


@dataclass
class LoraSpec:
    r: int = 16
    alpha: int = 32
    dropout: float = 0.0
    targets: list[str] = field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])
    """Module names inside the LLM that get adapters (Llama/Qwen attention projections)."""
    train_new_tokens: bool = True
    """Also train the embedding rows of the tokens the project adds (``<t_k>``, ``<vision>``, ``<audio>``)
    with PEFT's ``trainable_token_indices``: LoRA freezes the embedding matrix (and a tied ``lm_head``),
    so without this the answer tokens ``<t_k>`` keep the rows ``resize_token_embeddings`` gave them."""


@dataclass
class DataSpec:
    world: str = "tiny"
    """``"tiny"`` (8 s clips), ``"varying"`` (6–10 s) or a range of lengths like ``"4-16s"`` (``WorldConfig.named``)."""
    n_train: int = 400
    n_val: int = 40
    n_test: int = 100
    """Clips per split. Each split is generated from its own seed, so no clip is shared."""
    seeds: list[int] = field(default_factory=lambda: [1000, 2000, 3000])
    """train / val / test world seeds; must differ."""
    tasks_per_clip: int = 8
    """Training tasks drawn per clip per epoch list (kinds by ``mixture``)."""
    mixture: dict[str, float] = field(default_factory=lambda: {k: 1.0 for k in KINDS})
    """Relative weight of each task kind in training; kinds with weight 0 are left out."""
    eval_kinds: list[str] = field(default_factory=lambda: list(KINDS))
    """Kinds asked on val/test clips (one task per clip and kind)."""
    curriculum_epochs: int = 0
    """For the first N epochs train on single-hop kinds only (time ↔ what), then on the full mix."""
    batch_size: int = 16
    time_offset: float = 0.0
    """Training only: each task's clip is read as if cut from up to this many seconds into a longer recording
    (its slices' times, the question's and the answer's all moved by one offset on the time grid, within the
    time vocabulary). Sequence position then no longer tells the time: only the time tokens do, and tokens past
    the longest training clip get trained too. Val and test clips are read from 0 s."""
    implicit_cases: dict[str, float] = field(default_factory=dict)
    """Training only: how often an implicit (a2v / v2a) task asks about an event of each case of
    ``eval/errors.py`` (``alone``, ``partial``, ``covering``, ``twin``), relative to 1 for a case not named:
    e.g. ``{covering: 4}`` draws the questions whose answer only the slices outside the span settle four times
    as often as the clip's other events would be. Empty: every event as likely (the papers' data)."""
    group_by_length: bool = False
    """Batch clips of similar length together (``EpochSampler``): a batch is padded to its longest clip,
    so on a world of varying lengths (e.g. ``4-16s``) random batches pay for the longest almost every step."""
    cache: str | None = None
    """A folder for the encoder-feature cache (None: computed in memory each run)."""


@dataclass
class TrainConfig:
    model: str = "tiny"
    """``"tiny"`` (laptop, ``assets/tiny``) or ``"full"`` (the papers' sizes from the hub)."""
    llm: str = "llama2-7b"
    """Full scale only: ``"llama2-7b"`` or ``"qwen2.5-7b"``."""
    audio_encoder: str = "clap-htsat"
    """Full scale only: ``"clap-htsat"`` (Meerkat) or ``"whisper-large-v3"`` (ChronusOmni)."""
    model_overrides: dict = field(default_factory=dict)
    """``OmniConfig`` fields to change (``question_first``, ``time_format``, ``vision_tokens`` …)."""
    stage: int = 2
    """1 = alignment (projectors; LLM frozen; LM + AVOpT + AVACE), 2 = instruction tuning."""
    finetune: str = "lora"
    """Stage 2: ``"lora"`` (PEFT adapters + projectors) or ``"full"`` (every LLM weight + projectors)."""
    lora: LoraSpec = field(default_factory=LoraSpec)
    w_ot: float = 0.01
    w_avace: float = 0.2
    """Stage-1 loss weights (Meerkat's released values: 0.1 × 0.1 and 0.2)."""
    w_naming: float = 0.0
    """Stage 2: weight of slice naming (``train/naming.py``): every visual / audio position's logits are asked
    for the words of what its slice shows / sounds like. 0 = the papers' loss (answers only)."""
    naming_layer: int = -1
    """Which layer's output slice naming reads (through the final norm and ``lm_head``: a logit lens). -1 = the
    last, the model's own logits; k = the output of decoder layer k (-2 = the one before the last), so a slice's
    name is in the residual stream while layers above it are still there to copy it into an answer."""
    w_pairing: float = 0.0
    """Stage 2: weight of slice pairing (``train/naming.py``): every visual position is also asked for the sound its
    object makes, every audio position for the object making its sound (``nothing`` when none), read at
    ``pairing_layer`` through the final norm and ``lm_head``. 0 = off."""
    pairing_layer: int = -2
    """Which layer's output pairing reads (Python indexing over the embeddings and the decoder layers' outputs: -1 =
    the last, -2 = the one before it, so the last layer is still there to copy the pairing into an answer)."""
    w_saliency: float = 0.0
    """Stage 2: weight of slice saliency (``train/saliency.py``): a training-only linear head on the middle layer
    scores every visual / audio position, asked for 1 inside the slices the question is about. 0 = off."""
    saliency_layer: int | None = None
    """Which decoder layer's output the saliency head reads (1 = the first); None = the middle one. Shallower
    leaves more layers above it for what the answer does with the slices it found."""
    position_skip: int = 0
    """Training only: each sequence's position ids jump by a random 0 … N from a random cut on (PoSE,
    ``model/positions.py``), so the model meets longer distances than its clips have and cannot read a slice's
    time from how far back it is. 0 = plain positions (the papers)."""
    init_from: str | None = None
    """A checkpoint (e.g. stage 1's ``last.ckpt``) whose trainable weights start this run."""
    data: DataSpec = field(default_factory=DataSpec)
    lr: float = 2e-3
    warmup_steps: int = 50
    max_epochs: int = 10
    max_steps: int = -1
    """-1: run ``max_epochs``; otherwise stop after this many optimiser steps."""
    grad_clip: float = 1.0
    val_every_epochs: int = 1
    precision: str = "32-true"
    """Lightning precision: ``"32-true"`` on CPU, ``"bf16-mixed"`` on GPUs."""
    accelerator: str = "auto"
    devices: str | int = "auto"
    strategy: str = "auto"
    """Lightning strategy: ``"auto"``, ``"ddp"``, ``"fsdp"`` …"""
    num_nodes: int = 1
    gradient_checkpointing: bool = False
    """Recompute each LLM layer in backward instead of keeping its activations (``chronus-lab plan`` shows the saving)."""
    seed: int = 0
    out: str = "runs/tiny-sft"
    progress_bar: bool = True

    def __post_init__(self) -> None:
        for part, owner in ((self, "TrainConfig"), (self.lora, "TrainConfig.lora"), (self.data, "TrainConfig.data")):
            check_types(part, owner)
        d = self.data
        unknown = sorted(set(d.mixture) - set(KINDS)) + sorted(set(d.eval_kinds) - set(KINDS))
        weights, world_problem = list(d.mixture.values()), _world_problem(d.world)
        checks = [
            (self.model in ("tiny", "full"), "model", "use 'tiny' or 'full'"),
            (self.audio_encoder in ("clap-htsat", "whisper-large-v3"), "audio_encoder",
             "use 'clap-htsat' or 'whisper-large-v3'"),
            (1 <= self.num_nodes <= 4096, "num_nodes", "need 1 to 4096"),
            (self.stage in (1, 2), "stage", "use 1 (alignment) or 2 (instruction tuning)"),
            (self.finetune in ("lora", "full"), "finetune", "use 'lora' or 'full'"),
            (1 <= self.lora.r <= 4096, "lora.r", f"need 1 <= r <= 4096 (got {self.lora.r})"),
            (0 < self.lora.alpha <= 1e4, "lora.alpha", f"need 0 < alpha <= 1e4 (got {self.lora.alpha})"),
            (0 <= self.lora.dropout < 1, "lora.dropout", f"need 0 <= dropout < 1 (got {self.lora.dropout})"),
            (not unknown, "data.mixture/data.eval_kinds", f"unknown kinds {unknown}; known: {list(KINDS)}"),
            (bool(d.eval_kinds), "data.eval_kinds", "name at least one kind: the val and test splits ask them"),
            (bool(weights) and all(math.isfinite(w) and w >= 0 for w in weights) and sum(weights) > 0,
             "data.mixture", "weights must be finite, >= 0, with at least one > 0"),
            (len(d.seeds) == 3 and len(set(d.seeds)) == 3, "data.seeds",
             "give three different seeds (train, val, test) so the splits share no clip"),
            (all(map(is_seed, d.seeds)), "data.seeds", f"each from 0 to {SEED_MAX:,} (got {d.seeds})"),
            (is_seed(self.seed), "seed", f"need 0 to {SEED_MAX:,} (got {self.seed})"),
            (bool(self.out.strip()), "out", "give the run's folder, e.g. runs/<name>"),
            *[(1 <= getattr(d, f) <= LIMIT, f"data.{f}", f"need 1 to {LIMIT:,} (got {getattr(d, f)})")
              for f in ("n_train", "n_val", "n_test", "batch_size", "tasks_per_clip")],
            (math.isfinite(d.time_offset) and 0 <= d.time_offset <= 1e4, "data.time_offset", "need 0 to 10,000 seconds"),
            (0 <= d.curriculum_epochs <= self.max_epochs, "data.curriculum_epochs", "need 0 to max_epochs"),
            (world_problem is None, "data.world", world_problem),
            (0 <= self.w_naming <= 100 and math.isfinite(self.w_naming), "w_naming", "need 0 to 100"),
            (0 <= self.w_saliency <= 100 and math.isfinite(self.w_saliency), "w_saliency", "need 0 to 100"),
            (0 <= self.w_pairing <= 100 and math.isfinite(self.w_pairing), "w_pairing", "need 0 to 100"),
            (0 <= self.position_skip <= LIMIT, "position_skip", f"need 0 (off) to {LIMIT:,} positions"),
            *[(layer is None or (layer != 0 and abs(layer) <= 1000), name,
               "a decoder layer from 1, or counted back from the last (-1, -2 and so on)")
              for name, layer in (("naming_layer", self.naming_layer), ("pairing_layer", self.pairing_layer),
                                  ("saliency_layer", self.saliency_layer))],
            (set(d.implicit_cases) <= set(CASES) and all(math.isfinite(w) and w > 0 for w in d.implicit_cases.values()),
             "data.implicit_cases", f"weights > 0 for the cases {list(CASES)} (got {d.implicit_cases})"),
            (0 < self.lr <= 1, "lr", f"need 0 < lr <= 1 (got {self.lr})"),
            (1 <= self.max_epochs <= LIMIT, "max_epochs", f"need 1 to {LIMIT:,} (got {self.max_epochs})"),
            (self.max_steps == -1 or 1 <= self.max_steps <= 10**9, "max_steps", "-1 (epochs decide) or a positive count"),
            (self.warmup_steps >= 0 and self.grad_clip > 0 and self.val_every_epochs >= 1,
             "warmup_steps/grad_clip/val_every_epochs", "need warmup >= 0, grad_clip > 0, val_every_epochs >= 1"),
            (self.devices == "auto" or (isinstance(self.devices, int) and self.devices >= 1) or
             (isinstance(self.devices, str) and self.devices.replace(",", "").isdigit()),
             "devices", f"'auto', a count >= 1 or GPU ids like '0,1' (got {self.devices!r})"),
        ]
        check_fields("TrainConfig", checks, TrainConfigError)

    # --- YAML ------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict, where: str = "config") -> "TrainConfig":
        """Build from plain values (YAML, overrides): unknown fields are refused, every value is
        read as its field's declared type (``5e-3`` → 0.005), or one error names the field."""
        from ..model.config import OmniConfig

        if not isinstance(d or {}, dict):
            raise TrainConfigError(f"{where}: a config is a mapping of fields, not {type(d).__name__}")
        d = dict(d or {})
        reject_unknown(cls, d, where)
        for key, sub in (("lora", LoraSpec), ("data", DataSpec)):
            if key in d:
                if not isinstance(d[key] or {}, dict):
                    raise TrainConfigError(f"{where}: {key} must be a mapping of its fields, got {d[key]!r}")
                reject_unknown(sub, d[key] or {}, f"{where}: {key}")
                d[key] = sub(**coerce_fields(sub, d[key] or {}, f"{where}: {key}."))
        d = coerce_fields(cls, d, f"{where}: ")
        if d.get("model_overrides"):
            reject_unknown(OmniConfig, d["model_overrides"], f"{where}: model_overrides")
            d["model_overrides"] = coerce_fields(OmniConfig, d["model_overrides"], f"{where}: model_overrides.")
        return cls(**d)

    @classmethod
    def load(cls, name_or_path: str, overrides: list[str] = ()) -> "TrainConfig":
        """A packaged recipe name (``tiny-sft``) or a YAML path, then ``key=value`` overrides."""
        d, path = read_recipe(name_or_path, overrides)
        return cls.from_dict(d, where=str(path))

    def save(self, path) -> Path:
        """Write the resolved config atomically (a reader never sees half a file)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))
        tmp.replace(path)
        return path

    def replace(self, **changes) -> "TrainConfig":
        return dataclasses.replace(self, **changes)


def _world_problem(name: str) -> str | None:
    """What is wrong with a world's name, in WorldConfig's own words (which limit, which syntax), or None."""
    from ..world.config import WorldConfig

    try:
        WorldConfig.named(name)
    except ConfigError as e:
        return str(e)
    return None


def read_recipe(name_or_path: str, overrides=()) -> tuple[dict, Path]:
    """A packaged recipe (``configs/<name>.yaml``) or a YAML path, as a dict with the overrides applied."""
    path = Path(name_or_path)
    if not path.exists():
        path = CONFIGS / f"{name_or_path}.yaml"
    if not path.exists():
        names = sorted(p.stem for p in CONFIGS.glob("*.yaml"))
        raise TrainConfigError(f"no config {name_or_path!r}: give a YAML path or one of {names}")
    try:
        d = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as e:  # say where, in one line, instead of PyYAML's four
        mark = e.problem_mark or e.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise TrainConfigError(f"{path}: not valid YAML{where}: {e.problem or e.context}") from None
    except (yaml.YAMLError, UnicodeDecodeError, IsADirectoryError) as e:
        raise TrainConfigError(f"{path}: not a valid YAML file ({type(e).__name__}: {e})") from None
    if d is None:  # an empty file (or only comments) would silently train the defaults: most likely a mistake
        raise TrainConfigError(f"{path}: the file sets nothing; copy a packaged recipe "
                               f"(chronus_lab/configs/*.yaml) and change what you need")
    if not isinstance(d, dict):
        raise TrainConfigError(f"{path}: a config is a mapping of fields, not {type(d).__name__}")
    for item in overrides:
        set_path(d, item)
    return d, path


def reject_unknown(cls, d: dict, where: str) -> None:
    unknown = sorted(set(d) - set(cls.__dataclass_fields__))
    if unknown:
        raise TrainConfigError(f"{where}: unknown field(s) {unknown}; known: {sorted(cls.__dataclass_fields__)}")


def set_path(d: dict, item: str) -> None:
    """Apply one ``a.b=value`` override (value parsed as YAML: numbers, lists, true/false)."""
    if "=" not in item:
        raise TrainConfigError(f"override {item!r}: write it as key=value, e.g. lora.r=4")
    key, value = item.split("=", 1)
    *parents, last = key.strip().split(".")
    node = d
    for p in parents:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise TrainConfigError(f"override {item!r}: {p} is a value, not a group of fields")
    try:
        node[last] = yaml.safe_load(value)
    except yaml.YAMLError:
        raise TrainConfigError(f"override {item!r}: the value is not valid YAML "
                               "(quote it, or give one key=value per argument)") from None


def require_weights(scale: str, recipe: str = "full-sft") -> list[str]:
    """A notebook's first step at ``SCALE = "full"``: every hub model of ``recipe`` must be reachable.

    Reads each model's config (kilobytes) through ``from_pretrained``, so a machine without the
    weights stops here with the one clear ``WeightsNotAvailable`` instead of deep inside a later cell
    (after minutes of work). Tiny needs nothing: it returns ``[]``. Returns the ids it checked.
    """
    if scale == "tiny":
        return []
    if scale != "full":
        raise ConfigError(f"SCALE must be 'tiny' or 'full', not {scale!r}")
    from transformers import AutoConfig

    from ..model.config import OmniConfig
    from ..model.hub import from_pretrained

    cfg = TrainConfig.load(recipe)
    ocfg = OmniConfig.full(llm=cfg.llm, audio=cfg.audio_encoder)
    ids = [s.pretrained for s in (ocfg.vision, ocfg.audio, ocfg.llm) if s.pretrained]
    for name in ids:
        from_pretrained(AutoConfig, name)
    return ids
