import os

import matplotlib
import pytest

matplotlib.use("Agg")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def cfg():
    from chronus_lab.world import WorldConfig

    return WorldConfig()


@pytest.fixture(scope="session")
def clips(cfg):
    """80 clips with their per-event audio tracks."""
    from chronus_lab.world.scene import make_clip

    return [make_clip(cfg, seed=7, index=i, with_tracks=True) for i in range(80)]
