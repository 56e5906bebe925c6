"""Shipping a trained checkpoint in ``assets/``: small, loadable, and traceable to its numbers.

Built in ``notebooks/09_explorer.ipynb`` (which opens the shipped model); tested in ``tests/test_ship.py``.

A shipped checkpoint is the training checkpoint without the optimiser and loop state (only the
trainable weights — projectors and adapters — and the config), written atomically, beside a JSON
card that says where it came from: the recipe and the hash of its resolved config, the hash of the
base models it was trained on (``assets/tiny``: a re-made base would silently not fit), the epoch
and step, and the test table ``chronus-lab eval`` printed from it.

    chronus-lab ship --ckpt runs/tiny-grounding/checkpoints/last.ckpt --name grounding
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import torch

from ..errors import CheckpointError, ConfigError
from ..model.config import ASSETS
from .config import TrainConfig
from .module import CONFIG_KEY, read_checkpoint

KEEP = ("epoch", "global_step", "pytorch-lightning_version", "state_dict", CONFIG_KEY)
"""What a shipped checkpoint keeps: enough for ``load_checkpoint`` and ``chronus-lab eval``."""


def config_hash(cfg: TrainConfig | dict) -> str:
    """sha256 (first 12 hex digits) of a resolved config, fields sorted: equal configs, equal hash."""
    d = cfg.to_dict() if isinstance(cfg, TrainConfig) else cfg
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:12]


def base_hash(folder: Path = ASSETS) -> str:
    """sha256 (12 hex digits) of the base models' weight and tokenizer files under ``folder``."""
    h = hashlib.sha256()
    for path in sorted(folder.glob("*/*")):
        if path.suffix in (".safetensors", ".json") and path.parent != folder:
            h.update(str(path.relative_to(folder)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:12]


def _plain(name: str) -> str:
    """A shipped model's name is a plain file name: ``../x`` wrote outside ``assets/tiny``, ``""`` a hidden ``.ckpt``."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", str(name)) or name.endswith("."):
        raise ConfigError(f"a shipped model's name is a plain file name of letters, digits, '_', '-' or '.' "
                          f"(e.g. grounding), not {name!r}")
    return name


def card_path(name: str, folder: Path = ASSETS) -> Path:
    return Path(folder) / f"{_plain(name)}.json"


def ckpt_path(name: str, folder: Path = ASSETS) -> Path:
    return Path(folder) / f"{_plain(name)}.ckpt"


def ship(ckpt, name: str, table: list[dict], command: str, folder: Path = ASSETS) -> dict:
    """Write ``folder/name.ckpt`` (weights + config) and ``folder/name.json`` (its card); returns the card."""
    src = read_checkpoint(ckpt)
    slim = {k: src[k] for k in KEEP if k in src}
    folder = Path(folder)
    card = {"name": name, "from": str(ckpt), "recipe_config_hash": config_hash(src[CONFIG_KEY]),
            "base_hash": base_hash(), "epoch": src.get("epoch"), "global_step": src.get("global_step"),
            "trainable_parameters": sum(v.numel() for v in src["state_dict"].values()),
            "table_command": command, "table": table}
    for path, write in ((ckpt_path(name, folder), lambda p: torch.save(slim, p)),
                        (card_path(name, folder), lambda p: p.write_text(json.dumps(card, indent=1) + "\n"))):
        tmp = path.with_suffix(path.suffix + ".tmp")
        write(tmp)
        tmp.replace(path)  # atomic: a reader sees the old file or the new one, never half
    return card


def read_card(card_file: Path) -> dict:
    """A shipped model's card, or one clear error when the file was damaged (edited by hand, cut short)."""
    try:
        card = json.loads(card_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{card_file} is not a readable card ({e}): restore it (git checkout -- {card_file.name}) "
                              "or ship the checkpoint again (chronus-lab ship)") from None
    missing = [k for k in ("base_hash", "global_step", "table") if not isinstance(card, dict) or k not in card]
    if missing:
        raise CheckpointError(f"{card_file} lacks {missing}: restore it (git checkout -- {card_file.name}) "
                              "or ship the checkpoint again (chronus-lab ship)")
    return card


def shipped(name: str = "grounding", folder: Path = ASSETS) -> Path:
    """The path of a shipped checkpoint, checked against its card (one clear error when it does not fit)."""
    path, card_file = ckpt_path(name, folder), card_path(name, folder)
    if not path.is_file() or not card_file.is_file():
        raise CheckpointError(f"no shipped checkpoint {name!r} in {folder} (expected {path.name} and {card_file.name})")
    card = read_card(card_file)
    if card["base_hash"] != base_hash(Path(folder)):
        raise CheckpointError(f"{path} was trained on other base models than those in {folder} now "
                              f"(base hash {card['base_hash']} vs {base_hash(Path(folder))}): retrain and re-ship it")
    return path
