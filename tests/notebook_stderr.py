"""A pytest plugin (``-p notebook_stderr`` in pyproject.toml): every notebook runs under nbmake, prints no
warning or error on stderr that it does not expect, shows no stray return value, and leaves no temporary folder
behind.

A warning in a student's output is noise at best and a hidden bug at worst: fix it at its source, or list
it in the notebook's metadata with a reason, ``"chronus_lab": {"expected_stderr": ["<regex>", ...]}``.
nbmake has no hook that sees the executed notebook, so we wrap ``NotebookRun.execute`` (the one call that
returns it) and turn unexpected stderr into nbmake's own failure, naming the cell and the lines.

The kernel runs with ``TMPDIR`` pointing at a fresh folder of its own, so whatever ``tempfile`` hands the
notebook lands there; anything still in it when the notebook ends was left behind by the notebook (a student
running the series would find it in their /tmp), and fails the run by name. The folder is removed either way.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from nbmake.nb_result import NotebookError
from nbmake.nb_run import NotebookRun


def unexpected_stderr(nb) -> list[tuple[int, str]]:
    """``(cell index, line)`` for each message on stderr that no ``expected_stderr`` pattern matches.

    A message is a line that does not start with whitespace (a warning's ``file:line: Category: text``);
    indented lines after it (the source line Python quotes) belong to it.
    """
    patterns = [re.compile(p) for p in nb.metadata.get("chronus_lab", {}).get("expected_stderr", [])]
    found = []
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") != "stream" or out.get("name") != "stderr":
                continue
            for line in out.get("text", "").splitlines():
                if line.strip() and not line[0].isspace() and not any(p.search(line) for p in patterns):
                    found.append((index, line))
    return found


def stray_results(nb) -> list[tuple[int, str]]:
    """``(cell index, text)`` for each bare return value a cell shows (``Out[n]: 0.0``, ``Text(0.5, 0.98, ...)``).

    The series prints what it means; a result that is only text is a call's return value the cell did not mean
    to show (end the line with ``;``, or print it). Rich results (a figure, a widget) are meant.
    """
    return [(index, out["data"]["text/plain"][:80])
            for index, cell in enumerate(nb.cells) for out in cell.get("outputs", [])
            if out.get("output_type") == "execute_result" and set(out.get("data", {})) == {"text/plain"}]


def _first_failure(filename, nb, left: list[str]) -> NotebookError | None:
    """nbmake's failure for the first check the executed notebook fails (stderr, stray results, leftovers)."""
    if found := unexpected_stderr(nb):
        lines = "\n".join(f"  cell {i}: {line}" for i, line in found)
        return NotebookError(summary=f"{len(found)} unexpected line(s) on stderr (cell {found[0][0]})",
                             trace=f"{filename} printed on stderr:\n{lines}\nFix the source, or list a pattern in "
                                   "the notebook's metadata chronus_lab.expected_stderr with a reason.",
                             failing_cell_index=found[0][0])
    if stray := stray_results(nb):
        return NotebookError(summary=f"cell {stray[0][0]} shows a stray return value: {stray[0][1]!r}",
                             trace=f"{filename} shows return values it did not print: {stray}\nEnd the line with "
                                   "';' or print what the reader should see.",
                             failing_cell_index=stray[0][0])
    if left:
        return NotebookError(summary=f"left {len(left)} temporary file(s) or folder(s) behind: {', '.join(left[:5])}",
                             trace=f"{filename} left in its temporary folder: {left}\nRemove what the notebook "
                                   "makes (shutil.rmtree, or tempfile.TemporaryDirectory) before it ends.",
                             failing_cell_index=len(nb.cells) - 1)
    return None


def _execute_and_check(self: NotebookRun, _execute=NotebookRun.execute):
    kernel_tmp = Path(tempfile.mkdtemp(prefix="nbmake-tmp-"))
    before = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(kernel_tmp)  # the kernel is a child process: it inherits this at start
    try:
        result = _execute(self)
        left = sorted(p.name for p in kernel_tmp.iterdir())
    finally:
        if before is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = before
        shutil.rmtree(kernel_tmp, ignore_errors=True)
    if result.error is None:
        result.error = _first_failure(self.filename, result.nb, left)
    return result


NotebookRun.execute = _execute_and_check
