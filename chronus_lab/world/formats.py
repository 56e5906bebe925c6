"""Saving and loading a world dataset: deterministic bytes, atomic writes, validated loads.

Built in ``notebooks/01_av_world.ipynb``; tested in ``tests/test_world_formats.py``.

Layout of a dataset folder (format ``chronus-lab-world``, version 1)::

    manifest.json     seed, clip count, WorldConfig, the chunk files; written last
    clips.jsonl       one line per clip: clip_id, duration, fps, sample_rate, events (with boxes)
    tasks.jsonl       every task of every clip (text time format), for reading only: derived from
                      clips.jsonl, never read back (loading regenerates tasks from the events)
    chunk_0000.npz    arrays of clips [0, chunk_size): frames_<id> (T, H, W, 3) uint8,
                      audio_<id> (N,) int16 (audio / 32767 gives the float waveform back exactly)

Why this shape: annotations are plain JSONL that any tool reads; arrays are numpy's own zip format
(``np.load`` opens it) written with fixed timestamps so the same seed gives the same bytes; clips
are grouped in chunks that separate processes can write in any order.

Atomicity: everything is written into a hidden sibling folder and renamed into place at the end,
so an interrupted run leaves no half dataset under ``out`` (the hidden folder has no manifest and
never loads). ``overwrite`` swaps the old folder out only after the new one is complete.
"""
from __future__ import annotations

import io
import json
import math
import os
import re
import shutil
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from ..errors import SEED_MAX, ChronusError, ConfigError, DataError, is_seed
from .time_format import TextTime
from .clip import KINDS as EVENT_KINDS
from .clip import Clip, Event
from .config import WorldConfig, on_grid
from .scene import from_int16, make_clip, to_int16
from .tasks import make_tasks

FORMAT, VERSION = "chronus-lab-world", 1
FIXED_DATE = (1980, 1, 1, 0, 0, 0)  # zip timestamps fixed: same seed, same bytes


class WorldFormatError(DataError):
    """A saved dataset is malformed; the message names the file, the field and what to do."""


class OutputExists(ChronusError, FileExistsError):
    """The output folder exists and overwriting was not asked for."""


def _fail(file, where: str, problem: str) -> None:
    raise WorldFormatError(f"{file}: {where}: {problem}. Regenerate the dataset with "
                           "`chronus-lab world --n N --seed S --out DIR --overwrite`.")


# --- writing -----------------------------------------------------------------------------------
def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Like ``np.savez_compressed`` but byte-for-byte reproducible (fixed zip dates)."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, arr in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=FIXED_DATE)
            # Frames are flat colour and deflate ~40x; int16 audio over a noise floor barely
            # compresses, so it is stored as is (deflating it cost a third of generation time).
            info.compress_type = zipfile.ZIP_DEFLATED if arr.dtype == np.uint8 else zipfile.ZIP_STORED
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
            zf.writestr(info, buf.getvalue(), compresslevel=1)


def _write_chunk(args) -> list[dict]:
    """Make clips [lo, hi) and write their arrays to one chunk file; return their annotations."""
    cfg_dict, seed, lo, hi, path = args
    cfg = WorldConfig.from_dict(cfg_dict)
    arrays, annotations = {}, []
    for i in range(lo, hi):
        clip = make_clip(cfg, seed, i)
        arrays[f"frames_{i:06d}"] = clip.frames
        arrays[f"audio_{i:06d}"] = to_int16(clip.audio)
        annotations.append(clip.annotation())
    write_npz(Path(path), arrays)
    return annotations


def _ignore_sigint() -> None:
    """Worker processes leave Ctrl-C to the parent (which cleans up), instead of each printing a traceback."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _write_text(path: Path, lines) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(json.dumps(line, sort_keys=True) + "\n")


def _not_replaceable(out: Path) -> str | None:
    """Why ``--overwrite`` must leave ``out`` alone, or None: it replaces only a folder of the files this
    command writes (or an empty one) — never a file, nor a folder holding anything a user put there."""
    if not out.is_dir():
        return "is a file, not a dataset folder"
    names = sorted(p.name for p in out.iterdir())
    ours = {"manifest.json", "clips.jsonl", "tasks.jsonl"}
    foreign = [n for n in names if n not in ours and not re.fullmatch(r"chunk_\d{4,}\.npz", n)]
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        return f"holds {shown}, which `chronus-lab world` does not write"
    if names and "manifest.json" not in names:
        return "has no manifest.json (not a dataset this command wrote)"
    return None


def generate_world(out, n: int, seed: int = 0, cfg: WorldConfig | None = None,
                   chunk_size: int = 250, workers: int = 1, overwrite: bool = False) -> Path:
    """Generate ``n`` clips with ``seed`` into the folder ``out``, atomically. Returns ``out``."""
    cfg, out = cfg or WorldConfig(), Path(out)
    if n < 1 or chunk_size < 1 or workers < 1:
        raise ConfigError(f"need n >= 1, chunk_size >= 1, workers >= 1 (got {n}, {chunk_size}, {workers})")
    if not is_seed(seed):  # numpy's generators take unsigned 32-bit seeds
        raise ConfigError(f"seed must be 0 to {SEED_MAX:,} (got {seed})")
    if out.exists() and not overwrite:
        raise OutputExists(f"{out} exists; pass overwrite=True (CLI: --overwrite) to replace it")
    if out.exists() and (problem := _not_replaceable(out)):
        raise OutputExists(f"{out} {problem}, so --overwrite would delete what it did not write; "
                           "move it or give another --out")
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
    except OSError as err:
        raise ConfigError(f"cannot write the dataset {out} ({type(err).__name__} making {tmp.name} beside it): "
                          "give a folder you can write, e.g. --out data/world") from None
    try:
        jobs = [(cfg.to_dict(), seed, lo, min(lo + chunk_size, n), str(tmp / f"chunk_{k:04d}.npz"))
                for k, lo in enumerate(range(0, n, chunk_size))]
        if workers > 1 and len(jobs) > 1:
            pool = ProcessPoolExecutor(max_workers=workers, initializer=_ignore_sigint)
            try:
                parts = list(pool.map(_write_chunk, jobs))
            finally:  # on Ctrl-C: drop the chunks not started, so the interrupt takes effect at once
                pool.shutdown(wait=True, cancel_futures=True)
        else:
            parts = [_write_chunk(j) for j in jobs]
        annotations = [a for part in parts for a in part]
        _write_text(tmp / "clips.jsonl", annotations)
        fmt = TextTime()
        _write_text(tmp / "tasks.jsonl", (t.to_dict() for a in annotations
                                          for t in make_tasks(_clip_from(a), seed=seed, fmt=fmt)))
        manifest = {"format": FORMAT, "version": VERSION, "seed": seed, "n_clips": n,
                    "chunk_size": chunk_size, "config": cfg.to_dict(),
                    "chunks": [Path(j[4]).name for j in jobs]}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
        if out.exists():  # swap the old dataset out only now that the new one is whole
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, old)
            try:
                os.replace(tmp, out)
            except BaseException:  # even a Ctrl-C here puts the old dataset back
                os.replace(old, out)
                raise
            shutil.rmtree(old)
        else:
            os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


# --- reading: every field of every record checked, one error naming file, line and field ---------
def _clip_from(a: dict) -> Clip:
    return Clip(clip_id=a["clip_id"], duration=a["duration"], fps=a["fps"],
                sample_rate=a["sample_rate"], events=[Event.from_dict(e) for e in a["events"]])


def _show(v) -> str:
    """A value and its type: a string "4" must never read as the number 4."""
    return f"{v!r} ({type(v).__name__})"


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _keys(d, want: tuple[str, ...], file, where: str) -> None:
    if not isinstance(d, dict):
        _fail(file, where, f"must be a JSON object, got {_show(d)}")
    missing, extra = [k for k in want if k not in d], sorted(set(d) - set(want))
    if missing:
        _fail(file, where, f"field '{missing[0]}' is missing (expected fields: {', '.join(want)})")
    if extra:
        _fail(file, where, f"unexpected field(s) {extra} (expected fields: {', '.join(want)})")


CLIP_FIELDS = ("clip_id", "duration", "fps", "sample_rate", "events")
EVENT_FIELDS = ("id", "kind", "start", "end", "object", "sound", "boxes")
MANIFEST_FIELDS = ("format", "version", "seed", "n_clips", "chunk_size", "config", "chunks")


def validate_annotation(a, cfg: WorldConfig, file, line: int) -> Clip:
    """Check one clips.jsonl record against the dataset's config; return its Clip (no arrays)."""
    where = f"line {line}"
    _keys(a, CLIP_FIELDS, file, where)
    if not _is_int(a["clip_id"]) or a["clip_id"] < 0:
        _fail(file, where, f"field 'clip_id' is {_show(a['clip_id'])}; it must be an integer >= 0")
    for key, want in (("sample_rate", cfg.sample_rate), ("fps", cfg.fps)):
        if not _is_int(a[key]) or a[key] != want:
            _fail(file, where, f"field '{key}' is {_show(a[key])} but the dataset's config says {_show(want)}")
    dur = a["duration"]
    if not _is_num(dur) or not cfg.min_duration - 1e-9 <= dur <= cfg.max_duration + 1e-9:
        _fail(file, where, f"field 'duration' is {_show(dur)}; the config allows {cfg.min_duration:g}–"
                           f"{cfg.max_duration:g} s")
    if not isinstance(a["events"], list) or not a["events"]:
        _fail(file, where, f"field 'events' is {_show(a['events'])}; it must be a non-empty list of events")
    ids, named = set(), {}
    for j, e in enumerate(a["events"]):
        _check_event(e, cfg, dur, a["fps"], file, f"{where}, event {j}")
        if e["id"] in ids:
            _fail(file, f"{where}, event {j}", f"field 'id' {e['id']} is used twice in the clip")
        ids.add(e["id"])
        for key in ("object", "sound"):  # questions name events by these: a repeat makes their answers ambiguous
            if e[key] is not None and (key, e[key]) in named:
                _fail(file, f"{where}, event {j}", f"field '{key}' {e[key]!r} is event {named[key, e[key]]}'s "
                                                   f"too; a clip has each {key} at most once")
            named[key, e[key]] = j
    return _clip_from(a)


def _check_event(e, cfg: WorldConfig, dur: float, fps: int, file, ew: str) -> None:
    _keys(e, EVENT_FIELDS, file, ew)
    if not _is_int(e["id"]) or e["id"] < 0:
        _fail(file, ew, f"field 'id' is {_show(e['id'])}; it must be an integer >= 0")
    s, t = e["start"], e["end"]
    if not (_is_num(s) and _is_num(t)):
        _fail(file, ew, f"fields 'start'/'end' must be finite numbers (got {_show(s)}, {_show(t)})")
    if s < 0:
        _fail(file, ew, f"field 'start' is {s}; times must be >= 0")
    if not s < t:
        _fail(file, ew, f"field 'end' is {t} but 'start' is {s}; a span needs start < end")
    if t > dur + 1e-6:
        _fail(file, ew, f"field 'end' is {t}, past the clip's duration {dur}")
    for key, v in (("start", s), ("end", t)):
        if not on_grid(v, cfg.time_grid):
            _fail(file, ew, f"field '{key}' is {v}; event times lie on the config's {cfg.time_grid:g} s time grid")
    kind = e["kind"]
    if kind not in EVENT_KINDS:
        _fail(file, ew, f"field 'kind' is {_show(kind)}; expected one of {list(EVENT_KINDS)}")
    seen, heard = kind in ("av", "v"), kind in ("av", "a")
    if seen and e["object"] not in cfg.object_classes:
        _fail(file, ew, f"field 'object' is {_show(e['object'])}; a '{kind}' event shows one of the world's "
                        f"objects ({', '.join(cfg.object_classes[:3])}, …)")
    if not seen and e["object"] is not None:
        _fail(file, ew, f"field 'object' is {_show(e['object'])}; an off-screen sound has none (null)")
    if heard and e["sound"] not in cfg.sounds:
        _fail(file, ew, f"field 'sound' is {_show(e['sound'])}; a '{kind}' event plays one of {list(cfg.sounds)}")
    if not heard and e["sound"] is not None:
        _fail(file, ew, f"field 'sound' is {_show(e['sound'])}; a silent object has none (null)")
    boxes = e["boxes"]
    if not isinstance(boxes, list):
        _fail(file, ew, f"field 'boxes' is {_show(boxes)}; it must be a list of [x0, y0, x1, y1]")
    frames = round((t - s) * fps) if seen else 0
    if len(boxes) != frames:
        _fail(file, ew, f"field 'boxes' has {len(boxes)} boxes for {frames} frames")
    for k, box in enumerate(boxes):
        if not (isinstance(box, list) and len(box) == 4 and all(_is_num(v) and 0.0 <= v <= 1.0 for v in box)
                and box[0] < box[2] and box[1] < box[3]):
            _fail(file, f"{ew}, box {k}", f"field 'boxes' holds {_show(box)}; boxes are normalised "
                                          "xyxy with 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1")


def _read_jsonl(path: Path):
    """``(line number, record)`` for every line; a blank or invalid line is an error naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        _fail(path, "file", f"is not UTF-8 text ({e.reason} at byte {e.start})")
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            _fail(path, f"line {i}", "is blank; every line holds one JSON object")
        try:
            yield i, json.loads(line)
        except json.JSONDecodeError as e:
            _fail(path, f"line {i}, column {e.colno}", f"is not valid JSON ({e.msg})")


def _check_manifest(m, path: Path) -> WorldConfig:
    _keys(m, MANIFEST_FIELDS, path, "top level")
    if m["format"] != FORMAT or m["version"] != VERSION:
        _fail(path, "field 'format'/'version'", f"expected {FORMAT!r} v{VERSION}, got {_show(m['format'])} "
                                                f"v{_show(m['version'])}")
    for key in ("seed", "n_clips", "chunk_size"):
        if not _is_int(m[key]) or m[key] < (0 if key == "seed" else 1):
            _fail(path, f"field '{key}'", f"is {_show(m[key])}; it must be an integer >= {0 if key == 'seed' else 1}")
    want = -(-m["n_clips"] // m["chunk_size"])
    if not (isinstance(m["chunks"], list) and len(m["chunks"]) == want
            and all(isinstance(c, str) and c and Path(c).name == c for c in m["chunks"])):
        _fail(path, "field 'chunks'", f"is {_show(m['chunks'])}; expected a list of {want} file names "
                                      f"({m['n_clips']} clips in chunks of {m['chunk_size']})")
    try:
        return WorldConfig.from_dict(m["config"])
    except ConfigError as e:
        _fail(path, "field 'config'", str(e).rstrip("."))


class World:
    """A saved dataset, validated on open; arrays are read per clip, on access."""

    def __init__(self, root):
        self.root = Path(root)
        mpath = self.root / "manifest.json"
        if not self.root.is_dir():
            raise WorldFormatError(f"{self.root}: no such dataset folder. Make one with "
                                   f"`chronus-lab world --n 1000 --seed 0 --out {self.root}`.")
        if not mpath.exists():
            _fail(mpath, "file", "is missing (an interrupted or foreign folder?)")
        try:
            m = json.loads(mpath.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            _fail(mpath, f"line {getattr(e, 'lineno', '?')}", "is not valid JSON")
        self.config = _check_manifest(m, mpath)
        self.manifest, self.seed = m, m["seed"]
        for name in m["chunks"]:
            if not (self.root / name).is_file():
                _fail(self.root / name, "file", "is missing (listed in manifest.json)")
        apath = self.root / "clips.jsonl"
        if not apath.is_file():
            _fail(apath, "file", "is missing")
        self.clips, ids = [], set()
        for line, record in _read_jsonl(apath):
            clip = validate_annotation(record, self.config, apath, line)
            if clip.clip_id in ids:
                _fail(apath, f"line {line}", f"field 'clip_id' {clip.clip_id} appears twice")
            if clip.clip_id >= m["n_clips"]:
                _fail(apath, f"line {line}", f"field 'clip_id' is {clip.clip_id}; manifest.json holds "
                                             f"{m['n_clips']} clips (ids 0–{m['n_clips'] - 1})")
            ids.add(clip.clip_id)
            self.clips.append(clip)
        if len(self.clips) != m["n_clips"]:
            _fail(apath, "file", f"holds {len(self.clips)} clips; manifest.json says {m['n_clips']}")

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i: int) -> Clip:
        """Clip ``i`` with its frames and audio, checked against its annotation."""
        c = self.clips[i]
        chunk = self.root / self.manifest["chunks"][c.clip_id // self.manifest["chunk_size"]]
        frames = self._array(chunk, f"frames_{c.clip_id:06d}")
        audio = self._array(chunk, f"audio_{c.clip_id:06d}")
        size, n = self.config.image_size, int(round(c.duration * c.sample_rate))
        if frames.shape != (c.n_frames, size, size, 3) or frames.dtype != np.uint8:
            _fail(chunk, f"frames_{c.clip_id:06d}", f"has shape {frames.shape} {frames.dtype}; "
                                                    f"expected ({c.n_frames}, {size}, {size}, 3) uint8")
        if audio.dtype != np.int16:
            _fail(chunk, f"audio_{c.clip_id:06d}", f"has dtype {audio.dtype}; audio is stored as int16 samples "
                                                   "(float audio would need scaling, not a cast)")
        if audio.ndim != 1:
            _fail(chunk, f"audio_{c.clip_id:06d}", f"has shape {audio.shape}; audio is mono, one channel (N,)")
        if audio.shape != (n,):
            _fail(chunk, f"audio_{c.clip_id:06d}", f"has {audio.shape[0]} samples; {c.duration} s at "
                                                   f"{c.sample_rate} Hz needs {n} (wrong sample rate?)")
        return Clip(c.clip_id, c.duration, c.fps, c.sample_rate, c.events,
                    frames=frames, audio=from_int16(audio))

    @staticmethod
    def _array(chunk: Path, name: str) -> np.ndarray:
        """One array of a chunk file, or one error naming the file and the array."""
        try:
            with np.load(chunk, allow_pickle=False) as z:
                if name not in z.files:
                    _fail(chunk, name, "is missing from the chunk file")
                return z[name]
        except WorldFormatError:
            raise
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as e:  # truncated, empty, foreign
            _fail(chunk, name, f"cannot be read ({type(e).__name__}: {e})")


def load_world(root) -> World:
    """Open a dataset folder written by :func:`generate_world`; raises WorldFormatError if bad."""
    return World(root)
