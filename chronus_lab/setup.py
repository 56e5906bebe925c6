"""The one setup helper every notebook calls first: seeds, threads, device, versions.

Used by every notebook's setup cell; tested in ``tests/test_setup.py``.

Threads are chosen deliberately: on 2 shared cores, torch's default thread count made tiny
training 20–60× slower when another process was busy (see ``shared/ENVIRONMENT.md``).
"""
from __future__ import annotations

import os
import platform
import random
from importlib import metadata

import numpy as np

from .errors import ConfigError

PACKAGES = ("torch", "transformers", "peft", "lightning", "POT", "numpy", "matplotlib")


def pick_device(device: str = "auto") -> str:
    """``"auto"`` → ``"cuda"`` when a GPU is visible, else ``"cpu"``. Decided here, never at import."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def describe_environment(device: str = "auto") -> str:
    import torch

    v = versions()
    lines = [" ".join(f"{k} {val}" for k, val in v.items()),
             f"device {pick_device(device)} | torch threads {torch.get_num_threads()} | "
             f"cpu cores {os.cpu_count()} | HF_HUB_OFFLINE={os.environ.get('HF_HUB_OFFLINE', '0')}"]
    return "\n".join(lines)


def setup(seed: int = 0, threads: int | None = None, device: str = "auto", quiet: bool = False) -> str:
    """Seed python/numpy/torch, set torch's thread count, pick the device, print versions.

    ``threads=None`` uses ``CHRONUS_THREADS`` if set, else 1 under tests/CI (steady on shared
    cores) and 2 otherwise. Tiny mode needs no hub: ``HF_HUB_OFFLINE`` defaults to 1 here.
    """
    import torch

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if threads is None:
        under_test = "PYTEST_CURRENT_TEST" in os.environ or os.environ.get("CI") == "true"
        threads = os.environ.get("CHRONUS_THREADS", 1 if under_test else 2)
    try:
        ok = int(threads) >= 1 and float(threads) == int(threads)
    except (TypeError, ValueError):
        ok = False
    if not ok:  # torch's own error is a traceback from deep inside
        raise ConfigError(f"threads must be a whole number from 1, not {threads!r} "
                          "(check --threads or the CHRONUS_THREADS variable)")
    threads = int(threads)
    torch.set_num_threads(threads)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    dev = pick_device(device)
    if not quiet:
        print(describe_environment(dev))
    return dev
