"""How times are written in questions and answers — two interchangeable representations.

Built in ``notebooks/04_timestamp_tokens.ipynb`` (first used in ``01_av_world.ipynb``);
tested in ``tests/test_timestamps.py``. It lives with the world because the task generators write
every answer through it; ``model/timestamps.py`` lays the same times out in the model's input.

* **Special tokens** ``<t_k>`` — the ChronusOmni paper (seed summary): an absolute time vocabulary,
  ``<t_k>`` = ``k × quantum`` seconds (0.5 s), so time ``t`` is ``<t_{round(t / quantum)}>`` — not a
  slice index: under a uniform slice plan a slice may start between two tokens' times, and is
  written by the nearest one (ties up). ``max_tokens`` tokens cover ``[0, (max_tokens − 1) · quantum]``;
  a time past that is an error, never a silent wrong token.
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

from ..errors import ConfigError


@dataclass(frozen=True)
class TimeFormat:
    """Base class: how one time and one span are written and read back."""

    quantum: float = 0.5
    """The time resolution in seconds: the step of ``<t_k>``, and the grid the task generators pose times on."""
    name: str = "base"
    max_tokens: int | None = None
    """``<t_k>`` only: how many time tokens the vocabulary has (None: unbounded, e.g. in notebooks)."""

    @property
    def last_time(self) -> float:
        """The latest time this format can write, in seconds (``<t_k>``: its last token's; else unbounded)."""
        return (self.max_tokens - 1) * self.quantum if self.max_tokens is not None else math.inf

    def time(self, t: float) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def span(self, start: float, end: float) -> str:
        return f"{self.time(start)}-{self.time(end)}"

    _TIME_RE = re.compile(r"$^")  # overridden: one capture group per time

    def _read(self, match: re.Match) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def parse_times(self, text: str) -> list[float]:
        """Every readable time in ``text``, in order.

        The rule, the same in every parser of the project: junk between times is ignored; a time that
        is negative, non-finite or unreadable is skipped (``<t_-1>``, ``second{-2.0}``, ``second{inf}``);
        a time past the clip's end is kept (the metrics score it).

        >>> TextTime().parse_times("second{1.5} then second{-2.0} and second{3.0}")
        [1.5, 3.0]
        """
        out = []
        for m in self._TIME_RE.finditer(str(text)):
            try:
                t = self._read(m)
            except (ValueError, OverflowError):
                continue
            if math.isfinite(t) and t >= 0:
                out.append(t)
        return out

    def shift(self, text: str, seconds: float) -> str:
        """``text`` with every time in it moved ``seconds`` later: the same question and answer about a clip
        cut from further into a recording (``data.time_offset``).

        >>> TokenTime().shift("When is the drum heard? <t_2> <t_5>", 4.0)
        'When is the drum heard? <t_10> <t_13>'
        >>> TextTime().shift("At second{1.5}, box [0.10, 0.20, 0.30, 0.40]", 2.0)
        'At second{3.5}, box [0.10, 0.20, 0.30, 0.40]'
        """
        return self._TIME_RE.sub(lambda m: self.time(self._read(m) + seconds), str(text))

    def parse_span(self, text: str) -> tuple[float, float] | None:
        """The first two readable times in ``text`` as a span, in order (a reversed span is read
        forwards); None when there are fewer than two — the answer is then unreadable and scores 0.

        >>> TokenTime().parse_span("<t_6> <t_2>")
        (1.0, 3.0)
        """
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
        return f"second{{{math.floor(t * 10 + 0.5 + 1e-9) / 10:.1f}}}"  # ties up, as <t_k>

    def _read(self, match: re.Match) -> float:
        return float(re.sub(r"\s+", "", match.group(1)))


@dataclass(frozen=True)
class TokenTime(TimeFormat):
    """``<t_k>``: one special token per time slice (the paper's timestamp tokens)."""

    name: str = "token"
    _TIME_RE = re.compile(r"<\s*t_\s*(\d{1,6})\s*>")

    def index(self, t: float) -> int:
        """The token index of time ``t``: nearest ``k × quantum``, ties up (``round`` would take 1.25 s to
        ``<t_2>`` but 0.75 s to ``<t_2>`` as well — half to even)."""
        k = int(math.floor(t / self.quantum + 0.5 + 1e-9))
        if self.max_tokens is not None and k >= self.max_tokens:
            raise ConfigError(
                f"time {t:g} s needs <t_{k}>, but the vocabulary stops at <t_{self.max_tokens - 1}> "
                f"({self.last_time:g} s at {self.quantum:g} s per token); raise "
                "model.max_time_tokens (or time_quantum), or use shorter clips")
        return k

    def time(self, t: float) -> str:
        return f"<t_{self.index(t)}>"

    def span(self, start: float, end: float) -> str:
        return f"{self.time(start)} {self.time(end)}"  # two tokens, no separator needed

    def _read(self, match: re.Match) -> float:
        return int(match.group(1)) * self.quantum


FORMATS = {"text": TextTime, "token": TokenTime}


def time_format(name: str = "text", quantum: float = 0.5, max_tokens: int | None = None) -> TimeFormat:
    """Look a representation up by name (``"text"`` or ``"token"``); ``max_tokens`` bounds ``<t_k>``."""
    if name not in FORMATS:
        raise ConfigError(f"unknown time format {name!r}; choose one of {sorted(FORMATS)}")
    if name == "token":
        return TokenTime(quantum=quantum, max_tokens=max_tokens)
    return FORMATS[name](quantum=quantum)
