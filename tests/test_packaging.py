"""The install files agree, torch stays pinned, and committed notebooks carry no outputs."""
import json
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _norm(req):
    return re.sub(r"\s+", "", req).lower()


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    wanted = {_norm(r) for r in project["dependencies"] + extras["dev"] + extras["browser"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert {_norm(r) for r in pip} == wanted
    assert "python=3.11" in env["dependencies"]


def test_torch_is_pinned_to_the_cpu_wheel():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "torch==2.13.0" in project["dependencies"]


def test_notebooks_are_committed_without_outputs():
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks, "the series has notebooks"
    for nb_path in notebooks:
        nb = json.loads(nb_path.read_text())
        dirty = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"
                 and (c.get("outputs") or c.get("execution_count") is not None)]
        assert not dirty, f"{nb_path.name}: cells {dirty} carry outputs; strip them (see README)"


def test_every_notebook_names_its_module_and_has_a_parameters_cell():
    for nb_path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(nb_path.read_text())["cells"]
        assert cells[0]["cell_type"] == "markdown" and "tests/" in "".join(cells[0]["source"]), nb_path.name
        tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert tagged and "SCALE" in "".join(tagged[0]["source"]), nb_path.name


def test_readme_quick_start_is_the_makefile():
    readme = (ROOT / "README.md").read_text()
    make = (ROOT / "Makefile").read_text()
    for target in ("lab", "test", "notebooks"):
        assert f"make {target}" in readme and f"\n{target}:" in make
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_every_notebook_checks_what_it_builds():
    """A Check section exists, and the code right after it asserts (compare / assert_close / assert)."""
    import re

    for nb_path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(nb_path.read_text())["cells"]
        heading = re.compile(r"^(#+ .*\bCheck\b|\*\*Check\b)", re.M)  # "## Check …" or "**Check — …**"
        checks = [i for i, c in enumerate(cells) if c["cell_type"] == "markdown" and heading.search("".join(c["source"]))]
        assert checks, f"{nb_path.name}: no Check section"
        for i in checks:
            after = next((c for c in cells[i + 1:] if c["cell_type"] == "code"), None)
            text = "".join(after["source"]) if after else ""
            assert re.search(r"\bassert\b|compare\(|assert_close", text), f"{nb_path.name}: the Check at cell {i} asserts nothing"


def test_notebook_stderr_check_flags_what_the_metadata_does_not_expect():
    """tests/notebook_stderr.py fails a notebook whose run prints an unexpected warning (nbmake alone passes it)."""
    import nbformat
    import notebook_stderr as check
    from nbmake.nb_run import NotebookRun

    assert NotebookRun.execute is check._execute_and_check_stderr  # the plugin is on for every pytest run

    nb = nbformat.v4.new_notebook()
    warning = ("/x/run.py:12: UserWarning: Checkpoint directory /tmp/a exists and is not empty.\n"
               "  warnings.warn(\n")
    nb.cells = [nbformat.v4.new_code_cell("print(1)", outputs=[nbformat.v4.new_output("stream", name="stdout", text="1\n")]),
                nbformat.v4.new_code_cell("fit()", outputs=[nbformat.v4.new_output("stream", name="stderr", text=warning)])]
    assert check.unexpected_stderr(nb) == [(1, warning.splitlines()[0])]  # the quoted source line belongs to it
    nb.metadata["chronus_lab"] = {"expected_stderr": ["Checkpoint directory .* exists and is not empty"]}
    assert check.unexpected_stderr(nb) == []
    nb.cells[1].outputs[0].text += "/y.py:3: FutureWarning: old\n"
    assert check.unexpected_stderr(nb) == [(1, "/y.py:3: FutureWarning: old")]
