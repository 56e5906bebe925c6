"""What happens in time slice k of a clip: its frames, its audio samples, what is seen and heard.

Built in ``notebooks/02_encoders.ipynb`` (per-slice features) and used by every consumer of a
slice — the encoders, the stage-0 captions, AVACE's boxes, the probes and the experiments;
tested in ``tests/test_world.py``.

A clip of ``duration`` seconds is cut into ``S = round(duration / slice_s)`` slices; slice k covers
``[k·slice_s, (k+1)·slice_s)``. What a slice *shows* is read at its first instant (the frame
``round(k·slice_s·fps)``): on the world's 0.5 s grid every event boundary falls on a slice edge, so
that instant speaks for the whole slice.
"""
from __future__ import annotations

from dataclasses import dataclass

from .clip import Clip, Event


@dataclass(frozen=True)
class Slice:
    """Slice ``index`` of a clip: where it lies in the arrays, and the ground truth at its start."""

    index: int
    start: float
    end: float
    frames: tuple[int, ...]
    """Indices of the frames that fall in the slice (``frames[0]`` is the one that speaks for it)."""
    samples: tuple[int, int]
    """``[lo, hi)`` audio sample range of the slice."""
    objects: tuple[Event, ...]
    """Visible events (``"av"``, ``"v"``) at ``start``, ordered by (start, id) as ``Clip.objects``."""
    sounds: tuple[Event, ...]
    """Audible events (``"av"``, ``"a"``) at ``start``, ordered as ``Clip.sounds``."""
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


def n_slices(duration: float, slice_s: float) -> int:
    """Slices in a clip of ``duration`` seconds.

    >>> n_slices(8.0, 0.5)
    16
    """
    return int(round(duration / slice_s))


def slices(clip: Clip, slice_s: float = 0.5, frames_per_slice: int | None = None) -> list[Slice]:
    """Every slice of ``clip``. ``frames_per_slice`` caps how many of the slice's frames are listed."""
    out = []
    step = int(round(slice_s * clip.fps))  # frames per slice
    per = step if frames_per_slice is None else min(frames_per_slice, step)
    width = int(round(slice_s * clip.sample_rate))
    for k in range(n_slices(clip.duration, slice_s)):
        t = k * slice_s
        first = int(round(t * clip.fps))
        objects = tuple(e for e in clip.objects if e.start <= t < e.end)
        out.append(Slice(
            index=k, start=t, end=t + slice_s, frames=tuple(range(first, first + per)),
            samples=(k * width, (k + 1) * width), objects=objects,
            sounds=tuple(e for e in clip.sounds if e.start <= t < e.end),
            boxes=tuple(tuple(e.box_at(first, clip.fps)) for e in objects)))
    return out
