"""Interleaving: one ``[time, visual…, audio…]`` group per time slice, then the prompt.

Built in ``notebooks/04_timestamp_tokens.ipynb``; tested in ``tests/test_timestamps.py``.

ChronusOmni §3: a timestamp (``<t_k>`` token in the paper, ``second{x}`` text in the released code —
``world/time_format.py`` writes both) precedes each slice's visual and audio embeddings, so the LLM
reads *when* from its input rather than from positions. ``Layout`` records, position by position,
the token id (or ``FEATURE``, where a projected embedding goes), the modality, the slice and
whether the position belongs to the answer (the only positions the LM loss sees).
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass

from ..world.time_format import FORMATS, TextTime, TimeFormat, TokenTime, time_format

__all__ = ["FORMATS", "TextTime", "TimeFormat", "TokenTime", "time_format", "Layout", "interleave",
           "TEXT", "TIME", "VISION", "AUDIO", "MODALITY_NAMES", "FEATURE", "time_ids"]

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


_TIME_IDS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_TIME_IDS_LIMIT = 4096  # distinct time strings kept per tokenizer; a plan with arbitrary times cannot grow it forever


def time_ids(tokenizer, text: str) -> list[int]:
    """The ids ``text`` (a slice's time, e.g. ``<t_3>`` or `` second{1.5}``) is written as.

    The same few time strings come back in every sequence of every step, and a tokenizer call costs more
    than the rest of a layout, so they are remembered per tokenizer (weakly: a dropped tokenizer takes its
    memo with it), keyed also by the vocabulary's size so that tokens added later are never missed."""
    memo = _TIME_IDS.setdefault(tokenizer, {})
    key = (len(tokenizer), text)
    if key not in memo:
        if len(memo) >= _TIME_IDS_LIMIT:
            memo.clear()
        memo[key] = tuple(tokenizer(text, add_special_tokens=False).input_ids)
    return list(memo[key])


def answer_ids(tokenizer, answer: str) -> list[int]:
    """The tokens ``answer`` is written as in a sequence: after a space (`` red circle``, not ``re`` ``d`` …)."""
    return tokenizer(f" {answer}", add_special_tokens=False)["input_ids"]


def interleave(tokenizer, fmt: TimeFormat | None, times, n_vision: int, n_audio: int,
               question: str, answer: str | None = None, question_first: bool = False,
               prefix: str | None = None, question_again: bool = False) -> Layout:
    """Lay out ``<s> [time_k, v_k…, a_k…] for each slice k, question, answer </s>``.

    ``times`` are the slices' times in seconds (``slice_times`` / the features' ``times``: each slice's start,
    or its middle for Meerkat's one image): the time written before group k is ``fmt.time(times[k])`` —
    a real time, whatever the slice plan.
    ``fmt`` None drops the time representation (the ablation of notebook 04): only the order of the
    groups is left. With ``question_first`` the question precedes the clip (with ``question_again`` too, it
    follows the clip once more). The answer (and ``</s>``) is the only part marked ``is_answer``: the LM loss
    is computed there alone. ``prefix`` (e.g. a system prompt of
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
    if isinstance(times, int):
        raise TypeError("interleave takes the slices' start times in seconds (e.g. slice_times(clip, plan)), "
                        "not a count: a slice's time comes from the plan, never from its index")
    for k, t in enumerate(times):
        if fmt is not None:
            lay.add(time_ids(tokenizer, fmt.time(float(t))), TIME, k)
        lay.add([FEATURE] * n_vision, VISION, k)
        lay.add([FEATURE] * n_audio, AUDIO, k)
    if not question_first or question_again:
        lay.add(q_ids, TEXT)
    if answer is not None:
        lay.add(answer_ids(tokenizer, answer) + [tokenizer.eos_token_id], TEXT, answer=True)
    return lay
