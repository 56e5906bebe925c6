"""Every notebook with a full-scale path, run at ``SCALE = "full"`` on this CPU machine, offline and with an
empty hub cache: it stops at its weights check with the one ``WeightsNotAvailable`` line — no traceback,
no minutes of work first, no other error on the way there.

Notebooks 00, 01, 04, 05, 06 and 10 have no hub weights at either scale (the world, small experiments
trained from scratch, the planner on the meta device); nbmake runs them as they are.
"""
import json
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
WITH_WEIGHTS = ["02", "03", "07", "08", "09"]


def _at_full_scale(path: Path):
    import nbformat

    nb = nbformat.reads(path.read_text(), as_version=4)
    i = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    nb.cells.insert(i + 1, nbformat.v4.new_code_cell('SCALE = "full"  # injected by the test'))
    return nb


@pytest.mark.parametrize("number", WITH_WEIGHTS)
def test_the_notebook_at_full_scale_offline_stops_at_its_weights_check_with_one_line(number, tmp_path, monkeypatch):
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache: nothing downloaded before
    path = next(NOTEBOOKS.glob(f"{number}_*.ipynb"))
    nb = _at_full_scale(path)
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    with pytest.raises(CellExecutionError) as err:
        client.execute()
    assert err.value.ename == "WeightsNotAvailable", err.value.evalue
    failed = next(c for c in nb.cells if c.cell_type == "code"
                  and any(o.get("output_type") == "error" for o in c.get("outputs", [])))
    assert "require_weights(SCALE" in failed.source  # the check cell, before any work
    error = next(o for o in failed.outputs if o.output_type == "error")
    assert len(error.traceback) == 1 and "huggingface-cli download" in error.traceback[0]
    assert not [c for c in nb.cells[: nb.cells.index(failed)] if c.cell_type == "code"
                and any(o.get("output_type") == "error" for o in c.get("outputs", []))]


def test_the_notebooks_without_weights_say_so_in_their_parameters():
    """A notebook either checks the hub weights (above) or its parameters cell says full needs none."""
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        source = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        assert path.name[:2] in WITH_WEIGHTS or "require_weights" not in source, path.name
        if path.name[:2] in WITH_WEIGHTS:
            assert "require_weights(SCALE" in source, path.name
