"""Configuration of the synthetic audio-visual world.

Built in ``notebooks/01_av_world.ipynb``; tested in ``tests/test_world.py``.

Real ChronusAV / AVFIT data are not available offline, so every task of both papers is posed on a
procedural world whose ground truth is exact. This dataclass is the only place its sizes live.
"""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, replace

from ..errors import ConfigError, check_fields
from ..typed import check_types

# Object classes are "<colour> <shape>"; colours are far apart in RGB so a tiny encoder can tell them.
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "cross")
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (230, 40, 40),
    "green": (40, 200, 60),
    "blue": (50, 90, 240),
    "yellow": (240, 220, 40),
}
# Sound classes: each has a distinct spectro-temporal signature (see scene.py: synth_sound).
SOUNDS: tuple[str, ...] = ("tone", "chirp", "noise", "click", "chord", "siren", "buzz", "whistle")

MAX_DURATION = 3600.0
"""An hour: the longest clip a config may ask for (absurd values fail early, not in numpy)."""


def on_grid(seconds: float, grid: float) -> bool:
    """``seconds`` is a whole number of ``grid`` steps (to float error); False for nan/inf or a bad grid."""
    try:
        steps = seconds / grid
        return math.isfinite(steps) and abs(steps - round(steps)) < 1e-6
    except (TypeError, ZeroDivisionError):
        return False


@dataclass
class WorldConfig:
    """Sizes and rates of one synthetic clip family. All times are seconds."""

    min_duration: float = 8.0
    """Shortest clip. Equal to ``max_duration`` for fixed-length clips (the default, ~8 s)."""
    max_duration: float = 8.0
    """Longest clip. Varying lengths break the position ↔ time link (see notebook 04)."""
    fps: int = 4
    """Video frames per second."""
    time_grid: float = 0.5
    """Event boundaries and clip durations lie on this grid (a multiple of 1/fps, so boxes are
    exact per frame; equal to the default time slice, so every time format can state them)."""
    image_size: int = 64
    """Frames are ``image_size × image_size`` RGB, uint8."""
    sample_rate: int = 16_000
    """Mono audio rate in Hz (CLAP and Whisper both expect 16 kHz at the encoder's input)."""
    min_events: int = 2
    """Fewest events per clip (visible-and-sounding, silent objects, off-screen sounds)."""
    max_events: int = 4
    """Most events per clip. Object and sound classes never repeat inside a clip."""
    min_event_s: float = 1.0
    """Shortest event span."""
    max_event_s: float = 3.5
    """Longest event span."""
    p_sounding: float = 0.5
    """Share of events that are an object *and* its sound (the cross-modal link)."""
    p_silent: float = 0.25
    """Share of events that are a silent object; the rest are off-screen distractor sounds."""
    object_px: tuple[int, int] = (12, 22)
    """Range of an object's size in pixels (its bounding square)."""
    noise_floor: float = 0.003
    """Std of the background hiss; sounds are 20–60× louder, so "absent" is measurable."""
    shapes: tuple[str, ...] = SHAPES
    colours: tuple[str, ...] = tuple(COLOURS)
    sounds: tuple[str, ...] = SOUNDS
    extra: dict = field(default_factory=dict)
    """Free-form notes stored with a dataset's manifest (e.g. who made it, for what)."""

    def __post_init__(self) -> None:
        check_types(self, "WorldConfig")
        checks = [
            (0 < self.min_duration <= self.max_duration <= MAX_DURATION, "min_duration/max_duration",
             f"need 0 < min_duration <= max_duration <= {MAX_DURATION:g} s (got {self.min_duration!r}, "
             f"{self.max_duration!r})"),
            (1 <= self.fps <= 120, "fps", f"need 1 to 120 frames per second (got {self.fps!r})"),
            (self.time_grid > 0 and abs(self.time_grid * self.fps - round(self.time_grid * self.fps)) < 1e-9
             and round(self.time_grid * self.fps) >= 1, "time_grid", "need a positive multiple of 1/fps"),
            (all(on_grid(d, self.time_grid) for d in (self.min_duration, self.max_duration)),
             "min_duration/max_duration", f"clips split into whole time slices, so their lengths lie on the "
             f"{self.time_grid:g} s time grid (got {self.min_duration!r}, {self.max_duration!r}; e.g. 4-5s, not 4.25-4.75s)"),
            (16 <= self.image_size <= 1024, "image_size", f"need 16 to 1024 pixels (got {self.image_size!r})"),
            (8000 <= self.sample_rate <= 192_000, "sample_rate", f"need 8000 to 192000 Hz (got {self.sample_rate!r})"),
            (1 <= self.min_events <= self.max_events, "min_events/max_events",
             "need 1 <= min_events <= max_events"),
            (self.max_events <= min(len(self.shapes) * len(self.colours), len(self.sounds)),
             "max_events", "classes never repeat inside a clip, so it must be <= the number of classes "
             f"({min(len(self.shapes) * len(self.colours), len(self.sounds))}; got {self.max_events})"),
            (0 < self.min_event_s <= self.max_event_s <= self.min_duration, "min_event_s/max_event_s",
             "need 0 < min_event_s <= max_event_s <= min_duration"),
            (math.isfinite(self.noise_floor) and 0 <= self.noise_floor < 0.5, "noise_floor", "need 0 <= noise_floor < 0.5"),
            (0 <= self.p_sounding and 0 <= self.p_silent and self.p_sounding + self.p_silent <= 1,
             "p_sounding/p_silent", "need two shares >= 0 that sum to <= 1"),
            (len(self.object_px) == 2 and 4 <= self.object_px[0] <= self.object_px[1] <= self.image_size // 2, "object_px",
             "need 4 <= min <= max <= image_size // 2"),
            (all(c in COLOURS for c in self.colours), "colours", f"known colours: {sorted(COLOURS)}"),
            (all(s in SHAPES for s in self.shapes), "shapes", f"known shapes: {list(SHAPES)}"),
            (all(s in SOUNDS for s in self.sounds), "sounds", f"known sounds: {list(SOUNDS)}"),
        ]
        check_fields("WorldConfig", checks)
        self.object_px = tuple(self.object_px)
        self.shapes, self.colours, self.sounds = tuple(self.shapes), tuple(self.colours), tuple(self.sounds)

    @property
    def object_classes(self) -> list[str]:
        """Every ``"<colour> <shape>"`` the world can draw, in a fixed order."""
        return [f"{c} {s}" for c in self.colours for s in self.shapes]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "WorldConfig":
        """Strict: a mapping of known fields only, each of its declared type (what a manifest holds)."""
        if not isinstance(d, dict):
            raise ConfigError(f"WorldConfig: expected a mapping of fields, got {type(d).__name__}")
        unknown = sorted(set(d) - set(cls.__dataclass_fields__))
        if unknown:
            raise ConfigError(f"WorldConfig: unknown field(s) {unknown}; known: {sorted(cls.__dataclass_fields__)}")
        return cls(**d)

    @classmethod
    def tiny(cls) -> "WorldConfig":
        """The default: 8 s clips, 4 fps, 64 px, 16 kHz — what every notebook runs on a laptop."""
        return cls()

    @classmethod
    def varying(cls) -> "WorldConfig":
        """Clips of 6–10 s: the LLM's positions no longer encode time (used by notebook 04)."""
        return cls(min_duration=6.0, max_duration=10.0)

    @classmethod
    def lengths(cls, shortest: float, longest: float) -> "WorldConfig":
        """Clips from ``shortest`` to ``longest`` seconds (e.g. 4–24 s); events as in the default world,
        no longer than the shortest clip."""
        return cls(min_duration=shortest, max_duration=longest,
                   min_event_s=min(cls.min_event_s, shortest), max_event_s=min(cls.max_event_s, shortest))

    @classmethod
    def named(cls, name: str) -> "WorldConfig":
        """The world a config names (``data.world``): ``"tiny"``, ``"varying"`` or a range of clip lengths
        ``"<shortest>-<longest>s"`` (``"4-12s"``) or one length (``"12s"``), optionally with a range of events per clip after a comma
        (``"tiny, 5-6 events"``: more events than the default 2–4; ``"tiny, 3 events"``: exactly 3) — the one place
        that choice is made."""
        lengths, _, events = str(name).partition(",")
        world = cls._named_lengths(lengths, name)
        if not events:
            return world
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?events?\s*", events)
        if not m:
            raise ConfigError(f"data.world is {name!r}; after the comma give the events per clip, a range like "
                              "'tiny, 5-6 events' or one number like 'tiny, 3 events'")
        try:
            return replace(world, min_events=int(m.group(1)), max_events=int(m.group(2) or m.group(1)))
        except ConfigError as e:
            raise ConfigError(f"data.world {name!r}: {e}") from None

    @classmethod
    def _named_lengths(cls, lengths: str, name: str) -> "WorldConfig":
        worlds = {"tiny": cls.tiny, "varying": cls.varying}
        if lengths.strip() in worlds:
            return worlds[lengths.strip()]()
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(?:-\s*(\d+(?:\.\d+)?)\s*)?s\s*", lengths)
        if not m:
            raise ConfigError(f"data.world is {name!r}; use one of {sorted(worlds)}, a range of clip lengths "
                              "like '4-12s' or one length like '12s', optionally followed by a range of events "
                              "like ', 5-6 events'")
        try:
            return cls.lengths(float(m.group(1)), float(m.group(2) or m.group(1)))
        except ConfigError as e:
            raise ConfigError(f"data.world {name!r}: {e}") from None
