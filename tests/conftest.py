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


@pytest.fixture(scope="session")
def tiny_tok():
    """The shipped tiny tokenizer (assets/tiny), as the notebooks load it."""
    from chronus_lab.model.config import OmniConfig
    from chronus_lab.model.tokenizer import load_tokenizer

    return load_tokenizer(OmniConfig.tiny().tokenizer)


@pytest.fixture(scope="session")
def tiny_model(tiny_tok):
    import torch

    from chronus_lab.model.config import OmniConfig
    from chronus_lab.model.omni import OmniModel

    torch.manual_seed(0)
    return OmniModel(OmniConfig.tiny(), tokenizer=tiny_tok)
