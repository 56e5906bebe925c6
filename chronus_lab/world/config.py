"""Configuration of the synthetic audio-visual world.

Built in ``notebooks/01_av_world.ipynb``; tested in ``tests/test_world.py``.

Real ChronusAV / AVFIT data are not available offline, so every task of both papers is posed on a
procedural world whose ground truth is exact. This dataclass is the only place its sizes live.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..errors import ConfigError, check_fields

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
        checks = [
            (0 < self.min_duration <= self.max_duration, "min_duration/max_duration",
             "need 0 < min_duration <= max_duration"),
            (self.fps >= 1, "fps", "need at least 1 frame per second"),
            (self.time_grid > 0 and abs(self.time_grid * self.fps - round(self.time_grid * self.fps)) < 1e-9
             and round(self.time_grid * self.fps) >= 1, "time_grid", "need a positive multiple of 1/fps"),
            (self.image_size >= 16, "image_size", "need at least 16 pixels"),
            (self.sample_rate >= 8000, "sample_rate", "need at least 8000 Hz"),
            (1 <= self.min_events <= self.max_events, "min_events/max_events",
             "need 1 <= min_events <= max_events"),
            (self.max_events <= min(len(self.shapes) * len(self.colours), len(self.sounds)),
             "max_events", "classes never repeat inside a clip, so it must be <= the number of classes"),
            (0 < self.min_event_s <= self.max_event_s <= self.min_duration, "min_event_s/max_event_s",
             "need 0 < min_event_s <= max_event_s <= min_duration"),
            (0 <= self.p_sounding and 0 <= self.p_silent and self.p_sounding + self.p_silent <= 1,
             "p_sounding/p_silent", "need two shares >= 0 that sum to <= 1"),
            (4 <= self.object_px[0] <= self.object_px[1] <= self.image_size // 2, "object_px",
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
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    @classmethod
    def tiny(cls) -> "WorldConfig":
        """The default: 8 s clips, 4 fps, 64 px, 16 kHz — what every notebook runs on a laptop."""
        return cls()

    @classmethod
    def varying(cls) -> "WorldConfig":
        """Clips of 6–10 s: the LLM's positions no longer encode time (used by notebook 04)."""
        return cls(min_duration=6.0, max_duration=10.0)
