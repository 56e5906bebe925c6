"""Sampling a clip's events and rendering its frames and audio, with exact ground truth.

Built in ``notebooks/01_av_world.ipynb``; tested in ``tests/test_world.py``.

Determinism: clip ``i`` of a dataset with seed ``s`` draws from ``np.random.default_rng([s, i])``
only, so any chunk of clips can be made in any process, in any order, with identical bytes.
"""
from __future__ import annotations

import numpy as np

from ..errors import SEED_MAX, ConfigError, is_seed
from .clip import Clip, Event
from .config import COLOURS, WorldConfig

BACKGROUND = np.array([28, 28, 32], dtype=np.uint8)
FADE_S = 0.005  # 5 ms ramps: no click at a sound's edges, and the ramp stays inside the span


# --- events ------------------------------------------------------------------------------------
def sample_events(cfg: WorldConfig, rng: np.random.Generator, duration: float) -> list[Event]:
    """Draw 2–4 events with random kinds, classes and spans on the frame grid.

    Classes never repeat inside a clip (so every question has one answer), the object↔sound
    pairing is drawn afresh per clip (only co-occurrence in time links them), and at least one
    event is ``"av"`` so that every cross-modal task can be posed.
    """
    n = int(rng.integers(cfg.min_events, cfg.max_events + 1))
    kinds = rng.choice(["av", "v", "a"], size=n,
                       p=[cfg.p_sounding, cfg.p_silent, 1 - cfg.p_sounding - cfg.p_silent]).tolist()
    if "av" not in kinds:
        kinds[int(rng.integers(n))] = "av"
    objects = rng.permutation(cfg.object_classes).tolist()
    sounds = rng.permutation(list(cfg.sounds)).tolist()
    grid = cfg.time_grid
    lengths = np.arange(cfg.min_event_s, cfg.max_event_s + 1e-9, grid)
    events = []
    for i, kind in enumerate(kinds):
        length = float(rng.choice(lengths))
        start = float(rng.integers(0, int(round((duration - length) / grid)) + 1)) * grid
        events.append(Event(id=i, kind=kind, start=round(start, 4), end=round(start + length, 4),
                            object=objects.pop() if kind in ("av", "v") else None,
                            sound=sounds.pop() if kind in ("av", "a") else None))
    return events


# --- frames ------------------------------------------------------------------------------------
def shape_mask(shape: str, cx: float, cy: float, r: float, size: int) -> np.ndarray:
    """Boolean ``(size, size)`` mask of a shape centred at (cx, cy) with half-size r, in pixels."""
    y, x = np.mgrid[0:size, 0:size] + 0.5  # pixel centres
    dx, dy = x - cx, y - cy
    if shape == "circle":
        return dx**2 + dy**2 <= r**2
    if shape == "square":
        return (np.abs(dx) <= 0.8 * r) & (np.abs(dy) <= 0.8 * r)
    if shape == "triangle":  # apex up; half-width grows linearly from the apex to the base
        return (dy >= -r) & (dy <= r) & (np.abs(dx) <= (dy + r) / 2)
    if shape == "cross":
        arm = r / 3
        return ((np.abs(dx) <= arm) & (np.abs(dy) <= r)) | ((np.abs(dy) <= arm) & (np.abs(dx) <= r))
    raise ValueError(f"unknown shape {shape!r}")


def mask_box(mask: np.ndarray) -> list[float]:
    """Tight normalised xyxy box of a mask's pixels (x1, y1 are exclusive edges)."""
    size = mask.shape[0]
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return [round(cols[0] / size, 4), round(rows[0] / size, 4),
            round((cols[-1] + 1) / size, 4), round((rows[-1] + 1) / size, 4)]


def render_frames(cfg: WorldConfig, rng: np.random.Generator, events: list[Event],
                  duration: float) -> np.ndarray:
    """Draw every visible event into ``(T, H, W, 3)`` uint8 frames and fill in its boxes.

    Each object moves in a straight line from one random point to another over its span; later
    events are drawn on top. A box is the tight box of the object's full (unoccluded) shape.
    """
    size, n_frames = cfg.image_size, int(round(duration * cfg.fps))
    frames = np.broadcast_to(BACKGROUND, (n_frames, size, size, 3)).copy()
    for ev in events:
        if not ev.object:
            continue
        colour, shape = ev.object.split(" ")
        r = float(rng.integers(cfg.object_px[0], cfg.object_px[1] + 1)) / 2
        lo, hi = r + 1, size - r - 1  # the whole shape stays inside the frame
        p0, p1 = rng.uniform(lo, hi, size=2), rng.uniform(lo, hi, size=2)
        first, last = ev.first_frame(cfg.fps), int(round(ev.end * cfg.fps))
        ev.boxes = []
        for j, f in enumerate(range(first, last)):
            a = j / max(last - first - 1, 1)
            cx, cy = p0 + a * (p1 - p0)
            mask = shape_mask(shape, cx, cy, r, size)
            frames[f][mask] = COLOURS[colour]
            ev.boxes.append(mask_box(mask))
    return frames


# --- audio -------------------------------------------------------------------------------------
def synth_sound(name: str, n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of a sound class, peak 1. Each class repeats within 0.25 s, so every 0.5 s
    time slice holds a recognisable piece of it (the model sees audio per slice)."""
    t = np.arange(n) / sr
    if name == "tone":
        x = np.sin(2 * np.pi * 440 * t)
    elif name == "chirp":  # upward sweeps 400 → 3200 Hz, 4 per second
        period = 0.25
        tau = t % period
        x = np.sin(2 * np.pi * (400 * tau + (3200 - 400) * tau**2 / (2 * period)))
    elif name == "noise":
        x = rng.standard_normal(n)
    elif name == "click":  # 20 decaying clicks per second: every 0.1 s holds two
        x = np.exp(-(t % (1 / 20)) / 0.005) * np.sign(np.sin(2 * np.pi * 2000 * t))
    elif name == "chord":  # a major triad
        x = sum(np.sin(2 * np.pi * f * t) for f in (330.0, 415.3, 493.9))
    elif name == "siren":  # FM: 900 ± 300 Hz at 4 Hz
        x = np.sin(2 * np.pi * 900 * t - 300 / 4 * np.cos(2 * np.pi * 4 * t))
    elif name == "buzz":  # a square wave, rich in odd harmonics
        x = np.sign(np.sin(2 * np.pi * 120 * t))
    elif name == "whistle":
        x = np.sin(2 * np.pi * 2600 * t + 0.5 * np.sin(2 * np.pi * 6 * t))
    else:
        raise ValueError(f"unknown sound {name!r}")
    return x / max(np.abs(x).max(), 1e-9)


def render_audio(cfg: WorldConfig, rng: np.random.Generator, events: list[Event],
                 duration: float) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Mix every audible event over a faint noise floor.

    Returns the mix (float32, on the int16 grid) and each event's own track (zero outside its
    span), which the tests and notebook 01 use to show where each sound's energy lies.
    """
    sr, n_total = cfg.sample_rate, int(round(duration * cfg.sample_rate))
    mix = cfg.noise_floor * rng.standard_normal(n_total, dtype=np.float32)
    tracks: dict[int, np.ndarray] = {}
    fade = int(FADE_S * sr)
    for ev in events:
        if not ev.sound:
            continue
        s, e = int(round(ev.start * sr)), int(round(ev.end * sr))
        x = synth_sound(ev.sound, e - s, sr, rng) * rng.uniform(0.15, 0.3)
        ramp = np.linspace(0.0, 1.0, fade)
        x[:fade] *= ramp
        x[-fade:] *= ramp[::-1]
        track = np.zeros(n_total)
        track[s:e] = x
        tracks[ev.id] = track
        mix += track
    return from_int16(to_int16(mix)), tracks


def to_int16(audio: np.ndarray) -> np.ndarray:
    """Float audio in [-1, 1] → int16 samples (how datasets store audio)."""
    return np.round(np.clip(audio, -1, 1) * 32767).astype(np.int16)


def from_int16(samples: np.ndarray) -> np.ndarray:
    """int16 samples → float32 audio. Clips are made through this too, so a save/load is lossless."""
    return samples.astype(np.float32) / np.float32(32767)


# --- a whole clip ------------------------------------------------------------------------------
def make_clip(cfg: WorldConfig, seed: int, index: int, with_tracks: bool = False):
    """Clip ``index`` of the dataset with ``seed``. With ``with_tracks``, also each sound's track."""
    for name, value in (("seed", seed), ("index", index)):  # numpy would say only "expected non-negative integer"
        if not is_seed(value):
            raise ConfigError(f"make_clip: {name} must be a whole number from 0 to {SEED_MAX:,}, not {value!r}")
    rng = np.random.default_rng([seed, index])
    # Durations lie on the time grid so that clips split into whole time slices.
    steps = np.arange(cfg.min_duration, cfg.max_duration + 1e-9, cfg.time_grid)
    duration = float(rng.choice(steps))
    events = sample_events(cfg, rng, duration)
    frames = render_frames(cfg, rng, events, duration)
    audio, tracks = render_audio(cfg, rng, events, duration)
    clip = Clip(clip_id=index, duration=duration, fps=cfg.fps, sample_rate=cfg.sample_rate,
                events=events, frames=frames, audio=audio)
    return (clip, tracks) if with_tracks else clip
