"""``chronus-lab bench probe``: linear probes on the frozen encoders' per-slice features (``train/probe.py``)."""
from __future__ import annotations

from ..train.probe import probe_rows


def run(n_train: int = 150, n_test: int = 60, log=print) -> list[dict]:
    return probe_rows(n_train, n_test)
