"""One RL run: an SFT checkpoint in, the same LoRA adapters trained with PPO or GRPO, a checkpoint out.

Built in ``notebooks/08_ppo_rewards.ipynb``; tested in ``tests/test_rl.py``; CLI:
``chronus-lab rl --config tiny-grpo [--set key=value …]``.

A plain loop, not Lightning: an RL step alternates sampling (``generate``), scoring (rewards, the
reference's log-probs) and several optimiser steps on the same samples; written out, it reads top to
bottom like the algorithm, and at tiny scale Lightning's manual optimisation would add hooks, not
clarity. What Lightning gives SFT — seeding, resume, logs — is kept here by hand: the run folder holds
``config.yaml``, ``log.csv`` (reward parts, KL, clip fraction, entropy, value loss per iteration),
``rl_state.pt`` (adapters, value head, optimiser, iteration and RNG states, written atomically every
``save_every`` iterations; a rerun of the same config resumes from it) and ``policy.ckpt`` (an SFT-style
checkpoint that ``chronus-lab eval --ckpt`` reads).
"""
from __future__ import annotations

import csv
import dataclasses
import math
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from ..errors import SEED_MAX, CheckpointError, ConfigError, Diverged, check_fields, is_seed, make_folder
from ..model.encoders import encode_clips
from ..model.omni import collate
from ..train.config import TrainConfig, read_recipe, reject_unknown
from ..train.finite import advice, named_list, non_finite
from ..train.module import CONFIG_KEY, load_checkpoint, load_torch_file
from ..typed import check_types, coerce_fields
from ..world import WorldConfig, make_clip, make_task
from . import grpo, ppo
from .policy import prompts, sample, token_scores
from .rewards import columns_of, combine, task_columns, unrewarded


@dataclass
class RLConfig:
    algo: str = "grpo"
    """``"ppo"`` (the paper) or ``"grpo"`` (the released code)."""
    init_from: str = "assets/tiny/grounding.ckpt"
    """The SFT checkpoint whose LoRA adapters RL continues to train (projectors stay fixed)."""
    kinds: list[str] = field(default_factory=lambda: ["v2t", "a2t", "a2v", "v2a", "order"])
    """Task kinds asked during RL (questions from the SFT run's training clips)."""
    rewards: dict[str, float] = field(default_factory=lambda: {"temporal_iou": 1.0, "format": 0.2,
                                                               "temporal_order": 1.0, "cross_modal": 1.0})
    """Reward names (``rl/rewards.py``) and their weights."""
    n_clips: int = 400
    clip_seed: int | None = None
    """The world seed RL's clips come from. None: the SFT run's training seed — clips SFT has already learned.
    Another seed gives clips SFT never saw, so the reward measures what carries to new clips; the SFT run's
    val and test seeds are refused (RL would train on what it is evaluated on)."""
    prompts_per_step: int = 8
    group_size: int = 4
    """Answers sampled per prompt — GRPO's G; PPO samples the same number, so both see as many answers."""
    iterations: int = 240
    lr: float = 1e-4
    temperature: float = 1.0
    max_new_tokens: int = 12
    kl_coef: float = 0.05
    """PPO: β of the per-token KL penalty in the reward (TRL's default)."""
    beta: float = 0.04
    """GRPO: β of the k3 KL term in the loss (the released code; 0 = TRL's default)."""
    clip: float = 0.2
    ppo_epochs: int = 4
    loss_type: str = "sequence"
    """GRPO: ``"sequence"`` (per-answer mean, the original) or ``"token"`` (DAPO / TRL's default)."""
    save_every: int = 10
    seed: int = 0
    out: str = "runs/tiny-grpo"

    def __post_init__(self) -> None:
        check_types(self, "RLConfig")
        from ..world.tasks import KINDS
        from .rewards import REWARDS

        weights = list(self.rewards.values())
        check_fields("RLConfig", [
            (self.algo in ("ppo", "grpo"), "algo", "use 'ppo' or 'grpo'"),
            (bool(self.kinds) and set(self.kinds) <= set(KINDS), "kinds", f"task kinds from {list(KINDS)}"),
            (bool(self.rewards) and set(self.rewards) <= set(REWARDS), "rewards", f"names from {sorted(REWARDS)}"),
            (all(math.isfinite(w) and w >= 0 for w in weights) and sum(weights) > 0, "rewards",
             f"weights must be finite, >= 0, with at least one > 0 (got {self.rewards})"),
            # some kinds without a reward is an ablation (rewards.cross_modal=0: a2v / v2a earn nothing); all is a mistake
            (set(unrewarded(self.kinds, self.rewards)) != set(self.kinds), "kinds/rewards",
             f"no reward with a weight > 0 applies to any of {self.kinds}: every answer would earn 0; ask kinds "
             "a reward scores or weight a reward that scores them"),
            (min(self.n_clips, self.prompts_per_step, self.iterations, self.save_every, self.ppo_epochs) >= 1,
             "n_clips/prompts_per_step/iterations/save_every/ppo_epochs", "must be >= 1"),
            (self.group_size >= 2, "group_size", "GRPO needs at least 2 answers per prompt"),
            (0 < self.lr <= 1 and 1 <= self.max_new_tokens <= 512, "lr/max_new_tokens",
             "need 0 < lr <= 1 and 1 to 512 tokens"),
            # at 0 every answer is the greedy one: a GRPO group's answers are equal (every advantage 0), and PPO's
            # rollouts are no longer samples of the policy whose log-probs its ratio uses
            (0 < self.temperature <= 10, "temperature",
             f"need 0 < temperature <= 10: RL learns from sampled answers (got {self.temperature})"),
            (self.kl_coef >= 0 and self.beta >= 0 and 0 < self.clip < 1, "kl_coef/beta/clip", "out of range"),
            (self.loss_type in ("sequence", "token"), "loss_type", "use 'sequence' or 'token'"),
            (is_seed(self.seed) and (self.clip_seed is None or is_seed(self.clip_seed)),
             "seed/clip_seed", f"need 0 to {SEED_MAX:,} (got {self.seed}, {self.clip_seed})"),
        ])

    @classmethod
    def load(cls, name_or_path: str, overrides=()) -> "RLConfig":
        d, path = read_recipe(name_or_path, overrides)
        reject_unknown(cls, d, str(path))
        return cls(**coerce_fields(cls, d, f"{path}: "))


class Prompter:
    """Questions on the SFT run's training clips (or ``clip_seed``'s), drawn by a seeded generator: (batch, reward columns)."""

    def __init__(self, model, sft: TrainConfig, cfg: RLConfig):
        world = WorldConfig.named(sft.data.world)
        seed = sft.data.seeds[0] if cfg.clip_seed is None else cfg.clip_seed
        if seed in sft.data.seeds[1:]:
            raise ConfigError(f"RLConfig.clip_seed {seed} is the SFT run's val or test seed ({sft.data.seeds[1:]}): "
                              "RL would train on the clips it is measured on; pick another seed")
        self.clips = [make_clip(world, seed, i) for i in range(cfg.n_clips)]
        self.features = encode_clips(model.encoders, self.clips, sft.data.cache)
        for c in self.clips:
            c.frames = c.audio = None  # features are all RL needs
        self.model, self.cfg = model, cfg

    def draw(self, rng: random.Random):
        picks = []
        while len(picks) < self.cfg.prompts_per_step:
            ci = rng.randrange(len(self.clips))
            task = make_task(self.clips[ci], rng.choice(self.cfg.kinds), seed=rng.randrange(10**6),
                             fmt=self.model.answer_format, plan=self.model.cfg.plan)
            if task is not None:
                picks.append((ci, task))
        batch = collate([self.features[ci] for ci, _ in picks], [t.question for _, t in picks])
        cols = [task_columns(t, self.clips[ci], self.model.answer_format) for ci, t in picks]
        return batch, picks, cols


def rl_step(module, value_head, params, optimizer, batch, cols, cfg: RLConfig, reward) -> dict:
    """Sample, score, update — one iteration of PPO or GRPO."""
    model = module.model
    G = cfg.group_size
    p = prompts(model, batch).repeat(G)  # every prompt G times: GRPO's group; PPO sees as many answers
    model.eval()  # sampling and scoring without dropout
    ids, mask, texts = sample(model, p, cfg.max_new_tokens, cfg.temperature)
    columns = columns_of([c for c in cols for _ in range(G)])
    totals, parts = reward(texts, **columns)
    scores = torch.tensor(totals, dtype=torch.float32, device=mask.device)
    head, temp = (value_head if cfg.algo == "ppo" else None), cfg.temperature
    with torch.no_grad():
        logp, values, _ = token_scores(model, p, ids, mask, head, temperature=temp)
        ref_logp, _, _ = token_scores(model, p, ids, mask, reference=True, temperature=temp)
    rollout = {"logp": logp, "ref_logp": ref_logp, "values": values, "mask": mask}

    def score_fn():
        return token_scores(model, p, ids, mask, head, temperature=temp)

    if cfg.algo == "ppo":
        stats = ppo.ppo_update(score_fn, params, optimizer, rollout, scores,
                               ppo.PPOSettings(kl_coef=cfg.kl_coef, clip=cfg.clip, epochs=cfg.ppo_epochs))
    else:
        stats = grpo.grpo_update(score_fn, params, optimizer, rollout, scores, G, cfg.beta, cfg.clip, cfg.loss_type)
    stats["reward"] = float(scores.mean())
    stats["flat groups"] = grpo.flat_groups(scores, G)
    for name, values_ in parts.items():
        applicable = [v for v in values_ if v is not None]
        stats[f"reward/{name}"] = sum(applicable) / len(applicable) if applicable else float("nan")
    return stats


@dataclass
class RLRun:
    module: object
    cfg: RLConfig
    sft: TrainConfig
    history: list[dict]
    folder: Path


STATE_KEYS = ("config", "adapters", "value_head", "optimizer", "torch_rng", "rng", "history", "iteration")


def read_state(path: Path) -> dict:
    """A saved RL state, or one CheckpointError: a cut-short or foreign ``rl_state.pt`` ended in torch's traceback."""
    remedy = "rerun with --fresh to start this RL run over, or give it another out"
    state = load_torch_file(path, f"{path} is not a readable RL state", remedy)
    missing = [k for k in STATE_KEYS if not isinstance(state, dict) or k not in state]
    if missing:
        raise CheckpointError(f"{path} is not a readable RL state (it lacks {missing}) — {remedy}")
    return state


def train_rl(cfg: RLConfig, resume: bool = True, log=print) -> RLRun:
    """Run RL from ``cfg.init_from``; resumes from ``<out>/rl_state.pt`` when its config is the same."""
    from ..setup import pick_device

    folder = Path(cfg.out)
    module = load_checkpoint(project_path(cfg.init_from)).to(pick_device())
    if not getattr(module.model.llm, "peft_config", None):
        raise ConfigError(f"RL trains LoRA adapters: {cfg.init_from} was trained with finetune=full")
    sft_lora = start_from_sft(module)
    model = module.model
    value_head = ppo.value_head(model.llm.config.hidden_size).to(module.device)
    params = [p for p in module.parameters() if p.requires_grad] + (list(value_head.parameters()) if cfg.algo == "ppo" else [])
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
    reward = combine(cfg.rewards)
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    prompter = Prompter(model, module.cfg, cfg)
    history, start = [], 0
    state_path = folder / "rl_state.pt"
    if resume and state_path.exists():
        state = read_state(state_path)
        changed = sorted(k for k in state["config"] if state["config"][k] != asdict(cfg).get(k)
                         and k not in ("iterations", "save_every"))  # run length may change
        if changed:
            raise ConfigError(f"{folder} holds an RL run with another config ({', '.join(changed)} differ): "
                              "rerun with --fresh, or give this run its own out")
        module.load_state_dict(state["adapters"], strict=False)
        value_head.load_state_dict(state["value_head"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        rng.setstate(state["rng"])
        history, start = state["history"], state["iteration"]
    make_folder(folder)
    if log and (silent := unrewarded(cfg.kinds, cfg.rewards)):
        log(f"note: no weighted reward applies to {silent}: those questions are asked and always earn 0")
    saved = start
    for it in range(start, cfg.iterations):
        batch, _, cols = prompter.draw(rng)
        stats = {"iteration": it + 1, **rl_step(module, value_head, params, optimizer, batch, cols, cfg, reward)}
        if bad := non_finite((n, p) for n, p in [*module.named_parameters(), *value_head.named_parameters()]
                             if p.requires_grad):  # checked before any save: a NaN state is never written
            kept = f"{state_path} from iteration {saved} is kept" if saved else "nothing was saved"
            raise Diverged(f"RL diverged at iteration {it + 1}: its weights hold NaN or inf in {named_list(bad)}; "
                           f"{kept}; {advice(cfg.lr)} and rerun with --fresh.")
        history.append(stats)
        if log and ((it + 1) % max(cfg.iterations // 10, 1) == 0 or it == 0):
            log(f"it {it + 1:4d}  reward {stats['reward']:.3f}  kl {stats['kl']:.4f}  "
                f"clip {stats['clip frac']:.3f}  entropy {stats['entropy']:.3f}")
        if (it + 1) % cfg.save_every == 0 or it + 1 == cfg.iterations:
            _save(state_path, {"config": asdict(cfg), "iteration": it + 1, "history": history,
                               "adapters": {k: v for k, v in module.state_dict().items() if "lora_" in k},
                               "value_head": value_head.state_dict(), "optimizer": optimizer.state_dict(),
                               "torch_rng": torch.get_rng_state(), "rng": rng.getstate()})
            saved = it + 1
    _write_log(folder / "log.csv", history)
    state, policy_cfg = policy_checkpoint(module, sft_lora)
    _save(folder / "policy.ckpt", {"state_dict": state, CONFIG_KEY: policy_cfg.to_dict(), "epoch": None,
                                   "global_step": cfg.iterations, "rl_config": asdict(cfg)})
    module.eval()
    return RLRun(module, cfg, module.cfg, history, folder)


def project_path(path: str) -> Path:
    """A relative path that is not found here is looked up from the project's root: the recipes name the
    shipped model as ``assets/tiny/grounding.ckpt``, and notebooks run from ``notebooks/``."""
    from ..model.config import ASSETS

    p = Path(path)
    root = ASSETS.parents[1]
    return root / p if not p.is_absolute() and not p.exists() and (root / p).exists() else p


def start_from_sft(module) -> dict:
    """Fold the SFT adapters into the base weights and put fresh adapters on top.

    Then the reference — the model with its adapters switched off — *is* the SFT model, as RL wants
    (KL to the SFT policy, not to the pre-SFT base), still without a second copy. The fresh adapters
    start at zero (LoRA's B = 0), so the policy starts exactly at the SFT model. Returns the SFT
    adapters' weights and scaling, needed to write one checkpoint of the final policy.
    """
    from ..train.module import add_lora

    llm, spec = module.model.llm, module.cfg.lora
    sft = {"weights": {k: v.detach().clone() for k, v in module.state_dict().items() if "lora_" in k},
           "tokens": {k: v.detach().clone() for k, v in module.named_parameters() if "trainable_tokens_delta" in k},
           "scale": spec.alpha / spec.r, "r": spec.r}
    base = llm.merge_and_unload()  # the SFT's token rows are merged too: RL leaves them as they are
    module.model.llm = add_lora(base, spec, module.model.added_token_ids)
    for name, prm in module.named_parameters():  # the new adapters train; projectors and base stay
        prm.requires_grad_("lora_" in name)
    return sft


def policy_checkpoint(module, sft: dict):
    """The final policy as one SFT-style checkpoint: SFT and RL adapters side by side make one LoRA of
    rank r_SFT + r_RL with scaling 1 (``ΔW = s₁B₁A₁ + s₂B₂A₂ = [s₁B₁ s₂B₂]·[A₁; A₂]``), exactly."""
    spec = module.cfg.lora
    rl_scale, r = spec.alpha / spec.r, sft["r"] + spec.r
    cfg = module.cfg.replace(lora=dataclasses.replace(spec, r=r, alpha=r))  # alpha = r: scaling 1
    state = {}
    for key, value in module.state_dict().items():
        if "lora_A" in key:
            state[key] = torch.cat([sft["weights"][key], value.detach()], 0).cpu()  # (r₁ + r₂, in)
        elif "lora_B" in key:
            state[key] = torch.cat([sft["scale"] * sft["weights"][key], rl_scale * value.detach()], 1).cpu()
        elif key.startswith(tuple(f"model.{part}." for part in module.model.own_parts)):
            state[key] = value.detach().cpu()
        elif key in sft["tokens"]:  # RL's own token rows stay frozen at zero: the SFT's rows are the policy's
            state[key] = sft["tokens"][key].cpu()
    return state, cfg


def _save(path: Path, obj) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)  # atomic: an interrupted save never leaves a half file


def _write_log(path: Path, history: list[dict]) -> None:
    keys = sorted({k for h in history for k in h}, key=lambda k: (k != "iteration", k))
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(history)
    tmp.replace(path)
