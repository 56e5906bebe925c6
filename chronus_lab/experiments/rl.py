"""``chronus-lab bench rl``: SFT → + PPO and SFT → + GRPO, same rewards, same number of sampled answers.

Built in ``notebooks/08_ppo_rewards.ipynb``; tested in ``tests/test_rl.py``. Each RL run starts from the
same SFT checkpoint (the shipped ``assets/tiny/grounding.ckpt`` unless ``--ckpt`` names another); the
table gives each headline metric as mean ± std over the seeds, with the SFT start and the chance row
beside it, the KL to the SFT model at the end of each run, and — with ``--ablations`` — GRPO without the
temporal-order reward, without the cross-modal reward, and with β = 0 (TRL's default) instead of the
released code's 0.04. A second table (``log``) is the reward-hacking check: the mean reward of the trained
policies against answers that ignore the clip, on the same questions.
"""
from __future__ import annotations

import math
import random
import statistics
import tempfile
import time

from ..eval.metrics import format_table, mean_std
from ..rl.rewards import columns_of, combine
from ..rl.run import Prompter, RLConfig, train_rl
from ..train.module import load_checkpoint
from ..train.run import evaluate_module

METRICS = (("explicit (v2t+a2t)", "mIoU"), ("explicit (v2t+a2t)", "R@0.5"), ("explicit (v2t+a2t)", "R@0.7"),
           ("implicit (a2v+v2a)", "acc"), ("order", "acc"))
ABLATIONS = {
    "GRPO − temporal-order reward": ("grpo", ["rewards.temporal_order=0"]),
    "GRPO − cross-modal reward": ("grpo", ["rewards.cross_modal=0"]),
    "GRPO, β = 0": ("grpo", ["beta=0"]),
}
"""Variant name → (algorithm, recipe overrides). A weight of 0 removes a reward from the sum."""
HACK_PROMPTS = 64


def _metrics(ev, who: str = "model") -> dict:
    present = {r["task"] for r in ev.rows}
    return {f"{t.split()[0]} {m}": ev.value(t, who, m) for t, m in METRICS if t in present}


def _mean_of(history: list[dict], key: str, last: int | None = None) -> float:
    """Mean of one logged value over the run's iterations, or its ``last`` ones (the run's log has the curve)."""
    values = [h[key] for h in history[-last if last else 0:]]
    return sum(values) / len(values)


def _applies(history: list[dict], name: str) -> str:
    """How often a reward had something to score: "never" when it was not applicable to any answer."""
    return "never" if all(math.isnan(h.get(f"reward/{name}", float("nan"))) for h in history) else "yes"


def run(ckpt: str | None = None, steps: int | None = None, seeds: int = 3, limit_per_kind: int | None = None,
        overrides=(), algos=("ppo", "grpo"), ablations: bool = False, log=print) -> list[dict]:
    """``steps`` = RL iterations (the recipe's by default); ``seeds`` RL runs per algorithm and variant."""
    if ckpt is None:
        from ..train.ship import shipped

        ckpt = str(shipped("grounding"))
    start = evaluate_module(load_checkpoint(ckpt), limit_per_kind=limit_per_kind)
    rows = [{"model": "SFT (start)", "RL s": "-", "final KL": "-", "flat groups": "-",
             **{k: f"{v:.3f}" for k, v in _metrics(start).items()}}]
    variants = {f"SFT + {a.upper()}": (a, []) for a in algos}
    if ablations:
        variants.update(ABLATIONS)
    policies, applies = {}, {}
    for name, (algo, extra) in variants.items():
        per_seed, seconds, kls, flats = [], [], [], []
        for seed in range(seeds):
            with tempfile.TemporaryDirectory() as out:
                over = [f"init_from={ckpt}", f"seed={seed}", f"out={out}", *overrides, *extra]
                if steps:
                    over.append(f"iterations={steps}")
                t0 = time.perf_counter()
                rl = train_rl(RLConfig.load(f"tiny-{algo}", over), log=None)
                seconds.append(time.perf_counter() - t0)
                per_seed.append(_metrics(evaluate_module(rl.module, limit_per_kind=limit_per_kind)))
                kls.append(_mean_of(rl.history, "kl", last=10))  # KL to the SFT model at the end
                flats.append(_mean_of(rl.history, "flat groups"))  # prompts with no GRPO signal
                if seed == 0:
                    policies[name] = rl.module.model
                    for r in rl.cfg.rewards:  # over every variant: an ablation's zero weight must not hide a reward
                        applies[r] = "yes" if "yes" in (applies.get(r), _applies(rl.history, r)) else "never"
            log(f"{name} seed {seed}: {per_seed[-1]}, KL {kls[-1]:.4f}, flat groups {flats[-1]:.2f}, "
                f"{seconds[-1]:.0f} s")
        rows.append({"model": f"{name} ({seeds} seeds)", "RL s": f"{statistics.mean(seconds):.0f}",
                     "final KL": mean_std(kls), "flat groups": mean_std(flats),
                     **{k: mean_std([m[k] for m in per_seed]) for k in per_seed[0]}})
    rows.append({"model": "chance", "RL s": "-", "final KL": "-", "flat groups": "-",
                 **{k: f"{v:.3f}" for k, v in _metrics(start, "chance").items()}})
    log("rewards with something to score in the RL questions: " + ", ".join(f"{k} {v}" for k, v in applies.items()))
    log(format_table(reward_hacking(ckpt, policies, overrides)))
    return rows


def reward_hacking(ckpt: str, policies: dict, overrides=()) -> list[dict]:
    """Mean reward (the recipe's weights) on the same RL questions for the SFT start, the trained
    policies (seed 0, greedy) and two answers that ignore the clip: one fixed well-formed span, and a
    span over the whole clip (it parses, and overlaps every event)."""
    sft = load_checkpoint(ckpt)
    cfg = RLConfig.load("tiny-grpo", [f"init_from={ckpt}", f"prompts_per_step={HACK_PROMPTS}", *overrides])
    prompter = Prompter(sft.model, sft.cfg, cfg)
    batch, picks, cols = prompter.draw(random.Random(12345))
    reward, columns = combine(cfg.rewards), columns_of(cols)
    fmt = sft.model.answer_format

    def mean_reward(texts):
        return sum(reward(texts, **columns)[0]) / len(texts)

    rows = [{"answers": "SFT start (greedy)", "mean reward": f"{mean_reward(sft.model.generate(batch)):.3f}"}]
    rows += [{"answers": f"{name}, seed 0 (greedy)", "mean reward": f"{mean_reward(m.generate(batch)):.3f}"}
             for name, m in policies.items()]
    cheats = {"always one span (0–2 s)": [fmt.span(0.0, 2.0)] * len(picks),
              "the whole clip (format only)": [fmt.span(0.0, c.duration) for c in
                                               (prompter.clips[ci] for ci, _ in picks)]}
    rows += [{"answers": name, "mean reward": f"{mean_reward(texts):.3f}"} for name, texts in cheats.items()]
    return rows
