"""Notebook 04's experiment runs end to end (tiny budget) and its training lowers the loss."""
import torch

from chronus_lab.model.config import OmniConfig
from chronus_lab.experiments.timestamps import KINDS, features, run
from chronus_lab.model.omni import OmniModel
from chronus_lab.train.loop import fit_model, task_batches
from chronus_lab.world import WorldConfig


def test_run_reports_every_metric():
    rows = run(("token", "none"), steps=3, n_train=6, n_test=3, log=lambda r: None)
    assert [r["time input"] for r in rows] == ["token", "none"]
    for r in rows:
        assert {"mIoU", "R@0.5", "t2v acc", "final loss"} <= set(r) and 0 <= r["mIoU"] <= 1


def test_fit_lowers_the_loss_and_prefixes_shift_the_clip():
    torch.manual_seed(0)
    model = OmniModel(OmniConfig.tiny())
    items = features(model, 1, 8, WorldConfig.varying())
    batches = task_batches(model, items, KINDS, 8, seed=0, prefix_words=10)
    b = next(batches)
    starts = [lay.slice_idx.index(0) for lay in model.layouts(b)]
    assert len(set(starts)) > 1  # the clip starts at different positions
    losses = fit_model(model, batches, steps=30, lr=2e-3)
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 0.5
