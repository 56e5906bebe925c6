"""``chronus-lab bench time``: does the time written into the input tell the model *when*? (notebook 04)

Built in ``notebooks/04_timestamp_tokens.ipynb``; tested in ``tests/test_experiment.py``; the README's
table comes from this command.

ChronusOmni's claim is that a model knows when because the time is written before each slice. With
fixed 0.5 s slices the position of a group already says its time, so the claim cannot show. Here
every clip is cut into the same number of **uniform** slices (``slices_per_clip``, 16 by default) —
16 positions mean 4 s in one clip and 12 s in the next — so only the time input tells them apart.

The headline recipe is trained on clips of one range of lengths, once per time representation
(``<t_k>``, ``second{x}``, none — answers then still use ``second{x}``), over several seeds, and
evaluated on held-out clips of the trained range and of a longer range no training clip had.
Rows: explicit grounding mIoU and R@0.5, implicit cross-modal accuracy, mean ± std over seeds, and
the chance rows (from each run's training answers).
"""
from __future__ import annotations

import tempfile
import time

from ..eval.metrics import mean_iou, mean_std
from ..train.config import TrainConfig
from ..train.run import evaluate_module
from ..world import SlicePlan, WorldConfig, make_clip
from .sft import train_and_evaluate

EXPLICIT, IMPLICIT = "explicit (v2t+a2t)", "implicit (a2v+v2a)"


def recipe_overrides(world: str, slices_per_clip: int) -> list[str]:
    """The headline recipe with ``slices_per_clip`` uniform slices on ``world``: what every variant shares."""
    return [f"data.world={world}", f"model_overrides.slices_per_clip={slices_per_clip}"]


def variant_overrides(variant: str, seed: int, world: str, slices_per_clip: int, cache: str | None = None) -> list[str]:
    """The shared recipe with one time representation and one seed."""
    return [*recipe_overrides(world, slices_per_clip), f"model_overrides.time_format={variant}", f"seed={seed}",
            *([f"data.cache={cache}"] if cache else [])]


def headline(ev) -> dict:
    """The three numbers of a run on one split, model and chance."""
    out = {}
    for who in ("model", "chance"):
        out[who] = {"mIoU": ev.value(EXPLICIT, who, "mIoU"), "R@0.5": ev.value(EXPLICIT, who, "R@0.5"),
                    "implicit acc": ev.value(IMPLICIT, who, "acc")}
    return out


def nearest_edges(span, edges) -> tuple[float, float]:
    """A true span with each end moved to the nearest slice edge: the best a model that can only point
    at slices can answer.

    >>> nearest_edges((1.0, 3.0), [0.0, 0.75, 1.5, 2.25, 3.0])
    (0.75, 3.0)
    """
    near = lambda t: min(edges, key=lambda e: (abs(e - t), e))  # noqa: E731 - ties go to the earlier edge
    return near(span[0]), near(span[1])


def writing_cost(world: WorldConfig, plan: SlicePlan, fmt, n_clips: int = 200, seed: int = 0) -> float:
    """mIoU of the best slice-pointing answers over every object's and sound's span, written in ``fmt``
    and read back: what cutting a clip into these slices and writing their times costs before any
    learning. 1.0 on the fixed 0.5 s grid; below 1 once slice edges fall between the times a format
    can write or between the events' boundaries."""
    pred, true = [], []
    for i in range(n_clips):
        clip = make_clip(world, seed, i)
        edges = plan.times(clip.duration, clip.fps)
        for ev in clip.events:
            pred.append(fmt.parse_span(fmt.span(*nearest_edges(ev.span, edges))))
            true.append(ev.span)
    return mean_iou(pred, true)


def span_pairs(ev, fmt, kinds=("v2t", "a2t")) -> list[tuple[tuple, tuple | None]]:
    """(true span, predicted span or None) of every explicit-grounding answer of an evaluation."""
    return [(tuple(p.task.target["span"]), fmt.parse_span(p.text)) for p in ev.predictions if p.task.kind in kinds]


def step_cost(recipe: str = "tiny-grounding", n_clips: int = 32, steps: int = 20, batch_size: int = 16) -> dict:
    """Seconds per training example (forward + backward) of the recipe's model on today's fixed 0.5 s
    slices of 8 s clips against 16 uniform slices of 4–12 s clips — the same number of slices — and
    the seconds to encode one clip each way (what a cache miss costs)."""
    from itertools import islice

    from ..train.loop import task_batches
    from ..train.module import build_module

    out = {}
    for name, world, extra in (("fixed", "tiny", []), ("uniform", "4-12s", ["model_overrides.slices_per_clip=16"])):
        cfg = TrainConfig.load(recipe, [f"data.world={world}", *extra])
        module = build_module(cfg)
        model = module.model
        clips = [make_clip(WorldConfig.named(world), 0, i) for i in range(n_clips)]
        t0 = time.perf_counter()
        feats = [model.encoders.clip_features(c) for c in clips]
        encode_s = (time.perf_counter() - t0) / n_clips
        batches = list(islice(task_batches(model, list(zip(clips, feats)), ("v2t",), batch_size, seed=0), steps))
        model.train()
        model(batches[0]).loss.backward()  # warm-up
        t0 = time.perf_counter()
        for b in batches:
            model(b).loss.backward()
        out[name] = {"s/example": (time.perf_counter() - t0) / (steps * batch_size), "encode s/clip": encode_s}
    return out


def chance(recipe: str, world: str, train_world: str = "4-12s", overrides=(), slices_per_clip: int = 16) -> dict:
    """The chance headline of the recipe's test questions on ``world``, from its training answers on
    ``train_world`` — no model, no features (what every run's chance rows are: they depend on the
    questions alone, not on the seed or the time input)."""
    from ..eval.harness import Prediction, score_predictions
    from ..train.data import eval_tasks, training_tasks
    from ..train.module import omni_config
    from ..world.time_format import TextTime

    cfg = TrainConfig.load(recipe, [*overrides, *recipe_overrides(train_world, slices_per_clip)])
    d, fmt, plan = cfg.data, TextTime(), omni_config(cfg).plan
    train_clips = [make_clip(WorldConfig.named(train_world), d.seeds[0], i) for i in range(d.n_train)]
    test_clips = [make_clip(WorldConfig.named(world), d.seeds[2], i) for i in range(d.n_test)]
    train_tasks = [t for _, t in training_tasks(train_clips, d, d.seeds[0], fmt, plan)]
    preds = [Prediction(t, "", ci) for ci, t in eval_tasks(test_clips, d.eval_kinds, fmt, plan)]
    return headline(score_predictions(preds, [c.duration for c in test_clips], train_tasks, fmt))["chance"]


def run(recipe: str = "tiny-grounding", variants=("token", "text", "none"), seeds: int = 3,
        train_world: str = "4-12s", long_world: str = "12-24s", slices_per_clip: int = 16,
        overrides=(), limit_per_kind: int | None = None, n_train: int | None = None, on_eval=None,
        speed: bool = True, first_seed: int = 0, log=print) -> list[dict]:
    """Rows per (time input, clip range): the headline numbers, mean ± std over ``seeds``, then chance.
    ``n_train`` overrides the recipe's number of training clips (a shorter run); ``on_eval(variant,
    seed, world, evaluation, answer format)`` sees every evaluation (the notebook plots its spans); ``speed``
    first logs ``step_cost`` (fixed vs uniform slices, per training example). Seeds are
    ``first_seed … first_seed + seeds − 1`` (another process can add seeds to a run's)."""
    overrides = [*overrides, *([f"data.n_train={n_train}"] if n_train else [])]
    if speed:
        c = step_cost(recipe)
        fixed, uniform = c["fixed"], c["uniform"]
        log(f"per training example: fixed 0.5 s slices of 8 s clips {1000 * fixed['s/example']:.1f} ms, 16 uniform "
            f"slices of 4-12 s clips {1000 * uniform['s/example']:.1f} ms "
            f"({100 * (uniform['s/example'] / fixed['s/example'] - 1):+.0f}%); encoding a clip "
            f"{1000 * fixed['encode s/clip']:.0f} ms vs {1000 * uniform['encode s/clip']:.0f} ms")
    results: dict[tuple[str, str], list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        cache = f"{tmp}/features"  # the plan and encoders are the same for every variant: encode once
        for seed in range(first_seed, first_seed + seeds):  # seed-major: a run stopped early still has every variant of the seeds it did
            for variant in variants:
                seconds, r, ev = train_and_evaluate(
                    recipe, [*overrides, *variant_overrides(variant, seed, train_world, slices_per_clip, cache)],
                    limit_per_kind)
                longer = evaluate_module(r.module, r.data, limit_per_kind=limit_per_kind, world=long_world)
                for world, ev in ((train_world, ev), (long_world, longer)):
                    h = headline(ev)
                    if on_eval is not None:
                        on_eval(variant, seed, world, ev, r.module.model.answer_format)
                    results.setdefault((variant, world), []).append(h)
                    log(f"{variant:>5} seed {seed} on {world:>6} clips: mIoU {h['model']['mIoU']:.3f}, "
                        f"R@0.5 {h['model']['R@0.5']:.3f}, implicit {h['model']['implicit acc']:.3f} "
                        f"(trained in {seconds:.0f} s)")
    rows = []
    for (variant, world), runs in results.items():
        for who in ("model", "chance"):
            rows.append({"time input": variant, "clips": world, "who": who, "seeds": len(runs),
                         **{m: mean_std([r[who][m] for r in runs]) for m in ("mIoU", "R@0.5", "implicit acc")}})
    return rows
