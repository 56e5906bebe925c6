"""One training run with Lightning: data, module, trainer, checkpoints, logs, resume, export.

Built in ``notebooks/07_lightning_sft.ipynb``; tested in ``tests/test_train.py``; CLI:
``chronus-lab train --config tiny-sft [--set key=value …]``.

Run folder (``cfg.out``)::

    config.yaml            the resolved config (written before training starts)
    logs/version_N/metrics.csv  Lightning's CSVLogger: train/* per step, val/* per epoch (one per attempt)
    checkpoints/last.ckpt  the state at the end of the latest epoch, every epoch; a rerun resumes from it
    checkpoints/best.ckpt  the epoch with the best ``val/score`` (task metrics on the val split)
    export/                projectors.safetensors, adapter/ (PEFT), config.yaml — the final weights

Model selection is by what the model is for: ``val/score`` (see ``OmniModule.on_validation_epoch_end``),
not by answer-token cross-entropy, which bottoms out early while the task metrics still improve.
A rerun resumes only when the config is the same run: only run-length fields may change.
"""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from lightning.fabric.utilities.exceptions import MisconfigurationException

from ..errors import ConfigError, make_folder
from ..model.hub import quiet_transformers
from .config import TrainConfig
from .data import OmniDataModule
from .module import CONFIG_KEY, OmniModule, build_module, read_checkpoint

RUN_LENGTH = ("max_epochs", "max_steps", "progress_bar")
"""Fields a resumed run may change (train longer, quieter); any other change is another run."""


@dataclass
class Run:
    module: OmniModule
    data: OmniDataModule
    trainer: L.Trainer
    folder: Path

    @property
    def last(self) -> Path:
        return self.folder / "checkpoints" / "last.ckpt"

    @property
    def best(self) -> Path:
        return self.folder / "checkpoints" / "best.ckpt"


def checkpoint_callbacks(folder: Path) -> list[ModelCheckpoint]:
    """``last.ckpt`` every epoch whatever the metrics do, and ``best.ckpt`` by ``val/score``."""
    kw = dict(dirpath=folder / "checkpoints", every_n_epochs=1, enable_version_counter=False,
              auto_insert_metric_name=False)
    last = ModelCheckpoint(filename="last", monitor=None, save_top_k=1, **kw)  # keeps only the newest
    best = ModelCheckpoint(filename="best", monitor="val/score", mode="max", save_top_k=1, **kw)
    return [last, best]


def prepare(cfg: TrainConfig, quiet: bool = False) -> Run:
    """Build everything a run needs (no training yet): what the notebook steps through."""
    warnings.filterwarnings("ignore", message=".*module\\(s\\) in eval mode.*")  # the frozen encoders, on purpose
    # Lightning 2.6's own _pytree calls a torch API that torch 2.13 deprecates: nothing in this project to fix
    warnings.filterwarnings("ignore", message=".*isinstance\\(treespec, LeafSpec\\).*")
    # OmniModule moves its own batches (only their tensors); Lightning says so whenever a data module is used
    warnings.filterwarnings("ignore", message=".*overridden `transfer_batch_to_device`.*")
    if quiet:
        for name in ("lightning.pytorch", "lightning.fabric"):
            logging.getLogger(name).setLevel(logging.WARNING)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    module = build_module(cfg)
    if cfg.gradient_checkpointing:  # non-reentrant: works with inputs_embeds and frozen layers under LoRA
        module.model.llm.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if cfg.init_from:
        module.load_trainable(cfg.init_from)
    data = OmniDataModule(cfg, module.model.encoders, module.model.answer_format)
    folder = make_folder(cfg.out)
    try:
        trainer = _trainer(cfg, folder, quiet)
    except (ValueError, ImportError, MisconfigurationException) as err:  # Lightning refused one of the config's names
        raise ConfigError(f"Lightning refused precision={cfg.precision!r} / accelerator={cfg.accelerator!r} / "
                          f"devices={cfg.devices!r} / strategy={cfg.strategy!r}: {str(err).splitlines()[0]}") from None
    return Run(module, data, trainer, folder)


def _trainer(cfg: TrainConfig, folder: Path, quiet: bool) -> L.Trainer:
    return L.Trainer(
        max_epochs=cfg.max_epochs, max_steps=cfg.max_steps, gradient_clip_val=cfg.grad_clip,
        precision=cfg.precision, accelerator=cfg.accelerator, devices=cfg.devices, strategy=cfg.strategy,
        num_nodes=cfg.num_nodes,
        check_val_every_n_epoch=cfg.val_every_epochs, callbacks=checkpoint_callbacks(folder),
        logger=CSVLogger(folder, name="logs"), default_root_dir=folder,  # logs/version_N: a resume adds one
        enable_progress_bar=cfg.progress_bar and not quiet, enable_model_summary=not quiet,
        num_sanity_val_steps=0, log_every_n_steps=10, deterministic=False,
        use_distributed_sampler=False)  # the data module shards its own sampler by rank (EpochSampler)


def config_changes(saved: dict, now: dict, prefix: str = "") -> list[str]:
    """Dotted names of the fields that differ between two config dicts.

    >>> config_changes({"lr": 1, "lora": {"r": 4}}, {"lr": 1, "lora": {"r": 8}})
    ['lora.r']
    """
    out = []
    for key in sorted(set(saved) | set(now)):
        a, b = saved.get(key), now.get(key)
        if isinstance(a, dict) and isinstance(b, dict) and key not in ("mixture", "model_overrides"):
            out += config_changes(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}")
    return out


def check_resumable(run: Run) -> None:
    """Refuse to resume a run folder whose checkpoint was made by another config."""
    saved = read_checkpoint(run.last, "resume")[CONFIG_KEY]
    changed = [c for c in config_changes(saved, run.module.cfg.to_dict()) if c not in RUN_LENGTH]
    if changed:
        raise ConfigError(
            f"{run.folder} holds a run made with another config ({', '.join(changed)} differ), so it cannot "
            f"resume. Start it over with --fresh, or give this run its own folder: --set out=runs/<name>. "
            f"Only {', '.join(RUN_LENGTH)} may change when resuming.")


def fit(run: Run, resume: bool = True) -> Run:
    """Train; with ``resume`` and a ``last.ckpt`` in the folder, continue from it (Lightning restores
    weights, optimiser, scheduler, epoch and step). Then export the trainable parts."""
    ckpt = None
    if resume and run.last.exists():
        check_resumable(run)
        ckpt = run.last
    elif run.folder.joinpath("checkpoints").exists():  # a fresh start: old checkpoints would mislead
        for old in run.folder.joinpath("checkpoints").glob("*.ckpt"):
            old.unlink()
    run.module.cfg.save(run.folder / "config.yaml")
    try:
        with quiet_transformers(), warnings.catch_warnings():
            # the folder holds last.ckpt only when resuming, which is on purpose (a fresh start emptied it above)
            warnings.filterwarnings("ignore", message="Checkpoint directory .* exists and is not empty")
            run.trainer.fit(run.module, datamodule=run.data, ckpt_path=ckpt)
    except SystemExit:  # Lightning turns Ctrl-C into a graceful shutdown, then sys.exit(1)
        if run.trainer.interrupted:
            raise KeyboardInterrupt from None  # no export: the weights are mid-epoch
        raise
    if run.trainer.interrupted:  # interrupted in a way Lightning absorbed: never export a partial run
        raise KeyboardInterrupt
    if run.trainer.is_global_zero:
        run.module.export(run.folder / "export")
    return run


def train(cfg: TrainConfig, resume: bool = True, quiet: bool = False) -> Run:
    return fit(prepare(cfg, quiet), resume)


def evaluate_module(module: OmniModule, data: OmniDataModule | None = None, split: str = "test",
                    limit_per_kind: int | None = None, world: str | None = None):
    """The evaluation table of a trained module on one split (chance rows from the training answers).

    ``world`` (e.g. ``"12-24s"``): the split's clips come from that world instead of the recipe's — clips
    of lengths no training clip had — while chance still comes from this run's own training answers."""
    from ..eval.harness import evaluate

    fmt = module.model.answer_format
    data = data or OmniDataModule(module.cfg, module.model.encoders, fmt)
    stage = {"train": "fit", "val": "validate", "test": "test"}
    train_tasks = data.train_tasks()
    if world is not None:
        cfg = module.cfg
        data = OmniDataModule(replace(cfg, data=replace(cfg.data, world=world)), module.model.encoders, fmt)
    if split not in data.splits:
        data.setup(stage[split])
    return evaluate(module.model, data.splits[split], train_tasks, fmt, limit_per_kind=limit_per_kind)
