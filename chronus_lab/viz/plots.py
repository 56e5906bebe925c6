"""Plots of a clip: its event timeline, a frame strip with boxes, a spectrogram with event spans.

Built in ``notebooks/01_av_world.ipynb``; smoke-tested in ``tests/test_viz.py``.
Every function draws into a new (or given) Axes and returns the Figure.
"""
from __future__ import annotations

import matplotlib.patches as patches
import matplotlib.pyplot as plt
import numpy as np

from ..world.clip import Clip
from ..world.config import COLOURS
from ..world.slices import as_plan

SOUND_COLOUR = "#555555"


def _rgb(obj: str) -> tuple[float, float, float]:
    return tuple(c / 255 for c in COLOURS[obj.split(" ")[0]])


def timeline(clip: Clip, ax=None, slice_s=0.5, predictions: dict | None = None):
    """Events as bars, one row per object (top) and per sound (bottom); grey lines at the slice edges of
    ``slice_s`` (seconds, or a ``SlicePlan``; None for none).

    ``predictions`` maps a row label (an object or sound class) to a predicted (start, end) span,
    drawn as a hollow bar over the truth — used to show a model's answers on the clip.
    """
    rows = [(e.object, e, "v") for e in clip.objects] + [(e.sound, e, "a") for e in clip.sounds]
    fig, ax = _fig_ax(ax, (9, 0.45 * len(rows) + 1))
    for y, (label, ev, mod) in enumerate(rows):
        colour = _rgb(ev.object) if mod == "v" else SOUND_COLOUR
        ax.barh(y, ev.end - ev.start, left=ev.start, color=colour, height=0.6,
                hatch="//" if ev.kind == "av" else None, edgecolor="white")
        if predictions and label in predictions:
            s, e = predictions[label]
            ax.barh(y, e - s, left=s, height=0.8, fill=False, edgecolor="black", linewidth=2, label="model's answer")
    ax.set_yticks(range(len(rows)), [("seen: " if m == "v" else "heard: ") + lbl for lbl, _, m in rows])
    ax.invert_yaxis()
    ax.set_xlim(0, clip.duration)
    ax.set_xlabel("time (s)")
    if slice_s:
        for t in as_plan(slice_s).times(clip.duration, clip.fps):
            ax.axvline(t, color="#dddddd", lw=0.5, zorder=-1)
    ax.set_title(f"clip {clip.clip_id}: hatched = object and its sound (same span)")
    handles, labels = ax.get_legend_handles_labels()
    if labels:  # one entry for all the answers' hollow bars
        ax.legend(handles[:1], labels[:1], loc="lower right", fontsize=7)
    return fig


def frame_strip(clip: Clip, frames: list[int] | None = None, ax=None, boxes: bool = True):
    """A row of frames with each visible object's box drawn in its colour."""
    frames = frames if frames is not None else list(range(0, clip.n_frames, max(1, clip.n_frames // 8)))
    fig, axes = plt.subplots(1, len(frames), figsize=(1.3 * len(frames), 1.6)) if ax is None else (ax[0].figure, ax)
    for a, f in zip(np.atleast_1d(axes), frames):
        a.imshow(clip.frames[f])
        size = clip.frames.shape[1]
        for ev in clip.objects if boxes else []:
            b = ev.box_at(f, clip.fps)
            if b is not None:
                a.add_patch(patches.Rectangle((b[0] * size - 0.5, b[1] * size - 0.5), (b[2] - b[0]) * size,
                                              (b[3] - b[1]) * size, fill=False, edgecolor="white", lw=1))
        a.set_title(f"{f / clip.fps:.2f} s", fontsize=8)
        a.axis("off")
    return fig


def spectrogram(clip: Clip, ax=None, n_fft: int = 512, hop: int = 160):
    """Log-power spectrogram (numpy STFT) with each sound's span marked underneath."""
    fig, ax = _fig_ax(ax, (9, 3))
    x = clip.audio
    win = np.hanning(n_fft)
    n = 1 + (len(x) - n_fft) // hop
    frames = np.stack([x[i * hop:i * hop + n_fft] * win for i in range(n)])  # (n, n_fft)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2  # (n, n_fft // 2 + 1)
    ax.imshow(10 * np.log10(power.T + 1e-10), origin="lower", aspect="auto", cmap="magma",
              extent=[0, len(x) / clip.sample_rate, 0, clip.sample_rate / 2000])
    for k, ev in enumerate(clip.sounds):
        ax.plot([ev.start, ev.end], [0.2 + 0.35 * k] * 2, lw=4, color="cyan", solid_capstyle="butt")
        ax.text(ev.start, 0.35 + 0.35 * k, ev.sound, color="cyan", fontsize=8)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("kHz")
    return fig


def _fig_ax(ax, size):
    if ax is None:
        fig, ax = plt.subplots(figsize=size)
        return fig, ax
    return ax.figure, ax


MODALITY_COLOURS = {-1: "#ffffff", 0: "#bbbbbb", 1: "#e6a700", 2: "#3b7dd8", 3: "#2e9e5b"}


def token_strip(modality, labels=None, slice_idx=None, ax=None, title: str | None = None):
    """One cell per position, coloured by modality (text, time, vision, audio); positions whose
    label is kept (the answer) are outlined in red — the label mask, seen at a glance."""
    import matplotlib.patches as mpatches

    modality = [int(m) for m in modality]
    fig, ax = _fig_ax(ax, (min(16, 0.09 * len(modality) + 1), 1.3))
    for i, m in enumerate(modality):
        ax.add_patch(mpatches.Rectangle((i, 0), 1, 1, color=MODALITY_COLOURS[m]))
        if labels is not None and int(labels[i]) != -100:
            ax.add_patch(mpatches.Rectangle((i, 0), 1, 1, fill=False, edgecolor="red", lw=1.5))
    if slice_idx is not None:
        for i, s in enumerate(slice_idx):
            if int(s) >= 0 and (i == 0 or int(slice_idx[i - 1]) != int(s)) and int(s) % 4 == 0:
                ax.text(i, 1.15, f"slice {int(s)}", fontsize=7)
    ax.set_xlim(0, len(modality))
    ax.set_ylim(0, 1.5)
    ax.set_yticks([])
    ax.set_xlabel("position")
    names = ["text", "time", "vision", "audio"]
    ax.legend(handles=[mpatches.Patch(color=MODALITY_COLOURS[k], label=n) for k, n in enumerate(names)]
              + ([mpatches.Patch(fill=False, edgecolor="red", label="label kept")] if labels is not None else []),
              loc="upper right", fontsize=7, ncol=5, bbox_to_anchor=(1, 1.6))
    if title:
        ax.set_title(title, fontsize=9, loc="left")
    return fig
