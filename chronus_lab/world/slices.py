"""How a clip is cut into time slices, and what happens in each: its frames, its audio, what is seen and heard.

Built in ``notebooks/02_encoders.ipynb`` (per-slice features) and ``04_timestamp_tokens.ipynb`` (the plan);
used by every consumer of a slice — the encoders, the interleaved ``[time, visual, audio]`` groups,
the stage-0 captions, AVACE's boxes, the probes and the experiments; tested in ``tests/test_slices.py``.

A ``SlicePlan`` turns a clip of ``D`` seconds into ``S`` slices, each with a start and an end in
seconds (on the frame grid, so a slice's frames and audio samples are exact):

* **fixed width** (the default): slices of ``slice_s`` seconds, ``S = round(D / slice_s)``. The
  number of positions from the clip's start then says the time by itself (notebook 04).
* **uniform** (``slices_per_clip = N``): N slices of about ``D / N`` seconds whatever the clip's
  length, their edges the frames nearest ``k·D/N`` (``round(k · frames / N)``, how video LLMs sample
  frames). The same N positions mean 4 s or 24 s; only the time written before each group tells.
* **at most N** (``max_slices = N``): fixed width until that would give more than N slices, then
  uniform N — the released ChronusOmni code's "up to 64 frames" rule.

What a slice *shows and sounds like* is read from its start: its first ``frames_per_slice``
frames, one audio window of ``audio_window_s`` seconds from its start (moved back to end inside
the clip for a last slice narrower than the window), and the ground truth at its first frame. On
the default plan (0.5 s slices, 0.5 s windows) every event boundary falls on a slice edge.

**Meerkat's one image** (``SlicePlan(slices_per_clip=1, read_at="middle", audio_window_s=D)``, the
Meerkat recipes): one slice per clip, read at its middle frame — the ground truth is read there, that
instant is the time written before the group and the instant the Meerkat tasks ask about — with one
audio window of ``D`` seconds, the whole clip. Meerkat sees one image and the clip's audio, not a video.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from ..errors import ConfigError
from .clip import Clip, Event


class SlicePlanError(ConfigError):
    """A plan cannot cut this clip (too few frames, too short for one audio window) or is invalid."""


@dataclass(frozen=True)
class SlicePlan:
    """How clips are cut into slices; ``times(duration, fps)`` gives the edges of one clip."""

    slice_s: float = 0.5
    """Width of a fixed slice in seconds (and, when ``audio_window_s`` is None, of the audio window)."""
    slices_per_clip: int | None = None
    """Uniform: exactly this many slices per clip, of ``duration / N`` seconds each."""
    max_slices: int | None = None
    """At most this many slices: fixed width while it fits, else uniform (ChronusOmni's 64 frames)."""
    frames_per_slice: int = 1
    """Frames read per slice (its first ones), averaged after encoding."""
    audio_window_s: float | None = None
    """Seconds of audio each slice's encoding reads from its start; None = ``slice_s``."""
    read_at: str = "start"
    """Where a slice's frames and ground truth are read, and the time written for it: ``"start"`` (video
    LLMs' frame sampling) or ``"middle"`` (Meerkat's one image of a clip: its middle frame)."""

    def __post_init__(self) -> None:
        bad = [(not (isinstance(self.slice_s, (int, float)) and 0 < self.slice_s <= 60), "slice_s", "need 0 < slice_s <= 60 s"),
               (not (self.slices_per_clip is None or (isinstance(self.slices_per_clip, int) and 1 <= self.slices_per_clip <= 100_000)),
                "slices_per_clip", "need a whole number >= 1 (or null for fixed-width slices)"),
               (not (self.max_slices is None or (isinstance(self.max_slices, int) and 1 <= self.max_slices <= 100_000)),
                "max_slices", "need a whole number >= 1 (or null for no cap)"),
               (self.slices_per_clip is not None and self.max_slices is not None, "slices_per_clip/max_slices",
                "set one of them: exactly N slices, or at most N"),
               (not (isinstance(self.frames_per_slice, int) and 1 <= self.frames_per_slice <= 64), "frames_per_slice",
                "need 1 to 64 frames"),
               (not (self.audio_window_s is None or (isinstance(self.audio_window_s, (int, float)) and 0 < self.audio_window_s <= 60)),
                "audio_window_s", "need 0 < audio_window_s <= 60 s (or null for slice_s)"),
               (self.read_at not in ("start", "middle"), "read_at", "use 'start' or 'middle'")]
        for failed, name, why in bad:
            if failed:
                got = {n: getattr(self, n) for n in name.split("/")}
                raise SlicePlanError(f"slice plan: {name}: {why} (got {got})")

    @property
    def window_s(self) -> float:
        return self.slice_s if self.audio_window_s is None else self.audio_window_s

    @property
    def kind(self) -> str:
        return "uniform" if self.slices_per_clip else "at most" if self.max_slices else "fixed"

    def to_dict(self) -> dict:
        return asdict(self)

    def frame_edges(self, duration: float, fps: int) -> list[int]:
        """``S + 1`` frame indices: slice k holds frames ``[edges[k], edges[k+1])``."""
        n_frames = int(round(duration * fps))
        fixed = max(int(round(duration / self.slice_s)), 1)
        n = self.slices_per_clip or (min(fixed, self.max_slices) if self.max_slices else fixed)
        if n > n_frames:
            raise SlicePlanError(
                f"a clip of {duration:g} s has {n_frames} frames at {fps} fps, fewer than the {n} slices the plan asks "
                f"for ({self.kind}); lower slices_per_clip/max_slices or raise slice_s")
        if self.slices_per_clip or n < fixed:  # uniform: the frames nearest k · D / N
            return [int(math.floor(k * n_frames / n + 0.5)) for k in range(n + 1)]
        edges = [min(int(math.floor(k * self.slice_s * fps + 0.5)), n_frames) for k in range(n)]
        return edges + [n_frames]

    def read_frames(self, duration: float, fps: int) -> list[int]:
        """The frame each slice is read at: its first, or its middle one (``read_at``)."""
        edges = self.frame_edges(duration, fps)
        if self.read_at == "start":
            return edges[:-1]
        return [a + (b - a) // 2 for a, b in zip(edges[:-1], edges[1:])]

    def times(self, duration: float, fps: int) -> list[float]:
        """``S + 1`` slice edges in seconds: slice k covers ``[times[k], times[k+1])``."""
        return [f / fps for f in self.frame_edges(duration, fps)]

    def n_slices(self, duration: float, fps: int) -> int:
        return len(self.frame_edges(duration, fps)) - 1

    def window(self, start: float, duration: float, sample_rate: int) -> tuple[int, int]:
        """``[lo, hi)`` audio samples a slice starting at ``start`` is encoded from."""
        width = int(round(self.window_s * sample_rate))
        total = int(round(duration * sample_rate))
        if width > total:
            raise SlicePlanError(f"a clip of {duration:g} s is shorter than one audio window of {self.window_s:g} s; "
                                 "use longer clips or a smaller audio_window_s / slice_s")
        lo = min(int(round(start * sample_rate)), total - width)
        return lo, lo + width


def as_plan(plan: "SlicePlan | float") -> SlicePlan:
    """A plan, or a number read as fixed-width slices of that many seconds (the original call)."""
    return plan if isinstance(plan, SlicePlan) else SlicePlan(slice_s=float(plan))


@dataclass(frozen=True)
class Slice:
    """Slice ``index`` of a clip: where it lies in the arrays, and the ground truth at the instant it is read."""

    index: int
    start: float
    end: float
    time: float
    """The instant the slice is read at: its start (or middle, ``read_at``) — the time written before its group."""
    frames: tuple[int, ...]
    """Indices of the frames read for the slice: its first ``frames_per_slice`` (``frames[0]`` speaks for it)."""
    samples: tuple[int, int]
    """``[lo, hi)`` audio samples the slice is encoded from (its audio window)."""
    objects: tuple[Event, ...]
    """Visible events (``"av"``, ``"v"``) at its first frame, ordered by (start, id) as ``Clip.objects``."""
    sounds: tuple[Event, ...]
    """Audible events (``"av"``, ``"a"``) at its first frame, ordered as ``Clip.sounds``."""
    boxes: tuple[tuple[float, ...], ...]
    """The box of each of ``objects`` in ``frames[0]`` (normalised xyxy)."""

    @property
    def frame(self) -> int:
        return self.frames[0]

    @property
    def seen(self) -> list[str]:
        """Object classes on screen, sorted (as ``Clip.visible_at``)."""
        return sorted(e.object for e in self.objects)

    @property
    def heard(self) -> list[str]:
        """Sound classes audible, sorted (as ``Clip.heard_at``)."""
        return sorted(e.sound for e in self.sounds)

    def box_of(self, event: Event) -> list[float]:
        return list(self.boxes[self.objects.index(event)])

    @property
    def sounding(self) -> list[Event]:
        """Visible objects making their sound now (the AVACE / ARIG targets)."""
        return [e for e in self.objects if e.sound]

    @property
    def sounding_box(self) -> list[float] | None:
        """The box of the first sounding object, or None when nothing visible sounds."""
        src = self.sounding
        return self.box_of(src[0]) if src else None


def n_slices(duration: float, plan: "SlicePlan | float" = 0.5, fps: int = 4) -> int:
    """Slices in a clip of ``duration`` seconds.

    >>> n_slices(8.0, 0.5), n_slices(8.0, SlicePlan(slices_per_clip=10)), n_slices(40.0, SlicePlan(max_slices=64))
    (16, 10, 64)
    """
    return as_plan(plan).n_slices(duration, fps)


def slice_times(clip: Clip, plan: "SlicePlan | float" = 0.5) -> list[float]:
    """The instant each slice of ``clip`` is read at, in seconds (its start unless the plan reads slices
    at their middle): what the time before each group says."""
    return [f / clip.fps for f in as_plan(plan).read_frames(clip.duration, clip.fps)]


def slices(clip: Clip, plan: "SlicePlan | float" = 0.5, frames_per_slice: int | None = None) -> list[Slice]:
    """Every slice of ``clip`` under ``plan`` (a number: fixed slices of that many seconds).

    ``frames_per_slice`` overrides the plan's (how many of a slice's frames are read).
    """
    plan = as_plan(plan)
    per = plan.frames_per_slice if frames_per_slice is None else frames_per_slice
    edges = plan.frame_edges(clip.duration, clip.fps)
    out = []
    for k, (first, stop, read) in enumerate(zip(edges[:-1], edges[1:], plan.read_frames(clip.duration, clip.fps))):
        t = read / clip.fps  # the instant its frames and ground truth are read at (its start by default)
        objects = tuple(e for e in clip.objects if e.start <= t < e.end)
        out.append(Slice(
            index=k, start=first / clip.fps, end=stop / clip.fps, time=t,
            frames=tuple(range(read, min(read + per, stop))),
            samples=plan.window(first / clip.fps, clip.duration, clip.sample_rate), objects=objects,
            sounds=tuple(e for e in clip.sounds if e.start <= t < e.end),
            boxes=tuple(tuple(e.box_at(read, clip.fps)) for e in objects)))
    return out
