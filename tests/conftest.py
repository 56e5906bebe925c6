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


@pytest.fixture
def instruct_batch(tmp_path):
    """``make(overrides) -> (InstructModule, one training batch)`` on the tiny-sft recipe with a few clips, seeded:
    what the tests of an auxiliary stage-2 loss start from."""
    import torch

    from chronus_lab.train.config import TrainConfig
    from chronus_lab.train.data import OmniDataModule
    from chronus_lab.train.module import InstructModule

    def make(overrides: list[str]):
        cfg = TrainConfig.load("tiny-sft", ["data.n_val=2", "data.n_test=2", "data.eval_kinds=[v2t]",
                                            *overrides, f"out={tmp_path / 'run'}", "progress_bar=false"])
        torch.manual_seed(0)
        m = InstructModule(cfg)
        dm = OmniDataModule(cfg, m.model.encoders, m.model.answer_format)
        dm.setup("fit")
        return m, next(iter(dm.train_dataloader()))

    return make


@pytest.fixture
def train_on():
    """``train_on(module, batch, part, steps, lr)``: AdamW steps on one batch and one named part of
    ``module.losses`` (the other parts left out)."""
    import torch

    def steps_on(module, batch: dict, part: str, steps: int, lr: float = 5e-3) -> None:
        opt = torch.optim.AdamW([p for p in module.parameters() if p.requires_grad], lr=lr)
        for _ in range(steps):
            opt.zero_grad()
            module.losses(batch)[part].backward()
            opt.step()

    return steps_on
