"""``chronus-lab bench memory``: peak memory of a training process's data against the number of clips.

Built for the full-scale path (``notebooks/10_full_scale.ipynb``); the target (issue 13): with features in
an on-disk cache, a training process's peak memory does not grow with the number of clips. Each
measurement runs in a fresh process (peak RSS, ``ru_maxrss``): the data module's ``setup("fit")``, then one
pass over every training batch (each reads its clips' feature files) — everything training does but the
model's step. The cache is filled first by the same code path as ``chronus-lab features`` (not timed).
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile

CHILD = r"""
import json, resource, sys, time
from chronus_lab.model.encoders import Encoders
from chronus_lab.train.config import TrainConfig
from chronus_lab.train.data import OmniDataModule
from chronus_lab.train.module import omni_config
import torch
torch.set_num_threads(1)
cfg = TrainConfig.load("tiny-grounding", [a for a in sys.argv[1:] if a != "--fill"])
data = OmniDataModule(cfg, Encoders(omni_config(cfg)), None)
if "--fill" in sys.argv:  # not measured: the feature command's work
    data.encode_split("train"); print(json.dumps({})); sys.exit()
from chronus_lab.world.time_format import time_format
data.fmt = time_format("token", 0.5)
t0 = time.perf_counter()
data.setup("fit")
batches = sum(1 for _ in data.train_dataloader())
print(json.dumps({"peak MiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "batches": batches,
                  "s": time.perf_counter() - t0}))
"""


def _child(overrides: list[str], fill: bool = False) -> dict:
    args = [sys.executable, "-c", CHILD, *overrides] + (["--fill"] if fill else [])
    out = subprocess.run(args, capture_output=True, text=True, check=False)
    if out.returncode:
        raise RuntimeError(f"memory child failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(n: int | None = None, log=print) -> list[dict]:
    """Peak RSS with the cache for 1,000 and ``n`` (default 10,000) training clips, and without it for
    1,000 and 2,000 (features held in memory, the old path) for contrast."""
    big = n or 10_000
    rows = []
    with tempfile.TemporaryDirectory() as root:
        for clips, cached in ((1000, False), (2000, False), (1000, True), (big, True)):
            over = [f"data.n_train={clips}", "data.n_val=1", "data.n_test=1", f"out={root}/run"]
            if cached:
                over.append(f"data.cache={root}/features")
                _child(over, fill=True)
            r = _child(over)
            log(f"{clips} clips, cache {cached}: {r}")
            rows.append({"clips": clips, "features": "on disk (cache)" if cached else "in memory",
                         "peak RSS MiB": f"{r['peak MiB']:.0f}", "batches read": r["batches"],
                         "s": f"{r['s']:.0f}"})
    return rows
