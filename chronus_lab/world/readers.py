"""Readers for the papers' real annotation files, into the same ``Task`` rows the synthetic world makes.

Taught in ``notebooks/10_full_scale.ipynb``; tested in ``tests/test_readers.py`` on small fixture files
written for this project (the datasets themselves are not reachable here). The formats, as the
released code reads them (``shared/PAPERS.md``):

* **ChronusAV** (ChronusOmni): a JSON list of records ``{"set", "id", "video", "audio", "question",
  "conversations": [{"from": "human", "value": "<speech><image>\\n" + question}, {"from": "gpt",
  "value": answer}]}``; RL records add ``"data_type"`` (t2a, a2t, t2v, v2t, a2v, v2a); evaluation
  records have no ``conversations`` (no answer). Times are text: ``second{188.9}``; answer spans
  ``second{s}-second{e}``; question spans "from second{s} to second{e}".
* **AVFIT** (Meerkat): a JSON object keyed by video/image id, each ``{"data": [{"question", "answer",
  "dataset", "dim": [w, h], …}]}``. Box answers are *strings* of pixel coordinates, ``"[x0, y0, x1,
  y1]"`` or ``"[<class>, x0, y0, x1, y1]"``, some sources ordered (x0, x1, y0, y1).

**Meerkat's released code turns these strings into numbers with Python's ``eval()``**: a data file
can run any code on the machine that trains on it. Here a box is read with ``ast.literal_eval``
(literals only: numbers, strings, lists, tuples) and then checked — a string that is anything else
is one clear ``DataError`` naming the file, the record and the field.

Every row keeps where it came from in ``target`` (``source_id``, ``video``/``audio`` or ``image``)
and what the metric needs (``span`` in seconds, ``box`` normalised xyxy, ``label``); ``clip_id``
numbers the distinct media in the order they appear.
"""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from ..errors import DataError
from .tasks import Task
from .time_format import TextTime

CHRONUS_TYPES = ("t2v", "t2a", "v2t", "a2t", "a2v", "v2a")
MEDIA_PREFIX = re.compile(r"^\s*(?:<speech>|<image>|<video>|<audio>)+\s*")
TEXT_TIME = TextTime()
BARE_LABEL = re.compile(r"^\[\s*([A-Za-z][A-Za-z _-]*?)\s*,(.*)\]$", re.S)


class AnnotationError(DataError):
    """A real dataset's annotation file is malformed; the message names file, record and field."""


def _fail(path, where: str, problem: str):
    raise AnnotationError(f"{path}: {where}: {problem}. Fix the record or leave it out of the file.")


def _load_json(path) -> object:
    path = Path(path)
    if not path.is_file():
        raise AnnotationError(f"{path}: no such annotation file")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise AnnotationError(f"{path}: not valid JSON ({err}); the readers take the released .json files") from None


def _text(rec: dict, key: str, path, where: str) -> str:
    value = rec.get(key)
    if not isinstance(value, str) or not value.strip():
        _fail(path, where, f"'{key}' must be a non-empty string, got {value!r}")
    return value.strip()


# --- ChronusAV ---------------------------------------------------------------------------------------
def _chronus_answer(rec: dict, path, where: str) -> str | None:
    conv = rec.get("conversations")
    if conv is None:
        return None  # an evaluation record: the answer is what the model must write
    if (not isinstance(conv, list) or len(conv) < 2 or not all(isinstance(c, dict) for c in conv)
            or conv[-1].get("from") != "gpt" or not isinstance(conv[-1].get("value"), str)):
        _fail(path, where, "'conversations' must be a list of turns ending with {\"from\": \"gpt\", \"value\": answer}")
    return conv[-1]["value"].strip()


def read_chronusav(path) -> list[Task]:
    """A ChronusAV JSON file → one ``Task`` per record (kind = ``data_type``, else ``set`` if it names
    one of the six directions, else ``"chronusav"``)."""
    records = _load_json(path)
    if not isinstance(records, list):
        raise AnnotationError(f"{path}: a ChronusAV file is a JSON list of records, not {type(records).__name__}")
    media: dict[tuple, int] = {}
    tasks = []
    for i, rec in enumerate(records):
        where = f"record {i}"
        if not isinstance(rec, dict):
            _fail(path, where, f"a record is a JSON object, not {type(rec).__name__}")
        where = f"record {i} (id {rec.get('id')!r})"
        video = _text(rec, "video", path, where)
        audio = rec.get("audio")
        if audio is not None and not isinstance(audio, str):
            _fail(path, where, f"'audio' must be a path string, got {audio!r}")
        question = MEDIA_PREFIX.sub("", _text(rec, "question", path, where))
        answer = _chronus_answer(rec, path, where)
        kind = rec.get("data_type") or (rec.get("set") if rec.get("set") in CHRONUS_TYPES else "chronusav")
        if kind not in CHRONUS_TYPES + ("chronusav",):
            _fail(path, where, f"'data_type' must be one of {list(CHRONUS_TYPES)}, got {kind!r}")
        target = {"source_id": rec.get("id"), "video": video, "audio": audio}
        if answer is not None and "second{" in answer:
            span = TEXT_TIME.parse_times(answer)[:2]  # not parse_span: a reversed span is a data error here
            if len(span) < 2 or not span[0] < span[1]:
                _fail(path, where, f"answer {answer!r} has times but no readable span second{{s}}-second{{e}} with s < e")
            target["span"] = list(span)
        query = TEXT_TIME.parse_times(question)
        if query:
            target["query_times"] = query
        clip_id = media.setdefault((video, audio), len(media))
        tasks.append(Task(clip_id, kind, question, answer or "", target))
    return tasks


# --- AVFIT ---------------------------------------------------------------------------------------------
def literal_numbers(text: str, path, where: str) -> tuple[str | None, list[float]]:
    """``"[x0, y0, x1, y1]"`` or ``"[cls, x0, y0, x1, y1]"`` → (class or None, numbers), with
    ``ast.literal_eval``: literals only, never code (the released code calls ``eval``)."""
    bare = BARE_LABEL.match(text.strip())  # "[dog, 1, 2, 3, 4]": the class is written without quotes
    if bare:
        text = "[" + repr(bare.group(1).strip()) + "," + bare.group(2) + "]"
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        _fail(path, where, f"answer {text[:60]!r} is not a literal list of numbers (it is read with "
                           "ast.literal_eval, never eval)")
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], str):
        label, value = value[0], value[1:]
    else:
        label = None
    if (not isinstance(value, (list, tuple)) or len(value) not in (2, 4)
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        _fail(path, where, f"answer {text[:60]!r} must hold 2 numbers (a span) or 4 (a box)")
    return label, [float(v) for v in value]


def read_avfit(path, xxyy_sources: tuple[str, ...] = ()) -> list[Task]:
    """An AVFIT JSON file → ``Task`` rows: a 4-number answer is a box (``arig``; pixels normalised by the
    record's ``dim``, reordered from (x0, x1, y0, y1) for the ``dataset`` names in ``xxyy_sources``),
    a 2-number answer a time span in seconds (``igatl``), true/false/yes/no ``avfc``, anything else
    ``avqa`` (captions, counts and open questions: the papers score them as text)."""
    data = _load_json(path)
    if not isinstance(data, dict):
        raise AnnotationError(f"{path}: an AVFIT file is a JSON object keyed by video/image id, "
                              f"not {type(data).__name__}")
    tasks = []
    for clip_id, (key, entry) in enumerate(data.items()):
        if not isinstance(entry, dict) or not isinstance(entry.get("data"), list):
            _fail(path, f"id {key!r}", "each id maps to {\"data\": [ {question, answer, …}, … ]}")
        for j, rec in enumerate(entry["data"]):
            where = f"id {key!r}, data[{j}]"
            if not isinstance(rec, dict):
                _fail(path, where, f"an item is a JSON object, not {type(rec).__name__}")
            question, answer = _text(rec, "question", path, where), _text(rec, "answer", path, where)
            target = {"source_id": key, "dataset": rec.get("dataset")}
            if answer.lower() in ("true", "false", "yes", "no"):
                kind, target["label"] = "avfc", "true" if answer.lower() in ("true", "yes") else "false"
            elif answer.startswith(("[", "(")):
                label, nums = literal_numbers(answer, path, where)
                if len(nums) == 2:
                    if not 0 <= nums[0] < nums[1]:
                        _fail(path, where, f"span {nums} must have 0 <= start < end (seconds)")
                    kind, target["span"] = "igatl", nums
                else:
                    kind, target["box"] = "arig", _box(nums, rec, rec.get("dataset") in xxyy_sources, path, where)
                    target["label"] = label
            else:
                kind, target["label"] = "avqa", answer
            tasks.append(Task(clip_id, kind, question, answer, target))
    return tasks


def _box(nums: list[float], rec: dict, xxyy: bool, path, where: str) -> list[float]:
    x0, y0, x1, y1 = (nums[0], nums[2], nums[1], nums[3]) if xxyy else nums
    if max(nums) > 1.0:  # pixels: normalise by the image's size
        dim = rec.get("dim")
        if (not isinstance(dim, (list, tuple)) or len(dim) != 2
                or not all(isinstance(v, (int, float)) and v > 0 for v in dim)):
            _fail(path, where, f"a box in pixels needs 'dim': [width, height], got {dim!r}")
        x0, x1, y0, y1 = x0 / dim[0], x1 / dim[0], y0 / dim[1], y1 / dim[1]
    if not (0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1):
        _fail(path, where, f"box {nums} is not inside the image with x0 < x1 and y0 < y1"
                           + (" (is this source ordered x0, x1, y0, y1? pass it in xxyy_sources)" if not xxyy else ""))
    return [round(v, 4) for v in (x0, y0, x1, y1)]
