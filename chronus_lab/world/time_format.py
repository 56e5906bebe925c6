"""How times are written in questions and answers — two interchangeable representations.

Built in ``notebooks/04_timestamp_tokens.ipynb`` (first used in ``01_av_world.ipynb``);
tested in ``tests/test_timestamps.py``. It lives with the world because the task generators write
every answer through it; ``model/timestamps.py`` lays the same times out in the model's input.

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

from ..errors import ConfigError


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
        raise ConfigError(f"unknown time format {name!r}; choose one of {sorted(FORMATS)}")
    return FORMATS[name](slice_s=slice_s)
