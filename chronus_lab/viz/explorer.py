"""The explorer: scrub through a clip, see what the model is given at each slice, ask it a question.

Built in ``notebooks/09_explorer.ipynb``; the widgets are tested in a real JupyterLab in a browser
(``tests/browser/``, ``make test-browser``), the data they draw in ``tests/test_explorer.py``.

A thin layer over ``explorer_view``: every panel is a picture or a string the view model computed.
Pictures are numpy arrays written as PNG (a frame, an attention map: a few milliseconds each);
only the timeline and spectrogram go through matplotlib, drawn once per clip (and per answer) into
pixels that each slider move copies and paints the playhead on.

    from chronus_lab.viz.explorer import Explorer
    Explorer.from_checkpoint("runs/tiny-grounding/checkpoints/last.ckpt").show()
"""
from __future__ import annotations

import html
import io

import numpy as np

from ..errors import ChronusError
from .explorer_view import ClipView, ExplorerView

SCALE = 4
"""Frames are drawn at 4× their pixels (64 → 256): boxes and patches stay sharp (nearest neighbour)."""
TOKEN_COLOURS = {"time": "#e6a700", "vision": "#3b7dd8", "audio": "#2e9e5b"}
HEAT = "inferno"


def png(image: np.ndarray) -> bytes:
    """``(H, W, 3)`` uint8 → PNG bytes."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    return image.repeat(factor, 0).repeat(factor, 1)


def draw_box(image: np.ndarray, box, colour, width: int = 2) -> None:
    """Outline a normalised xyxy box on an ``(H, W, 3)`` image, in place (clipped to the image)."""
    h, w = image.shape[:2]
    x0, y0 = int(round(box[0] * w)), int(round(box[1] * h))
    x1, y1 = max(int(round(box[2] * w)) - 1, x0), max(int(round(box[3] * h)) - 1, y0)
    x0, x1, y0, y1 = (min(max(v, 0), (w if i < 2 else h) - 1) for i, v in enumerate((x0, x1, y0, y1)))
    c = np.array(colour, dtype=np.uint8)
    image[y0:y0 + width, x0:x1 + 1] = c
    image[max(y1 - width + 1, 0):y1 + 1, x0:x1 + 1] = c
    image[y0:y1 + 1, x0:x0 + width] = c
    image[y0:y1 + 1, max(x1 - width + 1, 0):x1 + 1] = c


def heat(values: np.ndarray) -> np.ndarray:
    """Values → RGB uint8 through the heat colour map, scaled to the map's own peak."""
    import matplotlib

    v = values / max(float(values.max()), 1e-12)
    return (matplotlib.colormaps[HEAT](v)[..., :3] * 255).astype(np.uint8)


def spread(values: np.ndarray) -> str:
    """Peak / mean of a map: a colour scale stretched to the peak makes a flat map look bright, so say how flat."""
    ratio = float(values.max()) / max(float(values.mean()), 1e-12)
    return f"peak / mean = {ratio:.2f}" + (" (nearly flat)" if ratio < 1.2 else "")


def colourbar_html(label: str) -> str:
    """A small horizontal colour bar (the heat map's scale) as HTML."""
    import matplotlib

    stops = ", ".join(matplotlib.colors.to_hex(matplotlib.colormaps[HEAT](x)) for x in np.linspace(0, 1, 6))
    return (f"<div style='font-size:11px'>0 <span style='display:inline-block;width:120px;height:9px;"
            f"background:linear-gradient(to right, {stops})'></span> peak — {html.escape(label)}</div>")


class Explorer:
    """The widgets. ``show()`` returns the whole panel; every callback goes through the view model."""

    def __init__(self, view: ExplorerView, seed: int | None = None, index: int = 0):
        import ipywidgets as W

        self.view = view
        self.W = W
        self.clip: ClipView | None = None
        self.answer = None
        self.note = W.HTML(f"<b>{html.escape(view.note)}</b>")
        self.seed = W.BoundedIntText(value=view.test_seed if seed is None else seed, min=0, max=2**31 - 1,
                                     description="world seed")
        self.index = W.BoundedIntText(value=index, min=0, max=10**6, description="clip")
        self.time = W.FloatSlider(value=0.0, min=0.0, max=1.0, step=1 / view.world.fps, description="time (s)",
                                  readout_format=".2f", continuous_update=True,
                                  layout=W.Layout(width="640px"))
        self.slice_info = W.HTML()
        self.frame = W.Image(format="png", width=256, height=256)
        self.attention = W.Image(format="png", width=256, height=256)
        self.plan = W.Image(format="png", width=256)
        self.attention_note, self.plan_note = W.HTML(), W.HTML()
        self.tokens = W.HTML()
        self.plots = W.Image(format="png")
        self.audio = W.Audio(format="wav", autoplay=False, loop=False)
        self.kind = W.Dropdown(options=list(view.kinds), description="task")
        self.question = W.Text(description="question", layout=W.Layout(width="520px"))
        self.ask_button = W.Button(description="Ask", button_style="primary")
        self.reply = W.HTML()
        self.error = W.HTML()

        self.seed.observe(lambda _: self.open_clip(), names="value")
        self.index.observe(lambda _: self.open_clip(), names="value")
        self.time.observe(lambda ch: self.move(ch["new"]), names="value")
        self.kind.observe(lambda _: self._fill_question(), names="value")
        self.ask_button.on_click(lambda _: self.ask())
        self.open_clip()

    @classmethod
    def from_checkpoint(cls, path, **kwargs) -> "Explorer":
        return cls(ExplorerView.from_checkpoint(path), **kwargs)

    @classmethod
    def untrained(cls, recipe: str = "tiny-grounding", **kwargs) -> "Explorer":
        return cls(ExplorerView.untrained(recipe), **kwargs)

    def show(self):
        W = self.W

        def panel(title, *children):  # fixed width: the row must not squeeze the 256-px pictures
            return W.VBox([W.HTML(f"<b>{title}</b>"), *children], layout=W.Layout(width="280px", flex="0 0 auto"))

        return W.VBox([
            self.note, W.HBox([self.seed, self.index]), self.time, self.slice_info,
            W.HBox([panel("frame (sounding box: yellow)", self.frame),
                    panel("audio → patch map", self.attention, self.attention_note),
                    panel("OT plan: audio tokens × patches", self.plan, self.plan_note)]),
            W.HTML("<b>what the model is given</b> (time, visual, audio tokens; the current slice outlined)"),
            self.tokens, self.plots, self.audio,
            W.HBox([self.kind, self.question, self.ask_button]), self.reply, self.error,
        ], layout=W.Layout(width="100%"))

    def _guard(self, fn, *args):
        """Run a callback; a problem the user can fix is shown in the panel, not as a traceback."""
        try:
            fn(*args)
            self.error.value = ""
        except ChronusError as err:
            self.error.value = f"<span style='color:#b00020' class='cl-error'>{html.escape(str(err))}</span>"

    # --- callbacks -----------------------------------------------------------------------------------
    def open_clip(self) -> None:
        self._guard(self._open_clip)

    def _open_clip(self) -> None:
        self.clip = self.view.open(self.seed.value, self.index.value)
        self.answer = None
        self.reply.value = ""
        self._draw_plots()
        self.audio.value = self.clip.audio_wav()
        with self.time.hold_trait_notifications():
            self.time.max = self.clip.clip.duration
            self.time.value = 0.0
        self._fill_question()
        self._draw(0.0)

    def move(self, t: float) -> None:
        self._guard(self._draw, float(t))

    def ask(self) -> None:
        self._guard(self._ask)

    def _ask(self) -> None:
        self.reply.value = "<i>thinking…</i>"
        self.answer = self.clip.ask(self.kind.value, self.question.value)
        a = self.answer
        lines = [f"<b>Q:</b> {html.escape(a.question)}", f"<b>model:</b> <code class='cl-answer'>{html.escape(a.answer)}</code>"]
        if a.kind is None:
            lines.append("<i>a typed question: no ground truth to compare with</i>")
        else:
            lines.append(f"<b>truth:</b> <code>{html.escape(a.truth)}</code>")
            lines.append(f"read back: {html.escape(str(a.predicted))} vs {html.escape(str(a.target))} — "
                         f"<b>{a.metric} = {a.value:.3f}</b>")
        self.reply.value = "<br>".join(lines)
        if "time" in a.extra:  # a question about one moment (ARIG): jump there
            self.time.value = float(a.extra["time"])
        self._draw_plots()
        self._draw(self.time.value)

    def _fill_question(self) -> None:
        try:
            self.question.value = self.clip.task(self.kind.value).question
        except ChronusError as err:
            self.question.value = ""
            self.error.value = f"<span style='color:#b00020' class='cl-error'>{html.escape(str(err))}</span>"

    # --- drawing -------------------------------------------------------------------------------------
    def _draw(self, t: float) -> None:
        s = self.clip.at(t)
        sl = s.slice
        self.slice_info.value = (f"<span class='cl-slice' data-slice='{sl.index}'>slice {sl.index}: "
                                 f"[{sl.start:.2f}, {sl.end:.2f}) s — seen: {', '.join(sl.seen) or 'nothing'}; "
                                 f"heard: {', '.join(sl.heard) or 'nothing'}</span>")
        self.frame.value = png(self.frame_picture(s))
        self.attention.value = png(self.attention_picture(s))
        inside = "nothing visible sounds here" if s.mass_in_box is None else \
            f"{s.mass_in_box:.0%} of the map inside the sounding box (yellow)"
        self.attention_note.value = colourbar_html(f"{s.attention_kind}; {inside}; {spread(s.attention)}")
        self.plan.value = png(upscale(heat(s.plan), max(1, 256 // s.plan.shape[1])))
        self.plan_note.value = colourbar_html(f"rows: {s.plan.shape[0]} audio tokens, columns: "
                                              f"{s.plan.shape[1]} patches (row by row); sums to 1; {spread(s.plan)}")
        self.tokens.value = self.token_html(s.highlight)
        self._playhead(t)

    def frame_picture(self, s) -> np.ndarray:
        img = upscale(s.frame.copy(), SCALE)
        for _, box, sounding in s.boxes:
            draw_box(img, box, (255, 220, 0) if sounding else (255, 255, 255), 3 if sounding else 1)
        a = self.answer
        if a is not None and a.kind == "arig":  # the answer's box (cyan) against the truth (green)
            draw_box(img, a.target, (40, 200, 80), 2)
            if a.predicted is not None:
                draw_box(img, a.predicted, (0, 230, 255), 2)
        return img

    def attention_picture(self, s) -> np.ndarray:
        size = s.frame.shape[0] * SCALE
        grey = upscale(s.frame.mean(-1, keepdims=True).repeat(3, -1), SCALE)
        hot = upscale(heat(s.attention), size // s.grid)
        img = (0.35 * grey + 0.65 * hot).astype(np.uint8)
        for _, box, sounding in s.boxes:
            if sounding:
                draw_box(img, box, (255, 220, 0), 2)
        return img

    def token_html(self, highlight: list[int]) -> str:
        on = set(highlight)
        cells = []
        for i, tok in enumerate(self.clip.tokens):
            cur = i in on
            style = (f"display:inline-block;min-width:14px;margin:1px;padding:1px 2px;font:10px monospace;"
                     f"background:{TOKEN_COLOURS[tok.modality]};color:white;"
                     + ("outline:3px solid #d00000;" if cur else ""))
            cells.append(f"<span class='cl-tok cl-{tok.modality}{' cl-current' if cur else ''}' "
                         f"data-slice='{tok.slice}' style='{style}'>{html.escape(tok.text)}</span>")
        return f"<div class='cl-tokens' style='line-height:18px'>{''.join(cells)}</div>"

    def _draw_plots(self) -> None:
        """Timeline (events, and the last answer's span) over the spectrogram; one playhead each."""
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch

        rows = self.clip.rows()
        a = self.answer
        span_answer = a is not None and isinstance(a.target, tuple)
        n = len(rows) + (1 if span_answer else 0)
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 0.3 * n + 2.6), sharex=True,
                                          gridspec_kw={"height_ratios": [max(n, 2), 4]})
        for y, r in enumerate(rows):
            top.barh(y, r["span"][1] - r["span"][0], left=r["span"][0], color=r["colour"], height=0.6)
        labels = [r["label"] for r in rows]
        if span_answer:
            y = len(rows)
            top.barh(y, a.target[1] - a.target[0], left=a.target[0], color="#28c850", height=0.6)
            if a.predicted is not None:
                top.barh(y, a.predicted[1] - a.predicted[0], left=a.predicted[0], height=0.8, fill=False,
                         edgecolor="black", linewidth=2)
            labels.append(f"answer ({a.kind})")
            top.legend(handles=[Patch(color="#28c850", label="truth"),
                                Patch(fill=False, edgecolor="black", label="model")], fontsize=7, loc="upper right")
        top.set_yticks(range(len(labels)), labels, fontsize=8)
        top.invert_yaxis()
        top.set_title(f"clip {self.clip.clip.clip_id} (world seed {self.clip.seed}), {self.clip.clip.duration:g} s",
                      fontsize=9)
        spec, extent = self.clip.spectrogram()
        im = bottom.imshow(spec, origin="lower", aspect="auto", cmap="magma", extent=extent)
        # the colour bar sits outside the axes, so both rows keep the same time axis in pixels
        fig.colorbar(im, cax=bottom.inset_axes([1.01, 0, 0.015, 1]), label="power (dB)")
        for k, r in enumerate(r for r in rows if r["label"].startswith("heard")):  # each sound's span
            y = extent[3] * (0.06 + 0.09 * k)
            bottom.plot(r["span"], [y, y], lw=4, color="cyan", solid_capstyle="butt")
            bottom.text(r["span"][0], y + extent[3] * 0.03, r["name"], color="cyan", fontsize=7)
        bottom.set_ylabel("kHz")
        bottom.set_xlabel("time (s)")
        for t in [s.start for s in self.clip.slices] + [self.clip.slices[-1].end]:  # the plan's edges
            top.axvline(t, color="#dddddd", lw=0.5, zorder=-1)
        fig.subplots_adjust(left=0.17, right=0.88, top=0.93, bottom=0.1, hspace=0.15)
        # Draw once; each slider move then paints the playhead into a copy of the pixels (blitting):
        # re-saving the figure costs ~200 ms on 2 cores, a numpy column a few.
        fig.canvas.draw()
        self._plot_pixels = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
        height = self._plot_pixels.shape[0]
        self._heads = []  # per axes: rows it covers, and display x = x0 + t · (x1 − x0)
        for ax in (top, bottom):
            (x0, _), (x1, _) = ax.transData.transform([(0, 0), (1, 0)])
            self._heads.append((int(height - ax.bbox.y1), int(height - ax.bbox.y0), x0, x1 - x0))
        plt.close(fig)  # drawn into pixels only; never shown by the inline backend

    def _playhead(self, t: float) -> None:
        img = self._plot_pixels.copy()
        for r0, r1, x0, per_s in self._heads:
            x = min(max(int(round(x0 + t * per_s)), 0), img.shape[1] - 2)
            img[r0:r1, x:x + 2] = (220, 0, 0)
        self.plots.value = png(img)
