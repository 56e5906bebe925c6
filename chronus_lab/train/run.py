"""One training run with Lightning: data, module, trainer, checkpoints, logs, resume, export.

Built in ``notebooks/07_lightning_sft.ipynb``; tested in ``tests/test_train.py``; CLI:
``chronus-lab train --config tiny-sft [--set key=value …]``.

Run folder (``cfg.out``)::

    config.yaml            the resolved config (written before training starts)
    logs/version_N/metrics.csv  Lightning's CSVLogger: train/* per step, val/* per epoch (one per attempt)
    checkpoints/last.ckpt  rewritten every epoch; a rerun of the same command resumes from it
    checkpoints/epoch=*.ckpt  the best by val/loss
    export/                projectors.safetensors, adapter/ (PEFT), config.yaml
"""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

from ..hub import quiet_transformers
from .config import TrainConfig
from .data import OmniDataModule
from .module import OmniModule, build_module


@dataclass
class Run:
    module: OmniModule
    data: OmniDataModule
    trainer: L.Trainer
    folder: Path

    @property
    def last(self) -> Path:
        return self.folder / "checkpoints" / "last.ckpt"


def prepare(cfg: TrainConfig, quiet: bool = False) -> Run:
    """Build everything a run needs (no training yet): what the notebook steps through."""
    warnings.filterwarnings("ignore", message=".*module\\(s\\) in eval mode.*")  # the frozen encoders, on purpose
    if quiet:
        for name in ("lightning.pytorch", "lightning.fabric"):
            logging.getLogger(name).setLevel(logging.WARNING)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    module = build_module(cfg)
    if cfg.init_from:
        module.load_trainable(cfg.init_from)
    data = OmniDataModule(cfg, module.model.encoders, module.model.answer_format)
    folder = Path(cfg.out)
    checkpoints = ModelCheckpoint(dirpath=folder / "checkpoints", monitor="val/loss", mode="min",
                                  save_last=True, save_top_k=1, every_n_epochs=1,
                                  filename="epoch={epoch}-val_loss={val/loss:.3f}", auto_insert_metric_name=False)
    trainer = L.Trainer(
        max_epochs=cfg.max_epochs, max_steps=cfg.max_steps, gradient_clip_val=cfg.grad_clip,
        precision=cfg.precision, accelerator=cfg.accelerator, devices=cfg.devices, strategy=cfg.strategy,
        check_val_every_n_epoch=cfg.val_every_epochs, callbacks=[checkpoints],
        logger=CSVLogger(folder, name="logs"), default_root_dir=folder,  # logs/version_N: a resume adds one
        enable_progress_bar=cfg.progress_bar and not quiet, enable_model_summary=not quiet,
        num_sanity_val_steps=0, log_every_n_steps=10, deterministic=False)
    return Run(module, data, trainer, folder)


def fit(run: Run, resume: bool = True) -> Run:
    """Train; with ``resume`` and a ``last.ckpt`` in the folder, continue from it (Lightning restores
    weights, optimiser, scheduler, epoch and step). Then export the trainable parts."""
    run.module.cfg.save(run.folder / "config.yaml")
    ckpt = run.last if resume and run.last.exists() else None
    with quiet_transformers():
        run.trainer.fit(run.module, datamodule=run.data, ckpt_path=ckpt)
    if run.trainer.is_global_zero:
        run.module.export(run.folder / "export")
    return run


def train(cfg: TrainConfig, resume: bool = True, quiet: bool = False) -> Run:
    return fit(prepare(cfg, quiet), resume)


def evaluate_module(module: OmniModule, data: OmniDataModule | None = None, split: str = "test",
                    limit_per_kind: int | None = None):
    """The evaluation table of a trained module on one split (chance rows from the training answers)."""
    from ..eval.harness import evaluate

    fmt = module.model.answer_format
    data = data or OmniDataModule(module.cfg, module.model.encoders, fmt)
    for needed in ("train", split):
        if needed not in data.splits:
            data.setup({"train": "fit", "val": "validate", "test": "test"}[needed])
    train_tasks = [t for _, t in data.splits["train"].tasks]
    return evaluate(module.model, data.splits[split], train_tasks, fmt, limit_per_kind=limit_per_kind)
