"""Questions and answers about a clip, for every task of both papers, computed from its events.

Built in ``notebooks/01_av_world.ipynb``; tested in ``tests/test_tasks.py``.

ChronusAV-style (ChronusOmni §3; the released code's six directions v2t, a2t, t2v, t2a, v2a, a2v):
  ``t2v``/``t2a``  time → what is seen / heard           (explicit grounding, time → what)
  ``v2t``/``a2t``  object / sound → its span              (explicit grounding, what → time)
  ``a2v``/``v2a``  sound → the object seen with it; object → the sound heard with it (implicit)
  ``xspan``        span of a cross-modal event: "the chirp while the red circle is on screen"
  ``order``        which of two events starts first
MeerkatBench-style (Meerkat §4): ``arig`` audio → box, ``igatl`` image region → span of its sound,
``avfc`` true/false (spatial, temporal, both, global), ``avqa`` counting, ``avcap`` captioning.

Each task is ``(question, answer, target)``: the text pair the LLM trains on, and the structured
ground truth that metrics and rewards use. Times are written only through a ``TimeFormat``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .time_format import TextTime, TimeFormat
from ..errors import ConfigError
from .clip import Clip, Event, overlaps
from .slices import slice_times

CHRONUS_KINDS = ("t2v", "t2a", "v2t", "a2t", "a2v", "v2a", "xspan", "order")
MEERKAT_KINDS = ("arig", "igatl", "avfc", "avqa", "avcap")
KINDS = CHRONUS_KINDS + MEERKAT_KINDS
AVFC_TYPES = ("spatial", "temporal", "both", "global")
NOTHING = "nothing"


@dataclass
class Task:
    clip_id: int
    kind: str
    question: str
    answer: str
    target: dict

    @property
    def family(self) -> str:
        return "chronus" if self.kind in CHRONUS_KINDS else "meerkat"

    def to_dict(self) -> dict:
        return asdict(self)


def format_box(box) -> str:
    """Boxes are written as Meerkat does: normalised xyxy, two decimals."""
    return "[" + ", ".join(f"{v:.2f}" for v in box) + "]"


def join_labels(labels: list[str]) -> str:
    return " and ".join(labels) if labels else NOTHING


def _instants(ev: Event, fmt: TimeFormat, at) -> list[float]:
    """The moments inside ``ev`` a question may ask about: the instants the model sees (``at``, its slices'
    times: between them it has no frame) when given, else the time grid (``fmt.quantum``)."""
    if at is None:
        return [float(t) for t in np.arange(ev.start, ev.end - 1e-9, fmt.quantum)]
    return [t for t in at if ev.start <= t < ev.end]


def _name(ev: Event, modality: str) -> str:
    return f"the {ev.object}" if modality == "v" else f"the {ev.sound} sound"


# --- ChronusAV-style ---------------------------------------------------------------------------
def _t2x(clip: Clip, rng, fmt: TimeFormat, at, modality: str) -> Task | None:
    pool = [e for e in (clip.objects if modality == "v" else clip.sounds) if _instants(e, fmt, at)]
    if not pool:
        return None
    ev = pool[int(rng.integers(len(pool)))]
    ticks = _instants(ev, fmt, at)
    t = ticks[int(rng.integers(len(ticks)))]
    labels = clip.visible_at(t) if modality == "v" else clip.heard_at(t)
    verb = "is on screen" if modality == "v" else "is heard"
    return Task(clip.clip_id, f"t2{modality}", f"What {verb} at {fmt.time(t)}?", join_labels(labels),
                {"time": t, "labels": labels})


def _x2t(clip: Clip, rng, fmt: TimeFormat, modality: str) -> Task | None:
    pool = clip.objects if modality == "v" else clip.sounds
    ev = pool[int(rng.integers(len(pool)))]
    verb = "on screen" if modality == "v" else "heard"
    return Task(clip.clip_id, f"{modality}2t", f"When is {_name(ev, modality)} {verb}?",
                fmt.span(ev.start, ev.end), {"span": [ev.start, ev.end], "event": ev.id})


def _a2v(clip: Clip, rng, fmt: TimeFormat) -> Task | None:
    pairs = [e for e in clip.events if e.kind == "av"]
    ev = pairs[int(rng.integers(len(pairs)))]
    return Task(clip.clip_id, "a2v", f"When the {ev.sound} sound is heard, what appears with it?",
                ev.object, {"labels": [ev.object], "event": ev.id})


def _v2a(clip: Clip, rng, fmt: TimeFormat) -> Task | None:
    ev = clip.objects[int(rng.integers(len(clip.objects)))]
    label = [ev.sound] if ev.sound else []
    return Task(clip.clip_id, "v2a", f"What sound does the {ev.object} make?",
                ev.sound or NOTHING, {"labels": label, "event": ev.id})


def _xspan(clip: Clip, rng, fmt: TimeFormat) -> Task | None:
    """The span where a sound and a *different* visible object co-occur: needs both modalities."""
    pairs = [(a, v) for a in clip.sounds for v in clip.objects
             if a.id != v.id and overlaps(a.span, v.span) >= fmt.quantum]
    if not pairs:
        return None
    a, v = pairs[int(rng.integers(len(pairs)))]
    s, e = max(a.start, v.start), min(a.end, v.end)
    return Task(clip.clip_id, "xspan", f"When is the {a.sound} sound heard while the {v.object} is on screen?",
                fmt.span(s, e), {"span": [s, e], "events": [a.id, v.id]})


def _order(clip: Clip, rng, fmt: TimeFormat) -> Task | None:
    named = [(e, "v") for e in clip.objects] + [(e, "a") for e in clip.sounds if e.kind == "a"]
    pairs = [(x, y) for i, x in enumerate(named) for y in named[i + 1:] if x[0].start != y[0].start]
    if not pairs:
        return None
    x, y = pairs[int(rng.integers(len(pairs)))]
    if rng.random() < 0.5:
        x, y = y, x
    first = min((x, y), key=lambda p: p[0].start)
    nx, ny, nf = _name(*x), _name(*y), _name(*first)
    return Task(clip.clip_id, "order", f"Which starts first: {nx} or {ny}?", nf,
                {"labels": [nf.removeprefix("the ")], "events": [x[0].id, y[0].id]})


# --- MeerkatBench-style ------------------------------------------------------------------------
def _seen_sources(clip: Clip, fmt: TimeFormat, at) -> list[Event]:
    """The sounding objects a question about one frame may ask after: on screen at an instant the model sees."""
    return [e for e in clip.events if e.kind == "av" and _instants(e, fmt, at)]


def _random_frame(ev: Event, clip: Clip, rng, fmt: TimeFormat, at) -> tuple[float, int]:
    """A moment inside the event that the model sees, and the frame shown then."""
    ticks = _instants(ev, fmt, at)
    t = ticks[int(rng.integers(len(ticks)))]
    return t, int(round(t * clip.fps))


def _arig(clip: Clip, rng, fmt: TimeFormat, at) -> Task | None:
    avs = _seen_sources(clip, fmt, at)
    if not avs:
        return None
    ev = avs[int(rng.integers(len(avs)))]
    t, f = _random_frame(ev, clip, rng, fmt, at)
    box = ev.box_at(f, clip.fps)
    return Task(clip.clip_id, "arig", f"At {fmt.time(t)}, where is the source of the {ev.sound} sound?",
                format_box(box), {"time": t, "frame": f, "box": box, "event": ev.id})


def _igatl(clip: Clip, rng, fmt: TimeFormat, at) -> Task | None:
    avs = _seen_sources(clip, fmt, at)
    if not avs:
        return None
    ev = avs[int(rng.integers(len(avs)))]
    t, f = _random_frame(ev, clip, rng, fmt, at)
    box = ev.box_at(f, clip.fps)
    return Task(clip.clip_id, "igatl",
                f"In the frame at {fmt.time(t)}, when is the object at {format_box(box)} heard?",
                fmt.span(ev.start, ev.end), {"span": [ev.start, ev.end], "frame": f, "event": ev.id})


def _moved_span(span, duration: float, grid: float, rng) -> tuple[float, float] | None:
    """A span of the same length inside the clip that overlaps the true one as little as it can;
    None when the span fills the clip (there is no other place for it)."""
    length = span[1] - span[0]
    starts = np.arange(0.0, duration - length + 1e-9, grid)
    cands = [(float(s), float(s) + length) for s in starts if abs(s - span[0]) > 1e-9]
    if not cands:
        return None
    least = min(overlaps(c, span) for c in cands)
    cands = [c for c in cands if overlaps(c, span) <= least + 1e-9]
    return cands[int(rng.integers(len(cands)))]


def _moved_box(box, rng, step: float = 1 / 16) -> list[float]:
    """A box of the same size inside the frame that overlaps the true one as little as it can.

    Mirroring the box through the centre (the first version) left an object near the centre with a
    "false" box that nearly is the true one; a false claim must be visibly false.
    """
    w, h = box[2] - box[0], box[3] - box[1]
    xs, ys = np.arange(0.0, 1 - w + 1e-9, step), np.arange(0.0, 1 - h + 1e-9, step)
    cands = [[round(float(x), 4), round(float(y), 4), round(float(x + w), 4), round(float(y + h), 4)]
             for x in xs for y in ys]
    area = lambda b: max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])  # noqa: E731
    inter = [area([max(c[0], box[0]), max(c[1], box[1]), min(c[2], box[2]), min(c[3], box[3])]) for c in cands]
    least = min(inter)
    cands = [c for c, i in zip(cands, inter) if i <= least + 1e-9]
    return cands[int(rng.integers(len(cands)))]


def _avfc(clip: Clip, rng, fmt: TimeFormat, at) -> Task | None:
    """True/false over four types; half the claims are true, the false ones change one thing."""
    avs = _seen_sources(clip, fmt, at)
    if not avs:
        return None
    ev = avs[int(rng.integers(len(avs)))]
    kind = AVFC_TYPES[int(rng.integers(len(AVFC_TYPES)))]
    truth = bool(rng.random() < 0.5)
    t, f = _random_frame(ev, clip, rng, fmt, at)
    box, span = ev.box_at(f, clip.fps), (ev.start, ev.end)
    wrong_box = _moved_box(box, rng)
    wrong_span = _moved_span(span, clip.duration, fmt.quantum, rng)
    if wrong_span is None and kind == "temporal":  # a sound that fills the clip has no false time: ask where
        kind = "spatial"
    if kind == "spatial":
        b = box if truth else wrong_box
        q = f"At {fmt.time(t)}, the {ev.sound} sound comes from the object at {format_box(b)}."
    elif kind == "temporal":
        s = span if truth else wrong_span
        q = f"The {ev.sound} sound is heard {fmt.span(*s)}."
    elif kind == "both":
        b, s = (box, span) if truth else ((wrong_box, span) if rng.random() < 0.5 or wrong_span is None
                                          else (box, wrong_span))
        q = f"The object at {format_box(b)} at {fmt.time(t)} makes the {ev.sound} sound, heard {fmt.span(*s)}."
    else:  # global: does this object make this sound anywhere in the clip?
        others = [e.sound for e in clip.sounds if e.sound != ev.sound] + ["nothing"]
        snd = ev.sound if truth else others[int(rng.integers(len(others)))]
        q = (f"The {ev.object} makes the {snd} sound." if snd != "nothing"
             else f"The {ev.object} makes no sound.")
    truth_text = "true" if truth else "false"
    return Task(clip.clip_id, "avfc", q + " True or false?", truth_text,
                {"label": truth_text, "type": kind, "event": ev.id})


def _avqa(clip: Clip, rng, fmt: TimeFormat) -> Task | None:
    questions = {
        "How many objects appear in the clip?": len(clip.objects),
        "How many different sounds are heard?": len(clip.sounds),
        "How many sounds come from something off screen?": sum(e.kind == "a" for e in clip.events),
        "How many objects are silent?": sum(e.kind == "v" for e in clip.events),
    }
    q = list(questions)[int(rng.integers(len(questions)))]
    return Task(clip.clip_id, "avqa", q, str(questions[q]), {"label": str(questions[q])})


def describe(ev: Event) -> str:
    if ev.kind == "av":
        return f"a {ev.object} appears with a {ev.sound} sound"
    if ev.kind == "v":
        return f"a {ev.object} appears silently"
    return f"a {ev.sound} sound is heard off screen"


def _avcap(clip: Clip, rng, fmt: TimeFormat) -> Task | None:
    events = sorted(clip.events, key=lambda e: (e.start, e.id))
    caption = "; then ".join(describe(e) for e in events) + "."
    caption = caption[0].upper() + caption[1:]
    return Task(clip.clip_id, "avcap", "Describe the clip.", caption, {"caption": caption})


GENERATORS = {
    "t2v": lambda c, r, f, at: _t2x(c, r, f, at, "v"), "t2a": lambda c, r, f, at: _t2x(c, r, f, at, "a"),
    "v2t": lambda c, r, f: _x2t(c, r, f, "v"), "a2t": lambda c, r, f: _x2t(c, r, f, "a"),
    "a2v": _a2v, "v2a": _v2a, "xspan": _xspan, "order": _order,
    "arig": _arig, "igatl": _igatl, "avfc": _avfc, "avqa": _avqa, "avcap": _avcap,
}
AT_A_MOMENT = ("t2v", "t2a", "arig", "igatl", "avfc")
"""Kinds whose question names one moment of the clip: they ask only at instants the model sees."""


def make_task(clip: Clip, kind: str, seed: int = 0, fmt: TimeFormat | None = None, plan=None) -> Task | None:
    """One task of ``kind`` about ``clip`` (None when the clip cannot pose it, e.g. no overlap).

    ``plan``: the model's slice plan. A question about one moment (``AT_A_MOMENT``) then asks only at an
    instant the model sees (``slice_times(clip, plan)``): with uniform slices it has no frame between
    them, with Meerkat's one image only the middle one. None: any moment on the ``fmt.quantum`` grid
    (the moments of the default 0.5 s slices). Deterministic in ``(seed, clip_id, kind)``, independent
    of which other tasks are made.
    """
    if kind not in GENERATORS:
        raise ConfigError(f"unknown task kind {kind!r}; choose from {list(KINDS)}")
    rng = np.random.default_rng([seed, clip.clip_id, KINDS.index(kind)])
    fmt = fmt or TextTime()
    if kind not in AT_A_MOMENT:
        return GENERATORS[kind](clip, rng, fmt)
    return GENERATORS[kind](clip, rng, fmt, None if plan is None else slice_times(clip, plan))


def make_tasks(clip: Clip, kinds=KINDS, seed: int = 0, fmt: TimeFormat | None = None, plan=None) -> list[Task]:
    """One task per kind that the clip can pose."""
    return [t for k in kinds if (t := make_task(clip, k, seed, fmt, plan)) is not None]
