"""``chronus-lab bench explorer``: how fast the explorer answers a student's hand.

Built in ``notebooks/09_explorer.ipynb``. The target (the explorer issue): one slider move redraws
every panel in ≤ 200 ms on 2 cores. Timed through the widgets themselves (setting the slider's
value runs the same callback a browser's drag does), without the browser's own paint time.
"""
from __future__ import annotations

import statistics
import time

from ..viz.explorer import Explorer
from ..viz.explorer_view import ExplorerView


def _ms(seconds: list[float]) -> dict:
    s = sorted(seconds)
    return {"median ms": f"{1000 * statistics.median(s):.0f}", "p95 ms": f"{1000 * s[int(0.95 * (len(s) - 1))]:.0f}",
            "n": len(s)}


def run(ckpt: str | None = None, recipe: str | None = None, n: int | None = None, view: ExplorerView | None = None,
        log=print) -> list[dict]:
    """``n`` slider moves (default 40) on each of three clips; one clip opened and one question per kind.
    The model: ``view`` if given, else ``ckpt``, else the ``recipe``'s untrained model, else the shipped one."""
    if view is None:
        view = (ExplorerView.from_checkpoint(ckpt) if ckpt else
                ExplorerView.untrained(recipe) if recipe else ExplorerView.shipped())
    ex = Explorer(view)
    opened, moves, asks = [], [], []
    for index in (1, 2, 3):
        t0 = time.perf_counter()
        ex.index.value = index  # a new clip: encode it, draw the timeline, reset the slider
        opened.append(time.perf_counter() - t0)
        steps = (n or 40)
        for i in range(1, steps + 1):
            t = (i * ex.time.step * 3) % ex.time.max  # jumps across slices, not one frame at a time
            t0 = time.perf_counter()
            ex.time.value = round(t, 4)
            moves.append(time.perf_counter() - t0)
    for kind in view.kinds:
        ex.kind.value = kind
        if not ex.question.value:  # this clip cannot pose the kind
            continue
        t0 = time.perf_counter()
        ex.ask()
        asks.append(time.perf_counter() - t0)
    log(f"explorer on {view.source}: {len(moves)} slider moves, {len(opened)} clips, {len(asks)} questions")
    return [{"action": "slider move (all panels)", **_ms(moves)},
            {"action": "open a clip (encode + timeline)", **_ms(opened)},
            {"action": "ask a question (generate + score)", **_ms(asks)}]
