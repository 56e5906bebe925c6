"""The two training stages as ``LightningModule``s that share one ``_step(batch, stage)``.

Built in ``notebooks/07_lightning_sft.ipynb``; tested in ``tests/test_train.py``.

* ``AlignModule`` — stage 1 (Meerkat's pre-training, ChronusOmni's alignment): the LLM is frozen,
  the projectors learn from the LM loss on answers **plus** ``w_ot`` × AVOpT (OT between a slice's
  projected patches and audio tokens) **plus** ``w_avace`` × AVACE (audio→patch attention kept
  inside the sounding object's box). The three terms are summed — not overwritten as in the
  released code (``align/avace.py: released_code_total``).
* ``InstructModule`` — stage 2: PEFT LoRA adapters on the LLM (``r``/``alpha``/``targets`` from the
  config) + the projectors, LM loss on answers; ``finetune: full`` trains every LLM weight instead.

Checkpoints hold only what trains (plus the resolved config), so a 7B run's checkpoint is the size
of its adapters and projectors; the frozen parts come back from the config.
"""
from __future__ import annotations

import math
from pathlib import Path

import lightning as L
import torch

from ..align.avace import AudioToPatchAttention, avace_loss, box_mask, total_loss
from ..align.ot import ot_loss
from ..errors import CheckpointError, ConfigError, Diverged
from ..eval.harness import predict, selection_score
from ..model.config import OmniConfig
from ..model.hub import quiet_peft
from ..model.omni import OmniModel
from ..world import WorldConfig
from .config import LoraSpec, TrainConfig
from .finite import advice, named_list, non_finite
from .naming import NameTargets, naming_loss
from .saliency import saliency_loss

CONFIG_KEY = "chronus_config"


def omni_config(cfg: TrainConfig) -> OmniConfig:
    """The model half of a training config: tiny or full, with the overrides applied — checked against the
    recipe's world now (every time fits the time vocabulary, the shortest clip has a frame per slice), not
    minutes into encoding."""
    if cfg.model == "full":
        ocfg = OmniConfig.full(llm=cfg.llm, audio=cfg.audio_encoder, **cfg.model_overrides)
    else:
        ocfg = OmniConfig.tiny(**cfg.model_overrides)
    world = WorldConfig.named(cfg.data.world)
    ocfg.check_durations(world.max_duration, f"data.world {cfg.data.world!r}")
    ocfg.plan.n_slices(world.min_duration, world.fps)  # raises SlicePlanError naming the field
    ocfg.plan.window(0.0, world.min_duration, world.sample_rate)
    return ocfg


class OmniModule(L.LightningModule):
    """What both stages share: the model, ``_step``, the optimiser, slim checkpoints."""

    def __init__(self, cfg: TrainConfig, model: OmniModel | None = None):
        super().__init__()
        self.cfg = cfg
        self.model = model or OmniModel(omni_config(cfg))
        self.model.encoders.requires_grad_(False)
        self.strict_loading = False  # checkpoints carry only the trainable weights
        self.configure_trainable()

    def configure_trainable(self) -> None:  # pragma: no cover - each stage decides
        raise NotImplementedError

    # --- the shared step -------------------------------------------------------------------------
    def forward_batch(self, batch: dict):
        """The model on a batch; in a training step with ``position_skip``, on skipped position ids
        (``model/positions.py``), so the distance to a slice stops saying its time."""
        return self.model(batch, position_skip=self.cfg.position_skip if self.training else 0)

    def losses(self, batch: dict) -> dict[str, torch.Tensor]:
        return {"loss": self.forward_batch(batch).loss}

    def _step(self, batch: dict, stage: str) -> torch.Tensor:
        parts = self.losses(batch)
        n = len(batch["questions"])
        for name, value in parts.items():
            self.log(f"{stage}/{name}", value, batch_size=n, prog_bar=name == "loss",
                     on_step=stage == "train", on_epoch=True, sync_dist=stage != "train")
        return parts["loss"]

    def training_step(self, batch, batch_idx):
        loss = self._step(batch, "train")
        # fp16's gradient scaler skips an overflowing step on its own; in any other precision a NaN is final
        if not torch.isfinite(loss) and not self.cfg.precision.startswith("16"):
            raise Diverged(f"training diverged at step {self.global_step} (epoch {self.current_epoch}): the loss is "
                           f"{loss.item()}. What the run saved before is kept in {self.cfg.out}/checkpoints and "
                           f"nothing was exported; {advice(self.cfg.lr)} and start over with --fresh.")
        return loss

    def transfer_batch_to_device(self, batch, device, dataloader_idx):
        """Move the batch's tensors (``vision``, ``audio``, ``boxes``) and nothing else.

        Its other entries — times, questions, answers, tasks, slice names — are Python lists the step reads on
        the CPU; Lightning's default walks every element of them looking for tensors, which cost about 8% of a
        tiny training step."""
        if not isinstance(batch, dict):
            return super().transfer_batch_to_device(batch, device, dataloader_idx)
        return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}

    def validation_step(self, batch, batch_idx):
        return self._step(batch, "val")

    def test_step(self, batch, batch_idx):
        return self._step(batch, "test")

    def on_validation_epoch_end(self) -> None:
        """``val/score``: greedy answers to the val split, scored by ``eval.harness.selection_score``
        — what ``best.ckpt`` is chosen by (val/loss is still logged, but answer-token cross-entropy
        bottoms out early while the answers keep improving)."""
        data = getattr(self.trainer, "datamodule", None)
        if data is None or "val" not in getattr(data, "splits", {}):
            return
        preds = predict(self.model, data.splits["val"], batch_size=2 * self.cfg.data.batch_size)
        self.log("val/score", selection_score(preds, self.model.answer_format), prog_bar=True, sync_dist=True)

    # --- optimiser: AdamW, linear warm-up, cosine decay (per step) ---------------------------------
    def configure_optimizers(self):
        params = [p for p in self.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=self.cfg.lr, weight_decay=0.0)
        total = max(int(self.trainer.estimated_stepping_batches), 1)
        warm = min(self.cfg.warmup_steps, total // 2)

        def factor(step: int) -> float:
            if step < warm:
                return (step + 1) / warm
            return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(total - warm, 1))))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    # --- checkpoints ---------------------------------------------------------------------------
    def trainable_keys(self) -> set[str]:
        return {n for n, p in self.named_parameters() if p.requires_grad}

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        keep = self.trainable_keys()
        checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if k in keep}
        if bad := non_finite(checkpoint["state_dict"].items()):  # raised before the file is written: the old one stays
            raise Diverged(f"training diverged by step {self.global_step}: its weights hold NaN or inf in "
                           f"{named_list(bad)}, so no checkpoint was written over {self.cfg.out}/checkpoints "
                           f"(what is there is kept); {advice(self.cfg.lr)} and start over with --fresh.")
        checkpoint[CONFIG_KEY] = self.cfg.to_dict()

    AUXILIARY: tuple[str, ...] = ()
    """Key prefixes of weights that only this stage has (stage 1's AVACE attention): another stage
    may start from a checkpoint holding them and leave them behind."""
    TRAINING_ONLY: tuple[str, ...] = ()
    """Key prefixes of weights only the training loss reads (stage 2's saliency head): ``load_checkpoint``
    accepts a checkpoint without them (RL's policy checkpoints keep what answers)."""

    def load_trainable(self, path) -> list[str]:
        """Start from another run's trainable weights (e.g. stage 1 → stage 2); returns what loaded.

        Strict: every weight of the checkpoint must exist here with the same shape, except another
        stage's auxiliary parts; anything else (a renamed key, another LoRA rank) is an error that
        names the keys — silently skipping them would start from an untrained model.
        """
        state = read_checkpoint(path, "init_from")["state_dict"]
        mine = self.state_dict()
        aux = tuple(p for cls in (AlignModule, InstructModule) for p in cls.AUXILIARY)
        unknown = sorted(k for k in state if k not in mine and not k.startswith(aux))
        reshaped = sorted(f"{k} {tuple(state[k].shape)} vs {tuple(mine[k].shape)}"
                          for k in state if k in mine and mine[k].shape != state[k].shape)
        if unknown or reshaped:
            raise CheckpointError(f"init_from {path}: does not fit this model — "
                                  + _keys("unknown keys", unknown) + _keys("other shapes (checkpoint vs here)", reshaped)
                                  + "Start from a checkpoint of the same model config (vision/audio tokens, projectors).")
        loaded = {k: v for k, v in state.items() if k in mine}
        if not loaded:
            raise CheckpointError(f"init_from {path}: none of its weights belong to this model")
        self.load_state_dict(loaded, strict=False)
        return sorted(loaded)

    def export(self, folder) -> Path:
        """Projectors (and computed ``<t_k>`` rows) as safetensors, LoRA adapters with PEFT's ``save_pretrained``,
        the config."""
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        proj = {f"{name}.{k}": v.detach().cpu().contiguous()
                for name in self.model.own_parts
                for k, v in getattr(self.model, name).state_dict().items()}
        save_file(proj, folder / "projectors.safetensors")
        if getattr(self.model.llm, "peft_config", None):
            self.model.llm.save_pretrained(folder / "adapter")
        self.cfg.save(folder / "config.yaml")
        return folder


class AlignModule(OmniModule):
    """Stage 1: projectors (and the AVACE attention) learn; the LLM is frozen."""

    AUXILIARY = ("avace_attn.",)

    def configure_trainable(self) -> None:
        self.model.llm.requires_grad_(False)
        if self.model.time_rows is not None:  # part of the LLM's vocabulary: frozen with it
            self.model.time_rows.requires_grad_(False)
        width = self.model.llm.config.hidden_size
        self.avace_attn = AudioToPatchAttention(width, width, d_attn=64, heads=4)

    def losses(self, batch: dict) -> dict[str, torch.Tensor]:
        lm = self.forward_batch(batch).loss
        v, a, boxes = self._slices(batch)
        pv = self.model.vision_proj.core(v)  # (K, P', H): one token per (pooled) patch
        pa = self.model.audio_proj.core(a)  # (K, A', H)
        ot = ot_loss(pv, pa, eps=0.05, max_iter=100).mean()
        has = ~boxes.isnan().any(-1)
        if has.any():
            grid = math.isqrt(pv.shape[1])
            attn = self.avace_attn(pa[has], pv[has])
            av = avace_loss(attn, box_mask(boxes[has].to(attn), grid)).mean()
        else:
            av = lm.new_zeros(())
        return {"loss": total_loss(lm, ot, av, self.cfg.w_ot, self.cfg.w_avace), "lm": lm, "ot": ot, "avace": av}

    def _slices(self, batch: dict, k: int = 48):
        """Up to ``k`` real (unpadded) slices of the batch, chosen by a generator seeded per step."""
        rows = [(b, s) for b, n in enumerate(batch["n_slices"]) for s in range(n)]
        g = torch.Generator().manual_seed(self.cfg.seed + self.global_step)
        pick = [rows[i] for i in torch.randperm(len(rows), generator=g)[:k].tolist()]
        b, s = torch.tensor([p[0] for p in pick]), torch.tensor([p[1] for p in pick])
        dev, dtype = self.model.llm.get_input_embeddings().weight.device, self.model.projector_dtype
        return (batch["vision"][b, s].to(dev, dtype), batch["audio"][b, s].to(dev, dtype), batch["boxes"][b, s])


class InstructModule(OmniModule):
    """Stage 2: LoRA adapters (or every LLM weight) + projectors, LM loss on answers."""

    AUXILIARY = TRAINING_ONLY = ("saliency_head.",)

    def configure_trainable(self) -> None:
        if self.cfg.finetune == "lora":
            self.model.llm = add_lora(self.model.llm, self.cfg.lora, self.model.added_token_ids)
        else:
            self.model.llm.requires_grad_(True)
        self._name_targets = NameTargets(self.model.tokenizer)
        depth = self.model.llm.config.num_hidden_layers
        for name in ("naming_layer", "pairing_layer", "saliency_layer"):
            layer = getattr(self.cfg, name)
            if layer is not None and not (1 <= layer <= depth or -depth <= layer <= -1):
                raise ConfigError(f"{name}={layer}: this LLM has {depth} decoder layers; "
                                  f"use 1 to {depth}, or -1 (the last) to -{depth}")
        if self.cfg.w_saliency > 0:  # training-only: the answering model never reads it
            self.saliency_head = torch.nn.Linear(self.model.llm.config.hidden_size, 1)

    def saliency_scores(self, out) -> torch.Tensor:
        """``(B, L)`` logits of "this position's slice is the one asked about", read off the LLM's middle layer
        (``out.layers[0]`` is the embeddings; ``saliency_layer`` picks another): deep enough to have read the
        question, which comes first; shallow enough that the layers above still have to use what it found."""
        layer = self.cfg.saliency_layer
        hidden = out.layers[len(out.layers) // 2 if layer is None else layer]
        return self.saliency_head(hidden.to(self.saliency_head.weight.dtype)).squeeze(-1)

    def losses(self, batch: dict) -> dict[str, torch.Tensor]:
        """LM loss on the answers, plus ``w_naming`` × slice naming and ``w_pairing`` × slice pairing
        (``train/naming.py``) and ``w_saliency`` × slice saliency (``train/saliency.py``) when asked."""
        cfg = self.cfg
        # part -> (its weight, the batch key of its per-slice labels, the layer its logits are read at)
        named = {"naming": (cfg.w_naming, "names", cfg.naming_layer),
                 "pairing": (cfg.w_pairing, "partners", cfg.pairing_layer)}
        named = {part: spec for part, spec in named.items() if spec[0] > 0 and spec[1] in batch}
        saliency = cfg.w_saliency > 0 and "relevant" in batch
        if not (named or saliency):
            return super().losses(batch)
        out = self.forward_batch(batch)
        parts, loss = {"lm": out.loss}, out.loss
        for part, (weight, key, layer) in named.items():
            last = layer in (-1, len(out.layers) - 1)  # the last layer's output is already normed: its logits
            logits = out.logits if last else self.model.lens_logits(out.layers[layer])
            parts[part] = naming_loss(logits, out.modality, out.slice_idx, batch[key], self._name_targets)
            loss = loss + weight * parts[part]
        if saliency:
            parts["saliency"] = saliency_loss(self.saliency_scores(out), out.modality, out.slice_idx, batch["relevant"])
            loss = loss + cfg.w_saliency * parts["saliency"]
        return {"loss": loss, **parts}


def add_lora(llm, spec: LoraSpec, new_token_ids: list[int], dropout: float | None = None):
    """The LLM wrapped by PEFT: LoRA adapters on ``spec.targets`` and, with ``spec.train_new_tokens``,
    trainable rows for the project's own tokens (``trainable_token_indices``: a delta per listed row,
    shared with a tied ``lm_head``, the head's own rows when it is untied; every other row stays frozen). The one place SFT, RL and the
    planner make their adapters, so their checkpoints have the same keys."""
    from peft import LoraConfig, get_peft_model

    rows = {"embed_tokens": list(new_token_ids)}
    if not getattr(llm.config, "tie_word_embeddings", False):  # an untied head (Llama-2) has its own rows
        rows["lm_head"] = list(new_token_ids)
    tokens = {"trainable_token_indices": rows} if spec.train_new_tokens else {}
    from peft.utils.error import NoMatchingPeftModuleError

    try:
        with quiet_peft():
            return get_peft_model(llm, LoraConfig(
                r=spec.r, lora_alpha=spec.alpha, lora_dropout=spec.dropout if dropout is None else dropout,
                target_modules=list(spec.targets), bias="none", task_type="CAUSAL_LM", **tokens))
    except NoMatchingPeftModuleError:
        linear = sorted({name.rsplit(".", 1)[-1] for name, m in llm.named_modules() if isinstance(m, torch.nn.Linear)})
        raise ConfigError(f"lora.targets {list(spec.targets)} name no layer of this LLM; its linear layers are "
                          f"{linear}") from None


def build_module(cfg: TrainConfig, model: OmniModel | None = None) -> OmniModule:
    return (AlignModule if cfg.stage == 1 else InstructModule)(cfg, model)


def _keys(what: str, keys: list[str], show: int = 6) -> str:
    if not keys:
        return ""
    more = f" … and {len(keys) - show} more" if len(keys) > show else ""
    return f"{what}: {', '.join(keys[:show])}{more}. "


def load_torch_file(path, problem: str, remedy: str):
    """``torch.load`` on the CPU, or one CheckpointError: ``problem (torch's first sentence) — remedy``."""
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # a truncated or foreign file: torch raises many kinds
        detail = str(err).split(". ")[0]  # torch's zip errors run on for five sentences
        raise CheckpointError(f"{problem} ({type(err).__name__}: {detail}) — {remedy}") from None


def read_checkpoint(path, what: str = "checkpoint") -> dict:
    """``torch.load`` of a ChronusLab checkpoint, or one clear error (missing, unreadable, foreign)."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{what}: {path} is a folder; give the checkpoint file in it, e.g. "
                              f"{path / 'checkpoints' / 'last.ckpt'}")
    if not path.is_file():
        raise CheckpointError(f"{what}: no checkpoint at {path} (runs keep theirs in <run>/checkpoints/last.ckpt)")
    ckpt = load_torch_file(path, f"{what}: {path} is not a readable checkpoint",
                           "damaged or cut short? Copy it again, or retrain it (a run folder whose last.ckpt is "
                           "damaged starts over with `chronus-lab train … --fresh`)")
    if not isinstance(ckpt, dict) or CONFIG_KEY not in ckpt or not isinstance(ckpt.get("state_dict"), dict):
        raise CheckpointError(f"{what}: {path} has no ChronusLab config inside: was it written by `chronus-lab train`?")
    if bad := non_finite(ckpt["state_dict"].items()):  # written by a diverged run before runs stopped on it
        raise CheckpointError(f"{what}: {path} holds NaN or inf in {named_list(bad)}: the run that wrote it diverged. "
                              f"Retrain it with a lower learning rate (`chronus-lab train … --fresh --set lr=…`)")
    return ckpt


def load_checkpoint(path) -> OmniModule:
    """A checkpoint → the module it came from (its config is inside), weights loaded, eval mode.

    Strict: the checkpoint must hold exactly the weights this config trains, with their shapes — except a
    training-only head (``TRAINING_ONLY``), which the answering model never reads.
    """
    ckpt = read_checkpoint(path)
    saved = dict(ckpt[CONFIG_KEY])
    if isinstance(saved.get("lora"), dict) and "train_new_tokens" not in saved["lora"]:
        saved["lora"] = {**saved["lora"], "train_new_tokens": False}  # written before the field: no token rows trained
    module = build_module(TrainConfig.from_dict(saved, where=str(path)))
    state, want = ckpt["state_dict"], module.trainable_keys()
    # a training-only head (saliency) may be absent: RL's policy checkpoint keeps what answers, not what trained it
    missing = sorted(k for k in want - set(state) if not k.startswith(module.TRAINING_ONLY))
    unexpected = sorted(set(state) - want)
    mine = module.state_dict()
    reshaped = sorted(f"{k} {tuple(v.shape)} vs {tuple(mine[k].shape)}"
                      for k, v in state.items() if k in mine and mine[k].shape != v.shape)
    if missing or unexpected or reshaped:
        raise CheckpointError(f"{path} does not match the model its own config builds — "
                              + _keys("missing", missing) + _keys("unexpected", unexpected)
                              + _keys("other shapes (checkpoint vs model)", reshaped)
                              + "Was it written by another version of ChronusLab? Retrain, or load it with that version.")
    module.load_state_dict(state, strict=False)
    module.loaded_from = {"path": str(path), "epoch": ckpt.get("epoch"), "global_step": ckpt.get("global_step")}
    return module.eval()


def load_export(folder, merge: bool = False) -> OmniModel:
    """An ``export/`` folder → a ready ``OmniModel`` for inference: base models from the config,
    projectors from safetensors, the LoRA adapter with PEFT (``merge=True`` folds it into the weights)."""
    from peft import PeftModel
    from safetensors.torch import load_file

    folder = Path(folder)
    if not (folder / "config.yaml").exists():
        raise CheckpointError(f"{folder} is not an export folder (no config.yaml): pass <run>/export")
    cfg = TrainConfig.load(str(folder / "config.yaml"))
    model = OmniModel(omni_config(cfg))
    again = "export it again from its run (the run's checkpoints/last.ckpt holds the same weights)"
    try:  # a missing, cut-short or foreign file: safetensors and torch raise many kinds
        proj = load_file(folder / "projectors.safetensors")
        for name in model.own_parts:
            getattr(model, name).load_state_dict({k.split(".", 1)[1]: v for k, v in proj.items()
                                                  if k.startswith(name + ".")})
    except Exception as err:
        raise CheckpointError(f"{folder / 'projectors.safetensors'} does not load into the projectors its config "
                              f"builds ({type(err).__name__}: {str(err).splitlines()[0][:300]}): {again}") from None
    if (folder / "adapter").is_dir():
        try:
            with quiet_peft():
                model.llm = PeftModel.from_pretrained(model.llm, folder / "adapter")
        except Exception as err:
            raise CheckpointError(f"{folder / 'adapter'} is not a loadable PEFT adapter for this model "
                                  f"({type(err).__name__}: {str(err).splitlines()[0][:300]}): {again}") from None
        if merge:
            model.llm = model.llm.merge_and_unload()
    return model.eval()
