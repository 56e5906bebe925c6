"""``compare(name, ours, ref)``: the Check-cell helper every notebook uses.

Used in every notebook's Check cells; tested in ``tests/test_compare.py``.
Prints whether a hand-built value equals the package's (or a library's) exactly, within
tolerance, and the largest difference — then raises if it is not close, so a notebook run fails.
"""
from __future__ import annotations

import numpy as np


def _as_array(x) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor: keep float64 as float64 (only widen low precision)
        x = x.detach().cpu()
        x = (x.double() if x.is_floating_point() else x).numpy()
    return np.asarray(x, dtype=np.float64)


def compare(name: str, ours, ref, atol: float = 1e-6, rtol: float = 1e-5) -> float:
    """Print ``name | exact | allclose | max diff`` and return the max difference.

    Raises AssertionError when the two are not allclose (shape mismatches included).
    """
    a, b = _as_array(ours), _as_array(ref)
    if a.shape != b.shape:
        raise AssertionError(f"{name}: shapes differ: ours {a.shape} vs ref {b.shape}")
    diff = float(np.max(np.abs(a - b))) if a.size else 0.0
    exact = bool(np.array_equal(a, b))
    close = bool(np.allclose(a, b, atol=atol, rtol=rtol))
    print(f"{name:<32} exact: {exact!s:<5} | allclose: {close!s:<5} | max diff: {diff:.2e}")
    if not close:
        raise AssertionError(f"{name}: max difference {diff:.3e} exceeds atol={atol}, rtol={rtol}")
    return diff
