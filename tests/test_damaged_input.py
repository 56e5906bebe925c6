"""Damaged datasets and configs, generated many ways (hypothesis): either they load and every value is
valid, or exactly one project error names the file (and line and field) — never another exception,
never a silent load of something invalid. Answer parsers never raise."""
import json
import math
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chronus_lab.errors import ChronusError, ConfigError
from chronus_lab.world import WorldConfig, WorldFormatError, generate_world, load_world
from chronus_lab.world import formats

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.sampled_from([0, -1, 1e308, -0.5, 4.0])
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8) | st.sampled_from(["4", "av", "red circle"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6)


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    return generate_world(tmp_path_factory.mktemp("clean") / "w", n=4, seed=5, chunk_size=2)


@contextmanager
def _copy_of(folder):
    """A throwaway copy of a dataset folder, to damage."""
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(folder, Path(tmp) / "w")
        yield Path(tmp) / "w"


def _load_everything(folder):
    w = load_world(folder)
    return [w[i] for i in range(len(w))]


def _assert_valid(clips, cfg: WorldConfig):
    """What "loaded" must mean: every value is one the world can make."""
    for c in clips:
        assert cfg.min_duration <= c.duration <= cfg.max_duration and c.fps == cfg.fps
        assert c.frames.dtype == np.uint8 and c.audio.shape == (int(round(c.duration * c.sample_rate)),)
        for e in c.events:
            assert 0 <= e.start < e.end <= c.duration and e.kind in ("av", "v", "a")
            assert (e.object in cfg.object_classes) == (e.kind != "a") and (e.sound in cfg.sounds) == (e.kind != "v")
            assert all(len(b) == 4 and 0 <= b[0] < b[2] <= 1 and 0 <= b[1] < b[3] <= 1 for b in e.boxes)


def _check(folder, damaged_file: str):
    from hypothesis import event

    try:
        clips = _load_everything(folder)
    except WorldFormatError as e:
        assert damaged_file in str(e), f"the error does not name {damaged_file}: {e}"
        assert str(e).count("\n") == 0
        event("one clear error")
        return "error"
    _assert_valid(clips, load_world(folder).config)
    event("loaded, valid")
    return "loaded"


def _paths(obj, prefix=()):
    """Every (path to a value) inside a JSON record."""
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


def _set(obj, path, value, delete=False):
    for key in path[:-1]:
        obj = obj[key]
    if delete and isinstance(obj, dict):
        del obj[path[-1]]
    else:
        obj[path[-1]] = value


@SETTINGS
@given(data=st.data())
def test_a_damaged_clips_record_loads_valid_or_names_the_line(clean, data):
    with _copy_of(clean) as bad:
        lines = (bad / "clips.jsonl").read_text().splitlines()
        i = data.draw(st.integers(0, len(lines) - 1))
        record = json.loads(lines[i])
        how = data.draw(st.sampled_from(["replace", "delete", "extra", "text"]))
        if how == "text":  # damage the raw line: cut it, or put junk in it, or blank it
            cut = data.draw(st.integers(0, len(lines[i])))
            lines[i] = data.draw(st.sampled_from([lines[i][:cut], lines[i][:cut] + "}{", "", "[1, 2]", "null"]))
        else:
            paths = [p for p in _paths(record) if p]
            path = data.draw(st.sampled_from(paths))
            if how == "extra":
                record["extra_key"] = data.draw(json_values)
            else:
                _set(record, path, data.draw(json_values), delete=how == "delete")
            lines[i] = json.dumps(record)
        (bad / "clips.jsonl").write_text("\n".join(lines) + "\n")
        _check(bad, "clips.jsonl")


@SETTINGS
@given(data=st.data())
def test_a_damaged_manifest_loads_valid_or_names_the_field(clean, data):
    with _copy_of(clean) as bad:
        m = json.loads((bad / "manifest.json").read_text())
        path = data.draw(st.sampled_from([p for p in _paths(m) if p]))
        _set(m, path, data.draw(json_values), delete=data.draw(st.booleans()))
        (bad / "manifest.json").write_text(json.dumps(m))
        _check(bad, "manifest.json")


@SETTINGS
@given(data=st.data())
def test_damaged_arrays_name_the_chunk_and_the_array(clean, data):
    with _copy_of(clean) as bad:
        chunk = bad / "chunk_0000.npz"
        how = data.draw(st.sampled_from(["truncate", "empty", "drop", "float", "nan", "stereo", "frames"]))
        if how in ("truncate", "empty"):
            raw = chunk.read_bytes()
            chunk.write_bytes(raw[: data.draw(st.integers(0, len(raw) - 1))] if how == "truncate" else b"")
        else:
            with np.load(chunk) as z:
                arrays = {k: z[k] for k in z.files}
            if how == "drop":
                arrays.pop(data.draw(st.sampled_from(sorted(arrays))))
            elif how in ("float", "nan"):
                a = arrays["audio_000001"].astype(np.float32) / 32767
                a[:10] = np.nan if how == "nan" else a[:10]
                arrays["audio_000001"] = a
            elif how == "stereo":
                arrays["audio_000000"] = np.stack([arrays["audio_000000"]] * 2, 1)
            else:
                arrays["frames_000001"] = arrays["frames_000001"][:, ::2]
            formats.write_npz(chunk, arrays)
        assert _check(bad, "chunk_0000.npz") == "error"


@SETTINGS
@given(key=st.sampled_from(["lr", "max_epochs", "lora.r", "lora.dropout", "data.seeds", "data.n_train",
                            "data.mixture", "progress_bar", "devices", "model_overrides", "stage", "data.world"]),
       value=st.sampled_from(["5e-3", "1E-4", ".5", "true", "[1, 2]", "{a: 1}", "-3", "0", "1e308", "nan",
                              "'4'", "[1, 1, 2]", "{v2t: -1}", "null", "x", "2"]))
def test_overrides_load_valid_or_name_the_field(key, value):
    from chronus_lab.train.config import TrainConfig

    try:
        cfg = TrainConfig.load("tiny-sft", [f"{key}={value}"])
    except ConfigError as e:
        assert key.split(".")[-1] in str(e) or "model_overrides" in str(e), str(e)
        return
    assert cfg.lr > 0 and math.isfinite(cfg.lr) and cfg.max_epochs >= 1 and cfg.lora.r >= 1
    assert 0 <= cfg.lora.dropout < 1 and len(set(cfg.data.seeds)) == 3


@given(st.text(max_size=60))
def test_answer_parsers_never_raise(text):
    from chronus_lab.eval import metrics as M
    from chronus_lab.world.time_format import TextTime, TokenTime

    for fmt in (TextTime(), TokenTime()):
        span = fmt.parse_span(text)
        assert span is None or (0 <= span[0] <= span[1] and all(math.isfinite(t) for t in span))
    box = M.parse_box(text)
    assert box is None or (len(box) == 4 and all(math.isfinite(v) for v in box))
    assert M.normalize_answer(text) == M.normalize_answer(M.normalize_answer(text))


def test_the_parsing_rule_on_negative_reversed_and_non_finite_input():
    from chronus_lab.eval import metrics as M
    from chronus_lab.world.time_format import TextTime, TokenTime

    text, token = TextTime(), TokenTime()
    assert text.parse_span("second{-1.0}-second{2.0}") is None  # a negative time is unreadable
    assert token.parse_span("<t_-1> <t_4>") is None
    assert text.parse_span("second{3.0}-second{1.0}") == (1.0, 3.0)  # reversed: read in order
    assert token.parse_span("<t_6> <t_2>") == (1.0, 3.0)
    assert M.parse_box("[0.1, 0.2, inf, 0.4]") is None and M.parse_box("[0.1, nan, 0.3, 0.4]") is None
    assert M.parse_box("[0.1, 0.2, 0.3, 0.4]") == [0.1, 0.2, 0.3, 0.4]
    assert M.accuracy(["True."], ["true"]) == 1.0 and M.binary_f1(["True."], ["true"]) == 1.0
