"""How times are written in prompts and answers — two interchangeable representations.

Built in ``notebooks/04_timestamp_tokens.ipynb`` (first used in ``01_av_world.ipynb``);
tested in ``tests/test_timestamps.py``.

* **Special tokens** ``<t_k>`` — the ChronusOmni paper (seed summary): one token per time slice
  of ``slice_s`` seconds (0.5 s), so time ``t`` is ``<t_{round(t / slice_s)}>``.
* **Text** ``second{12.5}`` — the authors' released code: no new vocabulary, one decimal, and
  spans written ``second{188.9}-second{257.0}``.

Every answer the world writes goes through one of these (``TimeFormat.span``), so switching the
representation re-renders every task; ``parse_span`` reads a span back from model output and
never raises on junk (it returns ``None``, "unparsable").
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class TimeFormat:
    """Base class: how one time and one span are written and read back."""

    slice_s: float = 0.5
    """Width of a time slice in seconds (the model's time resolution)."""
    name: str = "base"

    def time(self, t: float) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def span(self, start: float, end: float) -> str:
        return f"{self.time(start)}-{self.time(end)}"

    _TIME_RE = re.compile(r"$^")  # overridden: one capture group per time

    def _read(self, match: re.Match) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def parse_times(self, text: str) -> list[float]:
        """Every time found in ``text``, in order (junk between them is ignored)."""
        out = []
        for m in self._TIME_RE.finditer(str(text)):
            try:
                t = self._read(m)
            except (ValueError, OverflowError):
                continue
            if math.isfinite(t):
                out.append(t)
        return out

    def parse_span(self, text: str) -> tuple[float, float] | None:
        """The first two times in ``text`` as a span, ordered; None when there are fewer than two."""
        times = self.parse_times(text)
        if len(times) < 2:
            return None
        a, b = times[0], times[1]
        return (min(a, b), max(a, b))


@dataclass(frozen=True)
class TextTime(TimeFormat):
    """``second{12.5}``: the released code's text timestamps (one decimal)."""

    name: str = "text"
    _TIME_RE = re.compile(r"second\s*\{\s*(-?\s*\d[\d\s]*(?:\.[\d\s]*\d)?)\s*\}")

    def time(self, t: float) -> str:
        return f"second{{{t:.1f}}}"

    def _read(self, match: re.Match) -> float:
        return float(re.sub(r"\s+", "", match.group(1)))


@dataclass(frozen=True)
class TokenTime(TimeFormat):
    """``<t_k>``: one special token per time slice (the paper's timestamp tokens)."""

    name: str = "token"
    _TIME_RE = re.compile(r"<\s*t_\s*(\d{1,6})\s*>")

    def time(self, t: float) -> str:
        return f"<t_{int(round(t / self.slice_s))}>"

    def span(self, start: float, end: float) -> str:
        return f"{self.time(start)} {self.time(end)}"  # two tokens, no separator needed

    def _read(self, match: re.Match) -> float:
        return int(match.group(1)) * self.slice_s


FORMATS = {"text": TextTime, "token": TokenTime}


def time_format(name: str = "text", slice_s: float = 0.5) -> TimeFormat:
    """Look a representation up by name (``"text"`` or ``"token"``)."""
    if name not in FORMATS:
        raise ValueError(f"unknown time format {name!r}; choose one of {sorted(FORMATS)}")
    return FORMATS[name](slice_s=slice_s)


# --- interleaving: [time, visual…, audio…] per slice, then the prompt -------------------------
TEXT, TIME, VISION, AUDIO = 0, 1, 2, 3
MODALITY_NAMES = ("text", "time", "vision", "audio")
FEATURE = -1  # id placeholder where a projected visual/audio token goes


@dataclass
class Layout:
    """One sequence, position by position: token id (or FEATURE), modality, slice (-1 = none), answer?"""

    ids: list
    modality: list
    slice_idx: list
    is_answer: list

    def add(self, ids, modality: int, slice_idx: int = -1, answer: bool = False) -> None:
        self.ids += list(ids)
        self.modality += [modality] * len(ids)
        self.slice_idx += [slice_idx] * len(ids)
        self.is_answer += [answer] * len(ids)

    def __len__(self) -> int:
        return len(self.ids)


def interleave(tokenizer, fmt: TimeFormat | None, n_slices: int, n_vision: int, n_audio: int,
               question: str, answer: str | None = None, question_first: bool = False,
               prefix: str | None = None) -> Layout:
    """Lay out ``<s> [time_k, v_k…, a_k…] for k < n_slices, question, answer </s>``.

    ``fmt`` None drops the time representation (the ablation of notebook 04). With
    ``question_first`` the question precedes the clip. The answer (and ``</s>``) is the only part
    marked ``is_answer``: the LM loss is computed there alone. ``prefix`` (e.g. a system prompt of
    varying length) goes right after ``<s>``, shifting where the clip starts.
    """
    enc = lambda text: tokenizer(text, add_special_tokens=False).input_ids  # noqa: E731
    lay = Layout([], [], [], [])
    lay.add([tokenizer.bos_token_id], TEXT)
    if prefix:
        lay.add(enc(f" {prefix}"), TEXT)
    q_ids = enc(f" {question}")
    if question_first:
        lay.add(q_ids, TEXT)
    for k in range(n_slices):
        if fmt is not None:
            lay.add(enc(fmt.time(k * fmt.slice_s)), TIME, k)
        lay.add([FEATURE] * n_vision, VISION, k)
        lay.add([FEATURE] * n_audio, AUDIO, k)
    if not question_first:
        lay.add(q_ids, TEXT)
    if answer is not None:
        lay.add(enc(f" {answer}") + [tokenizer.eos_token_id], TEXT, answer=True)
    return lay
