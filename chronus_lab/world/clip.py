"""A clip of the synthetic world and its events — the ground truth every task is computed from.

Built in ``notebooks/01_av_world.ipynb``; tested in ``tests/test_world.py``.

An *event* is one of three kinds:

* ``"av"`` — an object is visible *and* makes its sound over the same span (the cross-modal link);
* ``"v"``  — a silent object;
* ``"a"``  — an off-screen sound (a distractor: nothing visible makes it).

Times are seconds on the frame grid: frame ``i`` shows time ``i / fps``; an event covers
``start <= t < end``. Boxes are normalised ``[x0, y0, x1, y1]``, one per frame of the event's span.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

KINDS = ("av", "v", "a")


@dataclass
class Event:
    id: int
    kind: str
    """``"av"`` (object + its sound), ``"v"`` (silent object) or ``"a"`` (off-screen sound)."""
    start: float
    end: float
    object: str | None = None
    """``"<colour> <shape>"``, or None for an off-screen sound."""
    sound: str | None = None
    """A sound class, or None for a silent object."""
    boxes: list[list[float]] = field(default_factory=list)
    """One normalised xyxy box per frame in ``[start, end)``; empty for off-screen sounds."""

    @property
    def span(self) -> tuple[float, float]:
        return (self.start, self.end)

    def first_frame(self, fps: int) -> int:
        return int(round(self.start * fps))

    def box_at(self, frame: int, fps: int) -> list[float] | None:
        """The box in frame ``frame`` (an index into the clip), or None when not visible there."""
        j = frame - self.first_frame(fps)
        return self.boxes[j] if self.object and 0 <= j < len(self.boxes) else None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Event":
        return cls(**d)


def overlaps(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Length of the intersection of two spans (0 when disjoint)."""
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


@dataclass
class Clip:
    """One clip: its events (ground truth), frames ``(T, H, W, 3)`` uint8 and mono audio ``(N,)``."""

    clip_id: int
    duration: float
    fps: int
    sample_rate: int
    events: list[Event]
    frames: np.ndarray | None = None
    audio: np.ndarray | None = None
    """float32 in [-1, 1], on the int16 grid (so saving as int16 and loading back is lossless)."""

    # --- queries used by the task generators and the tests -------------------------------------
    @property
    def n_frames(self) -> int:
        return int(round(self.duration * self.fps))

    @property
    def objects(self) -> list[Event]:
        """Visible events (``"av"`` and ``"v"``), by start time."""
        return sorted((e for e in self.events if e.object), key=lambda e: (e.start, e.id))

    @property
    def sounds(self) -> list[Event]:
        """Audible events (``"av"`` and ``"a"``), by start time."""
        return sorted((e for e in self.events if e.sound), key=lambda e: (e.start, e.id))

    def visible_at(self, t: float) -> list[str]:
        """Object classes on screen at time ``t`` (sorted)."""
        return sorted(e.object for e in self.objects if e.start <= t < e.end)

    def heard_at(self, t: float) -> list[str]:
        """Sound classes audible at time ``t`` (sorted)."""
        return sorted(e.sound for e in self.sounds if e.start <= t < e.end)

    def by_object(self, name: str) -> Event:
        return next(e for e in self.events if e.object == name)

    def by_sound(self, name: str) -> Event:
        return next(e for e in self.events if e.sound == name)

    def annotation(self) -> dict:
        """Everything but the arrays: what a JSONL line of a saved dataset holds."""
        return {"clip_id": self.clip_id, "duration": self.duration, "fps": self.fps,
                "sample_rate": self.sample_rate, "events": [e.to_dict() for e in self.events]}
