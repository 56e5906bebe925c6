"""A pytest plugin (``-p notebook_stderr`` in pyproject.toml): every notebook runs under nbmake, and prints no
warning or error on stderr that it does not expect.

A warning in a student's output is noise at best and a hidden bug at worst: fix it at its source, or list
it in the notebook's metadata with a reason, ``"chronus_lab": {"expected_stderr": ["<regex>", ...]}``.
nbmake has no hook that sees the executed notebook, so we wrap ``NotebookRun.execute`` (the one call that
returns it) and turn unexpected stderr into nbmake's own failure, naming the cell and the lines.
"""
from __future__ import annotations

import re

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


def _execute_and_check_stderr(self: NotebookRun, _execute=NotebookRun.execute):
    result = _execute(self)
    if result.error is None:
        found = unexpected_stderr(result.nb)
        if found:
            lines = "\n".join(f"  cell {i}: {line}" for i, line in found)
            result.error = NotebookError(
                summary=f"{len(found)} unexpected line(s) on stderr (cell {found[0][0]})",
                trace=f"{self.filename} printed on stderr:\n{lines}\nFix the source, or list a pattern in the "
                      "notebook's metadata chronus_lab.expected_stderr with a reason.",
                failing_cell_index=found[0][0])
    return result


NotebookRun.execute = _execute_and_check_stderr
