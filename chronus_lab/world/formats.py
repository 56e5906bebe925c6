"""Saving and loading a world dataset: deterministic bytes, atomic writes, validated loads.

Built in ``notebooks/01_av_world.ipynb``; tested in ``tests/test_world_formats.py``.

Layout of a dataset folder (format ``chronus-lab-world``, version 1)::

    manifest.json     seed, clip count, WorldConfig, the chunk files; written last
    clips.jsonl       one line per clip: clip_id, duration, fps, sample_rate, events (with boxes)
    tasks.jsonl       every task of every clip (text time format), for reading; derived data
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
import shutil
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from ..errors import ChronusError, ConfigError, DataError
from .time_format import TextTime
from .clip import KINDS as EVENT_KINDS
from .clip import Clip, Event
from .config import WorldConfig
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


def _write_text(path: Path, lines) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(json.dumps(line, sort_keys=True) + "\n")


def generate_world(out, n: int, seed: int = 0, cfg: WorldConfig | None = None,
                   chunk_size: int = 250, workers: int = 1, overwrite: bool = False) -> Path:
    """Generate ``n`` clips with ``seed`` into the folder ``out``, atomically. Returns ``out``."""
    cfg, out = cfg or WorldConfig(), Path(out)
    if n < 1 or chunk_size < 1 or workers < 1:
        raise ConfigError(f"need n >= 1, chunk_size >= 1, workers >= 1 (got {n}, {chunk_size}, {workers})")
    if out.exists() and not overwrite:
        raise OutputExists(f"{out} exists; pass overwrite=True (CLI: --overwrite) to replace it")
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        jobs = [(cfg.to_dict(), seed, lo, min(lo + chunk_size, n), str(tmp / f"chunk_{k:04d}.npz"))
                for k, lo in enumerate(range(0, n, chunk_size))]
        if workers > 1 and len(jobs) > 1:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                parts = list(pool.map(_write_chunk, jobs))
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
            os.replace(tmp, out)
            shutil.rmtree(old)
        else:
            os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


# --- reading -----------------------------------------------------------------------------------
def _clip_from(a: dict) -> Clip:
    return Clip(clip_id=a["clip_id"], duration=a["duration"], fps=a["fps"],
                sample_rate=a["sample_rate"], events=[Event.from_dict(e) for e in a["events"]])


def validate_annotation(a: dict, cfg: WorldConfig, file, line: int) -> Clip:
    """Check one clips.jsonl record against the dataset's config; return its Clip (no arrays)."""
    where = f"line {line}"
    for key in ("clip_id", "duration", "fps", "sample_rate", "events"):
        if key not in a:
            _fail(file, where, f"field '{key}' is missing")
    if a["sample_rate"] != cfg.sample_rate:
        _fail(file, where, f"field 'sample_rate' is {a['sample_rate']} Hz but the dataset's config "
                           f"says {cfg.sample_rate} Hz (the audio encoders expect {cfg.sample_rate})")
    if a["fps"] != cfg.fps:
        _fail(file, where, f"field 'fps' is {a['fps']} but the config says {cfg.fps}")
    dur = a["duration"]
    if not (isinstance(dur, (int, float)) and math.isfinite(dur) and dur > 0):
        _fail(file, where, f"field 'duration' is {dur!r}; it must be a positive number of seconds")
    for j, e in enumerate(a["events"]):
        ew = f"{where}, event {j}"
        s, t = e.get("start"), e.get("end")
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (s, t)):
            _fail(file, ew, f"fields 'start'/'end' must be numbers (got {s!r}, {t!r})")
        if s < 0:
            _fail(file, ew, f"field 'start' is {s}; times must be >= 0")
        if not s < t:
            _fail(file, ew, f"field 'end' is {t} but 'start' is {s}; a span needs start < end")
        if t > dur + 1e-6:
            _fail(file, ew, f"field 'end' is {t}, past the clip's duration {dur}")
        if e.get("kind") not in EVENT_KINDS:
            _fail(file, ew, f"field 'kind' is {e.get('kind')!r}; expected one of {list(EVENT_KINDS)}")
        for k, box in enumerate(e.get("boxes", [])):
            if len(box) != 4 or not all(0.0 <= v <= 1.0 for v in box) or not (box[0] < box[2] and box[1] < box[3]):
                _fail(file, f"{ew}, box {k}", f"field 'boxes' holds {box}; boxes are normalised "
                                              "xyxy with 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1")
        if e.get("object") and len(e.get("boxes", [])) != round((t - s) * a["fps"]):
            _fail(file, ew, f"field 'boxes' has {len(e.get('boxes', []))} boxes for "
                            f"{round((t - s) * a['fps'])} frames")
    return _clip_from(a)


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
            m = json.loads(mpath.read_text())
        except json.JSONDecodeError as e:
            _fail(mpath, f"line {e.lineno}", "is not valid JSON")
        if m.get("format") != FORMAT or m.get("version") != VERSION:
            _fail(mpath, "field 'format'/'version'", f"expected {FORMAT} v{VERSION}, got "
                                                      f"{m.get('format')} v{m.get('version')}")
        self.manifest, self.seed = m, m["seed"]
        self.config = WorldConfig.from_dict(m["config"])
        for name in m["chunks"]:
            if not (self.root / name).exists():
                _fail(self.root / name, "file", "is missing (listed in manifest.json)")
        apath = self.root / "clips.jsonl"
        if not apath.exists():
            _fail(apath, "file", "is missing")
        with open(apath, encoding="utf-8") as f:
            self.clips = [validate_annotation(json.loads(line), self.config, apath, i + 1)
                          for i, line in enumerate(f)]
        if len(self.clips) != m["n_clips"]:
            _fail(apath, "file", f"holds {len(self.clips)} clips; manifest.json says {m['n_clips']}")

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i: int) -> Clip:
        """Clip ``i`` with its frames and audio, checked against its annotation."""
        c = self.clips[i]
        chunk = self.root / self.manifest["chunks"][c.clip_id // self.manifest["chunk_size"]]
        with np.load(chunk) as z:
            frames, audio = z[f"frames_{c.clip_id:06d}"], z[f"audio_{c.clip_id:06d}"]
        size, n = self.config.image_size, int(round(c.duration * c.sample_rate))
        if frames.shape != (c.n_frames, size, size, 3) or frames.dtype != np.uint8:
            _fail(chunk, f"frames_{c.clip_id:06d}", f"has shape {frames.shape} {frames.dtype}; "
                                                    f"expected ({c.n_frames}, {size}, {size}, 3) uint8")
        if audio.shape != (n,):
            _fail(chunk, f"audio_{c.clip_id:06d}", f"has {audio.shape[0]} samples; {c.duration} s at "
                                                   f"{c.sample_rate} Hz needs {n} (wrong sample rate?)")
        return Clip(c.clip_id, c.duration, c.fps, c.sample_rate, c.events,
                    frames=frames, audio=from_int16(audio))


def load_world(root) -> World:
    """Open a dataset folder written by :func:`generate_world`; raises WorldFormatError if bad."""
    return World(root)
