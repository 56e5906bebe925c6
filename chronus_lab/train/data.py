"""The AV world as a ``LightningDataModule``: seeded splits, a task mixture, cached features.

Built in ``notebooks/07_lightning_sft.ipynb``; tested in ``tests/test_train.py``.

* Splits come from three different world seeds (``data.seeds``), so train, val and test share no clip.
* Each clip is encoded once by the frozen encoders — training reads features, never pixels. With
  ``data.cache`` the features live in per-clip files (``chronus-lab features`` fills them, resumable, one
  shard per rank) and are read when a batch needs them: memory does not grow with the number of clips.
* Training tasks are drawn per clip by the ``data.mixture`` weights; val/test ask every
  ``data.eval_kinds`` kind once per clip. All of it is a pure function of the seeds.
* The order of an epoch is ``EpochSampler``'s: a permutation seeded by (seed, epoch), so a run
  resumed from an end-of-epoch checkpoint sees exactly the batches an uninterrupted run sees.
  With ``curriculum_epochs`` the first epochs draw single-hop tasks only; with ``group_by_length`` the
  permutation is regrouped so that each batch holds clips of similar length; with ``time_offset`` each
  training task's clip is read as if cut from later in a recording (``TaskDataset``).
"""
from __future__ import annotations

from dataclasses import replace

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ..eval.errors import task_case
from ..model.encoders import CachedFeatures, Encoders, FeatureCache
from ..model.omni import collate
from ..world import WorldConfig, make_clip, make_task, slices
from ..world.tasks import KINDS, Task
from ..world.time_format import TimeFormat
from .config import SINGLE_HOP, TrainConfig
from .naming import slice_names, slice_partners
from .saliency import relevant_slices


def sounding_boxes(parts) -> torch.Tensor:
    """``(S, 4)``: per slice of a clip (``world.slices(clip, plan)``), the box of a visible object making its
    sound then (NaN when none).

    What AVACE needs: the region audio attention should fall in at that moment.
    """
    out = torch.full((len(parts), 4), float("nan"))
    for s in parts:
        if (box := s.sounding_box) is not None:
            out[s.index] = torch.tensor(box)
    return out


class TaskDataset(Dataset):
    """``(clip index, Task)`` pairs over one split's clips and their features.

    ``offsets`` (one per task, seconds; ``fmt`` writes them): the model reads task i's clip as if it started
    ``offsets[i]`` seconds into a recording — the slices' times, question and answer moved together. ``tasks``
    keep the clip's own times (targets, chance rows and saliency read those)."""

    def __init__(self, clips: list, features: list[dict], tasks: list[tuple[int, Task]], plan,
                 offsets: list[float] | None = None, fmt: TimeFormat | None = None):
        self.clips, self.features, self.tasks, self.offsets, self.fmt = clips, features, tasks, offsets, fmt
        self.parts = [slices(c, plan) for c in clips]  # each clip cut into slices once; the rest is read off them

    def __len__(self) -> int:
        return len(self.tasks)

    def __getitem__(self, i: int) -> dict:
        ci, task = self.tasks[i]
        parts, feats = self.parts[ci], self.features[ci]
        if self.offsets and (off := self.offsets[i]):
            feats = {**feats, "times": torch.as_tensor(feats["times"]) + off}
            task = replace(task, question=self.fmt.shift(task.question, off), answer=self.fmt.shift(task.answer, off))
        return {**feats, "boxes": sounding_boxes(parts), "task": task,
                "names": slice_names(parts),  # what each slice shows / sounds like (w_naming)
                "partners": slice_partners(parts),  # the sound its object makes, the object making its sound (w_pairing)
                "relevant": relevant_slices(task.target, parts)}  # which slices the question is about (w_saliency)


def collate_tasks(rows: list[dict]) -> dict:
    """Rows → the batch ``OmniModel`` reads, plus the tasks (for metrics), AVACE boxes, slice names and which
    slices each question is about."""
    batch = collate(rows, [r["task"].question for r in rows], [r["task"].answer for r in rows])
    s_max = batch["vision"].shape[1]
    boxes = torch.full((len(rows), s_max, 4), float("nan"))
    for b, r in enumerate(rows):
        boxes[b, : r["boxes"].shape[0]] = r["boxes"]
    return {**batch, "boxes": boxes, "names": [r["names"] for r in rows],
            "partners": [r["partners"] for r in rows], "tasks": [r["task"] for r in rows],
            "relevant": [r["relevant"] for r in rows]}


class EpochSampler(Sampler):
    """A permutation per epoch from ``(seed, epoch)``; Lightning calls ``set_epoch`` each epoch.

    Curriculum epochs draw only from ``early`` (the single-hop tasks), repeated to the same length,
    so every epoch has the same number of batches. Under DDP, rank r of W takes every W-th index of
    the same permutation (padded by wrapping to equal length, as ``DistributedSampler``): one step
    of W ranks with batch B sees exactly what one process with batch W·B sees — Lightning's own
    wrapper would reshuffle the order, so the trainer keeps it off (``use_distributed_sampler``).

    With ``lengths`` (one per example) and ``batch`` (per rank), the permutation is regrouped by
    ``group_by_length`` so that every step's ``world·batch`` examples have similar lengths.
    """

    def __init__(self, n: int, seed: int, early: list[int] | None = None, early_epochs: int = 0,
                 rank: int = 0, world: int = 1, lengths: list[int] | None = None, batch: int = 1):
        self.n, self.seed, self.early, self.early_epochs = n, seed, early or [], early_epochs
        self.rank, self.world, self.lengths, self.batch = rank, world, lengths, batch
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return -(-self.n // self.world)

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        if self.epoch < self.early_epochs and self.early:
            pool = torch.tensor(self.early)
            reps = -(-self.n // len(pool))
            order = torch.cat([pool[torch.randperm(len(pool), generator=g)] for _ in range(reps)])[: self.n]
        else:
            order = torch.randperm(self.n, generator=g)
        order = order.tolist()
        if self.lengths is not None:
            order = group_by_length(order, self.lengths, self.batch * self.world, g)
        order += order[: len(self) * self.world - len(order)]  # wrap so every rank has len(self)
        return iter(order[self.rank::self.world])


def group_by_length(order: list[int], lengths, step: int, g: torch.Generator, window: int = 50) -> list[int]:
    """``order`` regrouped so that each run of ``step`` consecutive examples (one optimiser step) has similar
    ``lengths``, and the steps come in random order.

    The permutation is cut into windows of ``window`` steps; each window is sorted by length and cut into
    steps; the full steps are shuffled, a last short one stays last (``drop_last`` drops it, and steps stay
    aligned with batches). A window, not the whole epoch, is sorted so that which examples meet in a step
    still changes from epoch to epoch.

    >>> g = torch.Generator().manual_seed(0)
    >>> out = group_by_length(list(range(8)), [1, 9, 1, 9, 1, 9, 1, 9], step=4, g=g)
    >>> sorted(out) == list(range(8)), sorted(out[:4]) in ([0, 2, 4, 6], [1, 3, 5, 7])
    (True, True)
    """
    steps = []
    for s in range(0, len(order), step * window):
        ranked = sorted(order[s:s + step * window], key=lambda i: lengths[i])
        steps += [ranked[j:j + step] for j in range(0, len(ranked), step)]
    short = steps.pop() if steps and len(steps[-1]) < step else []
    return [i for k in torch.randperm(len(steps), generator=g).tolist() for i in steps[k]] + short


def training_tasks(clips: list, spec, seed: int, fmt: TimeFormat, plan=None) -> list[tuple[int, Task]]:
    """``tasks_per_clip`` draws per clip, kinds by the mixture weights; deterministic in ``seed``.
    ``plan``: the model's slice plan — questions about one moment ask at the instants it sees."""
    kinds = [k for k in KINDS if spec.mixture.get(k, 0) > 0]
    p = np.array([spec.mixture[k] for k in kinds], dtype=float)
    out = []
    for ci, clip in enumerate(clips):
        rng = np.random.default_rng([seed, ci])
        for j in range(spec.tasks_per_clip):
            kind = kinds[int(rng.choice(len(kinds), p=p / p.sum()))]
            task = make_task(clip, kind, seed=seed + j, fmt=fmt, plan=plan)
            if task is not None and spec.implicit_cases and task_case(task, clip) is not None:
                task = _weighted_by_case(clip, kind, seed + j, spec.implicit_cases, fmt, plan)
            if task is not None:
                out.append((ci, task))
    return out


CASE_DRAWS = 8
"""Candidate questions drawn per implicit task when ``implicit_cases`` weighs their cases."""


def _weighted_by_case(clip, kind: str, seed: int, weights: dict[str, float], fmt, plan) -> Task:
    """One of ``CASE_DRAWS`` questions of ``kind`` about ``clip`` (seeds ``seed``, ``seed + 1000``, …: each asks
    about a uniformly drawn event), picked with probability ∝ the weight of its case — by a generator of its
    own, so the other tasks drawn are the same as without the weights."""
    candidates = [make_task(clip, kind, seed=seed + 1000 * k, fmt=fmt, plan=plan) for k in range(CASE_DRAWS)]
    w = np.array([weights.get(task_case(t, clip), 1.0) for t in candidates], dtype=float)
    pick = np.random.default_rng([seed, clip.clip_id, 1]).choice(len(candidates), p=w / w.sum())
    return candidates[int(pick)]


def time_offsets(clips: list, tasks: list[tuple[int, Task]], most: float, seed: int, fmt: TimeFormat) -> list[float]:
    """One offset per task, uniform on the ``fmt.quantum`` grid in ``[0, most]``, cut so that the clip's end
    still has a time token (``fmt.max_tokens``); deterministic in ``seed``."""
    out = []
    for i, (ci, _) in enumerate(tasks):
        steps = int(min(most, fmt.last_time - clips[ci].duration) / fmt.quantum + 1e-9)
        rng = np.random.default_rng([seed, 7, i])  # 7: a stream apart from training_tasks' [seed, clip]
        out.append(float(rng.integers(0, steps + 1)) * fmt.quantum if steps > 0 else 0.0)
    return out


def eval_tasks(clips: list, kinds, fmt: TimeFormat, plan=None) -> list[tuple[int, Task]]:
    return [(ci, t) for ci, clip in enumerate(clips) for k in kinds
            if (t := make_task(clip, k, seed=0, fmt=fmt, plan=plan)) is not None]



class OmniDataModule(L.LightningDataModule):
    """Train / val / test ``TaskDataset``s of one ``TrainConfig``, encoded by the model's encoders."""

    def __init__(self, cfg: TrainConfig, encoders: Encoders, fmt: TimeFormat):
        super().__init__()
        self.cfg, self.encoders, self.fmt = cfg, encoders, fmt
        self.splits: dict[str, TaskDataset] = {}

    def world(self) -> WorldConfig:
        return WorldConfig.named(self.cfg.data.world)

    def encode_split(self, split: str, shard: tuple[int, int] = (0, 1)):
        """One split's clips (events only) and their features, made one clip at a time: pixels and
        samples are dropped as soon as a clip is encoded. With ``data.cache`` the features stay on disk
        (``CachedFeatures`` reads a clip's file when a batch needs it), so memory does not grow with the
        number of clips. ``shard = (rank, world size)`` takes every world-size-th clip (the feature command)."""
        d = self.cfg.data
        seed, n = self.split_seed(split)
        cache = FeatureCache(d.cache, self.encoders) if d.cache else None
        clips, feats = [], []
        for c in self._clips(seed, range(shard[0], n, shard[1]),
                             lambda c: feats.append(cache.path(c) if cache else self.encoders.clip_features(c))):
            clips.append(c)
        return seed, clips, (CachedFeatures(feats) if cache else feats)

    def _clips(self, seed: int, indices, use=lambda clip: None):
        """The clips ``indices`` of world ``seed``, one at a time: each is made, given to ``use`` while it still
        has its pixels and samples, then kept as events only (the boxes were read from its pixels by then)."""
        for i in indices:
            c = make_clip(self.world(), seed, i)
            use(c)
            c.frames = c.audio = None
            yield c

    def split_seed(self, split: str) -> tuple[int, int]:
        """(world seed, number of clips) of a split."""
        d = self.cfg.data
        return {"train": (d.seeds[0], d.n_train), "val": (d.seeds[1], d.n_val), "test": (d.seeds[2], d.n_test)}[split]

    def train_tasks(self) -> list[Task]:
        """The training split's questions and answers, without encoding its clips (chance rows need only these)."""
        if "train" in self.splits:
            return [t for _, t in self.splits["train"].tasks]
        seed, n = self.split_seed("train")
        clips = list(self._clips(seed, range(n)))
        return [t for _, t in training_tasks(clips, self.cfg.data, seed, self.fmt, self.encoders.cfg.plan)]

    def setup(self, stage: str | None = None) -> None:
        wanted = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",), None: ("train", "val", "test")}
        plan = self.encoders.cfg.plan
        for split in wanted.get(stage, ("test",)):
            if split in self.splits:
                continue
            seed, clips, feats = self.encode_split(split)
            tasks = (training_tasks(clips, self.cfg.data, seed, self.fmt, plan) if split == "train"
                     else eval_tasks(clips, self.cfg.data.eval_kinds, self.fmt, plan))
            offsets = (time_offsets(clips, tasks, self.cfg.data.time_offset, seed, self.fmt)
                       if split == "train" and self.cfg.data.time_offset > 0 else None)
            self.splits[split] = TaskDataset(clips, feats, tasks, plan, offsets, self.fmt)

    def train_dataloader(self) -> DataLoader:
        ds = self.splits["train"]
        early = [i for i, (_, t) in enumerate(ds.tasks) if t.kind in SINGLE_HOP]
        trainer = getattr(self, "trainer", None)
        rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
        lengths = [len(ds.parts[ci]) for ci, _ in ds.tasks] if self.cfg.data.group_by_length else None  # slices
        sampler = EpochSampler(len(ds), self.cfg.seed, early, self.cfg.data.curriculum_epochs, rank, world,
                               lengths, self.cfg.data.batch_size)
        return DataLoader(ds, batch_size=self.cfg.data.batch_size, sampler=sampler, collate_fn=collate_tasks,
                          drop_last=True)

    def _eval_loader(self, split: str) -> DataLoader:
        return DataLoader(self.splits[split], batch_size=2 * self.cfg.data.batch_size, collate_fn=collate_tasks)

    def val_dataloader(self) -> DataLoader:
        return self._eval_loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._eval_loader("test")
