"""Values as people type them → the type a config field declares, or one error naming the field.

Tested in ``tests/test_train.py`` (the spellings) and by the doctests below; used by
``TrainConfig`` (YAML recipes and ``--set`` overrides) and its ``model_overrides``.

YAML 1.1 reads ``5e-3`` as the *string* "5e-3" (it wants ``5.0e-3``), ``.5`` as a float and
``true`` as a bool; a dataclass takes whatever it is given. Without this step a learning rate typed
the usual way reached the optimiser as a string and crashed deep inside Lightning.
"""
from __future__ import annotations

import dataclasses
import typing

from .errors import ConfigError

_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def _fail(where: str, value, wanted: str):
    raise ConfigError(f"{where} = {value!r} ({type(value).__name__}) cannot be read as {wanted}; "
                      f"write e.g. {_EXAMPLES.get(wanted, wanted)}")


_EXAMPLES = {"float": "lr=5e-3 or 0.005", "int": "max_epochs=4", "bool": "true or false",
             "a list": "[1, 2, 3]", "a mapping": "{v2t: 1, a2t: 1}", "str": "a plain word"}


def _top_level_union(ann: str) -> list[str]:
    """``"str|None"`` → ["str", "None"]; bars inside brackets do not split."""
    parts, depth, cur = [], 0, ""
    for ch in ann:
        depth += (ch == "[") - (ch == "]")
        if ch == "|" and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    return parts + [cur]


def coerce(value, annotation: str, where: str):
    """``value`` as the type written in ``annotation`` (a dataclass field's annotation string).

    >>> coerce("5e-3", "float", "lr"), coerce("1E-4", "float", "lr"), coerce(".5", "float", "p")
    (0.005, 0.0001, 0.5)
    >>> coerce("4", "int", "lora.r"), coerce(4.0, "int", "lora.r"), coerce("true", "bool", "progress_bar")
    (4, 4, True)
    >>> coerce(["1", 2], "list[int]", "data.seeds")
    [1, 2]
    >>> coerce("auto", "str | int", "devices"), coerce("2", "str | int", "devices")
    ('auto', 2)
    >>> coerce("fast", "float", "lr")
    Traceback (most recent call last):
    ...
    chronus_lab.errors.ConfigError: lr = 'fast' (str) cannot be read as float; write e.g. lr=5e-3 or 0.005
    """
    ann = annotation.replace(" ", "")
    options = _top_level_union(ann)
    if len(options) > 1:
        if value is None and "None" in options:
            return None
        errors = []
        rank = {"int": 0, "float": 1, "str": 3}  # the most specific reading first, text last
        for opt in sorted((o for o in options if o != "None"), key=lambda o: rank.get(o, 2)):
            try:
                return coerce(value, opt, where)
            except ConfigError as e:
                errors.append(e)
        raise errors[-1]
    if ann == "float":
        if isinstance(value, bool):
            _fail(where, value, "float")
        try:
            return float(value)
        except (TypeError, ValueError):
            _fail(where, value, "float")
    if ann == "int":
        if isinstance(value, bool):
            _fail(where, value, "int")
        if isinstance(value, int):
            return value
        try:
            f = float(value)
        except (TypeError, ValueError):
            _fail(where, value, "int")
        if not f.is_integer():
            _fail(where, value, "int")
        return int(f)
    if ann == "bool":
        if isinstance(value, bool):
            return value
        if str(value).strip().lower() in _TRUE + _FALSE:
            return str(value).strip().lower() in _TRUE
        _fail(where, value, "bool")
    if ann == "str":
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        _fail(where, value, "str")
    if ann.startswith(("list", "tuple")):
        if not isinstance(value, (list, tuple)):
            _fail(where, value, "a list")
        inner = ann[ann.index("[") + 1:-1].split(",")[0] if "[" in ann else None
        out = [coerce(v, inner, f"{where}[{i}]") if inner else v for i, v in enumerate(value)]
        return tuple(out) if ann.startswith("tuple") else out
    if ann.startswith("dict"):
        if not isinstance(value, dict):
            _fail(where, value, "a mapping")
        if "[" in ann:
            key_t, val_t = ann[ann.index("[") + 1:-1].split(",", 1)
            return {coerce(k, key_t, f"{where} key"): coerce(v, val_t, f"{where}.{k}") for k, v in value.items()}
        return dict(value)
    return value  # a type this helper does not know (a nested dataclass is handled by the caller)


def coerce_fields(cls, d: dict, where: str) -> dict:
    """Every known field of dataclass ``cls`` in ``d`` coerced to its annotation (unknown keys kept)."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    out = {}
    for key, value in d.items():
        f = fields.get(key)
        ann = f.type if f is not None and isinstance(f.type, str) else None
        if f is not None and ann is None:
            ann = typing.get_type_hints(cls).get(key)
            ann = getattr(ann, "__name__", None) if ann is not None else None
        out[key] = coerce(value, ann, f"{where}{key}") if ann else value
    return out


def _matches(value, ann: str) -> bool:
    """Strictly: is ``value`` already of the annotated type? (ints count as floats; bools never as numbers)"""
    ann = ann.replace(" ", "")
    options = _top_level_union(ann)
    if len(options) > 1:
        return any(_matches(value, o) for o in options)
    if ann == "None":
        return value is None
    if ann == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if ann == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if ann == "bool":
        return isinstance(value, bool)
    if ann == "str":
        return isinstance(value, str)
    base = ann.split("[")[0]
    inner = ann[ann.index("[") + 1:-1] if "[" in ann else ""
    if base in ("list", "tuple"):
        if not isinstance(value, (list, tuple)):
            return False
        item = inner.split(",")[0].replace("...", "") if inner else ""
        return all(_matches(v, item) for v in value) if item and item != "..." else True
    if base == "dict":
        if not isinstance(value, dict):
            return False
        if inner:
            k, v = inner.split(",", 1)
            return all(_matches(a, k) and _matches(b, v) for a, b in value.items())
        return True
    return True  # nested dataclasses and other types: their own checks


def check_types(obj, owner: str) -> None:
    """Raise one ``ConfigError`` for the first field of dataclass ``obj`` whose value is not of its
    declared type — naming the field, the value *and its type*, so "4" (str) never reads as 4 (int).

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Box:
    ...     size: int = 4
    >>> check_types(Box(size="4"), "Box")
    Traceback (most recent call last):
    ...
    chronus_lab.errors.ConfigError: Box.size is '4' (str), not int.
    """
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if isinstance(f.type, str) and not _matches(value, f.type):
            raise ConfigError(f"{owner}.{f.name} is {value!r} ({type(value).__name__}), not {f.type}.")
