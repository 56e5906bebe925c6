"""The explorer's view model: what every panel shows, as plain data (arrays, spans, strings).

Built in ``notebooks/09_explorer.ipynb``; tested in ``tests/test_explorer.py``.

The widget layer (``viz/explorer.py``) only draws what this module returns, so everything a
student sees can be checked without a browser — the split that makes ecco's and bertviz's views
testable. Three questions, three methods:

* ``ClipView.at(t)`` — *what does the model get at time t?* The slice holding t, its frame and
  boxes, what is seen and heard, the positions of its ``[time, visual…, audio…]`` group in the
  token strip, and two looks inside: the audio→patch attention map and the OT plan between the
  slice's audio and patch tokens.
* ``ClipView.ask(kind)`` — *what does it answer?* A task of that kind about the clip, the model's
  greedy answer, both parsed (span, box or label) and the task's own metric.
* ``ClipView.spectrogram()`` / ``rows()`` — the clip's sound and its events, for the timeline.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from ..align.avace import box_mask, mass_inside
from ..align.ot import cosine_cost, sinkhorn_log
from ..errors import DataError
from ..eval.harness import MAX_NEW_TOKENS, PRIMARY, SPAN_KINDS, score
from ..eval.metrics import parse_box
from ..model.omni import collate
from ..model.timestamps import MODALITY_NAMES, TIME
from ..world.clip import Clip
from ..world.config import COLOURS, WorldConfig
from ..world.scene import make_clip
from ..world.slices import Slice, slices
from ..world.tasks import KINDS, make_task

SIMILARITY_TEMPERATURE = 0.1
"""Softmax temperature of the parameter-free audio→patch map (cosine similarities lie in [-1, 1])."""


@dataclass
class Token:
    """One position of the clip part of the input: what it is and which slice it belongs to."""

    text: str
    """``<t_3>`` or ``second{1.5}`` for a time token, ``v`` / ``a`` for a projected feature."""
    modality: str
    """``"time"``, ``"vision"`` or ``"audio"``."""
    slice: int


@dataclass
class SliceState:
    """Everything the panels show at one time ``t``."""

    t: float
    slice: Slice
    frame: np.ndarray
    """``(H, W, 3)`` uint8: the frame that speaks for the slice (``slice.frames[0]``)."""
    boxes: list[tuple[str, list[float], bool]]
    """``(object, normalised xyxy box, sounding?)`` for every object on screen."""
    highlight: list[int]
    """Indices into ``ClipView.tokens`` of this slice's ``[time, visual…, audio…]`` group."""
    attention: np.ndarray
    """``(grid, grid)``: where the slice's audio looks among the patches (sums to 1)."""
    attention_kind: str
    """Which map: the checkpoint's learned AVACE attention, or cosine similarity of projected tokens."""
    mass_in_box: float | None
    """Share of ``attention`` inside the sounding object's box (None when nothing visible sounds)."""
    plan: np.ndarray
    """``(audio tokens, patches)``: the entropic OT plan between the slice's two token sets."""

    @property
    def grid(self) -> int:
        return self.attention.shape[0]


@dataclass
class Answer:
    """One question about the clip, the model's answer and the truth, parsed and scored."""

    kind: str | None
    """The task kind, or None for a typed question (no truth, no metric)."""
    question: str
    answer: str
    truth: str | None = None
    predicted: object = None
    """The answer read back: a span ``(s, e)`` in seconds, a box, or the normalised text."""
    target: object = None
    metric: str | None = None
    value: float | None = None
    extra: dict = field(default_factory=dict)


class ExplorerView:
    """A model (a trained checkpoint, or the untrained recipe) and the clips it is shown."""

    def __init__(self, module, source: str, trained: bool):
        self.module = module.eval()
        self.model = module.model
        self.cfg = module.cfg
        self.source, self.trained = source, trained
        self._clips: dict[tuple[int, int], ClipView] = {}

    @classmethod
    def from_checkpoint(cls, path) -> "ExplorerView":
        """A checkpoint written by ``chronus-lab train`` (or ``rl``): one clear error when it is not one."""
        from ..train.module import load_checkpoint

        module = load_checkpoint(path)
        return cls(module, f"checkpoint {path} (epoch {module.loaded_from['epoch']})", trained=True)

    @classmethod
    def shipped(cls, name: str = "grounding") -> "ExplorerView":
        """The checkpoint shipped in ``assets/tiny`` (trained with its recipe; its card holds the table)."""
        from ..train.ship import card_path, read_card, shipped

        path = shipped(name)
        view = cls.from_checkpoint(path)
        card = read_card(card_path(name))
        rows = {r["task"]: r for r in card["table"] if r["who"] == "model"}
        said = [f"{task.split()[0]} {metric} {rows[task][metric]:.3f}" for task, metric in
                (("explicit (v2t+a2t)", "mIoU"), ("implicit (a2v+v2a)", "acc")) if task in rows]
        view.source = (f"the shipped {name} model ({path.name}, step {card['global_step']}; on held-out clips: "
                       f"{', '.join(said) or 'see ' + card_path(name).name})")
        return view

    @classmethod
    def untrained(cls, recipe: str = "tiny-grounding", overrides=()) -> "ExplorerView":
        """The recipe's model before SFT: the base encoders and LLM, random projectors and adapters."""
        from ..train.config import TrainConfig
        from ..train.module import build_module

        cfg = TrainConfig.load(recipe, list(overrides))
        torch.manual_seed(cfg.seed)
        return cls(build_module(cfg), f"recipe {recipe}, untrained", trained=False)

    @property
    def note(self) -> str:
        """What a student should know about the answers before reading them."""
        if self.trained:
            return f"Model: {self.source}."
        return (f"Model: {self.source} — its projectors and adapters are random, so its answers are noise. "
                "Train one (`chronus-lab train --config tiny-grounding`) and open it with "
                "`chronus-lab explore --ckpt runs/tiny-grounding/checkpoints/last.ckpt`.")

    @property
    def world(self) -> WorldConfig:
        return WorldConfig.named(self.cfg.data.world)

    @property
    def test_seed(self) -> int:
        """The world seed of the config's test split: clips the model never trained on."""
        return self.cfg.data.seeds[2]

    @property
    def kinds(self) -> tuple[str, ...]:
        """Task kinds to offer: those the model was evaluated on first, then the rest."""
        first = tuple(self.cfg.data.eval_kinds)
        return first + tuple(k for k in KINDS if k not in first)

    def open(self, seed: int | None = None, index: int = 0) -> "ClipView":
        """Clip ``index`` of the world with ``seed`` (default: the test split's), features computed once."""
        seed = self.test_seed if seed is None else int(seed)
        if not (isinstance(index, (int, np.integer)) and 0 <= index < 10**9):
            raise DataError(f"clip index must be a whole number from 0 (got {index!r})")
        key = (seed, int(index))
        if key not in self._clips:
            self._clips[key] = ClipView(self, make_clip(self.world, seed, int(index)), seed)
        return self._clips[key]


class ClipView:
    """One clip as the model sees it; answers ``at(t)`` and ``ask(kind)``."""

    def __init__(self, view: ExplorerView, clip: Clip, seed: int):
        self.view, self.clip, self.seed = view, clip, seed
        model = view.model
        self.plan = model.cfg.plan
        self.slices = slices(clip, self.plan)
        with torch.no_grad():
            self.features = model.encoders.clip_features(clip)
            self._maps = self._look_inside()
        self.tokens = self._tokens()

    # --- the token strip ---------------------------------------------------------------------------
    def _tokens(self) -> list[Token]:
        """The clip part of the model's input, position by position (the question is not shown)."""
        model = self.view.model
        lay = model.layouts({"times": [[s.time for s in self.slices]], "questions": [""]})[0]
        out = []
        for tid, mod, k in zip(lay.ids, lay.modality, lay.slice_idx):
            if k < 0:
                continue
            text = model.tokenizer.decode([tid]) if mod == TIME else MODALITY_NAMES[mod][0]
            out.append(Token(text.strip(), MODALITY_NAMES[mod], int(k)))
        return out

    # --- time -> slice -----------------------------------------------------------------------------
    def slice_at(self, t: float) -> Slice:
        """The slice whose ``[start, end)`` holds ``t``; the last slice holds the clip's end."""
        if not (isinstance(t, (int, float)) and math.isfinite(t) and 0 <= t <= self.clip.duration):
            raise DataError(f"time {t!r} is outside the clip: pick a time from 0 to {self.clip.duration} s")
        inside = [s for s in self.slices if s.start <= t + 1e-9]  # slices start in order
        return inside[-1]

    def at(self, t: float) -> SliceState:
        s = self.slice_at(t)
        sounding = set(id(e) for e in s.sounding)
        boxes = [(e.object, [float(x) for x in b], id(e) in sounding) for e, b in zip(s.objects, s.boxes)]
        attn, plan, kind = self._maps["attention"][s.index], self._maps["plan"][s.index], self._maps["kind"]
        inside = None
        if s.sounding_box is not None:
            mask = box_mask(torch.tensor([s.sounding_box]), attn.shape[0])
            inside = float(mass_inside(torch.as_tensor(attn).reshape(1, -1), mask)[0])
        return SliceState(t=float(t), slice=s, frame=self.clip.frames[s.frame], boxes=boxes,
                          highlight=[i for i, tok in enumerate(self.tokens) if tok.slice == s.index],
                          attention=attn, attention_kind=kind, mass_in_box=inside, plan=plan)

    # --- looking inside ----------------------------------------------------------------------------
    def _look_inside(self) -> dict:
        """Per slice: the audio→patch map and the OT plan, from the projectors' per-patch tokens.

        ``vision_proj.core`` keeps one token per (pooled) patch, before the budget pool — the tokens
        stage 1 aligns. A stage-1 checkpoint carries its trained AVACE attention; any other gets a
        parameter-free map: softmax over patches of the cosine similarity to the mean audio token.
        """
        model = self.view.model
        dtype = model.projector_dtype
        pv = model.vision_proj.core(self.features["vision"].to(dtype))  # (S, P', H)
        pa = model.audio_proj.core(self.features["audio"].to(dtype))  # (S, A', H)
        grid = math.isqrt(pv.shape[1])
        learned = getattr(self.view.module, "avace_attn", None)
        if learned is not None:
            attn, kind = learned(pa, pv), "learned AVACE attention (stage 1)"
        else:
            sim = torch.nn.functional.cosine_similarity(pa.mean(1, keepdim=True), pv, dim=-1)  # (S, P')
            attn = (sim / SIMILARITY_TEMPERATURE).softmax(-1)
            kind = "cosine similarity of projected audio and patch tokens (this model has no AVACE head)"
        a = torch.full(pa.shape[:2], 1 / pa.shape[1])
        b = torch.full(pv.shape[:2], 1 / pv.shape[1])
        plan = sinkhorn_log(cosine_cost(pa.float(), pv.float()), a, b, eps=0.05, max_iter=300).plan
        return {"attention": attn.float().reshape(-1, grid, grid).numpy(), "plan": plan.numpy(), "kind": kind}

    # --- the clip's sound and events ----------------------------------------------------------------
    def spectrogram(self, n_fft: int = 512, hop: int = 160) -> tuple[np.ndarray, tuple[float, float, float, float]]:
        """Log power ``(freq, time)`` in dB and its extent ``(0, duration s, 0, Nyquist kHz)``."""
        x, sr = self.clip.audio, self.clip.sample_rate
        n = 1 + (len(x) - n_fft) // hop
        win = np.hanning(n_fft)
        frames = np.stack([x[i * hop:i * hop + n_fft] * win for i in range(n)])
        power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
        return 10 * np.log10(power.T + 1e-10), (0.0, len(x) / sr, 0.0, sr / 2000)

    def rows(self) -> list[dict]:
        """The timeline's rows: one per object (seen) and per sound (heard), with colour and span."""
        out = [{"label": f"seen: {e.object}", "span": e.span, "colour": _colour(e.object), "name": e.object}
               for e in self.clip.objects]
        out += [{"label": f"heard: {e.sound}", "span": e.span, "colour": "#555555", "name": e.sound}
                for e in self.clip.sounds]
        return out

    # --- asking ------------------------------------------------------------------------------------
    def task(self, kind: str, seed: int = 0):
        """The question of ``kind`` this clip poses (one clear error when it cannot pose one)."""
        task = make_task(self.clip, kind, seed, self.view.model.answer_format, self.view.model.cfg.plan)
        if task is None:
            raise DataError(f"clip {self.clip.clip_id} cannot pose a {kind} question (e.g. no object "
                            "and sound overlap in it): pick another clip or another kind")
        return task

    def ask(self, kind: str | None = None, question: str | None = None, seed: int = 0) -> Answer:
        """Ask the model. With ``kind``: that task's question (unless ``question`` replaces it), its
        truth and metric. With only ``question``: the answer alone — a typed question has no truth."""
        if kind is None and not (question and question.strip()):
            raise DataError("ask needs a task kind or a question")
        task = self.task(kind, seed) if kind is not None else None
        typed = question is not None and question.strip() and (task is None or question.strip() != task.question)
        q = question.strip() if typed else task.question
        model = self.view.model
        batch = collate([self.features], [q])
        with torch.no_grad():
            text = model.generate(batch, max_new_tokens=MAX_NEW_TOKENS.get(kind, 24))[0]
        if typed:
            return Answer(kind=None, question=q, answer=text)
        fmt = model.answer_format
        metric = PRIMARY.get(kind, "acc")
        value = score(kind, [task], [text], fmt)[metric]
        return Answer(kind=kind, question=q, answer=text, truth=task.answer,
                      predicted=_read(kind, text, fmt), target=_read(kind, task.answer, fmt),
                      metric=metric, value=float(value), extra=dict(task.target))

    def audio_wav(self) -> bytes:
        """The clip's audio as 16-bit mono WAV bytes (for a player)."""
        import io
        import wave

        pcm = (np.clip(self.clip.audio, -1, 1) * 32767).astype("<i2").tobytes()
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(self.clip.sample_rate)
            w.writeframes(pcm)
        return buf.getvalue()


def _colour(obj: str) -> str:
    r, g, b = COLOURS[obj.split(" ")[0]]
    return f"#{r:02x}{g:02x}{b:02x}"


def _read(kind: str, text: str, fmt):
    """An answer read back the way its metric reads it: a span, a box, or normalised text."""
    from ..eval.metrics import normalize_answer

    if kind in SPAN_KINDS:
        return fmt.parse_span(text)
    if kind == "arig":
        return parse_box(text)
    return normalize_answer(text)
