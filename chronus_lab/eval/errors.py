"""Why an implicit answer is wrong: each a2v / v2a question sorted by what else happens during its event.

"What sound does the red circle make?" has one answer, but the clip does not label it: the pairing of an
object with its sound is drawn afresh per clip, and only time links them — the sound starts and stops with
the object. A sound that merely *overlaps* the object is not its sound. So a question is as hard as the
other events of the answer's modality make it:

* ``alone``    — nothing else of that modality overlaps the asked event: any sound heard then is the answer;
* ``partial``  — others overlap part of its span: the answer is heard in *every* slice of it, they are not;
* ``covering`` — another one lasts through its whole span: inside the span both are heard in every slice;
  only the slices *outside* tell them apart (the distractor goes on, the partner stops);
* ``twin``     — another has exactly the same span: no perception can tell (the question is undecidable).

A wrong answer is sorted by what it names: an event overlapping the asked one, an event elsewhere in the clip,
``nothing`` where something was, or a name not in the clip at all (for objects: a colour bound to the wrong
shape). ``chronus-lab eval --ckpt … --errors`` prints the table; README, "Where the implicit errors are".
"""
from __future__ import annotations

from collections import Counter

from ..world.tasks import NOTHING
from .metrics import normalize_answer

CASES = ("alone", "partial", "covering", "twin")
WRONG = ("names an overlapping event", "names an event elsewhere", "says nothing", "names what is not in the clip")
ANSWERS_WITH = {"v2a": "sound", "a2v": "object"}
"""Each implicit kind → the attribute of an event its answer names."""


def _overlaps(a, b) -> bool:
    return min(a.end, b.end) > max(a.start, b.start)


def case_of(asked, others) -> str:
    """The hardest relation between the asked event and the answer modality's other events (``CASES``)."""
    near = [o for o in others if _overlaps(o, asked)]
    if any((o.start, o.end) == (asked.start, asked.end) for o in near):
        return "twin"
    if any(o.start <= asked.start and o.end >= asked.end for o in near):
        return "covering"
    return "partial" if near else "alone"


def _asked_and_others(task, clip):
    """The event an implicit question asks about, and the clip's other events of its answer's modality."""
    attr = ANSWERS_WITH[task.kind]
    asked = next(e for e in clip.events if e.id == task.target["event"])
    return asked, [e for e in clip.events if getattr(e, attr) and e.id != asked.id]


def task_case(task, clip) -> str | None:
    """The case (``CASES``) of an implicit question about ``clip``; None for the other kinds."""
    return case_of(*_asked_and_others(task, clip)) if task.kind in ANSWERS_WITH else None


def wrong_kind(answer: str, asked, others, attr: str) -> str:
    """What a wrong answer names (``WRONG``)."""
    said = normalize_answer(answer)
    named = [o for o in others if normalize_answer(getattr(o, attr)) == said]
    if named:
        return WRONG[0] if any(_overlaps(o, asked) for o in named) else WRONG[1]
    return WRONG[2] if said == NOTHING else WRONG[3]


def implicit_anatomy(predictions, clips) -> list[dict]:
    """One row per implicit kind and case: ``{"task", "case", "n", "acc", <each of WRONG>: count}``.

    ``predictions``: ``eval.harness.Prediction``s (other kinds are skipped); ``clips[p.clip_index]`` is the
    clip each was asked about."""
    tally: dict[tuple[str, str], Counter] = {}
    for p in predictions:
        if p.task.kind not in ANSWERS_WITH:
            continue
        asked, others = _asked_and_others(p.task, clips[p.clip_index])
        counts = tally.setdefault((p.task.kind, case_of(asked, others)), Counter())
        counts["n"] += 1
        if normalize_answer(p.text) == normalize_answer(p.task.answer):
            counts["right"] += 1
        else:
            counts[wrong_kind(p.text, asked, others, ANSWERS_WITH[p.task.kind])] += 1
    return [{"task": kind, "case": case, "n": c["n"], "acc": c["right"] / c["n"], **{w: c[w] for w in WRONG}}
            for kind in ANSWERS_WITH for case in CASES if (c := tally.get((kind, case)))]
