"""``chronus-lab bench cache``: feature extraction through the cache — a computing pass, then a reading pass.

Built in ``notebooks/02_encoders.ipynb`` (the cache); the README quotes its numbers.
"""
from __future__ import annotations

import tempfile
import time

from ..model.config import OmniConfig
from ..model.encoders import Encoders, FeatureCache
from ..world import WorldConfig, make_clip


def run(n: int = 1000, log=print) -> list[dict]:
    clips = [make_clip(WorldConfig.tiny(), 0, i) for i in range(n)]
    rows = []
    with tempfile.TemporaryDirectory() as root:
        cache = FeatureCache(root, Encoders(OmniConfig.tiny()))
        for name in ("compute + write", "read back"):
            t0 = time.perf_counter()
            for c in clips:
                cache(c)
            dt = time.perf_counter() - t0
            rows.append({"pass": name, "clips": n, "seconds": round(dt, 1), "ms/clip": round(1000 * dt / n, 1),
                         "hits": cache.hits, "misses": cache.misses})
            log(rows[-1])
    return rows
