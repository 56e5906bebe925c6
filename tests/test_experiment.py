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


def test_bench_time_trains_each_time_input_and_tests_on_longer_clips_too():
    """``bench time`` end to end on a tiny budget: a row per (time input, clip range, model/chance), and
    the second range's questions really are about clips longer than any training clip."""
    from chronus_lab.experiments.time_slices import chance, run

    seen = {}
    keep = lambda variant, seed, world, ev, fmt: seen.setdefault((variant, world), []).extend(  # noqa: E731
        [tuple(p.task.target["span"]) for p in ev.predictions if "span" in p.task.target])
    rows = run(variants=("token", "none"), seeds=1, n_train=8, on_eval=keep, log=lambda line: None, speed=False,
               overrides=["max_epochs=1", "data.n_val=2", "data.n_test=6"])
    assert [(r["time input"], r["clips"], r["who"]) for r in rows] == [
        (v, w, who) for v in ("token", "none") for w in ("4-12s", "12-24s") for who in ("model", "chance")]
    assert all(0 <= float(r[m]) <= 1 for r in rows for m in ("mIoU", "R@0.5", "implicit acc"))
    assert max(e for _, e in seen[("token", "4-12s")]) <= 12.0
    assert max(e for _, e in seen[("token", "12-24s")]) > 12.0
    # the chance rows depend on the questions alone: the model-free path gives the same numbers
    for world in ("4-12s", "12-24s"):
        free = chance("tiny-grounding", world, overrides=["data.n_train=8", "data.n_test=6"])
        row = next(r for r in rows if r["clips"] == world and r["who"] == "chance")
        assert [float(row[m]) for m in ("mIoU", "R@0.5", "implicit acc")] == [round(free[m], 3) for m in free]


def test_step_cost_times_both_plans_on_the_same_number_of_slices():
    from chronus_lab.experiments.time_slices import step_cost

    cost = step_cost(n_clips=4, steps=2, batch_size=2)
    assert set(cost) == {"fixed", "uniform"} and all(v["s/example"] > 0 and v["encode s/clip"] > 0
                                                     for v in cost.values())


def test_writing_cost_is_one_on_the_fixed_grid_and_lower_between_slices():
    from chronus_lab.experiments.time_slices import nearest_edges, writing_cost
    from chronus_lab.world import SlicePlan, WorldConfig
    from chronus_lab.world.time_format import TextTime, TokenTime

    world = WorldConfig.lengths(12, 12)
    for fmt in (TokenTime(), TextTime()):
        assert writing_cost(world, SlicePlan(), fmt, n_clips=10) == 1.0  # every event boundary is a slice edge
    # by hand: 16 slices of a 12 s clip are 0.75 s; the event [1.0, 3.0) is best answered [0.75, 3.0],
    # written second{0.8}-second{3.0}: IoU 2.0 / 2.2
    assert nearest_edges((1.0, 3.0), SlicePlan(slices_per_clip=16).times(12.0, 4)) == (0.75, 3.0)
    assert TextTime().parse_span(TextTime().span(0.75, 3.0)) == (0.8, 3.0)
    assert writing_cost(world, SlicePlan(slices_per_clip=16), TextTime(), n_clips=10) < 1.0
